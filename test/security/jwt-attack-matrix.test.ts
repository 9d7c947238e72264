import { createJwtVerifier, type JwtVerifier, type JwtVerifierOptions } from '../../src/auth';
import {
  AUDIENCE,
  baseClaims,
  hs256WithSecret,
  ISSUER,
  makeKeys,
  NOW,
  NOW_MS,
  rawToken,
  reasonOf,
  rejectionOf,
  sign,
  type TestKeys,
} from './jwt-test-kit';

let keys: TestKeys;
let rs: JwtVerifier;

function verifier(overrides: Partial<JwtVerifierOptions> = {}): JwtVerifier {
  return createJwtVerifier({
    algorithms: ['RS256'],
    issuer: ISSUER,
    audience: AUDIENCE,
    keys: { kind: 'pem', keys: [{ pem: keys.rsa.publicPem }] },
    clockToleranceSec: 30,
    maxTokenAgeSec: 3600,
    maxTokenBytes: 4096,
    now: () => NOW_MS,
    ...overrides,
  });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}`, url: '/v1/hosts' });

beforeAll(() => {
  keys = makeKeys();
  rs = verifier();
});

describe('good tokens', () => {
  it('accepts RS256 and maps claims to a Principal', async () => {
    const p = await rs.authenticate(bearer(sign(baseClaims(), keys.rsa.privateKey, 'RS256')));
    expect(p).toEqual({
      sub: 'svc-billing',
      iss: ISSUER,
      clientId: 'billing',
      tokenId: 'tok-1',
      scopes: new Set(['vm:read', 'vm:hotplug']),
      hostGrants: ['hv-tokyo-01', 'group:osaka'],
    });
  });

  it('accepts ES256 with an EC P-256 key', async () => {
    const es = verifier({ algorithms: ['ES256'], keys: { kind: 'pem', keys: [{ pem: keys.ec.publicPem }] } });
    const p = await es.verifyToken(sign(baseClaims(), keys.ec.privateKey, 'ES256'));
    expect(p.sub).toBe('svc-billing');
  });

  it('accepts PS256 with an RSA key', async () => {
    const ps = verifier({ algorithms: ['PS256'] });
    const p = await ps.verifyToken(sign(baseClaims(), keys.rsa.privateKey, 'PS256'));
    expect(p.scopes.has('vm:hotplug')).toBe(true);
  });

  it('accepts scopes as an array claim, drops unknown scopes, and defaults missing client and jti to null', async () => {
    const token = sign(
      baseClaims({ scp: ['vm:read', 'admin:all'], scope: undefined, client_id: undefined, jti: undefined }),
      keys.rsa.privateKey,
      'RS256',
    );
    const p = await verifier({ scopesClaim: 'scp' }).verifyToken(token);
    expect([...p.scopes]).toEqual(['vm:read']);
    expect(p.clientId).toBeNull();
    expect(p.tokenId).toBeNull();
  });

  it('accepts a token that expired within the clock tolerance', async () => {
    const p = await rs.verifyToken(sign(baseClaims({ exp: NOW - 20 }), keys.rsa.privateKey, 'RS256'));
    expect(p.sub).toBe('svc-billing');
  });

  it('picks the key by kid among several PEM keys', async () => {
    const multi = verifier({
      keys: {
        kind: 'pem',
        keys: [
          { pem: keys.rsaOther.publicPem, kid: 'old' },
          { pem: keys.rsa.publicPem, kid: 'new' },
        ],
      },
    });
    expect(
      (await multi.verifyToken(sign(baseClaims(), keys.rsa.privateKey, 'RS256', { kid: 'new' }))).sub,
    ).toBe('svc-billing');
    expect(
      await reasonOf(multi.verifyToken(sign(baseClaims(), keys.rsa.privateKey, 'RS256', { kid: 'old' }))),
    ).toBe('bad-signature');
    expect(
      await reasonOf(multi.verifyToken(sign(baseClaims(), keys.rsa.privateKey, 'RS256', { kid: 'gone' }))),
    ).toBe('unknown-kid');
  });
});

describe('attack matrix (each rejected with its reason code)', () => {
  it.each(['none', 'None', 'NONE', 'nOnE'])('alg %s, with and without a signature', async (alg) => {
    const claims = baseClaims();
    expect(await reasonOf(rs.verifyToken(rawToken({ alg, typ: 'JWT' }, claims)))).toBe('alg-not-allowed');
    expect(await reasonOf(rs.verifyToken(rawToken({ alg, typ: 'JWT' }, claims, 'c2lnbmF0dXJl')))).toBe(
      'alg-not-allowed',
    );
  });

  it('HS256 signed with the RSA public key PEM as the HMAC secret (key confusion)', async () => {
    const forged = hs256WithSecret({ alg: 'HS256', typ: 'JWT' }, baseClaims(), keys.rsa.publicPem);
    expect(await reasonOf(rs.verifyToken(forged))).toBe('alg-not-allowed');
    const der = keys.rsa.publicKey.export({ type: 'spki', format: 'der' });
    expect(await reasonOf(rs.verifyToken(hs256WithSecret({ alg: 'HS256' }, baseClaims(), der)))).toBe(
      'alg-not-allowed',
    );
  });

  it('an allowed algorithm the configured key does not fit (ES256 token, RSA key)', async () => {
    const mixed = verifier({ algorithms: ['RS256', 'ES256'] });
    expect(await reasonOf(mixed.verifyToken(sign(baseClaims(), keys.ec.privateKey, 'ES256')))).toBe(
      'alg-not-allowed',
    );
  });

  it('alg outside the allowlist even if correctly signed (RS384, PS256 on an RS256 deployment)', async () => {
    expect(await reasonOf(rs.verifyToken(sign(baseClaims(), keys.rsa.privateKey, 'RS384')))).toBe(
      'alg-not-allowed',
    );
    expect(await reasonOf(rs.verifyToken(sign(baseClaims(), keys.rsa.privateKey, 'PS256')))).toBe(
      'alg-not-allowed',
    );
  });

  it.each([
    ['wrong issuer', { iss: 'https://evil.test/' }, 'wrong-issuer'],
    ['issuer differing only in case', { iss: 'https://IDP.test/' }, 'wrong-issuer'],
    ['missing issuer', { iss: undefined }, 'wrong-issuer'],
    ['wrong audience', { aud: 'other-service' }, 'wrong-audience'],
    ['audience a loose regex would match', { aud: 'evil-hvgate' }, 'wrong-audience'],
    ['missing audience', { aud: undefined }, 'wrong-audience'],
    ['expired', { exp: NOW - 31 }, 'expired'],
    ['no exp', { exp: undefined }, 'missing-exp'],
    ['exp as a string', { exp: String(NOW + 600) }, 'malformed'],
    ['future nbf', { nbf: NOW + 120 }, 'not-yet-valid'],
    ['future iat', { iat: NOW + 120 }, 'not-yet-valid'],
    ['iat older than the maximum age', { iat: NOW - 4000 }, 'token-too-old'],
    ['no iat while a maximum age is set', { iat: undefined }, 'token-too-old'],
    ['no sub', { sub: undefined }, 'malformed'],
    ['hosts claim of the wrong type', { hosts: { any: true } }, 'malformed'],
    ['hosts claim with an invalid grant', { hosts: ['hv-01', '\\\\attacker\\share'] }, 'malformed'],
  ] as const)('%s', async (_label, overrides, reason) => {
    const token = sign(baseClaims(overrides), keys.rsa.privateKey, 'RS256');
    expect(await reasonOf(rs.verifyToken(token))).toBe(reason);
  });

  it('tampered payload (one claim changed under the old signature)', async () => {
    const [h, , s] = sign(baseClaims(), keys.rsa.privateKey, 'RS256').split('.');
    const evil = Buffer.from(
      JSON.stringify(baseClaims({ scope: 'vm:read vm:hotplug vm:migrate', hosts: ['*'] })),
    ).toString('base64url');
    expect(await reasonOf(rs.verifyToken(`${h}.${evil}.${s}`))).toBe('bad-signature');
  });

  it('payload re-encoded with whitespace under the old signature', async () => {
    const [h, , s] = sign(baseClaims(), keys.rsa.privateKey, 'RS256').split('.');
    const spaced = Buffer.from(JSON.stringify(baseClaims(), null, 1)).toString('base64url');
    expect(await reasonOf(rs.verifyToken(`${h}.${spaced}.${s}`))).toBe('bad-signature');
  });

  it('tampered signature: a flipped bit, truncated, or stripped', async () => {
    const token = sign(baseClaims(), keys.rsa.privateKey, 'RS256');
    const [h, p, s] = token.split('.') as [string, string, string];
    const sig = Buffer.from(s, 'base64url');
    sig[10] = sig[10]! ^ 0x01;
    expect(await reasonOf(rs.verifyToken(`${h}.${p}.${sig.toString('base64url')}`))).toBe('bad-signature');
    expect(await reasonOf(rs.verifyToken(`${h}.${p}.${s.slice(0, 40)}`))).toBe('bad-signature');
    expect(await reasonOf(rs.verifyToken(`${h}.${p}.`))).toBe('bad-signature');
  });

  it('signed by another RSA key', async () => {
    expect(await reasonOf(rs.verifyToken(sign(baseClaims(), keys.rsaOther.privateKey, 'RS256')))).toBe(
      'bad-signature',
    );
  });

  it('oversized token, before any parsing', async () => {
    const token = sign(baseClaims({ pad: 'x'.repeat(5000) }), keys.rsa.privateKey, 'RS256');
    expect(await reasonOf(rs.verifyToken(token))).toBe('token-too-large');
    expect(await reasonOf(rs.authenticate(bearer(token)))).toBe('token-too-large');
    expect(await reasonOf(rs.authenticate({ authorization: `Bearer ${'A'.repeat(100_000)}` }))).toBe(
      'token-too-large',
    );
  });

  it('a crit header with an unknown extension', async () => {
    const token = sign(baseClaims(), keys.rsa.privateKey, 'RS256', { crit: ['exp-ext'], 'exp-ext': 1 });
    expect(await reasonOf(rs.verifyToken(token))).toBe('malformed');
  });

  it.each([
    ['two segments', (t: string) => t.split('.').slice(0, 2).join('.')],
    ['four segments', (t: string) => `${t}.AAAA`],
    ['characters outside base64url', (t: string) => t.replace('.', '+.')],
    [
      'JSON serialisation',
      () => JSON.stringify({ payload: 'e30', signatures: [{ protected: 'e30', signature: 'AA' }] }),
    ],
    ['trailing newline', (t: string) => `${t}\n`],
    ['header that is not JSON', (t: string) => `bm90LWpzb24.${t.split('.')[1]}.${t.split('.')[2]}`],
  ])('malformed: %s', async (_label, mutate) => {
    const token = mutate(sign(baseClaims(), keys.rsa.privateKey, 'RS256'));
    expect(await reasonOf(rs.verifyToken(token))).toBe('malformed');
  });
});

describe('where the token may come from', () => {
  let good: string;
  beforeAll(() => {
    good = sign(baseClaims(), keys.rsa.privateKey, 'RS256');
  });

  it('refuses a token in the query string, even alongside a valid header', async () => {
    expect(await reasonOf(rs.authenticate({ url: `/v1/hosts?access_token=${good}` }))).toBe('token-in-query');
    expect(
      await reasonOf(
        rs.authenticate({ authorization: `Bearer ${good}`, url: `/v1/hosts?access_token=${good}` }),
      ),
    ).toBe('token-in-query');
    expect(
      await reasonOf(rs.authenticate({ authorization: `Bearer ${good}`, url: `/v1/jobs?x=${good}` })),
    ).toBe('token-in-query');
    expect(
      await reasonOf(rs.authenticate({ authorization: `Bearer ${good}`, url: '/v1/jobs?token=abc' })),
    ).toBe('token-in-query');
  });

  it('accepts an ordinary query string', async () => {
    expect(
      (await rs.authenticate({ authorization: `Bearer ${good}`, url: '/v1/jobs?wait=5&dryRun=true' })).sub,
    ).toBe('svc-billing');
  });

  it.each([
    ['no header', {}, 'token-missing'],
    ['Basic scheme', { authorization: 'Basic dXNlcjpwYXNz' }, 'token-missing'],
    ['Bearer with nothing after it', { authorization: 'Bearer ' }, 'malformed'],
    ['bare "Bearer"', { authorization: 'Bearer' }, 'malformed'],
    ['two Authorization headers', { authorization: ['Bearer a.b.c', 'Bearer d.e.f'] }, 'malformed'],
  ] as const)('%s', async (_label, pieces, reason) => {
    expect(await reasonOf(rs.authenticate(pieces))).toBe(reason);
  });

  it('takes the scheme case-insensitively', async () => {
    expect((await rs.authenticate({ authorization: `bearer ${good}` })).sub).toBe('svc-billing');
  });
});

describe('what the client is told', () => {
  it('never echoes the token, its parts or the expected issuer/audience', async () => {
    const samples = [
      sign(baseClaims({ iss: 'https://evil.test/' }), keys.rsa.privateKey, 'RS256'),
      sign(baseClaims({ aud: 'x' }), keys.rsa.privateKey, 'RS256'),
      sign(baseClaims({ exp: NOW - 100 }), keys.rsa.privateKey, 'RS256'),
      sign(baseClaims(), keys.rsaOther.privateKey, 'RS256'),
      rawToken({ alg: 'none' }, baseClaims()),
    ];
    for (const token of samples) {
      const err = await rejectionOf(rs.authenticate(bearer(token)));
      expect(err.httpStatus).toBe(401);
      for (const text of [err.message, err.detail ?? '', JSON.stringify(err)]) {
        for (const part of token.split('.').filter((s) => s.length > 8)) expect(text).not.toContain(part);
        expect(text).not.toContain(ISSUER);
        expect(text).not.toContain('svc-billing');
      }
    }
  });
});

describe('verifier construction', () => {
  it('refuses to mix HS256 with asymmetric algorithms, and keys that fit no pinned algorithm', () => {
    expect(() => verifier({ algorithms: ['RS256', 'HS256'] })).toThrow(/cannot be combined/);
    expect(() => verifier({ algorithms: ['ES256'] })).toThrow(/fits none of the algorithms/);
    expect(() =>
      verifier({ algorithms: ['HS256'], keys: { kind: 'hmac', secret: Buffer.alloc(16) } }),
    ).toThrow(/at least 32 bytes/);
    expect(() => verifier({ audience: '' })).toThrow(/audience is required/);
  });

  it('with HS256 pinned, verifies HMAC tokens and refuses RS256 tokens', async () => {
    const secret = Buffer.alloc(32, 7);
    const hs = verifier({ algorithms: ['HS256'], keys: { kind: 'hmac', secret } });
    expect((await hs.verifyToken(sign(baseClaims(), secret, 'HS256'))).sub).toBe('svc-billing');
    expect(await reasonOf(hs.verifyToken(sign(baseClaims(), keys.rsa.privateKey, 'RS256')))).toBe(
      'alg-not-allowed',
    );
    expect(await reasonOf(hs.verifyToken(sign(baseClaims(), Buffer.alloc(32, 8), 'HS256')))).toBe(
      'bad-signature',
    );
  });
});
