import { generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { createJwtVerifierFromConfig, mintDevToken } from '../../../src/auth';
import { resolveConfig, validateConfig, type LoadedConfig } from '../../../src/config';

const NOW = 1_700_000_000_000;
const SECRET = 's'.repeat(48);

function base(auth: Record<string, unknown>) {
  return {
    allowInlineSecrets: true,
    auth,
    store: { kind: 'sqlite', path: 'db' },
    audit: { signingKeyFile: 'k' },
    hosts: [{ name: 'hv-01', address: '127.0.0.1', transport: 'http', username: 'u', password: 'p' }],
  };
}

it('builds an HS256 verifier from config, honouring custom claim names', async () => {
  const cfg = validateConfig(
    base({
      algorithms: ['HS256'],
      issuer: 'lab',
      audience: 'gw',
      hmacSecret: SECRET,
      hostsClaim: 'hvgate_hosts',
      scopesClaim: 'scp',
      maxTokenAgeSec: 600,
    }),
  );
  const loaded = await resolveConfig(cfg, { env: {}, checkFiles: false });
  const verifier = createJwtVerifierFromConfig(loaded, { now: () => NOW });
  const token = mintDevToken({
    sub: 'svc',
    scopes: ['vm:read'],
    hosts: ['hv-01'],
    issuer: 'lab',
    audience: 'gw',
    ttlSec: 300,
    secret: Buffer.from(SECRET),
    now: NOW,
    hostsClaim: 'hvgate_hosts',
    scopesClaim: 'scp',
  });
  const p = await verifier.authenticate({ authorization: `Bearer ${token}` });
  expect(p.hostGrants).toEqual(['hv-01']);
  expect([...p.scopes]).toEqual(['vm:read']);
});

it('builds an RS256 verifier from PEM keys the loader read', async () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const cfg = validateConfig(
    base({
      algorithms: ['RS256'],
      issuer: 'idp',
      audience: 'gw',
      publicKeyFiles: [{ file: 'idp.pem', kid: 'k1' }],
    }),
  );
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const loaded: LoadedConfig = await resolveConfig(cfg, {
    env: {},
    checkFiles: false,
    readFile: async () => Buffer.from(pem),
  });
  const verifier = createJwtVerifierFromConfig(loaded, { now: () => NOW });
  const b64u = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${b64u({ alg: 'RS256', kid: 'k1' })}.${b64u({ sub: 'svc', iss: 'idp', aud: 'gw', exp: NOW / 1000 + 60, scope: 'audit:read' })}`;
  const token = `${input}.${cryptoSign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
  expect([...(await verifier.verifyToken(token)).scopes]).toEqual(['audit:read']);
});
