// Outcome records the audit trail did not take. Once the host has acted, a job's outcome append is
// retried for a moment (job-service.ts); if the audit store still fails, the record is held with
// the jobs (a table of the job store, which may still be writable: PostgreSQL down while SQLite is
// not, a locked audit file, a full disk that frees up) and appended by this sweep once the trail
// takes records again: at the next start, and every `intervalMs` while any is held. The record
// then carries the time it was held in its message, as the trail's own time is the append's.
//
// A held record is removed before it is appended (takeHeldAuditEvent is atomic), so two replicas
// never append it twice; if the append fails it is held again. Only a crash between the two loses
// it, which leaves the log line of the hold, as it was before the sweep existed.
import { AuditEventInputError } from '../audit/audit-errors';
import type { AuditEventInput } from '../audit/audit-event';
import type { AuditWriter } from '../audit/audit-writer';
import type { Clock, ClockTimer } from '../fleet/clock';
import type { HeldAuditEvent, JobStore } from '../store/job-store';
import type { JobServiceLogger } from './job-service';

export interface AuditSweepOptions {
  store: JobStore;
  audit: Pick<AuditWriter, 'append'>;
  clock: Clock;
  /** How long after a hold (or a sweep the trail refused) the next sweep runs. Default 15 s. */
  intervalMs?: number;
  logger?: JobServiceLogger;
}

export interface AuditSweep {
  /** Holds the record with the jobs and arms the sweep; false when even that failed (logged). */
  hold(jobId: string, event: AuditEventInput): Promise<boolean>;
  /** Appends held records, oldest first, until none is left or the trail refuses one. */
  sweep(): Promise<{ recorded: number; left: boolean }>;
  /** No further sweeps (shutdown); held records stay for the next start. */
  stop(): void;
}

const BATCH = 100;
const MESSAGE_MAX = 1024;

/** The held record as it goes on the trail: its message says when the job really ended. */
export function lateEvent(held: HeldAuditEvent): AuditEventInput {
  const event = held.event as AuditEventInput;
  const note = `recorded late: the audit trail refused this record when the job ended (${new Date(held.heldAt).toISOString()})`;
  const before = event.outcome?.message ?? null;
  const room = MESSAGE_MAX - note.length - 2;
  const message = before
    ? `${before.length > room ? before.slice(0, room - 1) + '…' : before}; ${note}`
    : note;
  return { ...event, outcome: { ...event.outcome, message } };
}

export function createAuditSweep(options: AuditSweepOptions): AuditSweep {
  const { store, audit, clock } = options;
  const intervalMs = options.intervalMs ?? 15_000;
  const log = options.logger;
  let timer: ClockTimer | undefined;
  let running: Promise<{ recorded: number; left: boolean }> | undefined;
  let stopped = false;

  function arm(): void {
    if (stopped || timer) return;
    timer = clock.setTimeout(() => {
      timer = undefined;
      void sweep().catch(() => undefined);
    }, intervalMs);
  }

  async function sweepOnce(): Promise<{ recorded: number; left: boolean }> {
    let recorded = 0;
    for (;;) {
      const held = await store.listHeldAuditEvents(BATCH);
      let takenHere = 0;
      for (const h of held) {
        const taken = await store.takeHeldAuditEvent(h.jobId);
        if (!taken) continue;
        takenHere += 1;
        try {
          await audit.append(lateEvent(taken));
          recorded += 1;
        } catch (err) {
          if (err instanceof AuditEventInputError) {
            // Never recordable: holding it again would refuse it forever.
            log?.error({ jobId: taken.jobId, err: err.name }, 'held audit record is invalid; dropped');
            continue;
          }
          try {
            await store.holdAuditEvent(taken);
          } catch (holdErr) {
            // Both stores failed at once: the log is all that is left of it.
            log?.error(
              // Never the event itself: its params are not redacted yet (the writer does that).
              {
                jobId: taken.jobId,
                stage: (taken.event as AuditEventInput).stage,
                err: (holdErr as Error)?.name,
              },
              'held audit record could not be held again; it is lost',
            );
          }
          log?.warn(
            { jobId: taken.jobId, err: (err as Error)?.name },
            'audit trail still refuses held records',
          );
          arm();
          return { recorded, left: true };
        }
      }
      // A full page of records other replicas took first: look again; nothing taken: done.
      if (held.length < BATCH || takenHere === 0) return { recorded, left: held.length >= BATCH };
    }
  }

  function sweep(): Promise<{ recorded: number; left: boolean }> {
    running ??= sweepOnce()
      .then((r) => {
        if (r.recorded > 0) log?.info({ recorded: r.recorded }, 'held audit records appended');
        return r;
      })
      .catch((err: unknown) => {
        // The job store itself failed: try again later.
        log?.warn({ err: (err as Error)?.name }, 'audit sweep could not read held records');
        arm();
        return { recorded: 0, left: true };
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  }

  return {
    async hold(jobId, event) {
      try {
        await store.holdAuditEvent({ jobId, event, heldAt: clock.now() });
      } catch (err) {
        log?.error({ jobId, err: (err as Error)?.name }, 'could not hold the outcome record either');
        return false;
      }
      arm();
      return true;
    },
    sweep,
    stop() {
      stopped = true;
      if (timer) clock.clearTimeout(timer);
      timer = undefined;
    },
  };
}
