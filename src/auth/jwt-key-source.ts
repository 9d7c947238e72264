import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import type JwksRsa from 'jwks-rsa';
import type { JwtAlgorithm } from '../config/config-schema';
import { SecretValue } from '../config/secret-value';
import { AuthError } from './auth-errors';

/** Where verification keys come from. Exactly one kind per verifier (RFC 8725 §3.1: one algorithm family). */
export type JwtKeySource =
  | { kind: 'pem'; keys: ReadonlyArray<{ pem: string | Buffer; kid?: string | undefined }> }
  | {
      kind: 'jwks';
      url: string;
      /** Default 10 min (jwks-rsa's default). */
      cacheMaxAgeMs?: number;
      /** Unknown kids always trigger a fetch; this caps how often. Default 10. */
      requestsPerMinute?: number;
      /** Per fetch. Default 5 s. */
      timeoutMs?: number;
    }
  | { kind: 'hmac'; secret: Buffer | SecretValue };

export interface JwsHeaderFields {
  alg: JwtAlgorithm;
  kid?: unknown;
}

/** Keys that may have signed a token with this header; throws AuthError when none can. */
export interface KeyResolver {
  candidates(header: JwsHeaderFields): Promise<KeyObject[]>;
}

const KID_PATTERN = /^[A-Za-z0-9._~+/=:-]{1,128}$/;
const MAX_JWKS_BYTES = 256 * 1024;
const MIN_RSA_BITS = 2048;

/** RFC 8725 §3.1: a key is only ever used with the algorithm family it was made for. */
export function keyFitsAlgorithm(key: KeyObject, alg: JwtAlgorithm): boolean {
  if (alg === 'HS256') return key.type === 'secret';
  if (key.type !== 'public') return false;
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails;
  switch (alg) {
    case 'RS256':
      return type === 'rsa' && (details?.modulusLength ?? 0) >= MIN_RSA_BITS;
    case 'PS256':
      return (type === 'rsa' || type === 'rsa-pss') && (details?.modulusLength ?? 0) >= MIN_RSA_BITS;
    case 'ES256':
      return type === 'ec' && details?.namedCurve === 'prime256v1';
  }
}

export function createKeyResolver(source: JwtKeySource, algorithms: readonly JwtAlgorithm[]): KeyResolver {
  switch (source.kind) {
    case 'hmac':
      return createHmacResolver(source.secret, algorithms);
    case 'pem':
      return createPemResolver(source.keys, algorithms);
    case 'jwks':
      return createJwksResolver(source);
  }
}

function createHmacResolver(secret: Buffer | SecretValue, algorithms: readonly JwtAlgorithm[]): KeyResolver {
  const bytes = secret instanceof SecretValue ? secret.reveal() : Buffer.from(secret);
  if (bytes.length < 32) throw new Error('HMAC secret must be at least 32 bytes');
  if (algorithms.some((a) => a !== 'HS256')) throw new Error('an HMAC key source only verifies HS256');
  const key = createSecretKey(bytes);
  return {
    async candidates(header) {
      if (header.alg !== 'HS256')
        throw new AuthError('alg-not-allowed', `alg ${header.alg} does not fit an HMAC key`);
      return [key];
    },
  };
}

function createPemResolver(
  entries: ReadonlyArray<{ pem: string | Buffer; kid?: string | undefined }>,
  algorithms: readonly JwtAlgorithm[],
): KeyResolver {
  if (entries.length === 0) throw new Error('no public keys configured');
  if (algorithms.includes('HS256')) throw new Error('public keys cannot verify HS256');
  const keys = entries.map((e, i) => {
    let key: KeyObject;
    try {
      key = createPublicKey(e.pem);
    } catch {
      throw new Error(`public key #${i} is not a PEM public key or certificate`);
    }
    if (!algorithms.some((alg) => keyFitsAlgorithm(key, alg))) {
      throw new Error(
        `public key #${i} (${key.asymmetricKeyType}) fits none of the algorithms ${algorithms.join(', ')}`,
      );
    }
    return { key, kid: e.kid };
  });
  const anyKid = keys.some((k) => k.kid !== undefined);
  return {
    async candidates(header) {
      let pool = keys;
      if (header.kid !== undefined && anyKid) {
        if (typeof header.kid !== 'string') throw new AuthError('unknown-kid', 'kid is not a string');
        pool = keys.filter((k) => k.kid === header.kid);
        if (pool.length === 0) throw new AuthError('unknown-kid', 'kid not among the configured keys');
      }
      const fitting = pool.filter((k) => keyFitsAlgorithm(k.key, header.alg)).map((k) => k.key);
      if (fitting.length === 0)
        throw new AuthError('alg-not-allowed', `no configured key fits alg ${header.alg}`);
      return fitting;
    },
  };
}

function createJwksResolver(source: Extract<JwtKeySource, { kind: 'jwks' }>): KeyResolver {
  const timeoutMs = source.timeoutMs ?? 5000;
  // Loaded only when a JWKS URL is configured: jwks-rsa 4 pulls in jose 6, which is ESM-only. Node ≥ 20.19
  // loads it through require(esm), but CommonJS-only loaders (jest's module registry) cannot, and a PEM or
  // HMAC deployment should not depend on it at all.
  const jwksClient = require('jwks-rsa') as typeof JwksRsa;
  const client = jwksClient({
    jwksUri: source.url,
    cache: true,
    cacheMaxEntries: 16,
    cacheMaxAge: source.cacheMaxAgeMs ?? 600_000,
    // Off by default in jwks-rsa; without it random kids turn every request into a JWKS fetch.
    rateLimit: true,
    jwksRequestsPerMinute: source.requestsPerMinute ?? 10,
    // No cacheMaxAgeFallback: a privileged gateway fails closed rather than trusting a possibly revoked key.
    fetcher: (uri: string) => fetchJwks(uri, timeoutMs),
  });
  return {
    async candidates(header) {
      if (header.kid === undefined) throw new AuthError('unknown-kid', 'kid header missing');
      if (typeof header.kid !== 'string' || !KID_PATTERN.test(header.kid))
        throw new AuthError('unknown-kid', 'kid header is not a safe key id');
      let signingKey: JwksRsa.SigningKey;
      try {
        signingKey = await client.getSigningKey(header.kid);
      } catch (err) {
        const name = err instanceof Error ? err.name : '';
        if (name === 'SigningKeyNotFoundError') throw new AuthError('unknown-kid', 'kid not in the JWKS');
        if (name === 'JwksRateLimitError')
          throw new AuthError('unknown-kid', 'JWKS refetch rate limit reached');
        throw new AuthError(
          'key-unavailable',
          `JWKS fetch failed: ${err instanceof Error ? err.message : 'unknown error'}`,
        );
      }
      // jwks-rsa only reports alg when the JWK states it; the key type check below covers the rest.
      if (signingKey.alg !== undefined && signingKey.alg !== header.alg) {
        throw new AuthError(
          'alg-not-allowed',
          `key ${header.kid} is for ${signingKey.alg}, token says ${header.alg}`,
        );
      }
      const key = createPublicKey(signingKey.getPublicKey());
      if (!keyFitsAlgorithm(key, header.alg))
        throw new AuthError('alg-not-allowed', `key ${header.kid} does not fit alg ${header.alg}`);
      return [key];
    },
  };
}

/**
 * jwks-rsa's own fetcher follows no size limit and keeps no deadline on a slow body; this one caps both,
 * refuses redirects and uses a fresh connection so no pooled socket outlives the call.
 */
function fetchJwks(uri: string, timeoutMs: number): Promise<{ keys: unknown }> {
  return new Promise((resolve, reject) => {
    const url = new URL(uri);
    const lib = url.protocol === 'https:' ? https : http;
    const req = lib.request(
      url,
      { method: 'GET', agent: false, headers: { accept: 'application/json' } },
      (res) => {
        if (res.statusCode === undefined || res.statusCode < 200 || res.statusCode >= 300) {
          res.resume();
          reject(new Error(`JWKS endpoint answered HTTP ${res.statusCode ?? '?'}`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_JWKS_BYTES) {
            req.destroy(new Error('JWKS document too large'));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          try {
            const doc: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            if (!doc || typeof doc !== 'object' || !Array.isArray((doc as { keys?: unknown }).keys)) {
              reject(new Error('JWKS document has no keys array'));
              return;
            }
            resolve({ keys: (doc as { keys: unknown[] }).keys });
          } catch {
            reject(new Error('JWKS document is not JSON'));
          }
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error('JWKS fetch timed out')));
    req.on('error', reject);
    req.end();
  });
}
