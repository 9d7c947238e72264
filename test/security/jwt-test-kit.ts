import { constants, createHmac, generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AuthError, type AuthFailureReason } from '../../src/auth';

export const ISSUER = 'https://idp.test/';
export const AUDIENCE = 'hvgate';
/** Fixed "now" for every test token: 2023-11-14T22:13:20Z. */
export const NOW_MS = 1_700_000_000_000;
export const NOW = NOW_MS / 1000;

export interface TestKeys {
  rsa: { privateKey: KeyObject; publicKey: KeyObject; publicPem: string };
  rsaOther: { privateKey: KeyObject; publicKey: KeyObject; publicPem: string };
  ec: { privateKey: KeyObject; publicKey: KeyObject; publicPem: string };
}

function pair(kind: 'rsa' | 'ec') {
  const { privateKey, publicKey } =
    kind === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { privateKey, publicKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

export function makeKeys(): TestKeys {
  return { rsa: pair('rsa'), rsaOther: pair('rsa'), ec: pair('ec') };
}

export function baseClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const claims: Record<string, unknown> = {
    sub: 'svc-billing',
    iss: ISSUER,
    aud: AUDIENCE,
    iat: NOW - 10,
    exp: NOW + 600,
    jti: 'tok-1',
    client_id: 'billing',
    scope: 'vm:read vm:hotplug',
    hosts: ['hv-tokyo-01', 'group:osaka'],
    ...overrides,
  };
  // `undefined` in overrides means "leave the claim out".
  for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k];
  return claims;
}

export type TestAlg = 'RS256' | 'RS384' | 'PS256' | 'ES256' | 'HS256';

/**
 * Signs with node:crypto directly rather than jsonwebtoken, which refuses to produce the odd claims
 * (string exp, no iat) the attack matrix needs.
 */
export function sign(
  claims: Record<string, unknown>,
  key: KeyObject | Buffer,
  alg: TestAlg,
  header: Record<string, unknown> = {},
): string {
  const input = `${b64u({ alg, typ: 'JWT', ...header })}.${b64u(claims)}`;
  let sig: Buffer;
  switch (alg) {
    case 'HS256':
      sig = createHmac('sha256', key).update(input).digest();
      break;
    case 'RS256':
      sig = cryptoSign('sha256', Buffer.from(input), key as KeyObject);
      break;
    case 'RS384':
      sig = cryptoSign('sha384', Buffer.from(input), key as KeyObject);
      break;
    case 'PS256':
      sig = cryptoSign('sha256', Buffer.from(input), {
        key: key as KeyObject,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
      });
      break;
    case 'ES256':
      sig = cryptoSign('sha256', Buffer.from(input), { key: key as KeyObject, dsaEncoding: 'ieee-p1363' });
      break;
  }
  return `${input}.${sig.toString('base64url')}`;
}

const b64u = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** Builds a token by hand, for shapes jsonwebtoken refuses to produce. */
export function rawToken(
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  signature = '',
): string {
  return `${b64u(header)}.${b64u(claims)}.${signature}`;
}

/** HS256 over header.payload with an arbitrary byte string as the secret (the key-confusion attack). */
export function hs256WithSecret(
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  secret: string | Buffer,
): string {
  const input = `${b64u(header)}.${b64u(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

export function jwkOf(key: KeyObject, extra: Record<string, unknown>): Record<string, unknown> {
  return { ...key.export({ format: 'jwk' }), ...extra };
}

/** Resolves to the AuthError reason a promise rejected with; fails the test on anything else. */
export async function reasonOf(p: Promise<unknown>): Promise<AuthFailureReason> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AuthError) return err.reason;
    throw err;
  }
  throw new Error('expected the token to be rejected');
}

export async function rejectionOf(p: Promise<unknown>): Promise<AuthError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AuthError) return err;
    throw err;
  }
  throw new Error('expected the token to be rejected');
}

export interface JwksServer {
  url: string;
  /** Number of GET requests served. */
  hits(): number;
  setKeys(keys: unknown[]): void;
  setStatus(status: number): void;
  close(): Promise<void>;
}

/** A tiny JWKS endpoint on 127.0.0.1, ephemeral port. */
export async function startJwksServer(keys: unknown[]): Promise<JwksServer> {
  let current = keys;
  let status = 200;
  let count = 0;
  const server: Server = createServer((req, res) => {
    count += 1;
    res.writeHead(status, { 'content-type': 'application/json', connection: 'close' });
    res.end(JSON.stringify({ keys: current }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    hits: () => count,
    setKeys: (k) => {
      current = k;
    },
    setStatus: (s) => {
      status = s;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
