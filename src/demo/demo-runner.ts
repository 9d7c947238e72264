// `hvgate demo` without its command line: the seeded simulated fleet on loopback, a gateway in front
// of it configured exactly as an operator would (secrets in files, HS256 tokens, SQLite), and
// demo.json with tokens for three roles. Kept apart from the CLI so tests can run it in-process.
import fs from 'node:fs';
import pino from 'pino';
import { stringify } from 'yaml';
import { generateSigningKey } from '../audit/audit-signer';
import type { Scope } from '../auth/principal';
import { mintDevToken } from '../auth/token-minter';
import { resolveConfig, validateConfig } from '../config/config-loader';
import { createGateway, type Gateway, type GatewayLogger } from '../main';
import { createSimulator, type Simulator } from '../simulator/simulator';
import {
  demoStatePaths,
  resetDemoState,
  writePrivateFile,
  writeRandomSecret,
  type DemoExample,
  type DemoInfo,
  type DemoStatePaths,
} from './demo-state';

export const DEMO_ISSUER = 'hvgate-demo';
export const DEMO_AUDIENCE = 'hvgate';
export const DEMO_DEFAULT_PORT = 8080;
const TOKEN_TTL_SEC = 12 * 3600;

const OPERATION_SCOPES: Scope[] = [
  'vm:read',
  'vm:hotplug',
  'vm:storage',
  'vm:checkpoint',
  'vm:backup',
  'vm:migrate',
  'vm:replicate',
];

// One region group per host, so the reader token can be shown confined to one of them.
const HOST_GROUPS: Record<string, string> = {
  'hv-tokyo-01': 'kanto',
  'hv-osaka-02': 'kansai',
  'hv-nagoya-03': 'chubu',
};
export const READER_GROUP = 'kanto';

// Nagoya gets a deliberately small slot pool and queue, so a burst of requests shows back-pressure
// (429 with Retry-After) without flooding the others.
const SMALL_HOST = 'hv-nagoya-03';

export interface DemoOptions {
  stateDir: string;
  /** Default 8080; 0 = ephemeral. */
  port?: number;
  /** When the default port is taken: fall back to an ephemeral one (true) or fail (false). */
  fallbackToEphemeral?: boolean;
  latencyScale?: number;
  seed?: number;
  /** Where gateway logs go (default: the log file in the state dir). */
  logger?: GatewayLogger | null;
}

export interface RunningDemo {
  readonly info: DemoInfo;
  readonly paths: DemoStatePaths;
  /** True when the asked port was taken and an ephemeral one is used instead. */
  readonly fellBack: boolean;
  readonly requestedPort: number;
  readonly gateway: Gateway;
  readonly simulator: Simulator;
  close(graceMs?: number): Promise<void>;
}

export class DemoPortInUseError extends Error {
  override readonly name = 'DemoPortInUseError';
  constructor(readonly port: number) {
    super(`port ${port} on 127.0.0.1 is already in use (give --port N, or --port 0 for any free port)`);
  }
}

export class DemoAlreadyRunningError extends Error {
  override readonly name = 'DemoAlreadyRunningError';
  constructor(
    readonly pid: number,
    readonly url: string,
  ) {
    super(`a demo (pid ${pid}) is already running at ${url} with this state directory; stop it first`);
  }
}

/** A demo.json whose process is still alive means another demo owns the directory. */
function assertNotRunning(paths: DemoStatePaths): void {
  let previous: { pid?: unknown; url?: unknown };
  try {
    previous = JSON.parse(fs.readFileSync(paths.demoFile, 'utf8')) as { pid?: unknown; url?: unknown };
  } catch {
    return;
  }
  const pid = previous.pid;
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // ESRCH: gone (a run that was killed); EPERM: alive but someone else's process.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return;
  }
  throw new DemoAlreadyRunningError(pid, String(previous.url));
}

function fileLogger(file: string): GatewayLogger {
  return pino(
    {
      level: process.env['LOG_LEVEL'] ?? 'info',
      base: { service: 'hvgate', mode: 'demo' },
      redact: {
        paths: ['authorization', 'headers.authorization', 'req.headers.authorization', 'token', 'password'],
        censor: '[redacted]',
      },
    },
    // Synchronous so the last lines are on disk when the process exits on a signal.
    pino.destination({ dest: file, sync: true, mode: 0o600 }),
  );
}

function pickExampleVm(sim: Simulator, host: string): string {
  // A running Generation 2 VM with a plain ASCII name: the copy-paste commands must work as printed.
  const vm = sim.fleet
    .listVms(host)
    .find((v) => v.generation === 2 && v.state === 'Running' && /^[a-z0-9-]+$/.test(v.name));
  if (!vm) throw new Error(`the demo fleet has no running Generation 2 VM on ${host}`);
  return vm.name;
}

export async function startDemo(opts: DemoOptions): Promise<RunningDemo> {
  const paths = demoStatePaths(opts.stateDir);
  const latencyScale = opts.latencyScale ?? 1;
  const requestedPort = opts.port ?? DEMO_DEFAULT_PORT;
  assertNotRunning(paths);
  resetDemoState(paths);
  const password = writeRandomSecret(paths.winrmPasswordFile, 24);
  const hmac = writeRandomSecret(paths.hmacSecretFile, 48);
  generateSigningKey(paths.dir);
  // Created empty and owner-only first: SQLite keeps the mode for the database and its WAL files.
  fs.writeFileSync(paths.database, '', { mode: 0o600 });

  const simulator = await createSimulator({
    seed: opts.seed ?? 1,
    latencyScale,
    password,
    controlPort: false,
  });
  let gateway: Gateway | undefined;
  try {
    const hosts = simulator.hosts.map((h) => ({
      name: h.name,
      groups: [HOST_GROUPS[h.name] ?? 'lab'],
      maxConcurrent: h.name === SMALL_HOST ? 2 : 4,
      maxQueue: h.name === SMALL_HOST ? 2 : 50,
    }));
    const rawConfig = {
      server: { host: '127.0.0.1', port: requestedPort },
      auth: {
        algorithms: ['HS256'],
        issuer: DEMO_ISSUER,
        audience: DEMO_AUDIENCE,
        hmacSecretFile: paths.hmacSecretFile,
      },
      store: { kind: 'sqlite', path: paths.database },
      // Checkpoints every 20 events so a short demo session already ends in a signed chain head.
      audit: {
        signingKeyFile: paths.signingKeyFile,
        checkpointEvery: 20,
        checkpointIntervalSec: 10,
        stdout: false,
      },
      groups: [...new Set(hosts.flatMap((h) => h.groups))].map((name) => ({ name })),
      hosts: simulator.hosts.map((h, i) => ({
        name: h.name,
        address: '127.0.0.1',
        port: h.port,
        transport: 'http',
        auth: 'basic',
        username: 'Administrator',
        passwordFile: paths.winrmPasswordFile,
        groups: hosts[i]!.groups,
        maxConcurrent: hosts[i]!.maxConcurrent,
        maxQueue: hosts[i]!.maxQueue,
        queueTimeoutSec: 120,
        storageRoots: ['D:\\Hyper-V', '\\\\hv-fs01\\vmstore', '\\\\hv-fs01\\iso'],
        exportRoots: ['E:\\Exports', '\\\\hv-fs01\\backups'],
      })),
    };
    // The same configuration `hvgate serve` and `hvgate audit verify --config` read.
    writePrivateFile(paths.configFile, stringify(rawConfig));
    const loaded = await resolveConfig(validateConfig(rawConfig, paths.configFile), {
      baseDir: paths.dir,
    });
    gateway = createGateway(loaded, {
      logger: opts.logger === undefined ? fileLogger(paths.logFile) : opts.logger,
      auditSink: null,
    });
    await gateway.start();
    let url: string;
    let fellBack = false;
    try {
      ({ url } = await gateway.listen(requestedPort, '127.0.0.1'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      if (!opts.fallbackToEphemeral || requestedPort === 0) throw new DemoPortInUseError(requestedPort);
      ({ url } = await gateway.listen(0, '127.0.0.1'));
      fellBack = true;
    }

    const secret = Buffer.from(hmac, 'utf8');
    const grants = {
      operator: { sub: 'demo-operator', scopes: OPERATION_SCOPES, hosts: ['*'] },
      auditor: { sub: 'demo-auditor', scopes: ['audit:read'] as Scope[], hosts: [] as string[] },
      reader: { sub: 'demo-reader', scopes: ['vm:read'] as Scope[], hosts: [`group:${READER_GROUP}`] },
    };
    const mint = (g: { sub: string; scopes: Scope[]; hosts: string[] }) =>
      mintDevToken({
        sub: g.sub,
        scopes: g.scopes,
        hosts: g.hosts,
        issuer: DEMO_ISSUER,
        audience: DEMO_AUDIENCE,
        ttlSec: TOKEN_TTL_SEC,
        secret,
      });
    const exampleHost = simulator.hosts[0]!.name;
    const exampleVm = pickExampleVm(simulator, exampleHost);
    const examples: DemoExample[] = [
      { title: 'list the hosts you may use', method: 'GET', path: '/v1/hosts' },
      {
        title: `get VM ${exampleVm} on ${exampleHost}`,
        method: 'GET',
        path: `/v1/hosts/${exampleHost}/vms/${exampleVm}`,
      },
      {
        title: `hot-add a network adapter to ${exampleVm} (Generation 2, running)`,
        method: 'POST',
        path: `/v1/hosts/${exampleHost}/vms/${exampleVm}/network-adapters`,
        body: { switchName: 'External-LAN' },
      },
    ];
    const info: DemoInfo = {
      url,
      pid: process.pid,
      startedAt: new Date().toISOString(),
      stateDir: paths.dir,
      configFile: paths.configFile,
      latencyScale,
      issuer: DEMO_ISSUER,
      audience: DEMO_AUDIENCE,
      hosts,
      tokens: { operator: mint(grants.operator), auditor: mint(grants.auditor), reader: mint(grants.reader) },
      tokenGrants: grants,
      examples,
    };
    writePrivateFile(paths.demoFile, `${JSON.stringify(info, null, 2)}\n`);

    const gw = gateway;
    let closing: Promise<void> | undefined;
    return {
      info,
      paths,
      fellBack,
      requestedPort,
      gateway: gw,
      simulator,
      close(graceMs = 5000) {
        closing ??= (async () => {
          await gw.close(graceMs);
          await simulator.close();
          // The tokens die with the run; leaving them would invite reuse against the next run.
          fs.rmSync(paths.demoFile, { force: true });
        })();
        return closing;
      },
    };
  } catch (err) {
    await gateway?.close(0).catch(() => undefined);
    await simulator.close();
    throw err;
  }
}
