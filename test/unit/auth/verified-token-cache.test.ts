import jwt from 'jsonwebtoken';
import { createJwtVerifier, mintDevToken, type JwtVerifierOptions } from '../../../src/auth';

const SECRET = Buffer.from('k'.repeat(48));
const T0 = 1_700_000_000_000;

function setup(extra: Partial<JwtVerifierOptions> = {}) {
  const clock = { now: T0 };
  const verifier = createJwtVerifier({
    algorithms: ['HS256'],
    issuer: 'lab',
    audience: 'gw',
    keys: { kind: 'hmac', secret: SECRET },
    clockToleranceSec: 30,
    now: () => clock.now,
    ...extra,
  });
  const token = (ttlSec = 3600, sub = 'svc'): string =>
    mintDevToken({
      sub,
      scopes: ['vm:read'],
      hosts: ['hv-01'],
      issuer: 'lab',
      audience: 'gw',
      ttlSec,
      secret: SECRET,
      now: clock.now,
    });
  return { verifier, clock, token };
}

let verifySpy: jest.SpyInstance;
beforeEach(() => {
  verifySpy = jest.spyOn(jwt, 'verify');
});
afterEach(() => verifySpy.mockRestore());

const reasonOf = (p: Promise<unknown>) =>
  p.then(
    () => 'accepted',
    (err: { reason?: string }) => err.reason,
  );

it('checks the signature of a repeated token once and hands out the same frozen principal', async () => {
  const { verifier, token } = setup();
  const t = token();
  const first = await verifier.verifyToken(t);
  const second = await verifier.verifyToken(t);
  expect(verifySpy).toHaveBeenCalledTimes(1);
  expect(second).toBe(first);
  expect(Object.isFrozen(second)).toBe(true);
  expect(second.sub).toBe('svc');
});

it('refuses a remembered token once it expires (exp plus the clock tolerance)', async () => {
  const { verifier, clock, token } = setup({ tokenCacheTtlSec: 3600 });
  const t = token(120);
  await verifier.verifyToken(t);
  clock.now = T0 + (120 + 29) * 1000;
  expect(await reasonOf(verifier.verifyToken(t))).toBe('accepted');
  expect(verifySpy).toHaveBeenCalledTimes(1);
  clock.now = T0 + (120 + 30) * 1000;
  expect(await reasonOf(verifier.verifyToken(t))).toBe('expired');
});

it('refuses a remembered token once it is older than maxTokenAgeSec', async () => {
  const { verifier, clock, token } = setup({ maxTokenAgeSec: 300, tokenCacheTtlSec: 3600 });
  const t = token(3600);
  await verifier.verifyToken(t);
  clock.now = T0 + (300 + 30) * 1000;
  expect(await reasonOf(verifier.verifyToken(t))).toBe('token-too-old');
});

it('checks the signature again after the TTL', async () => {
  const { verifier, clock, token } = setup({ tokenCacheTtlSec: 60 });
  const t = token();
  await verifier.verifyToken(t);
  clock.now = T0 + 59_999;
  await verifier.verifyToken(t);
  expect(verifySpy).toHaveBeenCalledTimes(1);
  clock.now = T0 + 60_000;
  await verifier.verifyToken(t);
  expect(verifySpy).toHaveBeenCalledTimes(2);
});

it('never remembers a refused token', async () => {
  const { verifier, token } = setup();
  const good = token();
  const [h, p, s] = good.split('.') as [string, string, string];
  const tampered = `${h}.${p}.${s.startsWith('A') ? 'B' : 'A'}${s.slice(1)}`;
  expect(await reasonOf(verifier.verifyToken(tampered))).toBe('bad-signature');
  expect(await reasonOf(verifier.verifyToken(tampered))).toBe('bad-signature');
  expect(verifySpy).toHaveBeenCalledTimes(2);
});

it('keeps at most tokenCacheSize tokens, dropping the oldest', async () => {
  const { verifier, token } = setup({ tokenCacheSize: 2 });
  const [a, b, c] = [token(3600, 'a'), token(3600, 'b'), token(3600, 'c')];
  for (const t of [a, b, c]) await verifier.verifyToken(t);
  expect(verifySpy).toHaveBeenCalledTimes(3);
  await verifier.verifyToken(c);
  await verifier.verifyToken(b);
  expect(verifySpy).toHaveBeenCalledTimes(3);
  await verifier.verifyToken(a);
  expect(verifySpy).toHaveBeenCalledTimes(4);
});

it('checks every request with tokenCacheSize 0', async () => {
  const { verifier, token } = setup({ tokenCacheSize: 0 });
  const t = token();
  await verifier.verifyToken(t);
  await verifier.verifyToken(t);
  expect(verifySpy).toHaveBeenCalledTimes(2);
});
