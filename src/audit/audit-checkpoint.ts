// Signed checkpoints over the chain head, chained to each other like CloudTrail digests: each one
// carries the hash of the previous checkpoint (signature included), so deleting, replacing or
// reordering checkpoints breaks the checkpoint chain, and truncating the event tail below a
// checkpoint leaves a signature over events that no longer exist.
import crypto from 'node:crypto';
import { z } from 'zod';
import { GENESIS_HASH, HASH_RE, sha256Hex } from './audit-chain';
import type { AuditKeyRing, AuditSigner } from './audit-signer';
import { canonicalJson } from './canonical-json';

export interface AuditCheckpoint {
  /** Seq of the last event covered. */
  seq: number;
  /** integrity.hash of that event. */
  headHash: string;
  /** checkpointHash of the previous checkpoint; 64 zeros for the first. */
  prevCheckpointHash: string;
  time: string;
  keyId: string;
  /** Ed25519 over checkpointSigningInput, base64url. */
  signature: string;
}

export const GENESIS_CHECKPOINT_HASH = GENESIS_HASH;

/** Domain-separates checkpoint signatures from anything else the key might ever sign. */
export const CHECKPOINT_SIGNING_PREFIX = 'hvgate-audit-checkpoint/v1\n';

export function checkpointSigningInput(cp: Omit<AuditCheckpoint, 'signature'>): string {
  return (
    CHECKPOINT_SIGNING_PREFIX +
    canonicalJson({
      seq: cp.seq,
      headHash: cp.headHash,
      prevCheckpointHash: cp.prevCheckpointHash,
      time: cp.time,
      keyId: cp.keyId,
    })
  );
}

export function createCheckpoint(
  signer: AuditSigner,
  fields: { seq: number; headHash: string; prevCheckpointHash: string; time: string },
): AuditCheckpoint {
  const unsigned = { ...fields, keyId: signer.keyId };
  return { ...unsigned, signature: signer.sign(checkpointSigningInput(unsigned)) };
}

/** Canonical JSON of the whole checkpoint: what the store keeps and the next checkpoint hashes. */
export function checkpointBody(cp: AuditCheckpoint): string {
  return canonicalJson(cp);
}

export function checkpointHash(cp: AuditCheckpoint): string {
  return sha256Hex(checkpointBody(cp));
}

const checkpointSchema = z.strictObject({
  seq: z.number().int().positive(),
  headHash: z.string().regex(HASH_RE),
  prevCheckpointHash: z.string().regex(HASH_RE),
  time: z.string().min(1).max(64),
  keyId: z.string().regex(/^[0-9a-f]{16}$/),
  signature: z.string().regex(/^[A-Za-z0-9_-]{86}$/),
});

/** Parses a stored or exported checkpoint; null when it is not a well-formed checkpoint. */
export function parseCheckpoint(value: unknown): AuditCheckpoint | null {
  let v = value;
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      return null;
    }
  }
  const parsed = checkpointSchema.safeParse(v);
  return parsed.success ? parsed.data : null;
}

export type CheckpointSignatureStatus = 'ok' | 'unknown-key' | 'bad-signature';

export function verifyCheckpointSignature(
  cp: AuditCheckpoint,
  ring: AuditKeyRing,
): CheckpointSignatureStatus {
  const key = ring.get(cp.keyId);
  if (!key) return 'unknown-key';
  // Any library failure (odd signature bytes) is just an invalid signature: no driver text leaks.
  try {
    const ok = crypto.verify(
      null,
      Buffer.from(checkpointSigningInput(cp), 'utf8'),
      key,
      Buffer.from(cp.signature, 'base64url'),
    );
    return ok ? 'ok' : 'bad-signature';
  } catch {
    return 'bad-signature';
  }
}
