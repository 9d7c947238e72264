// Crash and restart: a gateway child process is SIGKILLed with jobs queued and running. After a
// restart on the same SQLite file, queued jobs complete, running ones are `interrupted` with an audit
// event, every change the simulator applied has a durable `started` event, and the chain verifies.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import Database from 'better-sqlite3';
import request from 'supertest';
import { mintDevToken } from '../../../src/auth/token-minter';
import { createSimulator, type Simulator } from '../../../src/simulator/simulator';
import { ALL_SCOPES, AUDIENCE, HMAC_SECRET, ISSUER } from './gateway-kit';

const REGISTER = path.resolve(__dirname, 'swc-register.js');
const CHILD = path.resolve(__dirname, 'gateway-child.ts');
const HOST = 'hv-tokyo-01';
const VMS = ['web-01', 'dc-01', '経理システム'];

// Two child processes compile the sources on start; generous on a shared 2-core machine.
jest.setTimeout(90_000);

let sim: Simulator;
let dir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  sim = await createSimulator({ latencyScale: 0.2, controlPort: false });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hvgate-restart-'));
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(
    children.map((c) =>
      c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : null,
    ),
  );
  await sim?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function startChild(): Promise<{
  child: ChildProcess;
  url: string;
  interrupted: number;
  resumed: number;
}> {
  const child = spawn(process.execPath, ['-r', REGISTER, CHILD], {
    env: { ...process.env, HVGATE_TEST_DIR: dir, HVGATE_TEST_HOSTS: JSON.stringify(sim.hosts) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const rl = readline.createInterface({ input: child.stdout! });
  const first = await new Promise<string>((resolve, reject) => {
    rl.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`gateway child exited ${code}: ${stderr}`)));
  });
  rl.close();
  return { child, ...(JSON.parse(first) as { url: string; interrupted: number; resumed: number }) };
}

const token = mintDevToken({
  sub: 'restart-test',
  scopes: ALL_SCOPES,
  hosts: ['*'],
  issuer: ISSUER,
  audience: AUDIENCE,
  ttlSec: 3600,
  secret: Buffer.from(HMAC_SECRET),
});

test('SIGKILL with queued and running jobs: queued resume, running become interrupted, the chain verifies', async () => {
  const first = await startChild();
  const api = request(first.url);
  const ids: string[] = [];
  for (let i = 0; i < 9; i++) {
    const vm = VMS[i % VMS.length]!;
    const res = await api
      .put(`/v1/hosts/${HOST}/vms/${encodeURIComponent(vm)}/memory?wait=0`)
      .set('Authorization', `Bearer ${token}`)
      .send({ priority: 20 + i });
    expect([200, 202]).toContain(res.status);
    ids.push(res.body.id as string);
  }
  // Kill as soon as something runs on the host.
  for (let i = 0; ; i++) {
    const res = await api.get('/v1/jobs?status=running').set('Authorization', `Bearer ${token}`);
    if (res.body.jobs.length > 0) break;
    if (i > 200) throw new Error('no job ever ran');
    await new Promise((r) => setTimeout(r, 10));
  }
  first.child.kill('SIGKILL');
  await new Promise((r) => first.child.once('exit', r));

  const db = new Database(path.join(dir, 'hvgate.db'), { readonly: true });
  const before = new Map(
    (db.prepare('SELECT id, state FROM jobs').all() as { id: string; state: string }[]).map((r) => [
      r.id,
      r.state,
    ]),
  );
  db.close();
  const wasRunning = ids.filter((id) => before.get(id) === 'running');
  const wasQueued = ids.filter((id) => before.get(id) === 'queued');
  expect(wasRunning.length).toBeGreaterThanOrEqual(1);
  expect(wasQueued.length).toBeGreaterThanOrEqual(1);

  const second = await startChild();
  expect(second.interrupted).toBe(wasRunning.length);
  expect(second.resumed).toBe(wasQueued.length);
  const api2 = request(second.url);
  const final = new Map<string, string>();
  for (const id of ids) {
    for (let i = 0; ; i++) {
      const res = await api2.get(`/v1/jobs/${id}`).set('Authorization', `Bearer ${token}`);
      if (!['queued', 'running'].includes(res.body.status as string)) {
        final.set(id, res.body.status as string);
        break;
      }
      if (i > 600) throw new Error(`job ${id} never finished after the restart`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  for (const id of wasRunning) expect(final.get(id)).toBe('interrupted');
  for (const id of wasQueued) expect(final.get(id)).toBe('succeeded');

  const audit = async (q: string) =>
    (await api2.get(`/v1/audit?${q}`).set('Authorization', `Bearer ${token}`).expect(200)).body.events as {
      stage: string;
      jobId: string;
    }[];
  for (const id of wasRunning) {
    const ev = await audit(`jobId=${id}&stage=interrupted`);
    expect(ev).toHaveLength(1);
  }
  // Every change the host applied was announced durably before it was sent.
  const applied = sim
    .host(HOST)
    .counters()
    .operationsApplied.filter((r) => r.operation === 'memory.set')
    .map((r) => (r.meta as { jobId?: string } | null)?.jobId)
    .filter((j): j is string => typeof j === 'string' && ids.includes(j));
  expect(applied.length).toBeGreaterThanOrEqual(wasQueued.length);
  for (const jobId of applied) expect(await audit(`jobId=${jobId}&stage=started`)).toHaveLength(1);

  const verify = await api2.get('/v1/audit/verify').set('Authorization', `Bearer ${token}`).expect(200);
  expect(verify.body).toMatchObject({ ok: true, problems: [] });

  second.child.kill('SIGTERM');
  await new Promise((r) => second.child.once('exit', r));
});
