// Burst: 2,000 memory changes over 50 simulated hosts whose memory.set takes a fixed 1 s (the
// simulator's service time; everything else zero latency), per-host limit 4. Makespan ÷ the lower
// bound (2,000 / (50 × 4) × 1 s = 10 s) and the highest concurrency any host saw (simulator
// counters). Same run, same hosts and the same order of changes: a naive pool of 20 workers calling
// pywinrm directly (bench/naive-pywinrm-pool.py).
//   npx tsc -p bench/tsconfig.json && node dist-bench/bench/burst-bench.js
// Env: BENCH_OPS (default 2000), BENCH_NAIVE_OPS (default = BENCH_OPS, 0 = skip the naive pool),
//      BENCH_WARMUP_OPS (default 200: one change per slot before the measured run; 0 = none).
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { encodeParamsBlob } from '../src/powershell/script-render';
import {
  SIM_PASSWORD,
  SIM_USER,
  benchToken,
  fmt,
  machineLine,
  memoryChange,
  memoryTargets,
  spawnSim,
  startInProcessGateway,
  type InProcessGateway,
  type MemoryTarget,
  type SimChild,
} from './bench-kit';

const HOSTS = 50;
const LIMIT = 4;
const SERVICE_MS = 1000;
const OPS = Number(process.env['BENCH_OPS'] ?? 2000);
const NAIVE_OPS = Number(process.env['BENCH_NAIVE_OPS'] ?? OPS);
const WARMUP_OPS = Number(process.env['BENCH_WARMUP_OPS'] ?? HOSTS * LIMIT);
const NAIVE_WORKERS = 20;
// Below the listen backlog (511) so every caller gets a connection at once.
const SUBMITTERS = 256;
const RUN_TIMEOUT_MS = 240_000;
const PYTHON = '/usr/bin/python3';

interface Change {
  target: MemoryTarget;
  body: Record<string, number>;
}

/** Host after host in turn (change i goes to host i mod 50), cycling through each host's VMs. */
function planChanges(
  targets: Map<string, MemoryTarget[]>,
  hosts: string[],
  total: number,
  firstStep = 0,
): Change[] {
  const seen = new Map<MemoryTarget, number>();
  const out: Change[] = [];
  for (let i = 0; i < total; i += 1) {
    const host = hosts[i % hosts.length]!;
    const ts = targets.get(host) ?? [];
    if (ts.length === 0) throw new Error(`no VM on ${host} accepts a memory change`);
    const target = ts[Math.floor(i / hosts.length) % ts.length]!;
    const k = seen.get(target) ?? firstStep;
    seen.set(target, k + 1);
    out.push({ target, body: memoryChange(target, k) });
  }
  return out;
}

async function maxHostConcurrency(sim: SimChild): Promise<{ max: number; commands: number }> {
  let max = 0;
  let commands = 0;
  for (const h of sim.hosts) {
    const c = await sim.counters(h.name);
    max = Math.max(max, c.maxCommandsRunning);
    commands += c.commandsStarted;
  }
  return { max, commands };
}

async function resetAll(sim: SimChild): Promise<void> {
  await Promise.all(sim.hosts.map((h) => sim.resetCounters(h.name)));
}

/**
 * Submits every change with ?wait=0 from SUBMITTERS concurrent callers (bench/burst-driver.ts, a
 * process of its own like the naive pool), then waits until the gateway has no queued or running
 * job. Makespan: first submission to the last job's finish.
 */
async function gatewayBurst(gw: InProcessGateway, token: string, changes: Change[]) {
  const store = gw.gateway.services.jobStore;
  const input = JSON.stringify({
    base: gw.url,
    token,
    concurrency: SUBMITTERS,
    timeoutMs: 120_000,
    requests: changes.map((c) => ({
      path: `/v1/hosts/${c.target.host}/vms/${c.target.vmId}/memory?wait=0`,
      body: c.body,
    })),
  });
  const cpu0 = process.cpuUsage();
  const driven = await runJsonChild<{
    ids: string[];
    outcomes: Record<string, number>;
    submittedMs: number;
    t0: number;
    cpuSec: number;
  }>('burst driver', process.execPath, [path.resolve(__dirname, 'burst-driver.js')], input, RUN_TIMEOUT_MS);
  const { ids, outcomes, t0 } = driven;
  const bump = (k: string): void => {
    outcomes[k] = (outcomes[k] ?? 0) + 1;
  };
  // The in-memory count: listing the store every 100 ms would cost the gateway more than it measures.
  const jobs = gw.gateway.services.jobs;
  const busy = (): boolean => {
    const n = jobs.activeCount();
    return n.queued + n.running > 0;
  };
  const deadline = t0 + RUN_TIMEOUT_MS;
  while (Date.now() < deadline && busy()) await new Promise((r) => setTimeout(r, 20));
  let last = t0;
  const firstError = new Map<string, string>();
  for (const id of ids) {
    const job = await store.get(id);
    bump(job?.error ? `${job.state} ${job.error.code}` : (job?.state ?? 'missing'));
    if (job?.error && !firstError.has(job.error.code)) firstError.set(job.error.code, job.error.detail);
    if (job?.finishedAt) last = Math.max(last, job.finishedAt);
  }
  const cpu = process.cpuUsage(cpu0);
  return {
    makespanMs: last - t0,
    submittedMs: driven.submittedMs,
    callersCpuSec: driven.cpuSec,
    outcomes,
    firstError,
    cpuSec: (cpu.user + cpu.system) / 1e6,
  };
}

function naiveScript(c: Change): string {
  const blob = encodeParamsBlob({ vmId: c.target.vmId, ...c.body }, { jobId: null, requestId: null });
  const flag = c.target.field === 'startupBytes' ? '-StartupBytes' : '-Priority';
  return [
    '# hvgate-op: memory.set@1',
    `$p = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('${blob}')) | ConvertFrom-Json`,
    `Set-VMMemory -VM (Get-VM -Id $p.params.vmId) ${flag} $p.params.${c.target.field}`,
  ].join('\n');
}

function naivePool(sim: SimChild, changes: Change[]) {
  const port = new Map(sim.hosts.map((h) => [h.name, h.port]));
  const input = JSON.stringify({
    workers: NAIVE_WORKERS,
    user: SIM_USER,
    password: SIM_PASSWORD,
    timeoutSec: RUN_TIMEOUT_MS / 1000,
    jobs: changes.map((c) => ({
      url: `http://127.0.0.1:${port.get(c.target.host)}/wsman`,
      script: naiveScript(c),
    })),
  });
  const env: NodeJS.ProcessEnv = { ...process.env, NO_PROXY: '127.0.0.1', no_proxy: '127.0.0.1' };
  for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'ALL_PROXY', 'all_proxy'])
    delete env[k];
  return runJsonChild<{ makespanSec: number; ok: number; failed: number; skipped: number; errors: unknown }>(
    'naive pool',
    PYTHON,
    [path.resolve(__dirname, '../../bench/naive-pywinrm-pool.py')],
    input,
    RUN_TIMEOUT_MS + 30_000,
    env,
  );
}

/** Runs a child that reads one JSON document on stdin and ends its output with one JSON line. */
function runJsonChild<T>(
  label: string,
  command: string,
  args: string[],
  input: string,
  timeoutMs: number,
  env: NodeJS.ProcessEnv = process.env,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    // A child that exits before reading its input (python3-winrm missing, say) closes the pipe:
    // its exit code and stderr below say why, so the write error itself is not the news.
    child.stdin.on('error', () => undefined);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`${label} exited ${code}: ${err}`));
      resolve(JSON.parse(out.trim().split('\n').pop()!) as T);
    });
    child.stdin.end(input);
  });
}

async function main(): Promise<void> {
  const bound = (Math.ceil(OPS / HOSTS / LIMIT) * SERVICE_MS) / 1000;
  console.log(`hvgate burst bench — ${machineLine()}`);
  console.log(
    `${fmt(OPS)} memory changes over ${HOSTS} simulated hosts (own process), memory.set service time ${SERVICE_MS} ms, other latency 0, limit ${LIMIT}/host`,
  );
  console.log(
    `lower bound: ${OPS} / (${HOSTS} × ${LIMIT}) × ${SERVICE_MS / 1000} s = ${bound.toFixed(1)} s\n`,
  );
  const sim = await spawnSim({ hosts: HOSTS, latencyScale: 0, serviceTimeMs: { 'memory.set': SERVICE_MS } });
  const gw = await startInProcessGateway(sim.hosts, { maxConcurrent: LIMIT, maxQueue: 100 });
  try {
    const token = benchToken();
    const targets = new Map<string, MemoryTarget[]>();
    for (const h of sim.hosts) targets.set(h.name, await memoryTargets(gw.url, token, h.name));
    const hostNames = sim.hosts.map((h) => h.name);
    const changes = planChanges(targets, hostNames, OPS);
    // Warm-up, as a gateway in service is: one round of changes (one per slot) compiles the change
    // path and opens every host's shells. Its values follow on from the measured run's, so every
    // change is still valid.
    if (WARMUP_OPS > 0) {
      const warm = await gatewayBurst(gw, token, planChanges(targets, hostNames, WARMUP_OPS, 500));
      if ((warm.outcomes['succeeded'] ?? 0) !== WARMUP_OPS)
        throw new Error(`warm-up: ${JSON.stringify(warm.outcomes)}`);
    }

    await resetAll(sim);
    const simCpu0 = sim.cpuSec();
    const g = await gatewayBurst(gw, token, changes);
    const gc = await maxHostConcurrency(sim);
    console.log(
      `1. hvgate (JWT, durable audit, limit ${LIMIT}/host, queues, per-VM order): ${SUBMITTERS} callers submit with ?wait=0, after a warm-up of ${WARMUP_OPS} changes`,
    );
    console.log(
      `   all ${fmt(OPS)} accepted after ${(g.submittedMs / 1000).toFixed(2)} s; job outcomes: ${JSON.stringify(g.outcomes)}`,
    );
    for (const [code, detail] of g.firstError) console.log(`   first ${code}: ${detail.slice(0, 200)}`);
    const simCpu = sim.cpuSec() - simCpu0;
    const allCpu = g.cpuSec + simCpu + g.callersCpuSec;
    const cores = os.cpus().length;
    console.log(
      `   CPU of the gateway process: ${g.cpuSec.toFixed(1)} s (${((g.cpuSec / OPS) * 1000).toFixed(1)} ms per change); simulator process: ${simCpu.toFixed(1)} s; callers: ${g.callersCpuSec.toFixed(1)} s`,
    );
    // The simulated fleet and the callers share this machine's cores with the gateway; how busy the
    // three kept them tells whether the run was bound by the machine rather than the schedule.
    console.log(
      `   all three: ${allCpu.toFixed(1)} s of CPU = ${((100 * allCpu) / (cores * (g.makespanMs / 1000))).toFixed(0)}% of ${cores} cores over the makespan`,
    );
    console.log(
      `   makespan ${(g.makespanMs / 1000).toFixed(2)} s; ratio makespan / lower bound: ${(g.makespanMs / 1000 / bound).toFixed(3)}  (goal ≤ 1.10: ${g.makespanMs / 1000 / bound <= 1.1 ? 'met' : 'NOT met'})`,
    );
    console.log(
      `   highest concurrency any host saw: ${gc.max}  (goal never above ${LIMIT}: ${gc.max <= LIMIT ? 'met' : 'NOT met'}); ${fmt(gc.commands)} WinRM commands (facts reads + changes)\n`,
    );

    if (NAIVE_OPS > 0) {
      const naive = planChanges(targets, hostNames, NAIVE_OPS, 100);
      await resetAll(sim);
      const n = await naivePool(sim, naive);
      const nc = await maxHostConcurrency(sim);
      const naiveBound = (Math.ceil(NAIVE_OPS / HOSTS / LIMIT) * SERVICE_MS) / 1000;
      console.log(
        `2. naive pool: ${NAIVE_WORKERS} threads calling pywinrm run_ps directly, same order of changes`,
      );
      console.log(
        `   ok ${n.ok}, failed ${n.failed}, skipped ${n.skipped} ${n.failed ? JSON.stringify(n.errors) : ''}`,
      );
      console.log(
        `   makespan ${n.makespanSec.toFixed(2)} s; ratio makespan / lower bound: ${(n.makespanSec / naiveBound).toFixed(3)}`,
      );
      console.log(`   highest concurrency any host saw: ${nc.max}\n`);
      console.log(
        `ratio naive makespan / hvgate makespan: ${(n.makespanSec / (g.makespanMs / 1000)).toFixed(2)}x (${NAIVE_OPS} vs ${OPS} changes)`,
      );
    }
  } finally {
    await gw.close();
    await sim.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
