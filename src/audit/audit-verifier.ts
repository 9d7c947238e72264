// Verifies a whole stored trail, or an exported NDJSON range offline. Both stream: the store is
// read in seq-ordered batches, an export line by line; memory stays bounded by the verifier's
// window whatever the length of the trail.
import os from 'node:os';
import { AnchorChecker, AnchorScope, AuditAnchor } from './audit-anchor';
import { GENESIS_HASH } from './audit-chain';
import { AuditCheckpoint, parseCheckpoint } from './audit-checkpoint';
import { AuditKeyRing, PublicKeyInput, createKeyRing } from './audit-signer';
import { canonicalJson } from './canonical-json';
import { AuditProblem, AuditVerification, ChainVerifier } from './chain-verifier';
import { AuditEventRecord, AuditStore, iterateCheckpoints, iterateEventBatches } from '../store/audit-store';
import { createChainCheckPool } from './hash-pool';
import { EXPORT_FORMAT } from './audit-export';

export type { AuditProblem, AuditProblemReason, AuditVerification } from './chain-verifier';
export { AUDIT_PROBLEM_REASONS } from './chain-verifier';

/** External anchors to check the trail against (an AnchorSet from audit-anchor.ts fits). */
export interface AuditAnchorInput {
  readonly anchors: readonly AuditAnchor[];
  /** Anchor lines that could not be read; reported as they are. */
  readonly malformed?: readonly AuditProblem[];
}

export interface VerifyAuditOptions {
  /** Keys checkpoints may be signed with (PEM, KeyObject, JWK or GET /v1/audit/keys entries). */
  readonly publicKeys: readonly PublicKeyInput[] | AuditKeyRing;
  /** Events read per store round trip. Default 5000. */
  readonly batchSize?: number;
  /** Problems kept in the result; further ones are only counted. Default 10000. */
  readonly maxProblems?: number;
  /**
   * Hashing worker threads. Default: one per idle core beyond this thread (at most 3, judged by
   * the load average) for trails of 20,000 events or more, none for smaller ones; 0 hashes on
   * the calling thread.
   */
  readonly workers?: number;
  /** Checkpoints kept outside the database; each must still match the stored trail. */
  readonly anchors?: AuditAnchorInput;
}

const PARALLEL_THRESHOLD = 20_000;

function keyRingOf(keys: VerifyAuditOptions['publicKeys']): AuditKeyRing {
  return 'get' in keys && 'keyIds' in keys ? keys : createKeyRing(keys as readonly PublicKeyInput[]);
}

function anchorChecker(input: AuditAnchorInput | undefined, ring: AuditKeyRing): AnchorChecker | null {
  return input ? new AnchorChecker(input.anchors, ring) : null;
}

/** Adds the anchor verdict to the chain's, through the verifier so maxProblems still applies. */
function finishWithAnchors(
  verifier: ChainVerifier,
  checker: AnchorChecker | null,
  input: AuditAnchorInput | undefined,
  scope: (lastSeq: number | null) => AnchorScope,
  lastSeq: number | null,
): AuditVerification {
  if (!checker || !input) return verifier.finish();
  const { problems, summary } = checker.finish(scope(lastSeq));
  for (const p of [...(input.malformed ?? []), ...problems]) verifier.addProblem(p);
  return { ...verifier.finish(), anchors: summary };
}

/** Worker threads only pay off on cores nobody else is using; on a saturated host they cost. */
export function defaultVerifyWorkers(events: number): number {
  if (events < PARALLEL_THRESHOLD) return 0;
  const idleCores = os.availableParallelism() - (os.loadavg()[0] ?? 0);
  return Math.min(3, Math.max(0, Math.floor(idleCores - 0.5)));
}

export async function verifyAuditTrail(
  store: AuditStore,
  options: VerifyAuditOptions,
): Promise<AuditVerification> {
  const keyRing = keyRingOf(options.publicKeys);
  const verifier = new ChainVerifier({ keyRing, maxProblems: options.maxProblems });
  const anchors = anchorChecker(options.anchors, keyRing);
  let lastPosition: number | null = null;
  // Bound the walk by what existed when it started, events and checkpoints read in one statement,
  // so a writer appending meanwhile cannot make a fresh checkpoint look like a truncation.
  const { maxEventSeq, maxCheckpointSeq } = await store.bounds();
  const toSeq = Math.max(maxEventSeq, maxCheckpointSeq);
  const checkpoints = iterateCheckpoints(store, { toSeq });
  let nextCp = await checkpoints.next();
  const feed = async (batch: readonly AuditEventRecord[], flags?: Uint8Array) => {
    const last = batch[batch.length - 1]!.seq;
    while (!nextCp.done && nextCp.value.seq <= last) {
      verifier.addCheckpoint(nextCp.value.body, nextCp.value.seq);
      anchors?.observeCheckpoint(nextCp.value.seq, nextCp.value.body);
      nextCp = await checkpoints.next();
    }
    for (let i = 0; i < batch.length; i++) {
      const r = batch[i]!;
      verifier.addEvent({ position: r.seq, hash: r.hash, body: r.body }, flags ? flags[i] === 1 : undefined);
      anchors?.observeEvent(r.seq, r.hash);
    }
    lastPosition = last;
  };

  const workers = options.workers ?? defaultVerifyWorkers(maxEventSeq);
  const batches = iterateEventBatches(store, { toSeq, batchSize: options.batchSize });
  if (workers <= 0) {
    for await (const batch of batches) await feed(batch);
  } else {
    const pool = createChainCheckPool(workers);
    try {
      // Keep every worker busy with one batch and one queued while the next one is read.
      const inFlight: { batch: AuditEventRecord[]; flags: Promise<Uint8Array> }[] = [];
      let prev = GENESIS_HASH;
      for await (const batch of batches) {
        // A failed worker only costs speed: that batch is then hashed on this thread.
        const flags = pool.check(
          prev,
          batch.map((r) => r.hash),
          batch.map((r) => r.body),
        );
        inFlight.push({ batch, flags });
        prev = batch[batch.length - 1]!.hash;
        if (inFlight.length > workers * 2) {
          const done = inFlight.shift()!;
          await feed(done.batch, await done.flags.catch(() => undefined));
        }
      }
      for (const done of inFlight) await feed(done.batch, await done.flags.catch(() => undefined));
    } finally {
      await pool.close();
    }
  }
  while (!nextCp.done) {
    verifier.addCheckpoint(nextCp.value.body, nextCp.value.seq);
    anchors?.observeCheckpoint(nextCp.value.seq, nextCp.value.body);
    nextCp = await checkpoints.next();
  }
  // The store must hold every anchored event: one past its end means the tail was cut below it.
  return finishWithAnchors(
    verifier,
    anchors,
    options.anchors,
    (lastSeq) => ({ lastSeq, fromSeq: 1, toSeq: Infinity }),
    lastPosition,
  );
}

interface ExportHeader {
  type: 'header';
  format: string;
  fromSeq: number | null;
  toSeq: number | null;
}

function asObject(v: unknown): Record<string, unknown> | null {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

/**
 * Verifies an export produced by exportAudit without the database: the event chain inside the
 * exported range, every checkpoint's signature and chain, and that the range is anchored by
 * signed checkpoints at both ends.
 */
export async function verifyExport(
  lines: Iterable<string> | AsyncIterable<string>,
  publicKeys: VerifyAuditOptions['publicKeys'],
  options: { maxProblems?: number; anchors?: AuditAnchorInput } = {},
): Promise<AuditVerification> {
  const keyRing = keyRingOf(publicKeys);
  const anchors = anchorChecker(options.anchors, keyRing);
  let lastClaimedSeq: number | null = null;
  let verifier: ChainVerifier | null = null;
  let header: ExportHeader | null = null;
  const make = (startSeq: number) =>
    new ChainVerifier({ keyRing, startSeq, maxProblems: options.maxProblems });

  for await (const raw of lines) {
    const line = raw.trim();
    if (line.length === 0) continue;
    let rec: Record<string, unknown> | null;
    try {
      rec = asObject(JSON.parse(line));
    } catch {
      rec = null;
    }
    if (!verifier) {
      const h = rec as unknown as ExportHeader | null;
      if (h && h.type === 'header' && h.format === EXPORT_FORMAT) {
        header = h;
        verifier = make(typeof h.fromSeq === 'number' && h.fromSeq >= 1 ? h.fromSeq : 1);
        continue;
      }
      verifier = make(1);
      verifier.addProblem({
        seq: 1,
        reason: 'malformed',
        detail: 'export does not start with an hvgate export header',
      });
    }
    const position = typeof rec?.position === 'number' ? rec.position : undefined;
    if (rec?.type === 'checkpoint' || rec?.type === 'unreadable-checkpoint') {
      verifier.addCheckpoint((rec.checkpoint ?? null) as AuditCheckpoint, position);
      if (anchors) {
        const at = position ?? parseCheckpoint(rec.checkpoint)?.seq;
        if (at !== undefined) anchors.observeCheckpoint(at, rec.checkpoint ?? null);
      }
      continue;
    }
    const event = rec?.type === 'event' ? asObject(rec.event) : null;
    const integrity = event ? asObject(event.integrity) : null;
    if (!event || !integrity || typeof integrity.hash !== 'string') {
      verifier.addEvent({ position, hash: '', body: line, parsed: null });
      continue;
    }
    const { hash, ...chained } = integrity;
    if (anchors && typeof event.seq === 'number') {
      anchors.observeEvent(event.seq, hash);
      lastClaimedSeq = Math.max(lastClaimedSeq ?? 0, event.seq);
    }
    let body: string;
    try {
      body = canonicalJson({ ...event, integrity: chained });
    } catch {
      verifier.addEvent({ hash, body: line, parsed: null });
      continue;
    }
    verifier.addEvent({ hash, body, parsed: event });
  }
  if (!verifier) {
    verifier = make(1);
    verifier.addProblem({ seq: 1, reason: 'malformed', detail: 'export is empty' });
  }
  // Anchors outside the exported range are not covered rather than missing: the export never
  // claimed those events (an anchor before the range still meets its exported checkpoint).
  const result = finishWithAnchors(
    verifier,
    anchors,
    options.anchors,
    (lastSeq) => ({
      lastSeq,
      fromSeq: typeof header?.fromSeq === 'number' ? header.fromSeq : 1,
      toSeq: typeof header?.toSeq === 'number' ? header.toSeq : (lastSeq ?? 0),
    }),
    lastClaimedSeq,
  );
  const from = (result.lastSeq ?? (header?.fromSeq ?? 1) - 1) + 1;
  const truncationReported = result.problems.some(
    (p) => p.reason === 'truncated-after-checkpoint' && p.seq === from,
  );
  if (header && typeof header.toSeq === 'number' && from <= header.toSeq && !truncationReported) {
    result.problems.push({
      seq: from,
      reason: 'gap',
      detail: `export header promises events through seq ${header.toSeq}; seq ${from}..${header.toSeq} are missing`,
    });
    result.ok = false;
  }
  return result;
}
