// Persistence seam of jobs and idempotency keys. Async so a PostgreSQL store can implement the
// same interface as the embedded SQLite one.
import type { JobError, JobProgress, JobRecord, JobState } from '../jobs/job-model';

export interface IdempotencyRecord {
  owner: string;
  key: string;
  /** SHA-256 of the operation, target and params the key was first used with. */
  requestHash: string;
  jobId: string;
  createdAt: number;
}

export interface JobListFilter {
  owner: string;
  states?: readonly JobState[];
  host?: string;
  operation?: string;
  /** Only jobs created before this one in listing order (newest first): the cursor. */
  before?: { createdAt: number; id: string };
  limit: number;
}

export type JobPatch = Partial<{
  state: JobState;
  vmId: string | null;
  vmName: string | null;
  startedAt: number | null;
  finishedAt: number | null;
  queueWaitMs: number | null;
  durationMs: number | null;
  progress: JobProgress | null;
  result: unknown;
  error: JobError | null;
}>;

/**
 * An outcome record the audit trail did not take when its job ended (the audit store failed past
 * the retries), kept with the jobs until the audit sweep appends it.
 */
export interface HeldAuditEvent {
  jobId: string;
  /** The audit event input as it was to be appended (plain JSON). */
  event: unknown;
  /** When it was held, ms since epoch. */
  heldAt: number;
}

export type CreateJobResult = { created: true } | { created: false; existing: IdempotencyRecord };

export interface JobStore {
  /**
   * Inserts the job and, when given, its idempotency key in one transaction. If the owner already
   * used the key since `notBefore` (keys expire), nothing is written and the existing record is returned.
   */
  create(
    job: JobRecord,
    idempotency?: { record: IdempotencyRecord; notBefore: number },
  ): Promise<CreateJobResult>;
  get(id: string): Promise<JobRecord | null>;
  /**
   * Applies the patch. With `fromStates`, only if the job is currently in one of them; resolves
   * false when it was not (another path moved it first).
   */
  update(id: string, patch: JobPatch, fromStates?: readonly JobState[]): Promise<boolean>;
  list(filter: JobListFilter): Promise<JobRecord[]>;
  /** Oldest first: the order queued jobs resume in. */
  listByState(states: readonly JobState[]): Promise<JobRecord[]>;
  findIdempotency(owner: string, key: string, notBefore: number): Promise<IdempotencyRecord | null>;
  /** Forgets a key (the request was refused before anything ran, so a retry may reuse it). */
  releaseIdempotency(owner: string, key: string): Promise<void>;
  /** Deletes keys created before `olderThan`; returns how many. */
  purgeIdempotency(olderThan: number): Promise<number>;
  /** Keeps an outcome record for the audit sweep; one per job (a second replaces the first). */
  holdAuditEvent(held: HeldAuditEvent): Promise<void>;
  /** Held outcome records, oldest first. */
  listHeldAuditEvents(limit: number): Promise<HeldAuditEvent[]>;
  /** How many outcome records are held (a metric: above 0 the trail is incomplete for now). */
  countHeldAuditEvents(): Promise<number>;
  /**
   * Removes and returns the job's held record in one step, so two sweeps (replicas) never both
   * append it; null when none is held.
   */
  takeHeldAuditEvent(jobId: string): Promise<HeldAuditEvent | null>;
  /** Throws unless the store can write right now (readiness). */
  checkWritable(): Promise<void>;
  close(): Promise<void>;
}
