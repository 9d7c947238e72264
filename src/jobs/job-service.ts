// Orchestrates one operation from request to outcome (DESIGN.md "One operation, end to end"):
// authorize → validate → idempotency → job + audit `requested` → resolve the VM → admission (429)
// → VM turn + host slot → prepare (the VM's facts read fresh, host facts ≤ 2 s old; preconditions)
// → audit `started` (durable before a change, or nothing is sent) → execute → audit `succeeded` /
// `failed`, recorded before the slot is released. Knows nothing about HTTP.
import { createHash, randomUUID } from 'node:crypto';
import type { AuditEventInput } from '../audit/audit-event';
import { canonicalJson } from '../audit/canonical-json';
import { AuditUnavailableError } from '../audit/audit-errors';
import type { AuditWriter } from '../audit/audit-writer';
import type { Authorizer } from '../auth/authorizer';
import { ForbiddenError } from '../auth/auth-errors';
import type { Principal } from '../auth/principal';
import { HvgError } from '../errors/hvg-error';
import { isGuid } from '../operations/operation-helpers';
import { systemClock, type Clock } from '../fleet/clock';
import type { CircuitBreakerRegistry } from '../fleet/circuit-breaker';
import type { AdmittedJob, FleetScheduler } from '../fleet/fleet-scheduler';
import { HostUnavailableError, UnknownHostError } from '../fleet/fleet-errors';
import type { DryRunReport, OperationRunner, ResolvedTarget } from '../operations/operation-runner';
import type { OperationSpec } from '../operations/operation-spec';
import type { JobPatch, JobStore } from '../store/job-store';
import { createAuditSweep } from './audit-sweep';
import { jobAuditEvent } from './job-audit';
import { toHvgError, toJobError } from './job-errors';
import { requestHash, validateInput } from './job-input';
import { JOB_STATES, ownerKey, type JobActor, type JobRecord, type JobState } from './job-model';

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
export const MAX_WAIT_SEC = 300;
const IDEMPOTENCY_KEY = /^[A-Za-z0-9._:-]{1,128}$/;

export interface RequestSource {
  ip: string | null;
  userAgent: string | null;
}

export interface SubmitRequest {
  spec: OperationSpec;
  principal: Principal;
  host: string;
  /** `:vm` of the route (GUID or exact name); absent for host-level operations. */
  vmRef?: string;
  /** Route parameters other than :host and :vm. */
  routeParams?: Record<string, string>;
  /** Parsed JSON body (undefined when there was none). */
  body: unknown;
  dryRun?: boolean;
  /** Seconds to wait for the outcome; undefined = the operation's default. */
  waitSec?: number;
  idempotencyKey?: string;
  requestId: string;
  source: RequestSource;
  /** Called once the request only waits for its job (the HTTP layer gives its intake permit back). */
  onAccepted?: () => void;
}

export type SubmitOutcome =
  { kind: 'dry-run'; report: DryRunReport } | { kind: 'job'; job: JobRecord; replayed: boolean };

export interface JobListQuery {
  status?: string;
  host?: string;
  operation?: string;
  limit?: number;
  cursor?: string;
}

/** Notified as jobs end and requests are refused (metrics, logs). */
export interface JobObserver {
  jobFinished?(job: JobRecord): void;
  refused?(info: { code: string; host: string; operation: string }): void;
}

export interface JobServiceLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

export interface JobServiceOptions {
  specs: readonly OperationSpec[];
  store: JobStore;
  audit: AuditWriter;
  authorizer: Authorizer;
  scheduler: FleetScheduler;
  breakers: CircuitBreakerRegistry;
  runner: OperationRunner;
  clock?: Clock;
  newId?: () => string;
  /** Deadline of one execution on the host. Default 2 min, 2 h for long-running operations. */
  executeTimeoutMs?: (spec: OperationSpec) => number;
  observer?: JobObserver;
  logger?: JobServiceLogger;
  /** Interval of the sweep that appends held outcome records (audit-sweep.ts). Default 15 s. */
  auditSweepIntervalMs?: number;
}

export interface JobService {
  submit(request: SubmitRequest): Promise<SubmitOutcome>;
  get(principal: Principal, id: string): Promise<JobRecord>;
  list(principal: Principal, query: JobListQuery): Promise<{ jobs: JobRecord[]; nextCursor: string | null }>;
  /** Cancels a queued job of the caller's (HVG_ERR_JOB_NOT_CANCELLABLE once it runs). */
  cancel(principal: Principal, id: string): Promise<JobRecord>;
  /** Resolves with the job once it is terminal or `ms` passed. */
  waitFor(id: string, ms: number): Promise<JobRecord | null>;
  /**
   * At start: running jobs of a previous process become `interrupted`, queued ones resume, and
   * outcome records held while the audit trail refused them are appended (in the background).
   */
  recover(): Promise<{ interrupted: number; resumed: number }>;
  /** Appends outcome records held while the audit trail refused them (see audit-sweep.ts). */
  sweepHeldAudit(): Promise<{ recorded: number; left: boolean }>;
  accepting(): boolean;
  /** Refuses new jobs, lets running ones finish within `graceMs`, leaves queued ones queued. */
  shutdown(graceMs: number): Promise<void>;
  activeCount(): { queued: number; running: number };
}

/**
 * What this process keeps of a job it has taken on. Small on purpose: a busy gateway holds
 * thousands of queued jobs, so the record itself stays in the store until the job gets its slot.
 */
interface ActiveJob {
  phase: 'queued' | 'running';
  /** Set by shutdown: a queued job is given back to the store, not cancelled. */
  stopping: boolean;
  /** Set by DELETE /v1/jobs/{id} while the job is being admitted. */
  cancelled: boolean;
  admitted?: AdmittedJob;
  /** Created when the job starts running: cancels its work on a forced shutdown. */
  controller?: AbortController;
  done: Promise<void>;
}

/** The job's place in the host queue, without the record (re-read from the store when it runs). */
interface QueuedJob {
  id: string;
  target: ResolvedTarget;
}

/** Carries a failure whose outcome is already recorded out of the slot (the breaker reads `cause`). */
class Settled extends Error {
  constructor(cause: unknown) {
    super('job outcome recorded', { cause });
  }
}

/** The queued → running step found the job no longer this replica's to start; leave it alone. */
class TakenElsewhere extends Error {
  constructor() {
    super('the job was adopted by another replica');
  }
}

class ShutdownRequeue extends Error {
  constructor() {
    super('gateway shutting down; the job stays queued');
  }
}

export function createJobService(options: JobServiceOptions): JobService {
  const { store, audit, authorizer, scheduler, breakers, runner } = options;
  const clock = options.clock ?? systemClock;
  const newId = options.newId ?? randomUUID;
  const specsById = new Map(options.specs.map((s) => [s.id, s]));
  const timeoutFor =
    options.executeTimeoutMs ?? ((spec: OperationSpec) => (spec.longRunning ? 2 * 3_600_000 : 120_000));
  const log = options.logger;
  const heldAudit = createAuditSweep({
    store,
    audit,
    clock,
    ...(options.auditSweepIntervalMs !== undefined ? { intervalMs: options.auditSweepIntervalMs } : {}),
    ...(log ? { logger: log } : {}),
  });
  const active = new Map<string, ActiveJob>();
  const waiters = new Map<string, Set<() => void>>();
  let accepting = true;
  let recovering: Promise<{ interrupted: number; resumed: number }> = Promise.resolve({
    interrupted: 0,
    resumed: 0,
  });

  function notify(id: string): void {
    const set = waiters.get(id);
    if (!set) return;
    waiters.delete(id);
    for (const fn of set) fn();
  }

  function actorOf(p: Principal): JobActor {
    return { sub: p.sub, iss: p.iss, clientId: p.clientId, tokenId: p.tokenId, scopes: [...p.scopes] };
  }

  /** Refusals are recorded, but a store outage must not turn a 403 into something else. */
  async function auditRefusal(event: AuditEventInput): Promise<void> {
    try {
      await audit.append(event);
    } catch (err) {
      log?.error({ ...auditFailure(err), stage: event.stage }, 'audit of a refusal failed');
    }
  }

  async function resolve(spec: OperationSpec, job: JobRecord): Promise<ResolvedTarget> {
    if (spec.target !== 'vm') return { hostName: job.host };
    // A GUID needs no lookup before queueing: it is the lock key as it stands, and the facts read
    // inside the lock (or the script itself) finds out whether the VM exists. Names still need
    // the host's VM list to become a lock key.
    if (job.vmRef !== null && isGuid(job.vmRef)) return { hostName: job.host, vmId: job.vmRef.toLowerCase() };
    const breaker = breakers.forHost(job.host);
    breaker.assertAvailable();
    // Through the breaker: a host that stopped answering must open its circuit even when every
    // request fails while looking the VM up.
    return breaker.execute(() => runner.resolveTarget(job.host, job.vmRef ?? ''));
  }

  function readAuditFailed(job: JobRecord, stage: string, err: unknown): void {
    log?.error({ jobId: job.id, stage, ...auditFailure(err) }, 'audit of a read failed');
  }

  async function finish(
    job: JobRecord,
    state: JobState,
    patch: JobPatch,
    event: AuditEventInput | null,
    fromStates: readonly JobState[],
    recordFirst = false,
  ): Promise<void> {
    if (recordFirst && event) {
      // A read's result is handed out only once its record is durable; otherwise the caller gets
      // 503 HVG_ERR_AUDIT_UNAVAILABLE instead of the data.
      try {
        await audit.append(event);
      } catch (err) {
        const e = toHvgError(err);
        await finish(
          job,
          'failed',
          { error: toJobError(e), durationMs: patch.durationMs ?? null },
          null,
          fromStates,
        );
        return;
      }
      event = null;
    }
    const finishedAt = clock.now();
    const moved = await store.update(job.id, { ...patch, state, finishedAt }, fromStates);
    if (moved && event) await recordOutcome(job, event);
    if (moved) options.observer?.jobFinished?.({ ...job, ...patch, state, finishedAt });
  }

  /**
   * The host has acted by now, so a failed outcome append is retried for a moment (the job keeps
   * its slot meanwhile), then held with the jobs for the audit sweep, which appends it once the
   * trail takes records again (audit-sweep.ts); the `started` record already proves intent. The
   * writer resolves a commit that reported an error but landed, so a retry never records the
   * outcome twice.
   */
  async function recordOutcome(job: JobRecord, event: AuditEventInput): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await audit.append(event);
        return;
      } catch (err) {
        const delay = OUTCOME_RETRY_DELAYS_MS[attempt];
        const unavailable = err instanceof AuditUnavailableError;
        if (delay === undefined || !unavailable) {
          const held = unavailable && (await heldAudit.hold(job.id, event));
          log?.error(
            { jobId: job.id, stage: event.stage, ...auditFailure(err) },
            held ? 'audit of an outcome failed; held for the audit sweep' : 'audit of an outcome failed',
          );
          return;
        }
        log?.warn(
          { jobId: job.id, stage: event.stage, attempt: attempt + 1, ...auditFailure(err) },
          'audit of an outcome failed, retrying',
        );
        await new Promise<void>((resolve) => clock.setTimeout(resolve, delay));
      }
    }
  }

  async function failJob(
    job: JobRecord,
    err: unknown,
    stage: 'failed' | 'denied' | 'cancelled',
    fromStates: readonly JobState[],
    extra: { queueWaitMs?: number | null; durationMs?: number | null } = {},
  ): Promise<HvgError> {
    const e = toHvgError(err);
    if (e.code === 'HVG_ERR_INTERNAL')
      log?.error({ jobId: job.id, err: errName(err) }, 'job failed internally');
    const state: JobState = stage === 'cancelled' ? 'cancelled' : 'failed';
    await finish(
      job,
      state,
      { error: toJobError(e), vmName: job.vmName, ...extra },
      jobAuditEvent(
        stage,
        { ...job },
        {
          httpStatus: e.status,
          errorCode: e.code,
          message: e.detail,
          queueWaitMs: extra.queueWaitMs ?? null,
          durationMs: extra.durationMs ?? null,
        },
      ),
      fromStates,
    );
    return e;
  }

  /** Resolution and admission; throws the refusal (already recorded on the job) for the caller. */
  async function admit(job: JobRecord, spec: OperationSpec, ctl: ActiveJob): Promise<AdmittedJob> {
    let target: ResolvedTarget;
    try {
      target = await resolve(spec, job);
    } catch (err) {
      if (ctl.stopping) throw shuttingDown();
      // An open circuit is a refusal like a full queue; anything else failed while looking the VM up.
      const refusal = err instanceof HostUnavailableError;
      const e = await failJob(job, err, refusal ? 'denied' : 'failed', ['queued']);
      if (refusal) options.observer?.refused?.({ code: e.code, host: job.host, operation: job.operation });
      throw e;
    }
    // Kept in memory until the job starts; the `running` update persists them with the state.
    job.vmId = target.vmId ?? null;
    job.vmName = target.vmName ?? null;
    let admitted: AdmittedJob;
    try {
      admitted = await scheduler.admit({
        host: job.host,
        caller: job.owner,
        mutating: spec.mutates && spec.target === 'vm',
        ...(target.vmId !== undefined ? { vmId: target.vmId } : {}),
        jobId: job.id,
      });
    } catch (err) {
      // A job caught by shutdown while being admitted stays queued for the next start.
      if (ctl.stopping) throw shuttingDown();
      const e = await failJob(job, err, 'denied', ['queued']);
      options.observer?.refused?.({ code: e.code, host: job.host, operation: job.operation });
      throw e;
    }
    ctl.admitted = admitted;
    // Cancelled or caught by shutdown while it was being admitted: give the place up at once.
    if (ctl.cancelled || ctl.stopping) await admitted.cancel();
    return admitted;
  }

  async function run(
    queued: QueuedJob,
    spec: OperationSpec,
    ctl: ActiveJob,
    admitted: AdmittedJob,
  ): Promise<void> {
    const target = queued.target;
    // Read back from the store once the job leaves the queue; until then only `queued` is held.
    let job: JobRecord | null = null;
    const load = async (): Promise<JobRecord | null> => {
      if (job) return job;
      const stored = await store.get(queued.id);
      if (stored) {
        stored.vmId = target.vmId ?? null;
        stored.vmName = target.vmName ?? null;
      }
      return (job = stored);
    };
    let queueWaitMs: number | null = null;
    let startedAt: number | null = null;
    const elapsed = (): number | null => (startedAt === null ? null : clock.now() - startedAt);
    /** The outcome of a job that started here and did not succeed. */
    const settle = async (job: JobRecord, err: unknown): Promise<void> => {
      const durationMs = elapsed();
      if (ctl.stopping) {
        await finish(
          job,
          'interrupted',
          { error: interruptedError(), durationMs },
          jobAuditEvent('interrupted', job, {
            httpStatus: 409,
            errorCode: 'HVG_ERR_JOB_INTERRUPTED',
            message: 'the gateway shut down before the job finished; the outcome on the host is unknown',
            queueWaitMs,
            durationMs,
          }),
          ['running'],
        );
        return;
      }
      // A replica taken for dead while this ran had the job marked `interrupted` elsewhere; the
      // outcome is known here after all, so it settles the job and goes on the trail.
      await failJob(job, err, 'failed', ['running', 'interrupted'], { queueWaitMs, durationMs });
    };
    try {
      await admitted.run(async (ctx) => {
        if (ctl.stopping) throw new ShutdownRequeue();
        const job = await load();
        // Gone from the store: nothing of it is this replica's to run.
        if (!job) throw new TakenElsewhere();
        startedAt = clock.now();
        queueWaitMs = ctx.queueWaitMs;
        const moved = await store.update(
          job.id,
          { state: 'running', startedAt, queueWaitMs, vmId: job.vmId, vmName: job.vmName },
          ['queued'],
        );
        if (!moved) {
          const now = await store.get(job.id);
          if (now?.state === 'cancelled')
            throw new HvgError('HVG_ERR_CANCELLED', { detail: 'the job was cancelled while queued' });
          // Another replica adopted the job (this one was taken for dead) and owns it now.
          throw new TakenElsewhere();
        }
        ctl.phase = 'running';
        const controller = (ctl.controller = new AbortController());
        // The outcome is recorded while the job still holds its slot and VM turn, so the trail
        // never shows more jobs running on a host, or on a VM, than the limits allow.
        let done;
        try {
          done = await prepareAndExecute(job, spec, target, ctx.queueWaitMs, controller.signal);
        } catch (err) {
          await settle(job, err);
          throw new Settled(err);
        }
        await finish(
          job,
          'succeeded',
          { result: done.outcome.result, durationMs: elapsed(), progress: null, vmName: job.vmName },
          jobAuditEvent('succeeded', job, {
            params: done.prepared.params,
            spec,
            script: done.script,
            httpStatus: spec.successStatus ?? 200,
            queueWaitMs,
            durationMs: done.outcome.durationMs,
            exitCode: done.outcome.exitCode,
          }),
          ['running', 'interrupted'],
          !spec.mutates,
        );
      });
    } catch (err) {
      if (err instanceof Settled) return;
      if (err instanceof TakenElsewhere) {
        log?.warn({ jobId: queued.id }, 'job was adopted by another replica before it started here');
        return;
      }
      if (ctl.stopping && ctl.phase === 'queued') return;
      const loaded = await load();
      if (!loaded) return;
      if (ctl.phase === 'running') return settle(loaded, err);
      const e = toHvgError(err);
      const stage = e.code === 'HVG_ERR_CANCELLED' ? 'cancelled' : 'failed';
      // A job still queued here may be running on another replica by now: only touch it if queued.
      await failJob(loaded, e, stage, ['queued'], { queueWaitMs, durationMs: elapsed() });
    }
  }

  async function prepareAndExecute(
    job: JobRecord,
    spec: OperationSpec,
    target: ResolvedTarget,
    queueWaitMs: number,
    signal: AbortSignal,
  ) {
    const prepared = await runner.prepare(spec, target, job.input, {
      jobId: job.id,
      requestId: job.requestId,
    });
    // A job queued by GUID learns the VM's name from the facts read in the lock.
    if (prepared.target.vmName !== undefined) job.vmName = prepared.target.vmName;
    const script = { id: prepared.script.id, sha256: prepared.script.sha256 };
    // Durable before any byte of a change goes to the host; if this throws, nothing is sent
    // (fail closed). A read is answered only once its outcome record is durable instead.
    const started = audit.append(
      jobAuditEvent('started', job, { params: prepared.params, spec, script, queueWaitMs }),
      { defer: !spec.mutates },
    );
    if (spec.mutates) await started;
    else started.catch((err: unknown) => readAuditFailed(job, 'started', err));
    const executing = runner.execute(prepared, {
      deadline: clock.now() + timeoutFor(spec),
      signal,
      onProgress: (p) => {
        void store.update(job.id, { progress: { percent: p.percent, text: p.text } }, ['running']);
      },
    });
    // A read's deferred records are written while its script is with the host (the request is on
    // the wire by the check phase): the commit after the answer then holds the outcome alone.
    if (!spec.mutates) setImmediate(audit.commitDeferred);
    const outcome = await executing;
    return { outcome, prepared, script };
  }

  function launch(job: JobRecord, spec: OperationSpec): { ctl: ActiveJob; admitted: Promise<void> } {
    const id = job.id;
    let resolveDone!: () => void;
    const ctl: ActiveJob = {
      phase: 'queued',
      stopping: false,
      cancelled: false,
      done: new Promise<void>((r) => (resolveDone = r)),
    };
    active.set(id, ctl);
    const cleanup = () => {
      active.delete(id);
      resolveDone();
      notify(id);
    };
    const admitted = admit(job, spec, ctl).then(
      (adm) => {
        // From here on only the id and the resolved target stay in memory while the job queues.
        const queued: QueuedJob = { id, target: targetOf(job) };
        void run(queued, spec, ctl, adm)
          .catch((err: unknown) => log?.error({ jobId: id, err: errName(err) }, 'job runner crashed'))
          .finally(cleanup);
      },
      (err: unknown) => {
        cleanup();
        throw err;
      },
    );
    return { ctl, admitted };
  }

  async function waitFor(id: string, ms: number): Promise<JobRecord | null> {
    if (ms <= 0 || !active.has(id)) return store.get(id);
    // Active here means its cleanup (which wakes every waiter) has not run yet, and the waiter is
    // registered synchronously below: no outcome can slip past it, so there is nothing to read first.
    let release!: () => void;
    const woken = new Promise<void>((resolve) => {
      let set = waiters.get(id);
      if (!set) waiters.set(id, (set = new Set()));
      const timer = clock.setTimeout(() => release(), ms);
      release = () => {
        clock.clearTimeout(timer);
        set.delete(release);
        resolve();
      };
      set.add(release);
    });
    await woken;
    return store.get(id);
  }

  async function replay(
    existing: { requestHash: string; jobId: string },
    hash: string,
    waitMs: number,
    onAccepted: (() => void) | undefined,
  ): Promise<SubmitOutcome> {
    if (existing.requestHash !== hash) {
      throw new HvgError('HVG_ERR_IDEMPOTENCY_MISMATCH', {
        detail: 'this Idempotency-Key was already used with a different request',
        extensions: { jobId: existing.jobId },
      });
    }
    onAccepted?.();
    const job = await waitFor(existing.jobId, waitMs);
    if (!job)
      throw new HvgError('HVG_ERR_JOB_NOT_FOUND', { detail: `job ${existing.jobId} no longer exists` });
    return { kind: 'job', job, replayed: true };
  }

  async function recoverOnce(): Promise<{ interrupted: number; resumed: number }> {
    const running = (await store.listByState(['running'])).filter((job) => !active.has(job.id));
    let interrupted = 0;
    for (const job of running) {
      // Safe to call again while serving (HA adoption): jobs this process is running are skipped.
      const moved = await store.update(
        job.id,
        { state: 'interrupted', finishedAt: clock.now(), error: interruptedError() },
        ['running'],
      );
      if (!moved) continue;
      interrupted += 1;
      await audit.append(
        jobAuditEvent('interrupted', job, {
          httpStatus: 409,
          errorCode: 'HVG_ERR_JOB_INTERRUPTED',
          message: 'the gateway stopped while the job was running; the outcome on the host is unknown',
        }),
      );
    }
    const queued = await store.listByState(['queued']);
    let resumed = 0;
    for (const job of queued) {
      if (active.has(job.id)) continue;
      const spec = specsById.get(job.operation);
      if (!spec) {
        await failJob(
          job,
          new HvgError('HVG_ERR_NOT_SUPPORTED', {
            detail: `operation ${job.operation} is no longer in the catalog`,
          }),
          'failed',
          ['queued'],
        );
        continue;
      }
      resumed += 1;
      launch(job, spec).admitted.catch(() => undefined);
    }
    return { interrupted, resumed };
  }

  async function ownJob(principal: Principal, id: string): Promise<JobRecord> {
    const job = typeof id === 'string' && id.length <= 64 ? await store.get(id) : null;
    // Someone else's job is reported exactly like a missing one.
    if (!job || job.owner !== ownerKey(principal)) {
      throw new HvgError('HVG_ERR_JOB_NOT_FOUND', { detail: `no job ${safeId(id)} for this caller` });
    }
    return job;
  }

  return {
    async submit(req) {
      const { spec, principal } = req;
      const actor = actorOf(principal);
      const base = {
        id: null,
        operation: spec.id,
        requestId: req.requestId,
        host: req.host,
        vmId: null,
        vmName: req.vmRef ?? null,
        actor,
        source: req.source,
      };
      if (!accepting) {
        throw new HvgError('HVG_ERR_SHUTTING_DOWN', {
          detail: 'the gateway is shutting down',
          retryAfterSec: 5,
        });
      }
      // Every host the operation sends work to must be granted, not only the one in the URL: a
      // migration's destination or a replica server receives the VM, so it is a target as well.
      const authorizeHost = async (host: string): Promise<void> => {
        try {
          authorizer.authorize(principal, { scope: spec.scope, host });
        } catch (err) {
          if (err instanceof ForbiddenError || err instanceof UnknownHostError) {
            const e = toHvgError(err);
            await auditRefusal(
              jobAuditEvent(
                'denied',
                { ...base, host: safeHost(req.host) },
                {
                  httpStatus: e.status,
                  errorCode: e.code,
                  message: e.detail,
                },
              ),
            );
          }
          throw err;
        }
      };
      await authorizeHost(req.host);
      let input: Record<string, unknown>;
      try {
        input = validateInput(spec, req.body, req.routeParams ?? {});
      } catch (err) {
        const e = toHvgError(err);
        await auditRefusal(
          jobAuditEvent('denied', base, { httpStatus: e.status, errorCode: e.code, message: e.detail }),
        );
        throw err;
      }
      const peerParam = spec.facts?.peerHostParam;
      const peerHost = peerParam === undefined ? undefined : input[peerParam];
      if (typeof peerHost === 'string') await authorizeHost(peerHost);

      if (req.dryRun) {
        const target =
          spec.target === 'vm'
            ? await runner.resolveTarget(req.host, req.vmRef ?? '')
            : { hostName: req.host };
        const report = await runner.dryRun(spec, target, input, { jobId: null, requestId: req.requestId });
        return { kind: 'dry-run', report };
      }

      const waitSec = Math.min(MAX_WAIT_SEC, Math.max(0, req.waitSec ?? spec.defaultWaitSec));
      const waitMs = waitSec * 1000;
      const owner = ownerKey(actor);
      const vmRef = spec.target === 'vm' ? (req.vmRef ?? null) : null;
      const hash = requestHash(spec, req.host, vmRef, input);
      const key = spec.mutates ? req.idempotencyKey : undefined;
      if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) {
        throw new HvgError('HVG_ERR_BAD_REQUEST', {
          detail: 'Idempotency-Key must be 1-128 characters of letters, digits, ".", "_", ":" or "-"',
        });
      }
      const now = clock.now();
      if (key !== undefined) {
        const existing = await store.findIdempotency(owner, key, now - IDEMPOTENCY_TTL_MS);
        if (existing) return replay(existing, hash, waitMs, req.onAccepted);
      }

      const job: JobRecord = {
        id: newId(),
        operation: spec.id,
        host: req.host,
        vmRef,
        vmId: null,
        vmName: null,
        owner,
        actor,
        input,
        paramsSha256: createHash('sha256').update(canonicalJson(input)).digest('hex'),
        requestId: req.requestId,
        source: req.source,
        idempotencyKey: key ?? null,
        state: 'queued',
        createdAt: now,
        startedAt: null,
        finishedAt: null,
        queueWaitMs: null,
        durationMs: null,
        progress: null,
        result: null,
        error: null,
      };
      const created = await store.create(
        job,
        key === undefined
          ? undefined
          : {
              record: { owner, key, requestHash: hash, jobId: job.id, createdAt: now },
              notBefore: now - IDEMPOTENCY_TTL_MS,
            },
      );
      if (!created.created) return replay(created.existing, hash, waitMs, req.onAccepted);

      try {
        // Fail closed is about changes: a read does not wait for its `requested` record, which is
        // deferred to ride with the next commit. The outcome record is awaited before the read
        // answers, and the writer commits in order, so an answered read has all three records on
        // disk (see finish()) for one disk sync.
        const requested = audit.append(jobAuditEvent('requested', job, { params: input, spec }), {
          defer: !spec.mutates,
        });
        if (spec.mutates) await requested;
        else requested.catch((err: unknown) => readAuditFailed(job, 'requested', err));
      } catch (err) {
        const e = toHvgError(err);
        log?.error({ jobId: job.id, stage: 'requested', ...auditFailure(err) }, 'audit of a request failed');
        await store.update(job.id, { state: 'failed', finishedAt: clock.now(), error: toJobError(e) }, [
          'queued',
        ]);
        if (key !== undefined) await store.releaseIdempotency(owner, key);
        throw withJobId(e, job.id);
      }

      // The row as stored (admission fills in the VM on the in-memory record before the row has it),
      // for a ?wait=0 answer.
      const stored: JobRecord | null = waitMs <= 0 ? { ...job } : null;
      const { ctl, admitted } = launch(job, spec);
      try {
        await admitted;
      } catch (err) {
        if (key !== undefined) await store.releaseIdempotency(owner, key);
        throw withJobId(toHvgError(err), job.id);
      }
      req.onAccepted?.();
      // ?wait=0 on a job still in its queue: the row is the one just written, no need to read it.
      if (stored && ctl.phase === 'queued' && active.get(job.id) === ctl) {
        return { kind: 'job', job: stored, replayed: false };
      }
      const latest = await waitFor(job.id, waitMs);
      return { kind: 'job', job: latest ?? job, replayed: false };
    },

    get: ownJob,

    async list(principal, query) {
      const limit = query.limit ?? 50;
      if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
        throw new HvgError('HVG_ERR_BAD_REQUEST', { detail: 'limit must be an integer from 1 to 500' });
      }
      let states: JobState[] | undefined;
      if (query.status !== undefined) {
        states = query.status.split(',') as JobState[];
        for (const s of states) {
          if (!(JOB_STATES as readonly string[]).includes(s))
            throw new HvgError('HVG_ERR_BAD_REQUEST', { detail: `unknown job status '${safeId(s)}'` });
        }
      }
      let before: { createdAt: number; id: string } | undefined;
      if (query.cursor !== undefined) before = decodeCursor(query.cursor);
      const jobs = await store.list({
        owner: ownerKey(principal),
        ...(states ? { states } : {}),
        ...(query.host !== undefined ? { host: query.host } : {}),
        ...(query.operation !== undefined ? { operation: query.operation } : {}),
        ...(before ? { before } : {}),
        limit: limit + 1,
      });
      const page = jobs.slice(0, limit);
      const last = page[page.length - 1];
      const nextCursor =
        jobs.length > limit && last
          ? Buffer.from(JSON.stringify({ c: last.createdAt, i: last.id })).toString('base64url')
          : null;
      return { jobs: page, nextCursor };
    },

    async cancel(principal, id) {
      const job = await ownJob(principal, id);
      const ctl = active.get(job.id);
      if (job.state !== 'queued' || (ctl && ctl.phase !== 'queued')) {
        throw new HvgError('HVG_ERR_JOB_NOT_CANCELLABLE', {
          detail: `job ${job.id} is ${job.state === 'queued' ? 'running' : job.state}; only queued jobs can be cancelled`,
          extensions: { jobId: job.id, status: job.state },
        });
      }
      // The error is what a request still waiting for this job answers with (409, not a bare state).
      const error = toJobError(
        new HvgError('HVG_ERR_CANCELLED', {
          detail: `job ${job.id} was cancelled by its caller (DELETE /v1/jobs/{id}) while queued; nothing was sent to the host`,
        }),
      );
      const moved = await store.update(job.id, { state: 'cancelled', finishedAt: clock.now(), error }, [
        'queued',
      ]);
      if (!moved) {
        const now = await store.get(job.id);
        throw new HvgError('HVG_ERR_JOB_NOT_CANCELLABLE', {
          detail: `job ${job.id} is ${now?.state ?? 'gone'}; only queued jobs can be cancelled`,
          extensions: { jobId: job.id },
        });
      }
      // The scheduler gives the queue place up; the runner sees the state change and stops.
      if (ctl) {
        ctl.cancelled = true;
        void ctl.admitted?.cancel();
      }
      await auditRefusal(
        jobAuditEvent('cancelled', job, {
          httpStatus: 200,
          errorCode: 'HVG_ERR_CANCELLED',
          message: 'cancelled by the caller while queued',
        }),
      );
      const final = (await store.get(job.id))!;
      options.observer?.jobFinished?.(final);
      notify(job.id);
      return final;
    },

    waitFor,

    recover() {
      // Serialised: HA adoption can call this while an earlier recovery is still running.
      const next = recovering.then(recoverOnce, recoverOnce);
      recovering = next.catch(() => ({ interrupted: 0, resumed: 0 }));
      void next.then(() => heldAudit.sweep()).catch(() => undefined);
      return next;
    },

    sweepHeldAudit: () => heldAudit.sweep(),

    accepting: () => accepting,

    async shutdown(graceMs) {
      accepting = false;
      heldAudit.stop();
      for (const ctl of active.values()) {
        if (ctl.phase === 'queued') {
          ctl.stopping = true;
          void ctl.admitted?.cancel();
        }
      }
      const all = Promise.all([...active.values()].map((c) => c.done));
      let timer: ReturnType<Clock['setTimeout']> | undefined;
      const expired = new Promise<boolean>((r) => (timer = clock.setTimeout(() => r(true), graceMs)));
      const timedOut = await Promise.race([all.then(() => false), expired]);
      if (timer) clock.clearTimeout(timer);
      if (timedOut) {
        for (const ctl of active.values()) {
          ctl.stopping = true;
          void ctl.admitted?.cancel();
          ctl.controller?.abort(new ShutdownRequeue());
        }
        await Promise.race([all, new Promise((r) => setTimeout(r, 2000).unref())]);
      }
    },

    activeCount() {
      let queued = 0;
      let running = 0;
      for (const c of active.values()) {
        if (c.phase === 'queued') queued++;
        else running++;
      }
      return { queued, running };
    },
  };
}

function targetOf(job: JobRecord): ResolvedTarget {
  return {
    hostName: job.host,
    ...(job.vmId !== null ? { vmId: job.vmId } : {}),
    ...(job.vmName !== null ? { vmName: job.vmName } : {}),
  };
}

function shuttingDown(): HvgError {
  return new HvgError('HVG_ERR_SHUTTING_DOWN', { detail: 'the gateway is shutting down', retryAfterSec: 5 });
}

function interruptedError() {
  return toJobError(
    new HvgError('HVG_ERR_JOB_INTERRUPTED', {
      detail: 'the gateway stopped while the job was running; the outcome on the host is unknown',
    }),
  );
}

function withJobId(e: HvgError, jobId: string): HvgError {
  return new HvgError(e.code, {
    detail: e.detail,
    status: e.status,
    ...(e.hint !== undefined ? { hint: e.hint } : {}),
    ...(e.retryAfterSec !== undefined ? { retryAfterSec: e.retryAfterSec } : {}),
    extensions: { ...e.extensions, jobId },
  });
}

function decodeCursor(cursor: string): { createdAt: number; id: string } {
  try {
    if (!/^[A-Za-z0-9_-]{1,256}$/.test(cursor)) throw new Error('charset');
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { c?: unknown; i?: unknown };
    if (typeof v.c !== 'number' || typeof v.i !== 'string') throw new Error('shape');
    return { createdAt: v.c, id: v.i };
  } catch {
    throw new HvgError('HVG_ERR_BAD_REQUEST', { detail: 'invalid cursor' });
  }
}

function safeId(id: string): string {
  return /^[A-Za-z0-9._-]{1,64}$/.test(id) ? id : '(invalid id)';
}

function safeHost(host: string): string {
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(host) ? host : '(invalid host name)';
}

/** Waits between attempts to record an outcome (then the log is all there is). */
const OUTCOME_RETRY_DELAYS_MS = [50, 250, 1000];

function errName(err: unknown): string {
  return err instanceof Error ? err.name : typeof err;
}

/**
 * Why an audit append failed, for the log: the store's own error behind AuditUnavailableError (a
 * driver code such as a PostgreSQL SQLSTATE or ECONNREFUSED, else the first 160 characters of its
 * message; driver messages name tables and timeouts, never secrets).
 */
function auditFailure(err: unknown): { err: string; cause?: string } {
  const cause = (err as { cause?: unknown } | null)?.cause;
  if (!(cause instanceof Error)) {
    const message = err instanceof Error ? err.message.slice(0, 160) : String(err).slice(0, 160);
    return cause === undefined
      ? { err: errName(err), cause: message }
      : { err: errName(err), cause: `${typeof cause}: ${String(cause).slice(0, 160)}` };
  }
  const code = (cause as { code?: unknown }).code;
  return {
    err: errName(err),
    cause: `${cause.name}${typeof code === 'string' ? ` ${code}` : ''}: ${cause.message.slice(0, 160)}`,
  };
}
