// Shared pieces of the gateway benchmarks: a gateway config for simulated hosts, dev tokens,
// simulators and gateways in child processes (so a figure measures one process, not the bench
// driver), bounded worker pools and small statistics. Mirrors test/component/gateway/gateway-kit.ts
// without importing from test/.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { generateSigningKey } from '../src/audit/audit-signer';
import type { Scope } from '../src/auth/principal';
import { mintDevToken } from '../src/auth/token-minter';
import { resolveConfig, validateConfig, type LoadedConfig } from '../src/config/config-loader';
import { createGateway, type Gateway, type GatewayOverrides } from '../src/main';

export const SIM_USER = 'Administrator';
export const SIM_PASSWORD = 'hvgate-sim';
export const ISSUER = 'https://idp.bench.invalid/';
export const AUDIENCE = 'hvgate-bench';
const HMAC_SECRET = 'hvgate-bench-hmac-secret-0123456789abcdef';
const ALL_SCOPES: Scope[] = ['vm:read', 'vm:hotplug', 'vm:storage', 'vm:checkpoint', 'audit:read'];

/** dist-bench/src/cli.js next to this file's compiled copy (dist-bench/bench/bench-kit.js). */
export const CLI_JS = path.resolve(__dirname, '../src/cli.js');
const SIM_CHILD_JS = path.resolve(__dirname, 'bench-sim.js');

export interface BenchHost {
  name: string;
  port: number;
}

export interface HostLimits {
  maxConcurrent?: number;
  maxQueue?: number;
  queueTimeoutSec?: number;
}

// ---- statistics and output ----

export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[idx] as number;
}

export const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

export function machineLine(): string {
  const load = os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  return `node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), load average ${load} (shared machine)`;
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

// ---- gateway configuration ----

function rawConfig(dir: string, hosts: readonly BenchHost[], limits: HostLimits): Record<string, unknown> {
  const keyFile = path.join(dir, 'audit-signing-key.pem');
  if (!fs.existsSync(keyFile)) generateSigningKey(dir);
  return {
    allowInlineSecrets: true,
    server: { host: '127.0.0.1', port: 0 },
    auth: { algorithms: ['HS256'], issuer: ISSUER, audience: AUDIENCE, hmacSecret: HMAC_SECRET },
    store: { kind: 'sqlite', path: path.join(dir, 'hvgate.db') },
    audit: { signingKeyFile: keyFile, checkpointEvery: 1000, stdout: false },
    hosts: hosts.map((h) => ({
      name: h.name,
      address: '127.0.0.1',
      port: h.port,
      transport: 'http',
      username: SIM_USER,
      password: SIM_PASSWORD,
      maxConcurrent: limits.maxConcurrent ?? 4,
      maxQueue: limits.maxQueue ?? 100,
      queueTimeoutSec: limits.queueTimeoutSec ?? 300,
    })),
  };
}

export function buildGatewayConfig(
  dir: string,
  hosts: readonly BenchHost[],
  limits: HostLimits = {},
): Promise<LoadedConfig> {
  return resolveConfig(validateConfig(rawConfig(dir, hosts, limits), 'bench'), { baseDir: dir });
}

/** Writes the config (JSON is YAML) for `hvgate serve --config`; returns its path. */
export function writeGatewayConfigFile(
  dir: string,
  hosts: readonly BenchHost[],
  limits: HostLimits = {},
): string {
  const file = path.join(dir, 'hvgate.yaml');
  fs.writeFileSync(file, JSON.stringify(rawConfig(dir, hosts, limits), null, 2), { mode: 0o600 });
  return file;
}

export function benchToken(sub = 'svc-bench'): string {
  return mintDevToken({
    sub,
    scopes: ALL_SCOPES,
    hosts: ['*'],
    issuer: ISSUER,
    audience: AUDIENCE,
    ttlSec: 3600,
    secret: Buffer.from(HMAC_SECRET),
  });
}

export interface InProcessGateway {
  gateway: Gateway;
  url: string;
  close(): Promise<void>;
}

/** A silent gateway in this process on a temp SQLite file (durable audit on disk), on 127.0.0.1:0. */
export async function startInProcessGateway(
  hosts: readonly BenchHost[],
  limits: HostLimits = {},
  overrides: GatewayOverrides = {},
): Promise<InProcessGateway> {
  const dir = tempDir('hvgate-bench-gw-');
  const gateway = createGateway(await buildGatewayConfig(dir, hosts, limits), {
    logger: null,
    auditSink: null,
    healthProbes: false,
    instance: 'bench-gw',
    ...overrides,
  });
  try {
    await gateway.start();
    const { url } = await gateway.listen(0, '127.0.0.1');
    return {
      gateway,
      url,
      async close() {
        await gateway.close(1000);
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await gateway.close(0);
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

// ---- child processes ----

const children = new Set<ChildProcess>();
const killChildren = (): void => {
  for (const c of children) c.kill('SIGKILL');
};
process.once('exit', killChildren);
// A bench stopped from outside (run-all's time limit, Ctrl+C) takes its children with it.
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => {
    killChildren();
    process.exit(130);
  });
}

/** Spawns `node <args>` and resolves with the child once `ready` accepts enough stdout lines. */
function spawnNode<T>(
  args: string[],
  ready: (lines: string[]) => T | undefined,
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<{ child: ChildProcess; value: T; stderr: () => string }> {
  const child = spawn(process.execPath, args, {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...opts.env },
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-4000);
  });
  return new Promise((resolve, reject) => {
    const lines: string[] = [];
    const rl = readline.createInterface({ input: child.stdout! });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child ${args.join(' ')} not ready in time: ${err}`));
    }, opts.timeoutMs ?? 30_000);
    const onExit = (code: number | null): void => {
      clearTimeout(timer);
      reject(new Error(`child ${args.join(' ')} exited (${code}) before it was ready: ${err}`));
    };
    child.once('exit', onExit);
    rl.on('line', (line) => {
      lines.push(line);
      const value = ready(lines);
      if (value === undefined) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      rl.removeAllListeners('line');
      // Keep draining stdout so a chatty child never blocks on a full pipe.
      rl.on('line', () => undefined);
      resolve({ child, value, stderr: () => err });
    });
  });
}

async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export interface SimChild {
  pid: number;
  hosts: BenchHost[];
  controlUrl: string;
  counters(host: string): Promise<{ maxCommandsRunning: number; commandsStarted: number }>;
  resetCounters(host: string): Promise<void>;
  /** CPU seconds (user + system) the simulator process has used so far. */
  cpuSec(): number;
  close(): Promise<void>;
}

/**
 * A simulator in its own process: `hvgate sim` (dist-bench/src/cli.js) when no service time is
 * asked for, else bench-sim.js, which also takes the simulator's per-operation service time.
 */
export async function spawnSim(opts: {
  hosts: number;
  latencyScale: number;
  serviceTimeMs?: Record<string, number>;
}): Promise<SimChild> {
  const args = opts.serviceTimeMs
    ? [SIM_CHILD_JS, JSON.stringify(opts)]
    : [CLI_JS, 'sim', '--hosts', String(opts.hosts), '--latency-scale', String(opts.latencyScale)];
  const { child, value } = await spawnNode(args, (lines) => {
    const last = JSON.parse(lines[lines.length - 1]!) as { control?: string };
    if (last.control === undefined) return undefined;
    const hosts = lines.slice(0, -1).map((l) => {
      const h = JSON.parse(l) as { name: string; url: string };
      return { name: h.name, port: Number(new URL(h.url).port) };
    });
    return { hosts, controlUrl: last.control };
  });
  const control = async (p: string, method = 'GET'): Promise<unknown> => {
    const res = await fetch(`${value.controlUrl}${p}`, { method });
    if (!res.ok) throw new Error(`simulator control ${method} ${p}: HTTP ${res.status}`);
    return res.status === 204 ? undefined : res.json();
  };
  return {
    pid: child.pid!,
    hosts: value.hosts,
    controlUrl: value.controlUrl,
    counters: async (host) =>
      (await control(`/hosts/${host}/counters`)) as { maxCommandsRunning: number; commandsStarted: number },
    resetCounters: async (host) => {
      await control(`/hosts/${host}/counters/reset`, 'POST');
    },
    cpuSec: () => cpuSecOfPid(child.pid!),
    close: () => stopChild(child),
  };
}

export interface GatewayChild {
  pid: number;
  url: string;
  /** Resident set size of the gateway process, bytes (from /proc, as process.memoryUsage().rss). */
  rss(): number;
  close(): Promise<void>;
}

/** `hvgate serve --config F` in its own process; quiet (LOG_LEVEL=error). */
export async function spawnGateway(configFile: string): Promise<GatewayChild> {
  const { child, value } = await spawnNode(
    [CLI_JS, 'serve', '--config', configFile, '--grace-sec', '1'],
    (lines) => {
      for (const l of lines) {
        try {
          const o = JSON.parse(l) as { event?: string; url?: string };
          if (o.event === 'listening' && o.url) return o.url;
        } catch {
          // pino lines and anything else are not the readiness line.
        }
      }
      return undefined;
    },
    { env: { LOG_LEVEL: 'error' } },
  );
  return {
    pid: child.pid!,
    url: value,
    rss: () => rssOfPid(child.pid!),
    close: () => stopChild(child, 10_000),
  };
}

/** utime + stime of a process from /proc/<pid>/stat, in seconds (USER_HZ is 100 on Linux). */
export function cpuSecOfPid(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name, which may itself contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export function rssOfPid(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

// ---- load ----

/**
 * Runs `worker(i)` for i = 0..count-1 with `concurrency` in flight; stops taking new work at
 * `deadline` (epoch ms). Resolves with how many were started.
 */
export async function runPool(
  count: number,
  concurrency: number,
  deadline: number,
  worker: (i: number) => Promise<void>,
): Promise<number> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count && Date.now() < deadline) await worker(next++);
    }),
  );
  return next;
}

export interface ApiResponse {
  status: number;
  body: Record<string, unknown>;
}

/**
 * JSON request to the gateway with a bearer token; never throws for HTTP status codes. A reused
 * keep-alive socket the server has just closed fails with ECONNRESET before any answer, so the
 * request is sent once more; mutating requests carry an Idempotency-Key so that never runs twice.
 */
export async function api(
  url: string,
  token: string,
  method: string,
  body?: unknown,
  signal?: AbortSignal,
): Promise<ApiResponse> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    headers['idempotency-key'] = randomUUID();
  }
  const init = {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    ...(signal ? { signal } : {}),
  };
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (err) {
    const code = (err as { cause?: { code?: string } }).cause?.code;
    if (code !== 'ECONNRESET' && code !== 'EPIPE' && code !== 'UND_ERR_SOCKET') throw err;
    res = await fetch(url, init);
  }
  const text = await res.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    parsed = { text };
  }
  return { status: res.status, body: parsed };
}

export interface MemoryTarget {
  host: string;
  vmId: string;
  /**
   * What the changes alternate: startup memory of a static-memory VM (up and back down, both valid
   * while it runs), or the memory priority of a dynamic-memory VM (a running one only lets its
   * maximum go up, which would make the outcome depend on the order the changes run in).
   */
  field: 'startupBytes' | 'priority';
  base: number;
}

const MIB2 = 2 * 1024 * 1024;

/** VMs of a host that accept memory changes in any order (Running or Off, not busy). */
export async function memoryTargets(url: string, token: string, host: string): Promise<MemoryTarget[]> {
  const res = await api(`${url}/v1/hosts/${host}/vms`, token, 'GET');
  if (res.status !== 200) throw new Error(`GET vms of ${host}: ${res.status} ${JSON.stringify(res.body)}`);
  const vms = res.body['result'] as Array<{
    id: string;
    state: string;
    version: string;
    operationInProgress: string | null;
    memory: { dynamicMemoryEnabled: boolean; startupBytes: number; priority: number };
  }>;
  const out: MemoryTarget[] = [];
  for (const vm of vms) {
    if (vm.operationInProgress || (vm.state !== 'Running' && vm.state !== 'Off')) continue;
    if (vm.memory.dynamicMemoryEnabled) {
      out.push({ host, vmId: vm.id, field: 'priority', base: vm.memory.priority });
    } else if (vm.state === 'Off' || Number.parseFloat(vm.version) >= 6.2) {
      out.push({ host, vmId: vm.id, field: 'startupBytes', base: vm.memory.startupBytes });
    }
  }
  return out;
}

/** The k-th change of a target: every value is valid whatever order the changes run in. */
export function memoryChange(t: MemoryTarget, k: number): Record<string, number> {
  if (t.field === 'priority') return { priority: (t.base + 1 + (k % 50)) % 101 };
  return { startupBytes: t.base + MIB2 * ((k % 2) + 1) };
}
