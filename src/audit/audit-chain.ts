// The hash chain: hash = SHA-256(prevHash ‖ canonical JSON of the event without integrity.hash),
// where ‖ is concatenation of the lowercase hex prevHash and the JCS text, hashed as UTF-8.
// The JCS text (the "body") is what the store keeps, so verifying a stored record needs no
// re-canonicalisation: hash the stored bytes, compare, follow the link.
import crypto from 'node:crypto';
import type { AuditEvent, UnsealedEvent } from './audit-event';
import { canonicalJson } from './canonical-json';

export const GENESIS_HASH = '0'.repeat(64);
export const HASH_RE = /^[0-9a-f]{64}$/;

// crypto.hash (Node ≥ 20.12) skips the Hash object; it matters at a million records per verify.
const oneShot = (crypto as unknown as { hash?: (alg: string, data: string, enc: 'hex') => string }).hash;

export function sha256Hex(text: string): string {
  return oneShot
    ? oneShot('sha256', text, 'hex')
    : crypto.createHash('sha256').update(text, 'utf8').digest('hex');
}

export function chainHash(prevHash: string, body: string): string {
  return sha256Hex(prevHash + body);
}

/** Canonical JSON of an event without integrity.hash: the exact text the chain hash covers. */
export function eventBody(
  event: Omit<AuditEvent, 'integrity'> & { integrity: { prevHash: string } },
): string {
  const { integrity, ...rest } = event;
  return canonicalJson({ ...rest, integrity: { prevHash: integrity.prevHash } });
}

export interface SealedEvent {
  readonly event: AuditEvent;
  /** Canonical JSON that `hash` covers. */
  readonly body: string;
  readonly hash: string;
}

export function sealEvent(unsealed: UnsealedEvent, seq: number, prevHash: string): SealedEvent {
  const withoutHash = { ...unsealed, seq, integrity: { prevHash } };
  const body = canonicalJson(withoutHash);
  const hash = chainHash(prevHash, body);
  return { event: { ...unsealed, seq, integrity: { prevHash, hash } }, body, hash };
}
