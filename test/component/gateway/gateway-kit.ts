// A real gateway on a temp SQLite file in front of a real simulator on loopback, for component
// tests. Logs and audit JSON lines are captured (the secret canary scans them).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { generateSigningKey } from '../../../src/audit/audit-signer';
import type { Scope } from '../../../src/auth/principal';
import { mintDevToken } from '../../../src/auth/token-minter';
import { resolveConfig, validateConfig, type LoadedConfig } from '../../../src/config/config-loader';
import { createGateway, type Gateway, type GatewayLogger, type GatewayOverrides } from '../../../src/main';
import { createSimulator, type Simulator, type SimulatorOptions } from '../../../src/simulator/simulator';

export const ISSUER = 'https://idp.gateway.test/';
export const AUDIENCE = 'hvgate-test';
export const HMAC_SECRET = 'gateway-test-hmac-secret-0123456789abcdef';
export const ALL_SCOPES: Scope[] = [
  'vm:read',
  'vm:hotplug',
  'vm:storage',
  'vm:checkpoint',
  'vm:backup',
  'vm:migrate',
  'vm:replicate',
  'audit:read',
];

export interface CapturedLines {
  logs: string[];
  audit: string[];
}

export interface KitOptions {
  sim?: SimulatorOptions;
  /** Reuse a running simulator instead of starting one. */
  simulator?: Simulator;
  password?: string;
  maxConcurrent?: number;
  maxQueue?: number;
  queueTimeoutSec?: number;
  overrides?: GatewayOverrides;
  /** Reuse a directory (restart tests); default a new temp dir. */
  dir?: string;
  checkpointEvery?: number;
  /** Replaces the `auth` block of the config (default HS256 with the test secret). */
  auth?: Record<string, unknown>;
  /** Merged into the `server` block of the config. */
  server?: Record<string, unknown>;
}

export interface GatewayKit {
  gateway: Gateway;
  sim: Simulator;
  dir: string;
  loaded: LoadedConfig;
  lines: CapturedLines;
  url: string;
  api: ReturnType<typeof request>;
  token(opts?: { sub?: string; scopes?: Scope[]; hosts?: string[]; clientId?: string }): string;
  close(): Promise<void>;
}

export function captureLogger(into: string[]): GatewayLogger {
  const write = (level: string) => (obj: Record<string, unknown>, msg: string) => {
    into.push(JSON.stringify({ level, msg, ...obj }));
  };
  return { info: write('info'), warn: write('warn'), error: write('error') };
}

export async function buildConfig(
  dir: string,
  sim: { hosts: ReadonlyArray<{ name: string; port: number }> },
  opts: Pick<
    KitOptions,
    'password' | 'maxConcurrent' | 'maxQueue' | 'queueTimeoutSec' | 'checkpointEvery' | 'auth' | 'server'
  >,
): Promise<LoadedConfig> {
  const keyFile = path.join(dir, 'audit-signing-key.pem');
  if (!fs.existsSync(keyFile)) generateSigningKey(dir);
  const raw = {
    allowInlineSecrets: true,
    server: { host: '127.0.0.1', port: 0, ...opts.server },
    auth: opts.auth ?? { algorithms: ['HS256'], issuer: ISSUER, audience: AUDIENCE, hmacSecret: HMAC_SECRET },
    store: { kind: 'sqlite', path: path.join(dir, 'hvgate.db') },
    audit: { signingKeyFile: keyFile, checkpointEvery: opts.checkpointEvery ?? 50, stdout: false },
    hosts: sim.hosts.map((h, i) => ({
      name: h.name,
      address: '127.0.0.1',
      port: h.port,
      transport: 'http',
      username: 'Administrator',
      password: opts.password ?? 'hvgate-sim',
      groups: i === 0 ? ['east'] : ['west'],
      maxConcurrent: opts.maxConcurrent ?? 4,
      maxQueue: opts.maxQueue ?? 100,
      queueTimeoutSec: opts.queueTimeoutSec ?? 300,
      storageRoots: ['D:\\Hyper-V', '\\\\hv-fs01\\vmstore'],
      exportRoots: ['\\\\hv-fs01\\backups'],
    })),
  };
  return resolveConfig(validateConfig(raw, 'test'), { baseDir: dir });
}

export async function startKit(opts: KitOptions = {}): Promise<GatewayKit> {
  const sim =
    opts.simulator ??
    (await createSimulator({
      latencyScale: 0,
      controlPort: false,
      ...(opts.password ? { password: opts.password } : {}),
      ...opts.sim,
    }));
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'hvgate-gw-'));
  const lines: CapturedLines = { logs: [], audit: [] };
  const loaded = await buildConfig(dir, sim, opts);
  const gateway = createGateway(loaded, {
    logger: captureLogger(lines.logs),
    auditSink: { write: (line) => lines.audit.push(line) },
    healthProbes: false,
    instance: 'test-gw',
    version: '0.0.0-test',
    ...opts.overrides,
  });
  await gateway.start();
  // One listener for the whole file: supertest would otherwise open a server per request.
  const { url } = await gateway.listen(0, '127.0.0.1');
  const api = request(url);
  return {
    gateway,
    sim,
    dir,
    loaded,
    lines,
    url,
    api,
    token(t = {}) {
      return mintDevToken({
        sub: t.sub ?? 'svc-test',
        scopes: t.scopes ?? ALL_SCOPES,
        hosts: t.hosts ?? ['*'],
        issuer: ISSUER,
        audience: AUDIENCE,
        ttlSec: 3600,
        secret: Buffer.from(HMAC_SECRET),
        ...(t.clientId ? { clientId: t.clientId } : {}),
      });
    },
    async close() {
      await gateway.close(1000);
      if (!opts.simulator) await sim.close();
      if (!opts.dir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A running VM of the host that accepts a hot memory change, with its GUID and memory facts. */
export async function findVm(
  kit: GatewayKit,
  host: string,
  want: (vm: Record<string, unknown>) => boolean,
): Promise<Record<string, unknown>> {
  const res = await kit.api
    .get(`/v1/hosts/${host}/vms`)
    .set('Authorization', `Bearer ${kit.token()}`)
    .expect(200);
  const vms = (res.body as { result: Record<string, unknown>[] }).result;
  const vm = vms.find(want);
  if (!vm) throw new Error(`no matching VM on ${host}: ${JSON.stringify(vms.map((v) => v['name']))}`);
  return vm;
}
