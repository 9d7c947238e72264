import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { SecretValue } from '../config/secret-value';
import { isScope, type Scope } from './principal';

export interface DevTokenRequest {
  sub: string;
  scopes: readonly Scope[];
  /** Host names, `group:<name>` or `*`. */
  hosts: readonly string[];
  issuer: string;
  audience: string;
  ttlSec: number;
  secret: Buffer | SecretValue;
  clientId?: string;
  /** Epoch ms; injectable for tests. */
  now?: number;
  /** Claim names, matching the verifier's config. */
  hostsClaim?: string;
  scopesClaim?: string;
}

/** Mints an HS256 token for development and the demo. Production tokens come from the identity provider. */
export function mintDevToken(req: DevTokenRequest): string {
  const secret = req.secret instanceof SecretValue ? req.secret.reveal() : req.secret;
  if (secret.length < 32) throw new Error('HMAC secret must be at least 32 bytes');
  if (!Number.isInteger(req.ttlSec) || req.ttlSec <= 0)
    throw new Error('ttl must be a positive whole number of seconds');
  for (const s of req.scopes) if (!isScope(s)) throw new Error(`unknown scope ${String(s)}`);
  const iat = Math.floor((req.now ?? Date.now()) / 1000);
  const payload: Record<string, unknown> = {
    sub: req.sub,
    iss: req.issuer,
    aud: req.audience,
    iat,
    nbf: iat,
    exp: iat + req.ttlSec,
    jti: randomUUID(),
    [req.scopesClaim ?? 'scope']: req.scopes.join(' '),
    [req.hostsClaim ?? 'hosts']: [...req.hosts],
  };
  if (req.clientId !== undefined) payload['client_id'] = req.clientId;
  return jwt.sign(payload, secret, { algorithm: 'HS256', header: { alg: 'HS256', typ: 'JWT' } });
}

/** `90`, `90s`, `15m`, `8h`, `1d` → seconds. */
export function parseTtl(text: string): number {
  const m = /^(\d{1,7})([smhd]?)$/.exec(text.trim());
  if (!m) throw new Error(`invalid ttl '${text}' (expected e.g. 900, 15m, 8h, 1d)`);
  const n = Number(m[1]);
  const unit = m[2] === 'm' ? 60 : m[2] === 'h' ? 3600 : m[2] === 'd' ? 86_400 : 1;
  const sec = n * unit;
  if (sec <= 0 || sec > 30 * 86_400) throw new Error(`ttl '${text}' out of range (1 s .. 30 d)`);
  return sec;
}
