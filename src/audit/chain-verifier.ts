// The streaming core shared by store verification and offline export verification. Records and
// checkpoints are fed in stored order; it keeps O(window) state, so a million-event chain costs
// one SHA-256 per event on the fast path:
//
//   fast path  SHA-256(stored hash of the highest record so far ‖ body) equals the record's
//              stored hash — the body is then exactly what the writer chained next, so it is not
//              even parsed (only someone able to recompute hashes could make that untrue, and
//              rewritten hashes are what the signed checkpoints catch);
//   slow path  anything else: parse the record and work out which seq it claims and why it is
//              out of place (hash-mismatch, gap, reorder, duplicate, malformed).
//
// Checkpoints are checked for key, signature and their own chain on arrival, and compared with
// the event chain once the event stream has passed their seq. A checkpoint past the last event
// means the tail was cut off after it was signed.
import { GENESIS_HASH, HASH_RE, chainHash } from './audit-chain';
import {
  AuditCheckpoint,
  GENESIS_CHECKPOINT_HASH,
  checkpointHash,
  parseCheckpoint,
  verifyCheckpointSignature,
} from './audit-checkpoint';
import type { AuditAnchorSummary } from './audit-anchor';
import type { AuditKeyRing } from './audit-signer';

export const AUDIT_PROBLEM_REASONS = [
  'hash-mismatch',
  'gap',
  'reorder',
  'duplicate',
  'bad-signature',
  'checkpoint-mismatch',
  'truncated-after-checkpoint',
  'unknown-key',
  'malformed',
  // External anchors (audit-anchor.ts): checkpoints kept outside the database.
  'anchor-event-missing',
  'anchor-hash-mismatch',
  'anchor-checkpoint-mismatch',
  'anchor-bad-signature',
  'anchor-unknown-key',
  'anchor-malformed',
] as const;
export type AuditProblemReason = (typeof AUDIT_PROBLEM_REASONS)[number];

export interface AuditProblem {
  seq: number;
  reason: AuditProblemReason;
  detail: string;
}

export interface AuditVerification {
  /** True only if no problem was found. */
  ok: boolean;
  eventsChecked: number;
  checkpointsChecked: number;
  /** Highest seq seen, or null when there were no events. */
  lastSeq: number | null;
  /** Highest checkpoint whose signature verified and whose head matched the chain. */
  lastVerifiedCheckpointSeq: number | null;
  /** Events after the last verified checkpoint: chained, but not yet covered by a signature. */
  unanchoredEvents: number;
  /** Sorted by seq. At most maxProblems; the rest are counted in problemsOmitted. */
  problems: AuditProblem[];
  problemsOmitted: number;
  /** Present only when external anchors were given. */
  anchors?: AuditAnchorSummary;
}

export interface ChainVerifierOptions {
  readonly keyRing: AuditKeyRing;
  /** First seq expected (an export's first event); seq startSeq-1 must then be a signed checkpoint. */
  readonly startSeq?: number;
  readonly maxProblems?: number;
  /** How many recent records are remembered to resolve reorders and links. */
  readonly window?: number;
}

export interface EventInput {
  /** Where the store keeps the record (its seq column); absent for exported lines. */
  readonly position?: number;
  /** Stored integrity.hash. */
  readonly hash: string;
  /** Canonical JSON the hash covers. */
  readonly body: string;
  /** The body already parsed, when the caller had to parse it anyway. */
  readonly parsed?: unknown;
}

interface RecentEntry {
  stored: string;
  computed: string | null;
  prevHash: string | null;
}

interface PendingCheckpoint {
  cp: AuditCheckpoint;
}

interface Claimed {
  /** The record's seq field, when it is a usable seq. */
  seq: number | null;
  /** Its integrity.prevHash, when it is a SHA-256 hex string. */
  prevHash: string | null;
}

/**
 * Reads what a record says about its place in the chain. null when it is not an audit record at
 * all (no seq or integrity.prevHash member); unusable values of those members are reported as
 * a content/hash mismatch instead, since the writer never produces them.
 */
function claimedFields(parsed: unknown): Claimed | null {
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return null;
  const v = parsed as { seq?: unknown; integrity?: unknown };
  const integrity = v.integrity as { prevHash?: unknown } | null | undefined;
  if (!('seq' in v) || integrity === null || typeof integrity !== 'object' || !('prevHash' in integrity))
    return null;
  const seq = typeof v.seq === 'number' && Number.isSafeInteger(v.seq) && v.seq >= 1 ? v.seq : null;
  const prevHash =
    typeof integrity.prevHash === 'string' && HASH_RE.test(integrity.prevHash) ? integrity.prevHash : null;
  return { seq, prevHash };
}

/**
 * The last `size` seqs' entries in a ring indexed by seq modulo size: O(1) with no rehashing,
 * which matters at a million lookups (a Map that keeps deleting its oldest key slows down).
 */
class SeqWindow {
  private readonly seqs: Float64Array;
  private readonly entries: (RecentEntry | undefined)[];

  constructor(private readonly size: number) {
    this.seqs = new Float64Array(size).fill(-1);
    this.entries = new Array<RecentEntry | undefined>(size);
  }

  get(seq: number): RecentEntry | undefined {
    if (seq < 0) return undefined;
    const i = seq % this.size;
    return this.seqs[i] === seq ? this.entries[i] : undefined;
  }

  set(seq: number, entry: RecentEntry): void {
    const i = seq % this.size;
    this.seqs[i] = seq;
    this.entries[i] = entry;
  }
}

export class ChainVerifier {
  private readonly ring: AuditKeyRing;
  private readonly startSeq: number;
  private readonly maxProblems: number;
  private readonly window: number;

  private readonly problems: AuditProblem[] = [];
  private omitted = 0;
  private eventsChecked = 0;
  private checkpointsChecked = 0;

  /** Highest seq placed so far (startSeq-1 before any event). */
  private maxSeen: number;
  /** Hashes of recently placed seqs, to check links and checkpoint heads. */
  private readonly recent: SeqWindow;
  /** Sorted, disjoint [from, to] ranges of seqs skipped so far. */
  private readonly missing: [number, number][] = [];

  private prevCheckpointSeq = 0;
  private prevCheckpointHash: string | null = GENESIS_CHECKPOINT_HASH;
  private readonly pending: PendingCheckpoint[] = [];
  private lastVerifiedCheckpointSeq: number | null = null;
  private anchored: boolean;
  /** Stored hash of the record fed just before, whatever its fate. */
  private lastFedHash: string | null;

  constructor(options: ChainVerifierOptions) {
    this.ring = options.keyRing;
    this.startSeq = Math.max(1, options.startSeq ?? 1);
    this.maxProblems = options.maxProblems ?? 10_000;
    this.window = Math.max(16, options.window ?? 4096);
    this.maxSeen = this.startSeq - 1;
    this.recent = new SeqWindow(this.window);
    this.anchored = this.startSeq === 1;
    this.lastFedHash = this.anchored ? GENESIS_HASH : null;
    if (this.anchored) this.recent.set(0, { stored: GENESIS_HASH, computed: GENESIS_HASH, prevHash: null });
  }

  private report(seq: number, reason: AuditProblemReason, detail: string): void {
    if (this.problems.length < this.maxProblems) this.problems.push({ seq, reason, detail });
    else this.omitted++;
  }

  private remember(seq: number, entry: RecentEntry): void {
    // A record displaced further back than the window must not evict a current entry.
    if (seq > this.maxSeen - this.window) this.recent.set(seq, entry);
  }

  private takeMissing(seq: number): boolean {
    const m = this.missing;
    let lo = 0;
    let hi = m.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const [a, b] = m[mid]!;
      if (seq < a) hi = mid - 1;
      else if (seq > b) lo = mid + 1;
      else {
        if (a === b) m.splice(mid, 1);
        else if (seq === a) m[mid] = [a + 1, b];
        else if (seq === b) m[mid] = [a, b - 1];
        else m.splice(mid, 1, [a, seq - 1], [seq + 1, b]);
        return true;
      }
    }
    return false;
  }

  private isMissing(seq: number): boolean {
    return this.missing.some(([a, b]) => seq >= a && seq <= b);
  }

  /**
   * Feeds one event record (store order). `chainedToPrevious`, when given, is a precomputed
   * answer to "SHA-256(hash of the previously fed record ‖ body) === hash?" (see hash-pool.ts).
   */
  addEvent(rec: EventInput, chainedToPrevious?: boolean): void {
    this.eventsChecked++;
    const lastFed = this.lastFedHash;
    this.lastFedHash = rec.hash;
    if (rec.parsed === undefined) {
      // Chained straight after the highest record: that is, by construction, seq maxSeen+1.
      const prev = this.recent.get(this.maxSeen);
      if (prev && prev.computed === prev.stored) {
        const chained =
          chainedToPrevious !== undefined && lastFed === prev.stored
            ? chainedToPrevious
            : chainHash(prev.stored, rec.body) === rec.hash;
        if (chained) {
          const seq = ++this.maxSeen;
          this.remember(seq, { stored: rec.hash, computed: rec.hash, prevHash: prev.stored });
          this.settleCheckpoints();
          return;
        }
      }
    }
    this.slowPath(rec);
    this.settleCheckpoints();
  }

  private slowPath(rec: EventInput): void {
    let parsed = rec.parsed;
    if (parsed === undefined) {
      try {
        parsed = JSON.parse(rec.body);
      } catch {
        parsed = null;
      }
    }
    const claimed = claimedFields(parsed);
    if (!claimed) {
      const seq = rec.position ?? this.maxSeen + 1;
      this.report(seq, 'malformed', 'record is not a readable audit event');
      if (this.place(seq, true)) this.remember(seq, { stored: rec.hash, computed: null, prevHash: null });
      return;
    }
    const computed = claimed.prevHash === null ? null : chainHash(claimed.prevHash, rec.body);
    const selfOk = computed === rec.hash;
    // A record whose content no longer matches its hash may also lie about its seq; its storage
    // position is the better witness of where it belongs.
    const seq = (selfOk ? claimed.seq : null) ?? rec.position ?? claimed.seq ?? this.maxSeen + 1;
    if (!selfOk) this.report(seq, 'hash-mismatch', 'record content does not match its hash');
    else if (claimed.seq === null) this.report(seq, 'malformed', 'record has no usable seq');
    if (!this.place(seq, false)) return;
    if (selfOk && claimed.prevHash !== null) {
      this.checkLink(seq, claimed.prevHash);
      const next = this.recent.get(seq + 1);
      if (next && next.prevHash !== null && next.prevHash !== rec.hash && next.prevHash !== computed) {
        this.report(seq + 1, 'hash-mismatch', `prevHash does not match the hash of seq ${seq}`);
      }
    }
    this.remember(seq, { stored: rec.hash, computed, prevHash: claimed.prevHash });
  }

  /** Records that `seq` was seen; false for a duplicate (already reported). */
  private place(seq: number, quiet: boolean): boolean {
    if (seq > this.maxSeen) {
      if (seq > this.maxSeen + 1) this.missing.push([this.maxSeen + 1, seq - 1]);
      this.maxSeen = seq;
      return true;
    }
    if (seq < this.startSeq) {
      if (!quiet)
        this.report(seq, 'reorder', `seq ${seq} is before the start of the range (${this.startSeq})`);
      return false;
    }
    if (this.takeMissing(seq)) {
      if (!quiet) this.report(seq, 'reorder', `seq ${seq} is stored after seq ${this.maxSeen}`);
      return true;
    }
    if (!quiet) this.report(seq, 'duplicate', `seq ${seq} appears more than once`);
    return false;
  }

  private checkLink(seq: number, prevHash: string): void {
    const prev = this.recent.get(seq - 1);
    if (!prev) {
      if (seq === this.startSeq && !this.anchored) {
        this.anchored = true;
        this.report(
          seq,
          'checkpoint-mismatch',
          `no signed checkpoint at seq ${seq - 1} anchors the first event`,
        );
      }
      return;
    }
    if (prevHash !== prev.stored && prevHash !== prev.computed) {
      this.report(
        seq,
        'hash-mismatch',
        seq === 1
          ? 'prevHash of seq 1 is not the genesis hash'
          : `prevHash does not match the hash of seq ${seq - 1}`,
      );
    }
  }

  /** Feeds one checkpoint (store order). `position` is its stored seq, when known. */
  addCheckpoint(body: unknown, position?: number): void {
    this.checkpointsChecked++;
    const cp = parseCheckpoint(body);
    if (!cp) {
      this.report(position ?? this.prevCheckpointSeq + 1, 'malformed', 'checkpoint is not readable');
      this.prevCheckpointHash = null;
      return;
    }
    const at = position ?? cp.seq;
    const status = verifyCheckpointSignature(cp, this.ring);
    const prevHash = this.prevCheckpointHash;
    const prevSeq = this.prevCheckpointSeq;
    // Later links are judged against what is stored, so one bad checkpoint is reported once.
    this.prevCheckpointHash = status === 'ok' ? checkpointHash(cp) : null;
    if (status === 'unknown-key') {
      this.report(at, 'unknown-key', `checkpoint signed by unknown key ${cp.keyId}`);
      return;
    }
    if (status === 'bad-signature') {
      this.report(at, 'bad-signature', 'checkpoint signature does not verify');
      return;
    }
    if (cp.seq <= prevSeq) {
      this.report(
        at,
        'checkpoint-mismatch',
        `checkpoint for seq ${cp.seq} is stored after the one for seq ${prevSeq}`,
      );
      this.prevCheckpointHash = null;
      return;
    }
    this.prevCheckpointSeq = cp.seq;
    if (prevHash !== null && cp.prevCheckpointHash !== prevHash) {
      this.report(at, 'checkpoint-mismatch', 'checkpoint does not follow the previous checkpoint');
      return;
    }
    if (cp.seq === this.startSeq - 1 && !this.anchored) {
      this.anchored = true;
      this.recent.set(cp.seq, { stored: cp.headHash, computed: cp.headHash, prevHash: null });
      this.lastVerifiedCheckpointSeq = cp.seq;
      return;
    }
    if (cp.seq < this.startSeq) return;
    this.pending.push({ cp });
    this.settleCheckpoints();
  }

  private settleCheckpoints(): void {
    while (this.pending.length > 0 && this.pending[0]!.cp.seq < this.maxSeen) {
      this.compareHead(this.pending.shift()!.cp);
    }
  }

  private compareHead(cp: AuditCheckpoint): void {
    const entry = this.recent.get(cp.seq);
    if (!entry) return; // the seq is missing or displaced: already reported as gap/reorder
    if (cp.headHash === entry.stored || cp.headHash === entry.computed) {
      this.lastVerifiedCheckpointSeq = cp.seq;
    } else {
      this.report(
        cp.seq,
        'checkpoint-mismatch',
        `event at seq ${cp.seq} is not the one the checkpoint signed`,
      );
    }
  }

  finish(): AuditVerification {
    let truncatedTo = 0;
    for (const { cp } of this.pending) {
      if (cp.seq <= this.maxSeen && !this.isMissing(cp.seq)) this.compareHead(cp);
      else if (cp.seq > this.maxSeen) truncatedTo = Math.max(truncatedTo, cp.seq);
    }
    this.pending.length = 0;
    if (truncatedTo > 0) {
      this.report(
        this.maxSeen + 1,
        'truncated-after-checkpoint',
        `events ${this.maxSeen + 1}..${truncatedTo} are missing but were covered by a signed checkpoint at seq ${truncatedTo}`,
      );
    }
    for (const [a, b] of this.missing) {
      this.report(a, 'gap', a === b ? `seq ${a} is missing` : `seq ${a}..${b} are missing`);
    }
    this.missing.length = 0;
    const problems = [...this.problems].sort((x, y) => x.seq - y.seq);
    const lastSeq = this.eventsChecked > 0 ? this.maxSeen : null;
    const anchoredTo = this.lastVerifiedCheckpointSeq ?? this.startSeq - 1;
    return {
      ok: problems.length === 0 && this.omitted === 0,
      eventsChecked: this.eventsChecked,
      checkpointsChecked: this.checkpointsChecked,
      lastSeq,
      lastVerifiedCheckpointSeq: this.lastVerifiedCheckpointSeq,
      unanchoredEvents: lastSeq === null ? 0 : Math.max(0, lastSeq - anchoredTo),
      problems,
      problemsOmitted: this.omitted,
    };
  }
  /** Adds a problem found outside the chain itself (e.g. an export header's claims). */
  addProblem(problem: AuditProblem): void {
    this.report(problem.seq, problem.reason, problem.detail);
  }
}
