import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createJwtVerifier, parseTtl } from '../../../src/auth';
import { mintFromArgs, tokenCommand } from '../../../src/cli/token-command';

const NOW = 1_700_000_000_000;
let dir: string;
let secretFile: string;
const secret = 'a-development-secret-of-at-least-32-bytes';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hvgate-token-'));
  secretFile = join(dir, 'hmac');
  await writeFile(secretFile, `${secret}\n`);
  await writeFile(join(dir, 'short'), 'short\n');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function verifierFor(issuer = 'hvgate-dev', audience = 'hvgate') {
  // The trailing newline in the file is not part of the key: the same bytes the config loader uses.
  return createJwtVerifier({
    algorithms: ['HS256'],
    issuer,
    audience,
    keys: { kind: 'hmac', secret: Buffer.from(secret) },
    now: () => NOW + 1000,
  });
}

it('mints an HS256 token the verifier accepts, with repeatable and comma-separated lists', async () => {
  const token = await mintFromArgs(
    [
      '--sub',
      'svc-billing',
      '--scope',
      'vm:read',
      '--scope',
      'vm:hotplug,vm:storage',
      '--hosts',
      'hv-tokyo-01,group:osaka',
      '--ttl',
      '15m',
      '--secret-file',
      secretFile,
      '--client-id',
      'billing',
    ],
    NOW,
  );
  const p = await verifierFor().verifyToken(token);
  expect(p.sub).toBe('svc-billing');
  expect([...p.scopes].sort()).toEqual(['vm:hotplug', 'vm:read', 'vm:storage']);
  expect(p.hostGrants).toEqual(['hv-tokyo-01', 'group:osaka']);
  expect(p.clientId).toBe('billing');
  expect(p.tokenId).toMatch(/^[0-9a-f-]{36}$/);
  const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
  expect(payload.exp - payload.iat).toBe(900);
});

it('honours --issuer and --audience', async () => {
  const token = await mintFromArgs(
    ['--sub', 's', '--hosts', '*', '--secret-file', secretFile, '--issuer', 'lab', '--audience', 'gw'],
    NOW,
  );
  expect((await verifierFor('lab', 'gw').verifyToken(token)).hostGrants).toEqual(['*']);
  await expect(verifierFor('hvgate-dev', 'gw').verifyToken(token)).rejects.toMatchObject({
    reason: 'wrong-issuer',
  });
  await expect(verifierFor('lab', 'hvgate').verifyToken(token)).rejects.toMatchObject({
    reason: 'wrong-audience',
  });
});

it('expires after --ttl', async () => {
  const token = await mintFromArgs(['--sub', 's', '--ttl', '60', '--secret-file', secretFile], NOW);
  const later = createJwtVerifier({
    algorithms: ['HS256'],
    issuer: 'hvgate-dev',
    audience: 'hvgate',
    keys: { kind: 'hmac', secret: Buffer.from(secret) },
    clockToleranceSec: 0,
    now: () => NOW + 61_000,
  });
  await expect(later.verifyToken(token)).rejects.toMatchObject({ reason: 'expired' });
});

it.each([
  [['--scope', 'vm:read', '--secret-file', 'x'], /--sub is required/],
  [['--sub', 's'], /--secret-file is required/],
  [['--sub', 's', '--secret-file', 'x', '--scope', 'vm:everything'], /unknown scope 'vm:everything'/],
  [['--sub', 's', '--secret-file', 'x', '--hosts', '\\\\evil\\share'], /invalid host grant/],
  [['--sub', 's', '--secret-file', 'x', '--ttl', '5 minutes'], /invalid ttl/],
  [['--sub', 's', '--secret-file', 'x', '--bogus'], /Unknown option/],
])('refuses bad arguments %j', async (args, message) => {
  await expect(mintFromArgs(args as string[])).rejects.toThrow(message);
});

it('refuses a short or missing secret file', async () => {
  await expect(mintFromArgs(['--sub', 's', '--secret-file', join(dir, 'short')])).rejects.toThrow(
    /at least 32 bytes/,
  );
  await expect(mintFromArgs(['--sub', 's', '--secret-file', join(dir, 'absent')])).rejects.toThrow(
    /cannot read secret file .* \(ENOENT\)/,
  );
});

it('run() prints the token and exits 0; usage errors exit 2 on stderr', async () => {
  const out: string[] = [];
  const err: string[] = [];
  const so = jest.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
  const se = jest.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
  try {
    expect(await tokenCommand.run(['--sub', 's', '--secret-file', secretFile])).toBe(0);
    expect(out.join('')).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    expect(await tokenCommand.run(['--secret-file', secretFile])).toBe(2);
    expect(err.join('')).toContain('usage: hvgate token');
    expect(await tokenCommand.run(['--sub', 's', '--secret-file', join(dir, 'absent')])).toBe(1);
  } finally {
    so.mockRestore();
    se.mockRestore();
  }
});

it('parses ttl units', () => {
  expect(parseTtl('90')).toBe(90);
  expect(parseTtl('15m')).toBe(900);
  expect(parseTtl('8h')).toBe(28_800);
  expect(parseTtl('1d')).toBe(86_400);
  expect(() => parseTtl('0')).toThrow();
  expect(() => parseTtl('31d')).toThrow(/out of range/);
});
