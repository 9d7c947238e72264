// The only place seq and the hash chain are assigned. Appends that arrive while the previous
// transaction is being written (or within the same event-loop turn) are sealed together and
// committed in ONE store transaction — one fsync for the group — and each caller's promise
// resolves only after that commit. Sealing happens under the writer's own serialisation, so seq
// and prevHash never depend on the wall clock.
//
// Fail closed: if the store throws, every append of the group rejects with AuditUnavailableError,
// the in-memory head is dropped, and the next group re-reads the head from the store (which also
// covers a commit that succeeded but reported an error).
import { randomUUID } from 'node:crypto';
import { GENESIS_HASH, SealedEvent, sealEvent, sha256Hex } from './audit-chain';
import {
  AuditCheckpoint,
  checkpointBody,
  checkpointHash,
  createCheckpoint,
  parseCheckpoint,
} from './audit-checkpoint';
import { AuditEventInputError, AuditHeadConflictError, AuditUnavailableError } from './audit-errors';
import { AuditEventInput, StoredEvent, UnsealedEvent, buildUnsealedEvent, toJsonLine } from './audit-event';
import type { AuditPublicKeyInfo, AuditSigner } from './audit-signer';
import type { AuditStore } from '../store/audit-store';

export interface AuditClock {
  /** Milliseconds since the epoch. May jump backwards; only event times are taken from it. */
  now(): number;
}

export const systemClock: AuditClock = { now: () => Date.now() };

/** Receives each committed event as one JSON line (without the newline), e.g. for stdout. */
export interface AuditSink {
  write(line: string): void;
}

/** A sink writing JSON lines to a stream (process.stdout for log shippers). */
export function createStreamSink(stream: { write(chunk: string): unknown } = process.stdout): AuditSink {
  return { write: (line) => void stream.write(`${line}\n`) };
}

export interface AuditWriterOptions {
  readonly store: AuditStore;
  readonly signer: AuditSigner;
  readonly clock?: AuditClock;
  /** Sign a checkpoint once this many events follow the previous one. Default 1000. */
  readonly checkpointEvery?: number;
  /** Also sign one every this many ms if events were written since. Default 60000; 0 disables. */
  readonly checkpointIntervalMs?: number;
  readonly sink?: AuditSink;
  /** Called when the sink throws; the event is already durable, so the append still succeeds. */
  readonly onSinkError?: (err: unknown) => void;
  /**
   * Called with each committed checkpoint. Shipping these somewhere the database's owner cannot
   * rewrite (the log pipeline) anchors the head outside the store, which is what makes cutting
   * the tail *and* its checkpoints detectable too.
   */
  readonly onCheckpoint?: (checkpoint: AuditCheckpoint) => void;
  readonly service?: { readonly version: string; readonly instance: string };
  /** Event id source (tests fix it). Default crypto.randomUUID. */
  readonly newEventId?: () => string;
  /** Upper bound of events per transaction. Default 1000. */
  readonly maxBatchSize?: number;
  /**
   * While appends arrive concurrently (the last group had three or more events), wait this long for
   * more before committing, so a busy gateway pays one disk sync per larger group. A lone caller
   * never waits. Default 2 ms; 0 = commit on the next turn of the event loop.
   */
  readonly groupWindowMs?: number;
  /**
   * A deferred append (`{ defer: true }`) waits at most this long for an ordinary append to commit
   * with; if none comes, it commits on its own. Default 50 ms.
   */
  readonly deferWindowMs?: number;
  /**
   * Re-seals after another writer moved the head (replicas sharing one PostgreSQL chain). Default 3;
   * the HA store raises it, since with several busy replicas most groups lose the race once.
   */
  readonly maxConflictRetries?: number;
}

export interface AppendOptions {
  /**
   * Do not start a commit for this event: it rides with the next ordinary append (or commits on its
   * own after `deferWindowMs`). Seq order is still the order of append calls, so an event appended
   * later is never durable before this one. For the `requested` and `started` records of reads,
   * whose `succeeded` record follows within milliseconds and is awaited; the job service commits
   * them (`commitDeferred`) once the read's script is on its way, so that sync overlaps the host.
   */
  defer?: boolean;
}

export interface AuditWriter {
  /** Resolves with the stored event once it is durable; rejects with AuditUnavailableError otherwise. */
  append(input: AuditEventInput, options?: AppendOptions): Promise<StoredEvent>;
  /** Resolves once every append made before the call has been committed or rejected. */
  flush(): Promise<void>;
  /**
   * Starts committing the deferred appends now unless a commit is already under way (they join it
   * or the next one). For a caller that is about to wait anyway, such as a read whose script is on
   * its way to the host: their disk sync then happens while the host works, not after it answers.
   */
  commitDeferred(): void;
  /** Signs a checkpoint at the current head now; null if nothing was written since the last one. */
  checkpoint(): Promise<AuditCheckpoint | null>;
  /** Public keys verifiers need (GET /v1/audit/keys). */
  publicKeys(): AuditPublicKeyInfo[];
  /** Stops accepting appends, commits what is queued and signs a final checkpoint. */
  close(): Promise<void>;
}

interface ChainState {
  seq: number;
  hash: string;
  checkpointSeq: number;
  checkpointHash: string;
}

interface PendingAppend {
  unsealed: UnsealedEvent;
  deferred: boolean;
  resolve(event: StoredEvent): void;
  reject(err: unknown): void;
}

interface CheckpointWaiter {
  resolve(cp: AuditCheckpoint | null): void;
  reject(err: unknown): void;
}

const MAX_CONFLICT_RETRIES = 3;
/**
 * A group with this many ordinary (not deferred) appends means several callers append at once: one
 * job alone never has two in flight (a read's `requested` and `started` are deferred).
 */
const CONCURRENT_GROUP = 2;

function unavailable(err: unknown): AuditUnavailableError {
  return err instanceof AuditUnavailableError ? err : new AuditUnavailableError(undefined, { cause: err });
}

export function createAuditWriter(options: AuditWriterOptions): AuditWriter {
  const { store, signer, sink } = options;
  const clock = options.clock ?? systemClock;
  const checkpointEvery = Math.max(1, Math.floor(options.checkpointEvery ?? 1000));
  const intervalMs = options.checkpointIntervalMs ?? 60_000;
  const maxBatch = Math.max(1, Math.floor(options.maxBatchSize ?? 1000));
  const groupWindowMs = Math.max(0, options.groupWindowMs ?? 2);
  const deferWindowMs = Math.max(0, options.deferWindowMs ?? 50);
  let lastGroupEager = 0;
  /** Ordinary appends in the queue; only deferred ones → the defer timer decides when to commit. */
  let eagerQueued = 0;
  let deferTimer: NodeJS.Timeout | null = null;
  const service = options.service ?? { version: 'unknown', instance: 'unknown' };
  const newEventId = options.newEventId ?? randomUUID;
  const maxConflictRetries = Math.max(0, Math.floor(options.maxConflictRetries ?? MAX_CONFLICT_RETRIES));

  const queue: PendingAppend[] = [];
  let checkpointWaiters: CheckpointWaiter[] = [];
  let checkpointRequested = false;
  let state: ChainState | null = null;
  let draining: Promise<void> | null = null;
  let accepting = true;

  const timer =
    intervalMs > 0
      ? setInterval(() => {
          if (state === null || state.seq > state.checkpointSeq) {
            checkpointRequested = true;
            schedule();
          }
        }, intervalMs)
      : null;
  timer?.unref();

  function nowIso(): string {
    const ms = clock.now();
    const d = new Date(ms);
    if (!Number.isFinite(ms) || Number.isNaN(d.getTime()))
      throw new AuditUnavailableError('audit clock returned no usable time');
    return d.toISOString();
  }

  async function loadState(): Promise<ChainState> {
    // The checkpoint first, then the head: a checkpoint commits together with the events it
    // covers, so a head read after it is never below it unless the trail was cut. Read the other
    // way round (or at once), another replica's commit landing between the two reads looked like
    // a truncated trail and failed appends under load (seen in the HA test). A checkpoint that
    // lands between them makes this state one checkpoint old, which the store's expected-seq
    // check turns into an ordinary conflict and a reload.
    const cp = await store.lastCheckpoint();
    const head = await store.head();
    const seq = head?.seq ?? 0;
    const hash = head?.hash ?? GENESIS_HASH;
    let checkpointSeq = 0;
    let cpHash = GENESIS_HASH;
    if (cp) {
      const parsed = parseCheckpoint(cp.body);
      checkpointSeq = cp.seq;
      // A damaged checkpoint is the verifier's to report; chain on from its stored bytes.
      cpHash = parsed ? checkpointHash(parsed) : sha256Hex(cp.body);
    }
    if (checkpointSeq > seq) {
      // Checkpoints commit with their events, so this only happens if the tail was cut off.
      throw new AuditUnavailableError(
        `audit store head (seq ${seq}) is behind its last signed checkpoint (seq ${checkpointSeq}): the trail was truncated`,
      );
    }
    return { seq, hash, checkpointSeq, checkpointHash: cpHash };
  }

  function signCheckpoint(seq: number, headHash: string, prevCheckpointHash: string): AuditCheckpoint {
    return createCheckpoint(signer, { seq, headHash, prevCheckpointHash, time: nowIso() });
  }

  interface Committed {
    sealed: { pending: PendingAppend; sealed: SealedEvent }[];
    checkpoints: AuditCheckpoint[];
  }

  async function commit(batch: PendingAppend[], forceCheckpoint: boolean): Promise<Committed> {
    for (let attempt = 0; ; attempt++) {
      const start = state ?? (await loadState());
      let { seq, hash, checkpointSeq, checkpointHash: cpHash } = start;
      const sealed: Committed['sealed'] = [];
      const checkpoints: AuditCheckpoint[] = [];
      for (const pending of batch) {
        let s: SealedEvent;
        try {
          s = sealEvent(pending.unsealed, seq + 1, hash);
        } catch (err) {
          // Only this event is unrepresentable; the rest of the group still commits.
          pending.reject(new AuditEventInputError(`audit event cannot be sealed: ${(err as Error).message}`));
          continue;
        }
        seq += 1;
        hash = s.hash;
        sealed.push({ pending, sealed: s });
        if (seq - checkpointSeq >= checkpointEvery) {
          const cp = signCheckpoint(seq, hash, cpHash);
          checkpoints.push(cp);
          checkpointSeq = seq;
          cpHash = checkpointHash(cp);
        }
      }
      if (forceCheckpoint && seq > checkpointSeq) {
        const cp = signCheckpoint(seq, hash, cpHash);
        checkpoints.push(cp);
        checkpointSeq = seq;
        cpHash = checkpointHash(cp);
      }
      if (sealed.length > 0 || checkpoints.length > 0) {
        try {
          await store.appendBatch({
            expectedHeadSeq: start.seq,
            expectedCheckpointSeq: start.checkpointSeq,
            events: sealed.map(({ sealed: s }) => ({ seq: s.event.seq, hash: s.hash, body: s.body })),
            checkpoints: checkpoints.map((cp) => ({ seq: cp.seq, body: checkpointBody(cp) })),
          });
        } catch (err) {
          state = null;
          if (err instanceof AuditHeadConflictError && attempt < maxConflictRetries) continue;
          // A commit can succeed and still report an error (a connection dropped on the way back).
          // Telling those callers "not recorded" would be false, and a caller that retries would
          // record its event twice, so look: if the last event sealed here is in the store at its
          // seq with its hash, the whole group committed (one transaction).
          if (!(err instanceof AuditHeadConflictError) && (await committedAnyway(sealed, seq, hash))) {
            return { sealed, checkpoints };
          }
          throw err;
        }
      }
      state = { seq, hash, checkpointSeq, checkpointHash: cpHash };
      return { sealed, checkpoints };
    }
  }

  async function committedAnyway(
    sealed: Committed['sealed'],
    lastSeq: number,
    lastHash: string,
  ): Promise<boolean> {
    if (sealed.length === 0) return false;
    try {
      const [stored] = await store.readEvents(lastSeq - 1, lastSeq, 1);
      return stored !== undefined && stored.seq === lastSeq && stored.hash === lastHash;
    } catch {
      return false;
    }
  }

  function publish(events: readonly SealedEvent[], checkpoints: readonly AuditCheckpoint[]): void {
    if (sink) {
      for (const s of events) {
        try {
          sink.write(toJsonLine(s.event));
        } catch (err) {
          options.onSinkError?.(err);
        }
      }
    }
    for (const cp of checkpoints) {
      try {
        options.onCheckpoint?.(cp);
      } catch (err) {
        options.onSinkError?.(err);
      }
    }
  }

  async function drain(): Promise<void> {
    while (queue.length > 0 || checkpointRequested) {
      const batch = queue.splice(0, maxBatch);
      let eager = 0;
      for (const p of batch) if (!p.deferred) eager += 1;
      eagerQueued -= eager;
      lastGroupEager = eager;
      // A requested checkpoint rides on the last group so it covers everything queued before it.
      const withCheckpoint = checkpointRequested && queue.length === 0;
      const waiters = withCheckpoint ? checkpointWaiters : [];
      if (withCheckpoint) {
        checkpointRequested = false;
        checkpointWaiters = [];
      }
      try {
        const done = await commit(batch, withCheckpoint);
        for (const { pending, sealed } of done.sealed) pending.resolve(sealed.event);
        for (const w of waiters) w.resolve(done.checkpoints[done.checkpoints.length - 1] ?? null);
        publish(
          done.sealed.map((d) => d.sealed),
          done.checkpoints,
        );
      } catch (err) {
        const e = unavailable(err);
        for (const p of batch) p.reject(e);
        for (const w of waiters) w.reject(e);
      }
    }
  }

  function armDeferTimer(): void {
    if (deferTimer || draining) return;
    deferTimer = setTimeout(() => {
      deferTimer = null;
      schedule();
    }, deferWindowMs);
  }

  function schedule(): void {
    if (deferTimer) {
      clearTimeout(deferTimer);
      deferTimer = null;
    }
    if (draining) return;
    // setImmediate lets every append made in this turn of the event loop join the same group; under
    // concurrent load a short window gathers the appends of the next few turns as well.
    const wait =
      groupWindowMs > 0 && lastGroupEager >= CONCURRENT_GROUP
        ? (resolve: () => void) => setTimeout(resolve, groupWindowMs)
        : (resolve: () => void) => setImmediate(resolve);
    draining = new Promise<void>(wait).then(drain).finally(() => {
      draining = null;
      if (eagerQueued > 0 || checkpointRequested) schedule();
      else if (queue.length > 0) armDeferTimer();
    });
  }

  async function flush(): Promise<void> {
    for (;;) {
      if (!draining && (queue.length > 0 || checkpointRequested)) schedule();
      if (!draining) return;
      await draining;
    }
  }

  function checkpoint(): Promise<AuditCheckpoint | null> {
    return new Promise((resolve, reject) => {
      checkpointWaiters.push({ resolve, reject });
      checkpointRequested = true;
      schedule();
    });
  }

  return {
    append(input, appendOptions) {
      if (!accepting) return Promise.reject(new AuditUnavailableError('the audit writer is closed'));
      let unsealed: UnsealedEvent;
      try {
        unsealed = buildUnsealedEvent(input, { eventId: newEventId(), time: nowIso(), service });
      } catch (err) {
        return Promise.reject(err);
      }
      const deferred = appendOptions?.defer === true;
      return new Promise<StoredEvent>((resolve, reject) => {
        queue.push({ unsealed, deferred, resolve, reject });
        if (deferred) {
          armDeferTimer();
        } else {
          eagerQueued += 1;
          schedule();
        }
      });
    },
    flush,
    commitDeferred() {
      if (!draining && queue.length > 0) schedule();
    },
    checkpoint,
    publicKeys: () => signer.publicKeys(),
    async close() {
      accepting = false;
      if (timer) clearInterval(timer);
      await flush();
      await checkpoint();
      await flush();
    },
  };
}
