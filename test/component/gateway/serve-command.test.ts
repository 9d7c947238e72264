// `hvgate serve`: a YAML config with secrets in files, a listening gateway that serves requests and
// stops cleanly on the stop signal; config errors name the key and never print a secret.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { stringify } from 'yaml';
import { generateSigningKey } from '../../../src/audit/audit-signer';
import { mintDevToken } from '../../../src/auth/token-minter';
import { createServeCommand } from '../../../src/cli/serve-command';
import { createSimulator, type Simulator } from '../../../src/simulator/simulator';

const SECRET = 'serve-test-hmac-secret-0123456789abcdef!';
const PASSWORD = 'serve-test-winrm-password';

let sim: Simulator;
let dir: string;
beforeAll(async () => {
  sim = await createSimulator({ latencyScale: 0, controlPort: false, hosts: 1, password: PASSWORD });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hvgate-serve-'));
  generateSigningKey(dir);
  fs.writeFileSync(path.join(dir, 'hmac.secret'), `${SECRET}\n`);
  fs.writeFileSync(path.join(dir, 'winrm.password'), `${PASSWORD}\n`);
});
afterAll(async () => {
  await sim?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function writeConfig(extra: Record<string, unknown> = {}): string {
  const file = path.join(dir, 'hvgate.yaml');
  const cfg = {
    server: { host: '127.0.0.1', port: 0 },
    auth: {
      algorithms: ['HS256'],
      issuer: 'https://idp.serve/',
      audience: 'hvgate',
      hmacSecretFile: 'hmac.secret',
    },
    store: { kind: 'sqlite', path: 'state/hvgate.db' },
    audit: { signingKeyFile: 'audit-signing-key.pem', stdout: false },
    hosts: sim.hosts.map((h) => ({
      name: h.name,
      address: '127.0.0.1',
      port: h.port,
      transport: 'http',
      usernameEnv: 'SERVE_TEST_USER',
      passwordFile: 'winrm.password',
    })),
    ...extra,
  };
  fs.writeFileSync(file, stringify(cfg));
  return file;
}

function capture() {
  const out: string[] = [];
  return { out, stream: { write: (s: string) => out.push(s) } };
}

test('serves with a config from files and env, then shuts down gracefully on the stop signal', async () => {
  const file = writeConfig();
  const stdout = capture();
  const stderr = capture();
  let stop!: (sig: string) => void;
  const stopSignal = new Promise<string>((r) => (stop = r));
  const cmd = createServeCommand({
    stdout: stdout.stream,
    stderr: stderr.stream,
    env: { SERVE_TEST_USER: 'Administrator' },
    stopSignal,
    overrides: { logger: null, auditSink: null, healthProbes: false },
  });
  const exit = cmd.run(['--config', file, '--grace-sec', '1']);
  for (let i = 0; i < 200 && !stdout.out.join('').includes('listening'); i++)
    await new Promise((r) => setTimeout(r, 20));
  const { url } = JSON.parse(stdout.out.join('').split('\n')[0]!) as { url: string };
  expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  await request(url).get('/readyz').expect(200);
  const token = mintDevToken({
    sub: 'serve',
    scopes: ['vm:read'],
    hosts: ['*'],
    issuer: 'https://idp.serve/',
    audience: 'hvgate',
    ttlSec: 60,
    secret: Buffer.from(SECRET),
  });
  const host = await request(url)
    .get(`/v1/hosts/${sim.hosts[0]!.name}`)
    .set('Authorization', `Bearer ${token}`);
  expect(host.status).toBe(200);
  stop('SIGTERM');
  expect(await exit).toBe(0);
  expect(stdout.out.join('')).toContain('"event":"stopping"');
  expect(stderr.out.join('')).toBe('');
  expect(stdout.out.join('')).not.toContain(PASSWORD);
  expect(fs.existsSync(path.join(dir, 'state', 'hvgate.db'))).toBe(true);
});

test('a bad configuration exits 2 naming the key, without printing secrets', async () => {
  const file = writeConfig({ server: { host: '127.0.0.1', port: 'eighty' } });
  const stdout = capture();
  const stderr = capture();
  const code = await createServeCommand({
    stdout: stdout.stream,
    stderr: stderr.stream,
    env: { SERVE_TEST_USER: 'x' },
  }).run(['--config', file]);
  expect(code).toBe(2);
  expect(stderr.out.join('')).toContain('server.port');
  expect(stderr.out.join('')).not.toContain(PASSWORD);
  expect(stderr.out.join('')).not.toContain(SECRET);
});

test('no configuration and unknown flags are usage errors', async () => {
  const stderr = capture();
  expect(await createServeCommand({ stdout: capture().stream, stderr: stderr.stream, env: {} }).run([])).toBe(
    2,
  );
  expect(
    await createServeCommand({ stdout: capture().stream, stderr: stderr.stream, env: {} }).run(['--bogus']),
  ).toBe(2);
});
