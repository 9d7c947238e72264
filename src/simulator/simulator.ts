// Composition of the simulator: the demo fleet (Hyper-V model), the PowerShell runner on top of
// it, one WinRM listener per simulated host (HTTP, or HTTPS under a CA made at start) and the
// JSON control endpoint.
import { createDemoFleet } from './demo-fleet';
import type { HyperVFleet } from './hyperv-fleet';
import type { AppliedOperationRecord } from './hyperv-op-context';
import { createPowerShellRunner } from './powershell-host';
import { ControlServer, startControlServer } from './control-server';
import { FaultSpec } from './fault-injector';
import { HostCountersSnapshot } from './host-counters';
import { SimTlsError, SimTlsMaterial, WrittenCaFile, createSimTlsMaterial, writeCaFile } from './sim-tls';
import { WsmanHost, startWsmanHost } from './wsman-server';

export interface SimulatorOptions {
  /** Simulated hosts (default 3). */
  hosts?: number;
  /** Seed of the demo fleet (default 1). */
  seed?: number;
  /** Multiplies simulated durations; 0 = instant (default 1). */
  latencyScale?: number;
  /** WinRM credentials for Basic and NTLM (default Administrator / hvgate-sim). */
  user?: string;
  password?: string;
  /** First host's port, the next hosts +1 each; 0 (default) = ephemeral for every host. */
  basePort?: number;
  /** Control endpoint port (default 0 = ephemeral); false = no control endpoint. */
  controlPort?: number | false;
  maxShellsPerUser?: number;
  maxOperationsPerUser?: number;
  /** IdleTimeOut for shells whose Create does not ask for one (default 7200000). */
  idleTimeoutMs?: number;
  /** Serve HTTPS: a CA and a server certificate signed by it are generated at start. */
  tls?: boolean;
  /** Name the server certificate is issued for (default localhost + 127.0.0.1 + ::1). */
  serverName?: string;
  /** Where to write the CA certificate PEM (default: a fresh directory under the OS temp dir, removed on close). */
  caFile?: string;
  /** WinRM AllowUnencrypted for NTLM-authenticated plaintext SOAP over HTTP (default false). */
  allowUnencrypted?: boolean;
  /**
   * Fixed wall-clock ms an operation holds its command, by operation id (e.g. `{ 'memory.set': 1000 }`),
   * on top of the latency model and not scaled by it: benchmarks need a known service time per change.
   */
  serviceTimeMs?: Readonly<Record<string, number>>;
}

export interface SimHostCounters extends HostCountersSnapshot {
  /** Operations the Hyper-V model applied on this host, with their params and meta. */
  operationsApplied: AppliedOperationRecord[];
}

export interface SimulatorHost {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  counters(): SimHostCounters;
  resetCounters(): void;
  faults: {
    /** Validates and adds a fault (throws InvalidFaultError); returns its id. */
    inject(fault: FaultSpec): number;
    clear(): void;
    list(): ReadonlyArray<{ id: number; spec: FaultSpec; remaining: number | undefined }>;
  };
}

export interface Simulator {
  readonly hosts: ReadonlyArray<{ name: string; url: string; port: number }>;
  readonly fleet: HyperVFleet;
  readonly controlUrl?: string;
  /** Path of the CA certificate PEM that signed the hosts' certificates (tls only). */
  readonly caFile?: string;
  readonly caPem?: string;
  /** Throws UnknownSimHostError for a name that is not in the fleet. */
  host(name: string): SimulatorHost;
  /** Terminates running programs and closes every listener and socket. */
  close(): Promise<void>;
}

export class SimulatorOptionsError extends Error {
  override readonly name = 'SimulatorOptionsError';
}

export class UnknownSimHostError extends Error {
  override readonly name = 'UnknownSimHostError';
  constructor(readonly hostName: string) {
    super(`no simulated host named '${hostName}'`);
  }
}

function check(cond: boolean, message: string): void {
  if (!cond) throw new SimulatorOptionsError(message);
}

export async function createSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  const hostCount = opts.hosts ?? 3;
  const latencyScale = opts.latencyScale ?? 1;
  const basePort = opts.basePort ?? 0;
  check(
    Number.isInteger(hostCount) && hostCount >= 1 && hostCount <= 64,
    'hosts must be an integer from 1 to 64',
  );
  check(Number.isFinite(latencyScale) && latencyScale >= 0, 'latencyScale must be a number >= 0');
  check(
    Number.isInteger(basePort) && basePort >= 0 && basePort + hostCount - 1 <= 65535,
    'basePort out of range',
  );
  check(
    opts.tls === true || (opts.serverName === undefined && opts.caFile === undefined),
    'serverName and caFile need tls',
  );

  let tls: SimTlsMaterial | undefined;
  let ca: WrittenCaFile | undefined;
  if (opts.tls) {
    try {
      tls = await createSimTlsMaterial({ serverName: opts.serverName });
      ca = writeCaFile(tls.caPem, opts.caFile);
    } catch (err) {
      if (err instanceof SimTlsError) throw new SimulatorOptionsError(err.message);
      throw new SimulatorOptionsError(
        `cannot write the CA file: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
  // A CA file the caller asked for stays after close; the default temporary one does not.
  const removeCa = (): void => {
    if (opts.caFile === undefined) ca?.remove();
  };

  const serviceTimeMs = opts.serviceTimeMs ?? {};
  for (const [operation, ms] of Object.entries(serviceTimeMs)) {
    check(
      Number.isInteger(ms) && ms >= 0 && ms <= 600_000,
      `serviceTimeMs['${operation}'] must be an integer from 0 to 600000`,
    );
  }

  const fleet = createDemoFleet({ seed: opts.seed ?? 1, hosts: hostCount });
  for (const operation of Object.keys(serviceTimeMs)) {
    check(fleet.supports(operation, 1), `serviceTimeMs names an unknown operation '${operation}'`);
  }
  const runPowerShell = createPowerShellRunner(fleet, { serviceTimeMs: { ...serviceTimeMs } });
  const names = [...fleet.hostNames];

  const started: WsmanHost[] = [];
  let control: ControlServer | undefined;
  const closeAll = async (): Promise<void> => {
    await Promise.all([...started.map((h) => h.close()), control?.close()]);
    removeCa();
  };
  try {
    for (const [i, name] of names.entries()) {
      started.push(
        await startWsmanHost({
          hostName: name,
          user: opts.user ?? 'Administrator',
          password: opts.password ?? 'hvgate-sim',
          runPowerShell,
          port: basePort === 0 ? 0 : basePort + i,
          latencyScale,
          maxShellsPerUser: opts.maxShellsPerUser,
          maxOperationsPerUser: opts.maxOperationsPerUser,
          idleTimeoutMs: opts.idleTimeoutMs,
          tls: tls && { key: tls.keyPem, cert: tls.certPem },
          allowUnencrypted: opts.allowUnencrypted,
        }),
      );
    }
  } catch (err) {
    await closeAll();
    throw err;
  }

  const byName = new Map(started.map((h) => [h.name, h]));
  const handle = (h: WsmanHost): SimulatorHost => ({
    name: h.name,
    url: h.url,
    port: h.port,
    counters: () => ({ ...h.counters(), operationsApplied: [...fleet.appliedOperations(h.name)] }),
    resetCounters: () => h.resetCounters(),
    faults: h.faults,
  });
  const host = (name: string): SimulatorHost => {
    const h = byName.get(name);
    if (!h) throw new UnknownSimHostError(name);
    return handle(h);
  };
  const hosts = started.map((h) => ({ name: h.name, url: h.url, port: h.port }));

  if (opts.controlPort !== false) {
    try {
      control = await startControlServer(
        {
          hosts: () => hosts,
          host: (name) => {
            const h = byName.get(name);
            if (!h) return undefined;
            const s = handle(h);
            return { ...s, applied: () => fleet.appliedOperations(name) };
          },
        },
        opts.controlPort ?? 0,
      );
    } catch (err) {
      await closeAll();
      throw err;
    }
  }

  let closed: Promise<void> | undefined;
  return {
    hosts,
    fleet,
    controlUrl: control?.url,
    caFile: ca?.path,
    caPem: tls?.caPem,
    host,
    close: () => (closed ??= closeAll()),
  };
}
