// The audit sweep against a real SQLite job store and a real audit writer whose store can be made
// to refuse appends; timers on a manual clock.
import { AuditEventInputError, AuditUnavailableError } from '../../../src/audit/audit-errors';
import type { AuditEventInput } from '../../../src/audit/audit-event';
import { createAuditSweep, lateEvent } from '../../../src/jobs/audit-sweep';
import { createManualClock } from '../../../src/fleet/clock';
import { openSqliteDatabase } from '../../../src/store/sqlite-database';
import { createSqliteJobStore } from '../../../src/store/sqlite-job-store';
import type { JobStore } from '../../../src/store/job-store';

const T0 = Date.parse('2026-11-28T04:00:00.000Z');

const outcome = (jobId: string, message: string | null = null): AuditEventInput => ({
  stage: 'succeeded',
  operation: 'memory.set',
  jobId,
  target: { host: 'hv-01', vmId: null, vmName: 'web-01' },
  outcome: { httpStatus: 200, errorCode: null, message },
  execution: { queueWaitMs: 3, durationMs: 1200, exitCode: 0 },
});

let store: JobStore;
let close: () => void;
beforeEach(() => {
  const db = openSqliteDatabase({ path: ':memory:' });
  store = createSqliteJobStore(db);
  close = () => db.close();
});
afterEach(() => close());

describe('audit sweep', () => {
  it('appends what an earlier process held, oldest first, with the time it was held', async () => {
    await store.holdAuditEvent({ jobId: 'job-b', event: outcome('job-b', 'ok'), heldAt: T0 - 5000 });
    await store.holdAuditEvent({ jobId: 'job-a', event: outcome('job-a'), heldAt: T0 - 9000 });
    const appended: AuditEventInput[] = [];
    const sweep = createAuditSweep({
      store,
      clock: createManualClock(T0),
      audit: { append: async (e) => void appended.push(e) as never },
    });
    expect(await sweep.sweep()).toEqual({ recorded: 2, left: false });
    expect(appended.map((e) => [e.jobId, e.outcome?.message])).toEqual([
      [
        'job-a',
        'recorded late: the audit trail refused this record when the job ended (2026-11-28T03:59:51.000Z)',
      ],
      [
        'job-b',
        'ok; recorded late: the audit trail refused this record when the job ended (2026-11-28T03:59:55.000Z)',
      ],
    ]);
    expect(appended[0]).toMatchObject({ execution: outcome('x').execution, target: outcome('x').target });
    expect(await store.listHeldAuditEvents(10)).toEqual([]);
  });

  it('holds a record again when the trail still refuses it, and retries on the next interval', async () => {
    const clock = createManualClock(T0);
    let refuse = true;
    const appended: string[] = [];
    const sweep = createAuditSweep({
      store,
      clock,
      intervalMs: 1000,
      audit: {
        append: async (e) => {
          if (refuse) throw new AuditUnavailableError('store down', { cause: new Error('SQLITE_FULL') });
          appended.push(e.jobId!);
          return undefined as never;
        },
      },
    });
    expect(await sweep.hold('job-1', outcome('job-1'))).toBe(true);
    expect(clock.pendingTimers()).toBe(1);
    // The interval passes, the trail still refuses: held again, the sweep armed again.
    clock.advance(1000);
    await new Promise((r) => setImmediate(r));
    expect((await sweep.sweep()).left).toBe(true);
    expect((await store.listHeldAuditEvents(10)).map((h) => [h.jobId, h.heldAt])).toEqual([['job-1', T0]]);
    expect(clock.pendingTimers()).toBe(1);
    refuse = false;
    clock.advance(1000);
    for (let i = 0; i < 20 && appended.length === 0; i++) await new Promise((r) => setImmediate(r));
    expect(appended).toEqual(['job-1']);
    expect(await store.listHeldAuditEvents(10)).toEqual([]);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('drops a record the trail can never take (invalid), and goes on with the rest', async () => {
    await store.holdAuditEvent({ jobId: 'bad', event: outcome('bad'), heldAt: T0 - 2 });
    await store.holdAuditEvent({ jobId: 'good', event: outcome('good'), heldAt: T0 - 1 });
    const errors: string[] = [];
    const sweep = createAuditSweep({
      store,
      clock: createManualClock(T0),
      audit: {
        append: async (e) => {
          if (e.jobId === 'bad') throw new AuditEventInputError('invalid audit event: stage: unknown');
          return undefined as never;
        },
      },
      logger: { info: () => undefined, warn: () => undefined, error: (o, m) => void errors.push(m) },
    });
    expect(await sweep.sweep()).toEqual({ recorded: 1, left: false });
    expect(errors).toEqual(['held audit record is invalid; dropped']);
    expect(await store.listHeldAuditEvents(10)).toEqual([]);
  });

  it('logs a record it took but could hold again neither (both stores failing), without its params', async () => {
    await store.holdAuditEvent({
      jobId: 'job-x',
      event: { ...outcome('job-x'), params: { password: 'hunter2' } },
      heldAt: T0,
    });
    const logged: { obj: Record<string, unknown>; msg: string }[] = [];
    const broken: JobStore = {
      ...store,
      holdAuditEvent: async () => {
        throw new Error('SQLITE_IOERR');
      },
    };
    const sweep = createAuditSweep({
      store: broken,
      clock: createManualClock(T0),
      audit: {
        append: async () => {
          throw new AuditUnavailableError('down');
        },
      },
      logger: {
        info: () => undefined,
        warn: () => undefined,
        error: (obj, msg) => void logged.push({ obj, msg }),
      },
    });
    expect(await sweep.sweep()).toEqual({ recorded: 0, left: true });
    expect(logged.map((l) => l.msg)).toEqual(['held audit record could not be held again; it is lost']);
    expect(logged[0]!.obj).toEqual({ jobId: 'job-x', stage: 'succeeded', err: 'Error' });
    expect(JSON.stringify(logged)).not.toContain('hunter2');
  });

  it('stop() disarms the sweep; held records stay for the next start', async () => {
    const clock = createManualClock(T0);
    const sweep = createAuditSweep({ store, clock, audit: { append: async () => undefined as never } });
    await sweep.hold('job-9', outcome('job-9'));
    sweep.stop();
    expect(clock.pendingTimers()).toBe(0);
    await sweep.hold('job-10', outcome('job-10'));
    expect(clock.pendingTimers()).toBe(0);
    expect((await store.listHeldAuditEvents(10)).map((h) => h.jobId)).toEqual(['job-10', 'job-9']); // same time: by job id
  });

  it('keeps the late message within the trail’s 1024 characters', () => {
    const long = 'x'.repeat(2000);
    const e = lateEvent({ jobId: 'j', event: outcome('j', long), heldAt: T0 });
    expect(e.outcome!.message!.length).toBeLessThanOrEqual(1024);
    expect(e.outcome!.message).toMatch(/^x+…; recorded late: /);
  });
});
