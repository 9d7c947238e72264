// HA burst benchmark: the gateway issue's burst figure (makespan ÷ lower bound, highest
// concurrency any simulated host saw) for ONE replica on SQLite and THREE replicas sharing
// PostgreSQL, in the same run, against the same simulated fleet.
//
//   npx tsc -p bench/tsconfig.json && node dist-bench/bench/ha-bench.js
//        [--jobs 2000] [--hosts 50] [--limit 4] [--service-ms 1000] [--replicas 3] [--quick]
//   PostgreSQL: HVGATE_BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/test); the bench
//   works in its own schema and drops it.
//
// Each job is a memory change (`PUT …/memory`, priority) on a running VM; the simulated host takes
// service-ms to run the change and no time for the VM facts read, so a job takes about service-ms
// on its slot whether it reads the VM or starts from the facts the VM's last change left (one
// replica does that for a change within 2 s of the last; replicas sharing PostgreSQL always
// read), and both sides are held to the same lower bound. The
// lower bound is the gateway issue's: jobs per host ÷ limit × service-ms (10 s for the defaults),
// taking per-VM serialisation into account when a host has fewer VMs than slots. Requests wait
// for their job (?wait=300).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { Pool } from 'pg';
import { generateSigningKey } from '../src/audit/audit-signer';
import { mintDevToken } from '../src/auth/token-minter';
import { resolveConfig, validateConfig, type LoadedConfig } from '../src/config/config-loader';
import { createGateway } from '../src/main';
import { createSimulator, type Simulator } from '../src/simulator/simulator';

const ISSUER = 'https://idp.bench.local/';
const AUDIENCE = 'hvgate-bench';
const HMAC = 'ha-bench-hmac-secret-0123456789abcdef-0123';
const PG_URL = process.env['HVGATE_BENCH_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

interface Args {
  jobs: number;
  hosts: number;
  limit: number;
  serviceMs: number;
  replicas: number;
}

function parseArgs(argv: string[]): Args {
  const num = (flag: string, dflt: number) => {
    const i = argv.indexOf(flag);
    const v = i >= 0 ? Number(argv[i + 1]) : NaN;
    return Number.isFinite(v) && v > 0 ? v : dflt;
  };
  const quick = argv.includes('--quick');
  return {
    jobs: num('--jobs', quick ? 240 : 2000),
    hosts: num('--hosts', quick ? 6 : 50),
    limit: num('--limit', 4),
    serviceMs: num('--service-ms', quick ? 400 : 1000),
    replicas: num('--replicas', 3),
  };
}

async function buildLoaded(
  dir: string,
  sim: { hosts: ReadonlyArray<{ name: string; port: number }> },
  limit: number,
  store: Record<string, unknown>,
): Promise<LoadedConfig> {
  const raw = {
    allowInlineSecrets: true,
    server: { host: '127.0.0.1', port: 0 },
    auth: { algorithms: ['HS256'], issuer: ISSUER, audience: AUDIENCE, hmacSecret: HMAC },
    store,
    audit: { signingKeyFile: path.join(dir, 'audit-signing-key.pem'), checkpointEvery: 1000, stdout: false },
    hosts: sim.hosts.map((h) => ({
      name: h.name,
      address: '127.0.0.1',
      port: h.port,
      transport: 'http',
      username: 'Administrator',
      password: 'hvgate-sim',
      maxConcurrent: limit,
      maxQueue: 1000,
      queueTimeoutSec: 1200,
    })),
  };
  return resolveConfig(validateConfig(raw, 'ha-bench'), { baseDir: dir });
}

// --- replica mode: a child process running one gateway on PostgreSQL ---

async function replicaMain(): Promise<void> {
  const env = process.env;
  const dir = env['HVGATE_BENCH_DIR']!;
  const hosts = JSON.parse(env['HVGATE_BENCH_HOSTS']!) as { name: string; port: number }[];
  const loaded = await buildLoaded(dir, { hosts }, Number(env['HVGATE_BENCH_LIMIT']), {
    kind: 'postgres',
    url: PG_URL,
  });
  const gateway = createGateway(loaded, {
    logger: null,
    auditSink: null,
    healthProbes: false,
    instance: env['HVGATE_BENCH_INSTANCE']!,
    ha: { schema: env['HVGATE_BENCH_SCHEMA']!, pollMs: 100 },
  });
  await gateway.start();
  const { url } = await gateway.listen(0, '127.0.0.1');
  process.stdout.write(`${JSON.stringify({ url })}\n`);
  process.once('SIGTERM', () => {
    gateway.close(5000).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

// --- driver ---

interface JobView {
  id: string;
  status: string;
  host: string;
  vm: { id: string | null } | null;
  startedAt: string | null;
  finishedAt: string | null;
}

interface BurstResult {
  label: string;
  ok: number;
  other: Record<string, number>;
  makespanMs: number;
  lowerBoundMs: number;
  meanJobMs: number;
  maxHostConcurrency: number;
  /** Requests sent again after the connection dropped (same Idempotency-Key). */
  retried: number;
}

/**
 * The makespan no schedule can beat with service time S: per host, ceil(jobs / parallelism) × S,
 * where parallelism is the limit or the number of distinct VMs (changes to one VM are serial),
 * and never less than the busiest VM's job count × S.
 */
function lowerBound(jobs: JobView[], limit: number, serviceMs: number): number {
  const perHost = new Map<string, number>();
  const perVm = new Map<string, number>();
  const vmsOfHost = new Map<string, Set<string>>();
  for (const j of jobs) {
    perHost.set(j.host, (perHost.get(j.host) ?? 0) + 1);
    const vmKey = `${j.host}/${j.vm?.id ?? ''}`;
    perVm.set(vmKey, (perVm.get(vmKey) ?? 0) + 1);
    const set = vmsOfHost.get(j.host) ?? new Set<string>();
    set.add(vmKey);
    vmsOfHost.set(j.host, set);
  }
  let slots = 0;
  for (const [host, n] of perHost) {
    const parallel = Math.min(limit, vmsOfHost.get(host)?.size ?? limit);
    slots = Math.max(slots, Math.ceil(n / parallel));
  }
  for (const n of perVm.values()) slots = Math.max(slots, n);
  return slots * serviceMs;
}

function meanDurationMs(jobs: JobView[]): number {
  const d = jobs
    .filter((j) => j.startedAt && j.finishedAt)
    .map((j) => Date.parse(j.finishedAt!) - Date.parse(j.startedAt!));
  return d.reduce((a, b) => a + b, 0) / Math.max(1, d.length);
}

async function burst(
  label: string,
  urls: string[],
  sim: Simulator,
  vmsByHost: Map<string, string[]>,
  args: Args,
): Promise<BurstResult> {
  for (const h of sim.hosts) sim.host(h.name).resetCounters();
  const token = mintDevToken({
    sub: 'bench',
    scopes: ['vm:read', 'vm:hotplug'],
    hosts: ['*'],
    issuer: ISSUER,
    audience: AUDIENCE,
    ttlSec: 3600,
    secret: Buffer.from(HMAC),
  });
  const hosts = sim.hosts.map((h) => h.name);
  const t0 = Date.now();
  let retried = 0;
  const results = await Promise.all(
    Array.from({ length: args.jobs }, async (_, i) => {
      const host = hosts[i % hosts.length]!;
      const vms = vmsByHost.get(host)!;
      const vm = vms[Math.floor(i / hosts.length) % vms.length]!;
      // As a careful caller would: an Idempotency-Key, and the same request again when the
      // connection drops (2,000 sockets at once on a busy machine see the odd ECONNRESET); the
      // gateway answers a repeat with the original job, so nothing runs twice.
      const key = `ha-bench-${t0}-${i}`;
      for (let attempt = 0; ; attempt++) {
        try {
          const res = await fetch(`${urls[i % urls.length]}/v1/hosts/${host}/vms/${vm}/memory?wait=300`, {
            method: 'PUT',
            headers: {
              authorization: `Bearer ${token}`,
              'content-type': 'application/json',
              'idempotency-key': key,
            },
            body: JSON.stringify({ priority: 1 + (i % 99) }),
          });
          return { status: res.status, body: (await res.json()) as JobView };
        } catch (err) {
          if (attempt >= 2) throw err;
          retried += 1;
        }
      }
    }),
  );
  const done = results.filter((r) => r.status === 200 && r.body.status === 'succeeded').map((r) => r.body);
  const other: Record<string, number> = {};
  for (const r of results) {
    if (r.status === 200 && r.body.status === 'succeeded') continue;
    const k = `${r.status}:${(r.body as unknown as { code?: string }).code ?? r.body.status}`;
    other[k] = (other[k] ?? 0) + 1;
  }
  if (done.length === 0) throw new Error(`${label}: no job succeeded (${JSON.stringify(other)})`);
  const end = Math.max(...done.map((j) => Date.parse(j.finishedAt!)));
  return {
    label,
    ok: done.length,
    other,
    retried,
    makespanMs: end - t0,
    lowerBoundMs: lowerBound(done, args.limit, args.serviceMs),
    meanJobMs: meanDurationMs(done),
    maxHostConcurrency: Math.max(...hosts.map((h) => sim.host(h).counters().maxCommandsRunning)),
  };
}

async function runningVms(url: string, hosts: string[]): Promise<Map<string, string[]>> {
  const token = mintDevToken({
    sub: 'bench',
    scopes: ['vm:read'],
    hosts: ['*'],
    issuer: ISSUER,
    audience: AUDIENCE,
    ttlSec: 600,
    secret: Buffer.from(HMAC),
  });
  const out = new Map<string, string[]>();
  for (const host of hosts) {
    const res = await fetch(`${url}/v1/hosts/${host}/vms?wait=60`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const body = (await res.json()) as { result?: { id: string; state: string }[] };
    const list = (body.result ?? []).filter((v) => v.state === 'Running').map((v) => v.id);
    if (list.length === 0) throw new Error(`no running VM on ${host}`);
    out.set(host, list);
  }
  return out;
}

function startReplica(i: number, env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [__filename, '--replica'], {
    env: { ...env, HVGATE_BENCH_INSTANCE: `bench-replica-${i}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: child.stdout! });
    rl.once('line', (line) => {
      rl.close();
      resolve({ child, url: (JSON.parse(line) as { url: string }).url });
    });
    child.once('exit', (code) => reject(new Error(`replica ${i} exited ${code}: ${stderr.slice(0, 2000)}`)));
  });
}

function report(r: BurstResult, args: Args): string {
  const ratio = r.makespanMs / r.lowerBoundMs;
  const bad = Object.entries(r.other)
    .map(([k, v]) => `${k}×${v}`)
    .join(' ');
  return (
    `${r.label.padEnd(28)} ${String(r.ok).padStart(5)}/${args.jobs} ok  makespan ${(r.makespanMs / 1000).toFixed(2)} s` +
    `  lower bound ${(r.lowerBoundMs / 1000).toFixed(2)} s  ratio ${ratio.toFixed(3)}` +
    `  max concurrency/host ${r.maxHostConcurrency} (limit ${args.limit})  mean job ${Math.round(r.meanJobMs)} ms` +
    (bad ? `  other: ${bad}` : '') +
    (r.retried > 0 ? `  resent after a dropped connection: ${r.retried}` : '')
  );
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hvgate-ha-bench-'));
  generateSigningKey(dir);
  const schema = `hvgate_bench_${process.pid}`;
  // The host's time goes to the change: the facts read, which one replica may skip, costs none.
  const sim = await createSimulator({
    hosts: args.hosts,
    latencyScale: 0,
    serviceTimeMs: { 'memory.set': args.serviceMs },
    controlPort: false,
  });
  const children: ChildProcess[] = [];
  const admin = new Pool({ connectionString: PG_URL, max: 1 });
  try {
    console.log(
      `HA burst: ${args.jobs} memory changes over ${args.hosts} hosts, limit ${args.limit}, ~${args.serviceMs} ms per job`,
    );

    // One replica, embedded SQLite.
    const single = createGateway(
      await buildLoaded(dir, sim, args.limit, { kind: 'sqlite', path: path.join(dir, 'single.db') }),
      { logger: null, auditSink: null, healthProbes: false, instance: 'bench-single' },
    );
    await single.start();
    const { url } = await single.listen(0, '127.0.0.1');
    const vms = await runningVms(
      url,
      sim.hosts.map((h) => h.name),
    );
    const a = await burst('1 replica, SQLite', [url], sim, vms, args);
    console.log(report(a, args));
    await single.close(5000);

    // Three replicas, one PostgreSQL schema.
    const env = {
      ...process.env,
      HVGATE_BENCH_DIR: dir,
      HVGATE_BENCH_HOSTS: JSON.stringify(sim.hosts),
      HVGATE_BENCH_LIMIT: String(args.limit),
      HVGATE_BENCH_SCHEMA: schema,
    };
    const urls: string[] = [];
    for (let i = 0; i < args.replicas; i++) {
      const r = await startReplica(i, env);
      children.push(r.child);
      urls.push(r.url);
    }
    const b = await burst(`${args.replicas} replicas, PostgreSQL`, urls, sim, vms, args);
    console.log(report(b, args));
  } finally {
    await Promise.all(
      children.map((c) => {
        if (c.exitCode !== null || c.signalCode !== null) return null;
        const exited = new Promise((r) => c.once('exit', r));
        c.kill('SIGTERM');
        return exited;
      }),
    );
    await sim.close();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await admin.end();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const entry = process.argv.includes('--replica') ? replicaMain() : main();
entry.catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
