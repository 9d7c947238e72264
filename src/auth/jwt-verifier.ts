import type { KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { LoadedConfig } from '../config/config-loader';
import { JWT_ALGORITHMS, NAME_PATTERN, type JwtAlgorithm } from '../config/config-schema';
import { AuthError } from './auth-errors';
import { COMPACT_JWS, extractBearerToken, type TokenRequestPieces } from './bearer-token';
import { createKeyResolver, type JwtKeySource } from './jwt-key-source';
import { isScope, type Principal, type Scope } from './principal';
import { createVerifiedTokenCache } from './verified-token-cache';

export interface JwtVerifierOptions {
  /** Pinned allowlist; HS256 may not be mixed with asymmetric algorithms. */
  algorithms: readonly JwtAlgorithm[];
  issuer: string | readonly string[];
  audience: string | readonly string[];
  keys: JwtKeySource;
  clockToleranceSec?: number;
  /** When set, `iat` is required and the token may be at most this old. */
  maxTokenAgeSec?: number | undefined;
  maxTokenBytes?: number;
  /** Claim carrying host grants (default `hosts`). */
  hostsClaim?: string;
  /** Claim carrying scopes, space-separated string or array (default `scope`). */
  scopesClaim?: string;
  /** Epoch milliseconds; injectable for tests. */
  now?: () => number;
  /** Verified tokens remembered (default 1024; 0 = verify every request's signature). */
  tokenCacheSize?: number;
  /** How long a remembered token is trusted before its signature is checked again (default 60). */
  tokenCacheTtlSec?: number;
}

export interface JwtVerifier {
  /** Token from the request's Authorization header only; query-string tokens are refused. */
  authenticate(request: TokenRequestPieces): Promise<Principal>;
  /** Verifies a bare token (already extracted). */
  verifyToken(token: string): Promise<Principal>;
}

const GRANT_PATTERN = new RegExp(
  `^(\\*|group:${NAME_PATTERN.source.slice(1, -1)}|${NAME_PATTERN.source.slice(1, -1)})$`,
);
const MAX_HEADER_SEGMENT = 2048;

export function createJwtVerifier(options: JwtVerifierOptions): JwtVerifier {
  const algorithms = [...options.algorithms];
  if (algorithms.length === 0) throw new Error('at least one JWT algorithm must be allowed');
  for (const alg of algorithms)
    if (!JWT_ALGORITHMS.includes(alg)) throw new Error(`unsupported JWT algorithm ${String(alg)}`);
  if (algorithms.includes('HS256') && algorithms.some((a) => a !== 'HS256')) {
    throw new Error('HS256 cannot be combined with asymmetric algorithms');
  }
  const issuers = typeof options.issuer === 'string' ? [options.issuer] : [...options.issuer];
  const audiences = typeof options.audience === 'string' ? [options.audience] : [...options.audience];
  if (issuers.length === 0 || issuers.some((i) => i === '')) throw new Error('issuer is required');
  if (audiences.length === 0 || audiences.some((a) => a === '')) throw new Error('audience is required');

  const resolver = createKeyResolver(options.keys, algorithms);
  const clockTolerance = options.clockToleranceSec ?? 30;
  const maxTokenBytes = options.maxTokenBytes ?? 8192;
  const maxAge = options.maxTokenAgeSec;
  const hostsClaim = options.hostsClaim ?? 'hosts';
  const scopesClaim = options.scopesClaim ?? 'scope';
  const now = options.now ?? Date.now;
  const cache = createVerifiedTokenCache({
    maxEntries: options.tokenCacheSize ?? 1024,
    ttlMs: (options.tokenCacheTtlSec ?? 60) * 1000,
    now,
  });

  async function verifyToken(token: string): Promise<Principal> {
    if (Buffer.byteLength(token, 'utf8') > maxTokenBytes)
      throw new AuthError('token-too-large', `token of ${token.length} bytes`);
    const known = cache.get(token);
    if (known) return known;
    if (!COMPACT_JWS.test(token)) throw new AuthError('malformed', 'not a compact JWS');
    const header = decodeHeader(token);

    const alg = header.alg;
    // Exact, case-sensitive allowlist match: `none`, `None`, `HS256` on an RS256 deployment all stop here.
    if (typeof alg !== 'string' || !(algorithms as string[]).includes(alg)) {
      throw new AuthError(
        'alg-not-allowed',
        `alg ${typeof alg === 'string' ? JSON.stringify(alg.slice(0, 16)) : typeof alg} not allowed`,
      );
    }
    if (header.crit !== undefined)
      throw new AuthError('malformed', 'crit header extensions are not supported');

    const keys = await resolver.candidates({ alg: alg as JwtAlgorithm, kid: header.kid });
    const clockTimestamp = Math.floor(now() / 1000);
    let payload: jwt.JwtPayload | undefined;
    let lastError: unknown;
    for (const key of keys) {
      try {
        payload = verifyWithKey(token, key, alg as JwtAlgorithm, clockTimestamp);
        break;
      } catch (err) {
        lastError = err;
        // Only a signature mismatch says "try the next key"; claim errors mean the key was right.
        if (!(err instanceof jwt.JsonWebTokenError && err.message === 'invalid signature')) break;
      }
    }
    if (payload === undefined) throw mapJwtError(lastError);
    // Frozen: a remembered principal is shared by every request that carries this token.
    const principal = Object.freeze(toPrincipal(payload, clockTimestamp));
    cache.set(token, principal, validUntilMs(payload));
    return principal;
  }

  /** When jsonwebtoken would first refuse this token: at exp, or once older than the maximum age. */
  function validUntilMs(payload: jwt.JwtPayload): number {
    let untilSec = (payload.exp as number) + clockTolerance;
    if (maxAge !== undefined && typeof payload.iat === 'number')
      untilSec = Math.min(untilSec, payload.iat + maxAge + clockTolerance);
    return untilSec * 1000;
  }

  function verifyWithKey(
    token: string,
    key: KeyObject,
    alg: JwtAlgorithm,
    clockTimestamp: number,
  ): jwt.JwtPayload {
    const verifyOptions: jwt.VerifyOptions & { complete: false } = {
      algorithms: [alg],
      issuer: issuers.length === 1 ? issuers[0]! : (issuers as [string, ...string[]]),
      // Exact strings only: jsonwebtoken would also accept RegExps, which are easy to leave unanchored.
      audience: audiences.length === 1 ? audiences[0]! : (audiences as [string, ...string[]]),
      clockTolerance,
      clockTimestamp,
      complete: false,
      ...(maxAge !== undefined ? { maxAge } : {}),
    };
    const result = jwt.verify(token, key, verifyOptions);
    if (typeof result === 'string') throw new AuthError('malformed', 'payload is not a JSON object');
    return result;
  }

  function toPrincipal(payload: jwt.JwtPayload, clockTimestamp: number): Principal {
    // jsonwebtoken only checks exp when present; a token without one would never expire.
    if (payload.exp === undefined) throw new AuthError('missing-exp');
    if (typeof payload.exp !== 'number') throw new AuthError('malformed', 'exp is not a number');
    if (payload.iat !== undefined) {
      if (typeof payload.iat !== 'number') throw new AuthError('malformed', 'iat is not a number');
      if (payload.iat > clockTimestamp + clockTolerance)
        throw new AuthError('not-yet-valid', 'iat is in the future');
    }
    if (typeof payload.sub !== 'string' || payload.sub === '' || payload.sub.length > 256) {
      throw new AuthError('malformed', 'sub claim missing or invalid');
    }
    const raw = payload as Record<string, unknown>;
    return {
      sub: payload.sub,
      iss: typeof payload.iss === 'string' ? payload.iss : '',
      clientId: optionalString(raw['client_id']) ?? optionalString(raw['azp']) ?? null,
      tokenId: optionalString(payload.jti) ?? null,
      scopes: parseScopes(raw[scopesClaim]),
      hostGrants: parseHostGrants(raw[hostsClaim]),
    };
  }

  return {
    verifyToken,
    async authenticate(request) {
      return verifyToken(extractBearerToken(request, maxTokenBytes));
    },
  };
}

/** Builds a verifier from a loaded config (keys from PEM files, JWKS URL or HMAC secret). */
export function createJwtVerifierFromConfig(
  loaded: LoadedConfig,
  overrides: Pick<JwtVerifierOptions, 'now'> = {},
): JwtVerifier {
  const auth = loaded.config.auth;
  let keys: JwtKeySource;
  if (auth.algorithms.includes('HS256')) {
    if (!loaded.secrets.hmacSecret) throw new Error('auth: HS256 configured but no HMAC secret was resolved');
    keys = { kind: 'hmac', secret: loaded.secrets.hmacSecret };
  } else if (auth.jwksUrl !== undefined) {
    keys = {
      kind: 'jwks',
      url: auth.jwksUrl,
      cacheMaxAgeMs: auth.jwksCacheMaxAgeSec * 1000,
      requestsPerMinute: auth.jwksRequestsPerMinute,
    };
  } else {
    keys = { kind: 'pem', keys: loaded.publicKeys.map((k) => ({ pem: k.pem, kid: k.kid })) };
  }
  return createJwtVerifier({
    algorithms: auth.algorithms,
    issuer: auth.issuer,
    audience: auth.audience,
    keys,
    clockToleranceSec: auth.clockToleranceSec,
    maxTokenAgeSec: auth.maxTokenAgeSec,
    maxTokenBytes: auth.maxTokenBytes,
    hostsClaim: auth.hostsClaim,
    scopesClaim: auth.scopesClaim,
    tokenCacheSize: auth.tokenCacheSize,
    tokenCacheTtlSec: auth.tokenCacheTtlSec,
    ...overrides,
  });
}

function decodeHeader(token: string): Record<string, unknown> {
  const segment = token.slice(0, token.indexOf('.'));
  if (segment.length > MAX_HEADER_SEGMENT) throw new AuthError('malformed', 'JOSE header too large');
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw new AuthError('malformed', 'JOSE header is not JSON');
  }
  if (!header || typeof header !== 'object' || Array.isArray(header))
    throw new AuthError('malformed', 'JOSE header is not an object');
  return header as Record<string, unknown>;
}

function mapJwtError(err: unknown): AuthError {
  if (err instanceof AuthError) return err;
  if (err instanceof jwt.TokenExpiredError) {
    return err.message === 'maxAge exceeded' ? new AuthError('token-too-old') : new AuthError('expired');
  }
  if (err instanceof jwt.NotBeforeError) return new AuthError('not-yet-valid');
  if (err instanceof jwt.JsonWebTokenError) {
    const m = err.message;
    if (m === 'invalid signature' || m === 'jwt signature is required') return new AuthError('bad-signature');
    if (m.startsWith('jwt audience invalid')) return new AuthError('wrong-audience');
    if (m.startsWith('jwt issuer invalid')) return new AuthError('wrong-issuer');
    if (m === 'iat required when maxAge is specified')
      return new AuthError('token-too-old', 'iat missing; token age unknown');
    if (m === 'invalid algorithm' || m.startsWith('secretOrPublicKey must be'))
      return new AuthError('alg-not-allowed');
    if (m === 'invalid exp value') return new AuthError('malformed', 'exp is not a number');
    if (m === 'invalid nbf value') return new AuthError('malformed', 'nbf is not a number');
    return new AuthError('malformed', m.slice(0, 80));
  }
  return new AuthError('malformed', 'token could not be verified');
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' && value.length <= 256 ? value : undefined;
}

function claimList(value: unknown, claim: string): string[] {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') return value.split(' ').filter((s) => s !== '');
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
  throw new AuthError('malformed', `${claim} claim must be a string or an array of strings`);
}

/** Unknown scope strings are dropped: another relying party's scopes grant nothing here. */
function parseScopes(value: unknown): ReadonlySet<Scope> {
  return new Set(claimList(value, 'scope').filter(isScope));
}

/** A malformed grant fails the whole token: guessing what an odd grant meant is how access widens. */
function parseHostGrants(value: unknown): string[] {
  const grants = claimList(value, 'hosts');
  for (const g of grants)
    if (!GRANT_PATTERN.test(g))
      throw new AuthError('malformed', 'host grant claim contains an invalid entry');
  return [...new Set(grants)];
}
