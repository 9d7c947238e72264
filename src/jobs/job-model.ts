// The job: one requested operation on one host (and VM), from admission to its outcome. Jobs are
// persisted so callers can poll them across restarts and so queued work resumes after one.

export const JOB_STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted'] as const;
export type JobState = (typeof JOB_STATES)[number];

export const TERMINAL_JOB_STATES: ReadonlySet<JobState> = new Set([
  'succeeded',
  'failed',
  'cancelled',
  'interrupted',
]);

export function isTerminal(state: JobState): boolean {
  return TERMINAL_JOB_STATES.has(state);
}

/** Who asked; enough to audit on the caller's behalf when a queued job resumes after a restart. */
export interface JobActor {
  sub: string;
  iss: string;
  clientId: string | null;
  tokenId: string | null;
  scopes: string[];
}

/** The problem a failed job ended with (rendered later as application/problem+json). */
export interface JobError {
  code: string;
  status: number;
  title: string;
  detail: string;
  hint?: string;
  extensions?: Record<string, unknown>;
}

export interface JobProgress {
  percent: number;
  text: string;
}

export interface JobRecord {
  id: string;
  operation: string;
  host: string;
  /** The VM reference the caller used (GUID or exact name); null for host-level operations. */
  vmRef: string | null;
  vmId: string | null;
  vmName: string | null;
  /** `iss` + `sub`, the owner key: callers see only their own jobs. */
  owner: string;
  actor: JobActor;
  /** Body fields merged with route parameters, as validated; what a resumed job runs with. */
  input: Record<string, unknown>;
  paramsSha256: string;
  requestId: string | null;
  source: { ip: string | null; userAgent: string | null };
  idempotencyKey: string | null;
  state: JobState;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  queueWaitMs: number | null;
  durationMs: number | null;
  progress: JobProgress | null;
  result: unknown;
  error: JobError | null;
}

/** What a caller sees of a job (GET /v1/jobs/{id}); no input, no owner internals. */
export interface JobView {
  id: string;
  status: JobState;
  operation: string;
  host: string;
  vm: { ref: string | null; id: string | null; name: string | null } | null;
  requestId: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  queueWaitMs: number | null;
  durationMs: number | null;
  progress: JobProgress | null;
  result: unknown;
  error: JobError | null;
  links: { self: string };
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function toJobView(job: JobRecord): JobView {
  return {
    id: job.id,
    status: job.state,
    operation: job.operation,
    host: job.host,
    vm: job.vmRef === null && job.vmId === null ? null : { ref: job.vmRef, id: job.vmId, name: job.vmName },
    requestId: job.requestId,
    createdAt: new Date(job.createdAt).toISOString(),
    startedAt: iso(job.startedAt),
    finishedAt: iso(job.finishedAt),
    queueWaitMs: job.queueWaitMs,
    durationMs: job.durationMs,
    progress: job.progress,
    result: job.state === 'succeeded' ? job.result : null,
    error: job.error,
    links: { self: `/v1/jobs/${job.id}` },
  };
}

export function ownerKey(actor: Pick<JobActor, 'iss' | 'sub'>): string {
  return `${actor.iss} ${actor.sub}`;
}
