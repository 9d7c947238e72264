// Gateway figures, each a ratio to a baseline measured in the same run:
//  1. p50 of a short operation through hvgate (JWT check, durable audit, job record, over HTTP)
//     ÷ p50 of winrm-client runPowershell straight to the same zero-latency simulated host (in a
//     process of its own), with the floor of the hvgate side: executor, one commit, one HTTP hop.
//  2. audited operations per second with the gateway and the simulator each in their own process
//     (`hvgate serve`, `hvgate sim`), against the hvgate executor alone driving the same hosts.
//  3. RSS of the gateway process holding 10,000 queued jobs (every slot held by a memory change that
//     never ends), against the same process before the queue: right after the last submission, and
//     after 12 s of holding them (V8's memory reducer has returned the intake's garbage by then).
//   npx tsc -p bench/tsconfig.json && node dist-bench/bench/gateway-bench.js
// Env: BENCH_OPS (part 1 per side, default 300), BENCH_SECONDS (part 2 per side, default 15),
//      BENCH_QUEUED (part 3, default 10000).
import fs from 'node:fs';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { hostGet } from '../src/operations/host-facts';
import { renderScript } from '../src/powershell/script-render';
import { createHostExecutor, type HostExecutor } from '../src/winrm/host-executor';
import {
  SIM_PASSWORD,
  SIM_USER,
  api,
  benchToken,
  cpuSecOfPid,
  fmt,
  machineLine,
  memoryChange,
  memoryTargets,
  quantile,
  runPool,
  spawnGateway,
  spawnSim,
  startInProcessGateway,
  tempDir,
  writeGatewayConfigFile,
} from './bench-kit';

const winrmClient = require('winrm-client') as {
  runPowershell(command: string, host: string, user: string, password: string, port: number): Promise<string>;
};

const OPS = Number(process.env['BENCH_OPS'] ?? 300);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 15);
const QUEUED = Number(process.env['BENCH_QUEUED'] ?? 10_000);
const BLOCKS = 10;
const WARMUP = 10;
const LOAD_HOSTS = 4;
const LIMIT = 4;
const CALLERS = 32;
const RSS_GOAL = 150 * 1024 * 1024;
const SETTLE_MS = 12_000;

const MB = (b: number): string => `${(b / 1024 / 1024).toFixed(1)} MB`;

/** One GET over a keep-alive agent of Node's http module, the client stack winrm-client uses too. */
function httpGet(agent: http.Agent, url: string, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Alternating blocks so every side sees the same background load of the shared machine. The
 * simulated host runs in a process of its own, as a Hyper-V host is a machine of its own: its work
 * for a command does not land on the gateway's event loop, for either side.
 */
async function latencyFigure(): Promise<void> {
  const sim = await spawnSim({ hosts: 1, latencyScale: 0 });
  const host = sim.hosts[0]!;
  const gw = await startInProcessGateway(sim.hosts);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const token = benchToken();
    const url = `${gw.url}/v1/hosts/${host.name}`;
    const viaGateway = async (): Promise<void> => {
      const res = await httpGet(agent, url, token);
      if (res.status !== 200 || !res.body.includes('"status":"succeeded"'))
        throw new Error(`host.get through hvgate: ${res.status} ${res.body.slice(0, 300)}`);
    };
    const direct = async (): Promise<void> => {
      await winrmClient.runPowershell('hostname', '127.0.0.1', SIM_USER, SIM_PASSWORD, host.port);
    };
    // What the hvgate side cannot do without, each measured alone: the same host.get script through
    // the executor (no HTTP in front, no JWT, job or audit), one durable audit commit, and one HTTP
    // exchange with the gateway that does no work (GET /healthz).
    const executor = gw.gateway.services.executors.get(host.name)!;
    const script = renderScript(hostGet.template, {}, { jobId: null, requestId: null });
    const executorOnly = async (): Promise<void> => {
      await executor.runScript(
        { text: script.text, scriptId: script.scriptId },
        { deadline: Date.now() + 30_000 },
      );
    };
    const audit = gw.gateway.services.audit;
    const commitOnly = async (): Promise<void> => {
      await audit.append({
        stage: 'denied',
        operation: 'host.get',
        requestId: 'bench-commit',
        jobId: null,
        actor: { sub: 'svc-bench', iss: null, clientId: null, tokenId: null, scopes: [] },
        source: { ip: '127.0.0.1', userAgent: 'bench' },
        target: { host: host.name, vmId: null, vmName: null },
        outcome: { httpStatus: 403, errorCode: 'HVG_ERR_FORBIDDEN', message: 'bench: commit cost alone' },
        execution: { queueWaitMs: null, durationMs: null, exitCode: null },
      });
    };
    const healthz = async (): Promise<void> => {
      const res = await httpGet(agent, `${gw.url}/healthz`, token);
      if (res.status !== 200) throw new Error(`healthz: ${res.status}`);
    };
    const sides = [
      { name: 'gateway', fn: viaGateway, t: [] as number[] },
      { name: 'direct', fn: direct, t: [] as number[] },
      { name: 'executor', fn: executorOnly, t: [] as number[] },
      { name: 'commit', fn: commitOnly, t: [] as number[] },
      { name: 'http', fn: healthz, t: [] as number[] },
    ];
    for (let i = 0; i < WARMUP; i += 1) for (const side of sides) await side.fn();
    const auditStore = gw.gateway.services.auditStore;
    const per = Math.ceil(OPS / BLOCKS);
    let gatewayEvents = 0;
    for (let b = 0; b < BLOCKS; b += 1) {
      for (const side of sides) {
        const seq0 = (await auditStore.head())?.seq ?? 0;
        for (let i = 0; i < per; i += 1) {
          const t0 = performance.now();
          await side.fn();
          side.t.push(performance.now() - t0);
        }
        if (side.name === 'gateway') gatewayEvents += ((await auditStore.head())?.seq ?? 0) - seq0;
      }
    }
    const p50 = (name: string): number => {
      const t = sides.find((x) => x.name === name)!.t.sort((a, b) => a - b);
      return quantile(t, 0.5);
    };
    const p95 = (name: string): number => quantile(sides.find((x) => x.name === name)!.t, 0.95);
    const [gp50, dp50, xp50, cp50, hp50] = ['gateway', 'direct', 'executor', 'commit', 'http'].map(p50) as [
      number,
      number,
      number,
      number,
      number,
    ];
    const n = sides[0]!.t.length;
    console.log(
      `1. short operation, one caller, ${n} per side in ${BLOCKS} alternating blocks; simulated host in its own process`,
    );
    console.log(
      `   hvgate GET /v1/hosts/{host} (host.get: JWT, job, ${(gatewayEvents / n).toFixed(1)} audit events/op, the outcome in the commit the answer waits for): p50 ${gp50.toFixed(2)} ms, p95 ${p95('gateway').toFixed(2)} ms`,
    );
    console.log(
      `   winrm-client runPowershell('hostname') direct:                     p50 ${dp50.toFixed(2)} ms, p95 ${p95('direct').toFixed(2)} ms`,
    );
    console.log(
      `   ratio p50 hvgate / direct: ${(gp50 / dp50).toFixed(2)}  (goal ≤ 1.0: ${gp50 / dp50 <= 1 ? 'met' : 'NOT met'})`,
    );
    console.log('   what the hvgate side cannot do without, each alone:');
    console.log(
      `     executor alone, the same host.get script (no HTTP, JWT, job or audit): p50 ${xp50.toFixed(2)} ms`,
    );
    console.log(
      `     one durable audit commit (fsync):                                     p50 ${cp50.toFixed(2)} ms`,
    );
    console.log(
      `     one HTTP exchange with the gateway doing no work (GET /healthz):      p50 ${hp50.toFixed(2)} ms`,
    );
    const floor = xp50 + cp50 + hp50;
    console.log(
      `     sum ${floor.toFixed(2)} ms = ${(floor / dp50).toFixed(2)} × direct; the rest of the hvgate p50 (JWT, job rows, audit records, routing): ${(gp50 - floor).toFixed(2)} ms\n`,
    );
  } finally {
    agent.destroy();
    await gw.close();
    await sim.close();
  }
}

async function throughputFigure(): Promise<void> {
  const sim = await spawnSim({ hosts: LOAD_HOSTS, latencyScale: 0 });
  const dir = tempDir('hvgate-bench-serve-');
  const gw = await spawnGateway(
    writeGatewayConfigFile(dir, sim.hosts, { maxConcurrent: LIMIT, maxQueue: 1000 }),
  );
  const executors: HostExecutor[] = sim.hosts.map((h) =>
    createHostExecutor(
      {
        name: h.name,
        address: '127.0.0.1',
        port: h.port,
        transport: 'http',
        auth: 'basic',
        username: SIM_USER,
        password: SIM_PASSWORD,
      },
      { maxShells: LIMIT },
    ),
  );
  try {
    const token = benchToken();
    const names = sim.hosts.map((h) => h.name);
    const script = renderScript(hostGet.template, {}, { jobId: null, requestId: null });

    const statuses: Record<string, number> = {};
    const gatewayOp = async (i: number): Promise<void> => {
      const res = await api(`${gw.url}/v1/hosts/${names[i % names.length]}`, token, 'GET');
      const k = res.status === 200 ? String(res.body['status']) : `HTTP ${res.status}`;
      statuses[k] = (statuses[k] ?? 0) + 1;
    };
    const executorOp = async (i: number): Promise<void> => {
      await executors[i % executors.length]!.runScript(
        { text: script.text, scriptId: script.scriptId },
        // A signal of its own per call: waiting calls then do not pile listeners on the executor's.
        { deadline: Date.now() + 30_000, signal: AbortSignal.timeout(30_000) },
      );
    };
    await runPool(CALLERS, CALLERS, Date.now() + 30_000, gatewayOp);
    await runPool(CALLERS, CALLERS, Date.now() + 30_000, executorOp);
    for (const k of Object.keys(statuses)) delete statuses[k];

    const rate = async (op: (i: number) => Promise<void>) => {
      const t0 = performance.now();
      const done = await runPool(1_000_000, CALLERS, Date.now() + SECONDS * 1000, op);
      return done / ((performance.now() - t0) / 1000);
    };
    const gwCpu0 = cpuSecOfPid(gw.pid);
    const gRate = await rate(gatewayOp);
    const gwCpu = cpuSecOfPid(gw.pid) - gwCpu0;
    const eRate = await rate(executorOp);
    const ok = statuses['succeeded'] ?? 0;
    console.log(
      `2. throughput, ${CALLERS} callers, ${LOAD_HOSTS} zero-latency hosts (hvgate sim, own process), limit ${LIMIT}/host, ${SECONDS} s per side`,
    );
    console.log(
      `   hvgate serve (own process), host.get over HTTP: ${fmt(gRate)} audited ops/s  (outcomes ${JSON.stringify(statuses)}; gateway CPU ${((gwCpu / Math.max(1, ok)) * 1000).toFixed(1)} ms/op)`,
    );
    console.log(`   hvgate executor alone, same script and hosts:  ${fmt(eRate)} ops/s`);
    console.log(`   ratio gateway / executor: ${(gRate / eRate).toFixed(2)}\n`);
  } finally {
    await Promise.all(executors.map((e) => e.close()));
    await gw.close();
    await sim.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function queuedRssFigure(): Promise<void> {
  // memory.set holds its command for 10 minutes, so LIMIT changes per host occupy every slot and
  // shell. The queued jobs are host.get: a VM job first resolves its VM on the host, which needs one
  // of those shells, so it could not even be admitted to the queue (see the report).
  const sim = await spawnSim({
    hosts: LOAD_HOSTS,
    latencyScale: 0,
    serviceTimeMs: { 'memory.set': 600_000 },
  });
  const dir = tempDir('hvgate-bench-rss-');
  const gw = await spawnGateway(
    writeGatewayConfigFile(dir, sim.hosts, {
      maxConcurrent: LIMIT,
      maxQueue: Math.ceil(QUEUED / LOAD_HOSTS),
      queueTimeoutSec: 3600,
    }),
  );
  try {
    const token = benchToken();
    const names = sim.hosts.map((h) => h.name);
    const slots = async () => {
      const res = await api(`${gw.url}/v1/hosts`, token, 'GET');
      const list = (res.body['hosts'] ?? []) as Array<{ slots?: { inUse: number; queued: number } }>;
      return {
        inUse: list.reduce((n, h) => n + (h.slots?.inUse ?? 0), 0),
        queued: list.reduce((n, h) => n + (h.slots?.queued ?? 0), 0),
      };
    };
    const statuses: Record<string, number> = {};
    const samples: string[] = [];
    const count = (res: { status: number; body: Record<string, unknown> }): void => {
      const k = res.status === 202 ? '202' : `${res.status} ${String(res.body['code'] ?? '')}`;
      statuses[k] = (statuses[k] ?? 0) + 1;
      if (res.status !== 202 && statuses[k] === 1) samples.push(JSON.stringify(res.body).slice(0, 300));
    };
    for (const host of names) {
      const ts = await memoryTargets(gw.url, token, host);
      for (let i = 0; i < LIMIT; i += 1) {
        const t = ts[i % ts.length]!;
        count(
          await api(
            `${gw.url}/v1/hosts/${host}/vms/${t.vmId}/memory?wait=0`,
            token,
            'PUT',
            memoryChange(t, i),
          ),
        );
      }
    }
    const until = Date.now() + 60_000;
    while ((await slots()).inUse < LOAD_HOSTS * LIMIT && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 200));
    }
    const idle = gw.rss();
    const t0 = performance.now();
    const submitted = await runPool(QUEUED, CALLERS, Date.now() + 170_000, async (i) => {
      count(await api(`${gw.url}/v1/hosts/${names[i % names.length]}?wait=0`, token, 'GET'));
    });
    const submitSec = (performance.now() - t0) / 1000;
    const now = await slots();
    const full = gw.rss();
    // Right after the last submission the heap still holds the intake's garbage; V8's memory reducer
    // shrinks it once allocation stops. Holding the queue is what the figure is about, so it is also
    // read after SETTLE_MS of idle (the jobs still queued).
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const held = await slots();
    const settled = gw.rss();
    console.log(
      `3. memory with queued jobs: ${LOAD_HOSTS} hosts, ${LIMIT} memory changes each that never end, then ${fmt(submitted)} host.get?wait=0 by ${CALLERS} callers in ${submitSec.toFixed(1)} s (${fmt(submitted / submitSec)}/s)`,
    );
    console.log(`   HTTP outcomes ${JSON.stringify(statuses)}`);
    for (const sample of samples) console.log(`   first ${sample}`);
    console.log(`   gateway reports ${fmt(now.queued)} queued, ${now.inUse} running`);
    console.log(
      `   RSS of the gateway process: before the queue ${MB(idle)}; right after the last submission ${MB(full)}`,
    );
    console.log(
      `   after ${SETTLE_MS / 1000} s holding the queue (${fmt(held.queued)} still queued): ${MB(settled)}; ratio to before: ${(settled / idle).toFixed(2)}; ${((settled - idle) / Math.max(1, held.queued) / 1024).toFixed(1)} KiB per queued job`,
    );
    console.log(
      `   goal ≤ 150 MB: held ${settled <= RSS_GOAL ? 'met' : 'NOT met'}; right after the intake ${full <= RSS_GOAL ? 'met' : 'NOT met'}`,
    );
  } finally {
    await gw.close();
    await sim.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  console.log(`hvgate gateway bench — ${machineLine()}\n`);
  await latencyFigure();
  await throughputFigure();
  await queuedRssFigure();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
