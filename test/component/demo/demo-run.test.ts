// `hvgate demo` as a user runs it: a child process (real signals, real exit code) on an ephemeral
// port with latency scale 0 and a temp state dir; the printed curl commands run as printed, the tour
// passes against it, and SIGTERM stops everything with exit 0.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTourCommand } from '../../../src/cli/tour-command';
import type { DemoInfo } from '../../../src/demo/demo-state';

const REPO = path.resolve(__dirname, '../../..');
const REGISTER = path.join(__dirname, 'ts-register.js');

let dir: string;
let child: ChildProcessWithoutNullStreams | undefined;
let stdout = '';
let stderr = '';
let exited: Promise<number | null>;
let info: DemoInfo;

function waitFor(pred: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (pred()) resolve();
      else if (Date.now() > deadline)
        reject(new Error(`timed out waiting for ${what}\nstdout:\n${stdout}\nstderr:\n${stderr}`));
      else setTimeout(tick, 50);
    };
    tick();
  });
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hvgate-demo-'));
  child = spawn(
    process.execPath,
    ['-r', REGISTER, 'src/cli.ts', 'demo', '--port', '0', '--latency-scale', '0', '--state-dir', dir],
    { cwd: REPO, env: { ...process.env, LOG_LEVEL: 'warn' } },
  );
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  exited = new Promise((resolve) => child!.once('exit', (code) => resolve(code)));
  await waitFor(
    () => stdout.includes('"event":"listening"') || child!.exitCode !== null,
    40_000,
    'listening',
  );
  expect(child.exitCode).toBeNull();
  info = JSON.parse(fs.readFileSync(path.join(dir, 'demo.json'), 'utf8')) as DemoInfo;
}, 45_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGKILL');
    await exited;
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

async function get(pathAndQuery: string, token: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${info.url}${pathAndQuery}`, { headers: { Authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json() };
}

describe('hvgate demo (child process)', () => {
  it('writes demo.json with url, hosts and three role tokens, and keeps secrets owner-only', async () => {
    expect(info.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(info.hosts.map((h) => h.name)).toEqual(['hv-tokyo-01', 'hv-osaka-02', 'hv-nagoya-03']);
    expect(info.latencyScale).toBe(0);
    for (const f of ['demo.json', 'hmac-secret', 'winrm-password', 'audit-signing-key.pem', 'hvgate.db']) {
      expect({ f, mode: fs.statSync(path.join(dir, f)).mode & 0o777 }).toEqual({ f, mode: 0o600 });
    }
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    // The banner points at the file, never prints a token.
    expect(stdout).toContain(path.join(dir, 'demo.json'));
    expect(stdout).not.toContain(info.tokens.operator);

    const ready = await fetch(`${info.url}/readyz`);
    expect(ready.status).toBe(200);
  });

  it('gives each token exactly its role', async () => {
    const op = await get('/v1/hosts', info.tokens.operator);
    expect(op.status).toBe(200);
    expect((op.body as { hosts: unknown[] }).hosts).toHaveLength(3);

    const rd = await get('/v1/hosts', info.tokens.reader);
    expect((rd.body as { hosts: { name: string }[] }).hosts.map((h) => h.name)).toEqual(['hv-tokyo-01']);
    expect((await get('/v1/hosts/hv-osaka-02/vms', info.tokens.reader)).status).toBe(403);
    expect((await get('/v1/audit?limit=1', info.tokens.reader)).status).toBe(403);

    expect((await get('/v1/audit?limit=1', info.tokens.auditor)).status).toBe(200);
    expect((await get('/v1/hosts', info.tokens.auditor)).status).toBe(403);
    expect((await get('/v1/audit?limit=1', info.tokens.operator)).status).toBe(403);
  });

  const hasCurl = spawnSync('curl', ['--version']).status === 0;
  (hasCurl ? it : it.skip)('runs the printed curl commands as printed', () => {
    const block = stdout.slice(stdout.indexOf('Try it'), stdout.indexOf('Guided tour'));
    const lines = block
      .split('\n')
      .slice(1)
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    expect(lines[0]).toMatch(/^export HVGATE_TOKEN=/);
    const curls = lines.slice(1);
    expect(curls).toHaveLength(3);
    const script = ['set -e', lines[0], ...curls.map((c) => `${c} -o /dev/null -w '%{http_code}\\n'`)].join(
      '\n',
    );
    const run = spawnSync('bash', ['-c', script], { encoding: 'utf8', timeout: 20_000 });
    expect(run.stderr).toBe('');
    // list hosts, get a VM, hot-add a NIC to a Generation 2 VM
    expect(run.stdout.trim().split('\n')).toEqual(['200', '200', '201']);
  });

  it('passes the guided tour, including the offline audit verify', async () => {
    const out: string[] = [];
    const code = await createTourCommand({
      stdout: { write: (s: string) => out.push(s) },
      stderr: { write: (s: string) => out.push(s) },
    }).run(['--state-dir', dir]);
    const text = out.join('');
    expect({ code, tail: text.slice(-400) }).toEqual({
      code: 0,
      tail: expect.stringContaining('Tour complete'),
    });
    expect(text).toContain('409 HVG_ERR_REQUIRES_GEN2');
    expect(text).toContain('202 Accepted, Location: /v1/jobs/');
    expect(text).toMatch(/x 429; Retry-After: \d+s/);
    expect(text).toContain('Verification OK');
    expect(text).not.toContain('FAILED');
  }, 30_000);

  it('fails the tour when the gateway does not behave as described', async () => {
    // A gateway that let the Generation 1 hot-add through must not pass the tour.
    const lying: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      const url = String(input);
      if (init?.method === 'POST' && url.includes('/network-adapters') && res.status === 409) {
        return new Response(JSON.stringify({ status: 'succeeded' }), { status: 201 });
      }
      return res;
    };
    const out: string[] = [];
    const code = await createTourCommand({
      stdout: { write: (s: string) => out.push(s) },
      stderr: { write: (s: string) => out.push(s) },
      fetchImpl: lying,
    }).run(['--state-dir', dir, '--no-offline-verify']);
    const text = out.join('');
    expect(code).toBe(1);
    expect(text).toMatch(/FAILED: NIC on Generation 1: expected 409, got HTTP 201/);
    expect(text).toContain('Tour FAILED: 1 of 13 steps');
  }, 30_000);

  it('stops cleanly on SIGTERM with exit 0 and removes the tokens', async () => {
    child!.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      exited,
      new Promise((r) => (timer = setTimeout(() => r('timeout'), 15_000))),
    ]).finally(() => clearTimeout(timer));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toContain('hvgate demo stopped');
    expect(fs.existsSync(path.join(dir, 'demo.json'))).toBe(false);
    await expect(fetch(`${info.url}/healthz`)).rejects.toThrow();
  }, 20_000);
});
