// Persistence seam of the audit trail. The chain, checkpoints and verification live in src/audit;
// a store only keeps records durably, in seq order, and answers range and filter reads. Methods
// are async so a PostgreSQL store can implement the same interface as the embedded SQLite one.
import type { AuditOutcomeStatus, AuditStage } from '../audit/audit-event';

/** One stored event as the chain sees it. */
export interface AuditEventRecord {
  /** Storage position (the seq the record was written at); orders reads. */
  readonly seq: number;
  /** integrity.hash of the event. */
  readonly hash: string;
  /** Canonical JSON of the event without integrity.hash: the bytes `hash` covers. */
  readonly body: string;
}

export interface AuditCheckpointRecord {
  readonly seq: number;
  /** Canonical JSON of the signed checkpoint. */
  readonly body: string;
}

export interface AuditHead {
  readonly seq: number;
  readonly hash: string;
}

export interface AuditAppendBatch {
  /**
   * The head seq the writer sealed this batch against (0 for an empty store). The store applies
   * the batch only if its head is still there, otherwise throws AuditHeadConflictError, so two
   * writers sharing a database can never fork the chain.
   */
  readonly expectedHeadSeq: number;
  /** Likewise for the last checkpoint's seq, so checkpoints never fork either. */
  readonly expectedCheckpointSeq: number;
  readonly events: readonly AuditEventRecord[];
  readonly checkpoints: readonly AuditCheckpointRecord[];
}

/** Normalised reviewer filters (see audit-query.ts for parsing). Times are ISO-8601 UTC. */
export interface AuditEventFilter {
  /** Inclusive. */
  readonly fromTime?: string;
  /** Exclusive. */
  readonly toTime?: string;
  readonly actorSub?: string;
  readonly host?: string;
  readonly vmId?: string;
  readonly operation?: string;
  readonly stage?: AuditStage;
  readonly status?: AuditOutcomeStatus;
  readonly requestId?: string;
  readonly jobId?: string;
}

export interface AuditPage {
  /** Only records with seq greater than this (ascending pages). */
  readonly afterSeq?: number;
  /** Only records with seq less than this (descending pages). */
  readonly beforeSeq?: number;
  readonly limit: number;
  readonly order: 'asc' | 'desc';
}

export interface AuditStoreStats {
  /** Committed append transactions (each one fsync in SQLite with synchronous=FULL). */
  readonly transactions: number;
  readonly eventsWritten: number;
  readonly checkpointsWritten: number;
}

export interface AuditStore {
  /** Writes all events and checkpoints in one transaction; resolves only once it is durable. */
  appendBatch(batch: AuditAppendBatch): Promise<void>;
  /** The event with the highest seq, or null for an empty store. */
  head(): Promise<AuditHead | null>;
  /** The checkpoint with the highest seq, or null. */
  lastCheckpoint(): Promise<AuditCheckpointRecord | null>;
  /** Highest event and checkpoint seq, read together (0 when none). */
  bounds(): Promise<{ maxEventSeq: number; maxCheckpointSeq: number }>;
  /** Events with afterSeq < seq ≤ toSeq in seq order, at most `limit`. */
  readEvents(afterSeq: number, toSeq: number, limit: number): Promise<AuditEventRecord[]>;
  /** Checkpoints with afterSeq < seq ≤ toSeq in seq order, at most `limit`. */
  readCheckpoints(afterSeq: number, toSeq: number, limit: number): Promise<AuditCheckpointRecord[]>;
  /** The checkpoint with the greatest seq below `seq`, or null. */
  checkpointBefore(seq: number): Promise<AuditCheckpointRecord | null>;
  /** The checkpoint with the smallest seq at or above `seq`, or null. */
  checkpointAtOrAfter(seq: number): Promise<AuditCheckpointRecord | null>;
  /** Events matching every filter, one page in the requested order. */
  queryEvents(filter: AuditEventFilter, page: AuditPage): Promise<AuditEventRecord[]>;
  /** Smallest and largest seq of events whose time is in [fromTime, toTime), or null. */
  seqRangeForTime(fromTime?: string, toTime?: string): Promise<{ minSeq: number; maxSeq: number } | null>;
  stats(): AuditStoreStats;
  close(): Promise<void>;
}

/** Streams events in seq order in batches; the shape verifiers and exporters read with. */
export async function* iterateEventBatches(
  store: AuditStore,
  range: { afterSeq?: number; toSeq: number; batchSize?: number },
): AsyncGenerator<AuditEventRecord[]> {
  const size = range.batchSize ?? 5000;
  let after = range.afterSeq ?? 0;
  while (after < range.toSeq) {
    const batch = await store.readEvents(after, range.toSeq, size);
    if (batch.length === 0) return;
    yield batch;
    after = batch[batch.length - 1]!.seq;
  }
}

export async function* iterateCheckpoints(
  store: AuditStore,
  range: { afterSeq?: number; toSeq: number; batchSize?: number },
): AsyncGenerator<AuditCheckpointRecord> {
  const size = range.batchSize ?? 1000;
  let after = range.afterSeq ?? 0;
  while (after < range.toSeq) {
    const batch = await store.readCheckpoints(after, range.toSeq, size);
    if (batch.length === 0) return;
    yield* batch;
    after = batch[batch.length - 1]!.seq;
  }
}
