import { createJwtVerifier, type JwtVerifier } from '../../src/auth';
import {
  AUDIENCE,
  baseClaims,
  ISSUER,
  jwkOf,
  makeKeys,
  NOW_MS,
  reasonOf,
  rejectionOf,
  sign,
  startJwksServer,
  type JwksServer,
  type TestKeys,
} from './jwt-test-kit';

jest.mock('jose', () => require('./jwt-jose-shim'));

let keys: TestKeys;
let jwks: JwksServer;
let canaryHits = 0;
let canary: JwksServer;

function verifier(
  url: string,
  extra: { requestsPerMinute?: number; algorithms?: ('RS256' | 'ES256' | 'PS256')[] } = {},
): JwtVerifier {
  return createJwtVerifier({
    algorithms: extra.algorithms ?? ['RS256', 'ES256', 'PS256'],
    issuer: ISSUER,
    audience: AUDIENCE,
    keys: { kind: 'jwks', url, requestsPerMinute: extra.requestsPerMinute ?? 10, timeoutMs: 2000 },
    now: () => NOW_MS,
  });
}

beforeAll(async () => {
  keys = makeKeys();
  jwks = await startJwksServer([]);
  canary = await startJwksServer([]);
});
afterAll(async () => {
  await jwks.close();
  await canary.close();
});
beforeEach(() => {
  jwks.setStatus(200);
  jwks.setKeys([
    jwkOf(keys.rsa.publicKey, { kid: 'rsa-1', use: 'sig' }),
    jwkOf(keys.ec.publicKey, { kid: 'ec-1', alg: 'ES256' }),
    jwkOf(keys.rsaOther.publicKey, { kid: 'rsa-ps', alg: 'PS256' }),
    { kty: 'oct', kid: 'hmac-1', k: Buffer.from(keys.rsa.publicPem).toString('base64url') },
    jwkOf(keys.rsaOther.publicKey, { kid: 'enc-1', use: 'enc' }),
  ]);
  canaryHits = canary.hits();
});

it('accepts RS256 and ES256 tokens whose kid is in the JWKS, and caches the keys', async () => {
  const v = verifier(jwks.url);
  const before = jwks.hits();
  expect((await v.verifyToken(sign(baseClaims(), keys.rsa.privateKey, 'RS256', { kid: 'rsa-1' }))).sub).toBe(
    'svc-billing',
  );
  expect((await v.verifyToken(sign(baseClaims(), keys.ec.privateKey, 'ES256', { kid: 'ec-1' }))).sub).toBe(
    'svc-billing',
  );
  expect(
    (await v.verifyToken(sign(baseClaims(), keys.rsaOther.privateKey, 'PS256', { kid: 'rsa-ps' }))).sub,
  ).toBe('svc-billing');
  for (let i = 0; i < 5; i++)
    await v.verifyToken(sign(baseClaims(), keys.rsa.privateKey, 'RS256', { kid: 'rsa-1' }));
  // One fetch per new kid at most, then the cache answers.
  expect(jwks.hits() - before).toBeLessThanOrEqual(3);
});

it('unknown kid → unknown-kid; missing or unsafe kid → unknown-kid without a fetch', async () => {
  const v = verifier(jwks.url);
  expect(
    await reasonOf(v.verifyToken(sign(baseClaims(), keys.rsa.privateKey, 'RS256', { kid: 'nope' }))),
  ).toBe('unknown-kid');
  // kid is only ever a lookup key in the fetched set, never a path, so this one is simply not found.
  expect(
    await reasonOf(
      v.verifyToken(sign(baseClaims(), keys.rsa.privateKey, 'RS256', { kid: '../../dev/null' })),
    ),
  ).toBe('unknown-kid');
  // These never reach the JWKS endpoint at all.
  const before = jwks.hits();
  expect(await reasonOf(v.verifyToken(sign(baseClaims(), keys.rsa.privateKey, 'RS256')))).toBe('unknown-kid');
  expect(
    await reasonOf(v.verifyToken(sign(baseClaims(), keys.rsa.privateKey, 'RS256', { kid: "' OR 1=1--" }))),
  ).toBe('unknown-kid');
  expect(
    await reasonOf(v.verifyToken(sign(baseClaims(), keys.rsa.privateKey, 'RS256', { kid: 'k'.repeat(300) }))),
  ).toBe('unknown-kid');
  // A 3 KB kid makes the JOSE header itself too large to be decoded.
  expect(
    await reasonOf(
      v.verifyToken(sign(baseClaims(), keys.rsa.privateKey, 'RS256', { kid: 'k'.repeat(3000) })),
    ),
  ).toBe('malformed');
  expect(await reasonOf(v.verifyToken(sign(baseClaims(), keys.rsa.privateKey, 'RS256', { kid: 42 })))).toBe(
    'unknown-kid',
  );
  expect(jwks.hits()).toBe(before);
});

it('a new kid is accepted after one fetch (key rotation)', async () => {
  const v = verifier(jwks.url);
  await v.verifyToken(sign(baseClaims(), keys.rsa.privateKey, 'RS256', { kid: 'rsa-1' }));
  jwks.setKeys([
    jwkOf(keys.rsa.publicKey, { kid: 'rsa-1' }),
    jwkOf(keys.rsaOther.publicKey, { kid: 'rsa-2' }),
  ]);
  const before = jwks.hits();
  expect(
    (await v.verifyToken(sign(baseClaims(), keys.rsaOther.privateKey, 'RS256', { kid: 'rsa-2' }))).sub,
  ).toBe('svc-billing');
  expect(jwks.hits() - before).toBe(1);
});

it('HS/RS confusion through the JWKS: an oct key is ignored, and an HS256 token is refused by the allowlist', async () => {
  const v = verifier(jwks.url);
  const forged = sign(baseClaims(), Buffer.from(keys.rsa.publicPem), 'HS256', { kid: 'hmac-1' });
  expect(await reasonOf(v.verifyToken(forged))).toBe('alg-not-allowed');
  const forgedWithRsaKid = sign(baseClaims(), Buffer.from(keys.rsa.publicPem), 'HS256', { kid: 'rsa-1' });
  expect(await reasonOf(v.verifyToken(forgedWithRsaKid))).toBe('alg-not-allowed');
});

it('key type must match the token alg: ES256 token naming an RSA kid, PS256 token naming an RS-less ES key', async () => {
  const v = verifier(jwks.url);
  expect(
    await reasonOf(v.verifyToken(sign(baseClaims(), keys.ec.privateKey, 'ES256', { kid: 'rsa-1' }))),
  ).toBe('alg-not-allowed');
  expect(
    await reasonOf(v.verifyToken(sign(baseClaims(), keys.rsa.privateKey, 'RS256', { kid: 'ec-1' }))),
  ).toBe('alg-not-allowed');
  // The JWK states alg PS256: the same RSA key may not verify RS256.
  expect(
    await reasonOf(v.verifyToken(sign(baseClaims(), keys.rsaOther.privateKey, 'RS256', { kid: 'rsa-ps' }))),
  ).toBe('alg-not-allowed');
});

it('a use:enc key is not a signing key', async () => {
  const v = verifier(jwks.url);
  expect(
    await reasonOf(v.verifyToken(sign(baseClaims(), keys.rsaOther.privateKey, 'RS256', { kid: 'enc-1' }))),
  ).toBe('unknown-kid');
});

it('never fetches jku / x5u URLs from the token header', async () => {
  const v = verifier(jwks.url);
  const token = sign(baseClaims(), keys.rsaOther.privateKey, 'RS256', {
    kid: 'rsa-1',
    jku: canary.url,
    x5u: canary.url,
  });
  expect(await reasonOf(v.verifyToken(token))).toBe('bad-signature');
  expect(canary.hits()).toBe(canaryHits);
});

it('a flood of random kids is capped by the JWKS rate limit', async () => {
  const v = verifier(jwks.url, { requestsPerMinute: 3 });
  const before = jwks.hits();
  for (let i = 0; i < 20; i++) {
    expect(
      await reasonOf(v.verifyToken(sign(baseClaims(), keys.rsa.privateKey, 'RS256', { kid: `random-${i}` }))),
    ).toBe('unknown-kid');
  }
  expect(jwks.hits() - before).toBeLessThanOrEqual(3);
});

it('fails closed when the JWKS endpoint is down (503, not 401)', async () => {
  jwks.setStatus(500);
  const v = verifier(jwks.url);
  const err = await rejectionOf(
    v.verifyToken(sign(baseClaims(), keys.rsa.privateKey, 'RS256', { kid: 'rsa-1' })),
  );
  expect(err.reason).toBe('key-unavailable');
  expect(err.httpStatus).toBe(503);
});

it('fails closed when nothing listens at the JWKS URL', async () => {
  const closed = await startJwksServer([]);
  const url = closed.url;
  await closed.close();
  const v = verifier(url);
  expect(
    await reasonOf(v.verifyToken(sign(baseClaims(), keys.rsa.privateKey, 'RS256', { kid: 'rsa-1' }))),
  ).toBe('key-unavailable');
});
