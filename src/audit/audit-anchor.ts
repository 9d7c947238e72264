// External anchors: signed checkpoints kept outside the database (the gateway logs each one as an
// `auditCheckpoint` line for a log shipper). The stored trail alone cannot show a tail cut
// together with its checkpoints; a checkpoint the database owner could not delete can: its seq
// must still hold the event it signed, and the store's checkpoint at that seq must be the same.
import { checkpointBody, parseCheckpoint, verifyCheckpointSignature } from './audit-checkpoint';
import type { AuditCheckpoint, CheckpointSignatureStatus } from './audit-checkpoint';
import type { AuditKeyRing } from './audit-signer';
import type { AuditProblem } from './chain-verifier';

export interface AuditAnchor {
  readonly checkpoint: AuditCheckpoint;
  /** "FILE:LINE" it was read from, so a reviewer can find it in the shipped logs. */
  readonly source: string;
}

export interface AuditAnchorSummary {
  /** Distinct anchors given (repeated log lines count once). */
  given: number;
  /** Anchors compared with the trail; the others were outside an export's range. */
  checked: number;
  notCovered: number;
  /** Highest seq an anchor vouched for without a problem, or null. */
  highestVerifiedSeq: number | null;
}

type Candidate = { kind: 'anchor'; value: unknown } | { kind: 'broken' } | { kind: 'other' };

function asObject(v: unknown): Record<string, unknown> | null {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

function fromObject(obj: Record<string, unknown>, depth: number): Candidate {
  if ('auditCheckpoint' in obj) return { kind: 'anchor', value: obj.auditCheckpoint };
  // Docker's json-file driver wraps each output line in {"log": "...", "stream": ...}.
  if (typeof obj.log === 'string' && depth === 0) return classify(obj.log, 1);
  if (obj.type === 'checkpoint' && 'checkpoint' in obj) return { kind: 'anchor', value: obj.checkpoint };
  if ('headHash' in obj && 'signature' in obj) return { kind: 'anchor', value: obj };
  return { kind: 'other' };
}

function classify(line: string, depth = 0): Candidate {
  // Most log lines are about something else: skip them without parsing.
  const logged = line.includes('auditCheckpoint');
  if (!logged && !line.includes('headHash')) return { kind: 'other' };
  // JSON may follow a prefix (CRI "<time> stdout F ", syslog); the object starts at the first '{'.
  const start = line.indexOf('{');
  if (start < 0) return logged ? { kind: 'broken' } : { kind: 'other' };
  let parsed: Record<string, unknown> | null;
  try {
    parsed = asObject(JSON.parse(line.slice(start)));
  } catch {
    parsed = null;
  }
  if (!parsed) return logged || start === 0 ? { kind: 'broken' } : { kind: 'other' };
  return fromObject(parsed, depth);
}

/**
 * Collects anchors from checkpoint files or gateway logs: a bare checkpoint object per line, a
 * log line carrying `auditCheckpoint`, or an export's checkpoint line. Other lines are ignored;
 * a line that carries a checkpoint which cannot be read is an `anchor-malformed` problem, since
 * a shipped anchor silently dropped is exactly what a reviewer must hear about.
 */
export class AnchorSet {
  private readonly byBody = new Map<string, AuditAnchor>();
  readonly malformed: AuditProblem[] = [];

  get anchors(): AuditAnchor[] {
    return [...this.byBody.values()];
  }

  /** True when the line carried a checkpoint (readable or not). */
  addLine(raw: string, source: string): boolean {
    const line = raw.trim();
    if (line.length === 0) return false;
    const c = classify(line);
    if (c.kind === 'other') return false;
    const cp = c.kind === 'anchor' ? parseCheckpoint(c.value) : null;
    if (!cp) {
      const seq = c.kind === 'anchor' ? asObject(c.value)?.seq : undefined;
      this.malformed.push({
        seq: typeof seq === 'number' && Number.isSafeInteger(seq) && seq > 0 ? seq : 0,
        reason: 'anchor-malformed',
        detail: `${source}: line carries a checkpoint that is not readable`,
      });
      return true;
    }
    const key = checkpointBody(cp);
    if (!this.byBody.has(key)) this.byBody.set(key, { checkpoint: cp, source });
    return true;
  }

  /** Adds a file's lines; returns how many carried a checkpoint. */
  async addLines(lines: Iterable<string> | AsyncIterable<string>, file: string): Promise<number> {
    let n = 0;
    let found = 0;
    for await (const line of lines) if (this.addLine(line, `${file}:${++n}`)) found++;
    return found;
  }
}

interface AnchorState {
  readonly anchor: AuditAnchor;
  readonly signature: CheckpointSignatureStatus;
  /** Canonical body, compared with a stored checkpoint at the same seq. */
  readonly body: string;
  eventMatched: boolean;
  eventMismatched: boolean;
  checkpointSeen: boolean;
  checkpointMismatched: boolean;
}

/** Which seqs the trail being verified is expected to hold events for. */
export interface AnchorScope {
  /** Highest event seq seen, or null when there were none. */
  readonly lastSeq: number | null;
  /** First seq held (an export's fromSeq; 1 for a store). */
  readonly fromSeq: number;
  /** Last seq held: an export's toSeq; Infinity for a store, which must hold every anchor. */
  readonly toSeq: number;
}

/**
 * Checks anchors against a trail streamed through it. Events and checkpoints may arrive in any
 * order (an export's claimed seqs need not be monotonic), so anchors are looked up by seq.
 */
export class AnchorChecker {
  private readonly bySeq = new Map<number, AnchorState[]>();
  private readonly states: AnchorState[] = [];

  constructor(anchors: readonly AuditAnchor[], ring: AuditKeyRing) {
    for (const anchor of anchors) {
      const cp = anchor.checkpoint;
      const state: AnchorState = {
        anchor,
        signature: verifyCheckpointSignature(cp, ring),
        body: checkpointBody(cp),
        eventMatched: false,
        eventMismatched: false,
        checkpointSeen: false,
        checkpointMismatched: false,
      };
      this.states.push(state);
      // Only anchors whose signature holds vouch for anything; the rest are reported as forged.
      if (state.signature !== 'ok') continue;
      const list = this.bySeq.get(cp.seq);
      if (list) list.push(state);
      else this.bySeq.set(cp.seq, [state]);
    }
  }

  /** An event record: its seq and stored integrity.hash. */
  observeEvent(seq: number, hash: string): void {
    const list = this.bySeq.get(seq);
    if (!list) return;
    for (const s of list) {
      if (hash === s.anchor.checkpoint.headHash) s.eventMatched = true;
      else s.eventMismatched = true;
    }
  }

  /** A stored or exported checkpoint at `seq` (its JSON text or object). */
  observeCheckpoint(seq: number, body: unknown): void {
    const list = this.bySeq.get(seq);
    if (!list) return;
    const cp = parseCheckpoint(body);
    const canonical = cp ? checkpointBody(cp) : null;
    for (const s of list) {
      s.checkpointSeen = true;
      if (canonical !== s.body) s.checkpointMismatched = true;
    }
  }

  finish(scope: AnchorScope): { problems: AuditProblem[]; summary: AuditAnchorSummary } {
    const problems: AuditProblem[] = [];
    const cut: AnchorState[] = [];
    let checked = 0;
    let notCovered = 0;
    let highest: number | null = null;
    for (const s of this.states) {
      const { seq, keyId } = s.anchor.checkpoint;
      const at = s.anchor.source;
      if (s.signature === 'unknown-key') {
        checked++;
        problems.push({
          seq,
          reason: 'anchor-unknown-key',
          detail: `anchor ${at} is signed by unknown key ${keyId}`,
        });
        continue;
      }
      if (s.signature === 'bad-signature') {
        checked++;
        problems.push({
          seq,
          reason: 'anchor-bad-signature',
          detail: `anchor ${at}: signature does not verify`,
        });
        continue;
      }
      const inRange = seq >= scope.fromSeq && seq <= scope.toSeq;
      const eventSeen = s.eventMatched || s.eventMismatched;
      if (!inRange && !eventSeen && !s.checkpointSeen) {
        notCovered++;
        continue;
      }
      checked++;
      if (s.eventMismatched) {
        problems.push({
          seq,
          reason: 'anchor-hash-mismatch',
          detail: `event at seq ${seq} is not the one anchor ${at} signed`,
        });
      } else if (!eventSeen && inRange) {
        if (scope.lastSeq === null || seq > scope.lastSeq) cut.push(s);
        else
          problems.push({
            seq,
            reason: 'anchor-event-missing',
            detail: `event at seq ${seq} is missing but anchor ${at} signed it`,
          });
      } else if (s.checkpointMismatched) {
        problems.push({
          seq,
          reason: 'anchor-checkpoint-mismatch',
          detail: `checkpoint at seq ${seq} differs from anchor ${at}`,
        });
      } else {
        highest = Math.max(highest ?? 0, seq);
      }
    }
    if (cut.length > 0) {
      // A cut tail is one problem however many anchors it erased; the highest one says how far.
      const top = cut.reduce((a, b) => (b.anchor.checkpoint.seq > a.anchor.checkpoint.seq ? b : a));
      const from = (scope.lastSeq ?? scope.fromSeq - 1) + 1;
      const to = top.anchor.checkpoint.seq;
      problems.push({
        seq: from,
        reason: 'anchor-event-missing',
        detail: `events ${from === to ? from : `${from}..${to}`} are missing but ${cut.length === 1 ? 'an external anchor' : `${cut.length} external anchors`} signed them (seq ${to}: ${top.anchor.source}); the trail was cut below the anchor`,
      });
    }
    return {
      problems,
      summary: { given: this.states.length, checked, notCovered, highestVerifiedSeq: highest },
    };
  }
}
