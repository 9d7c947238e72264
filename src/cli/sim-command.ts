// `hvgate sim`: runs simulated Hyper-V hosts that speak WinRM on loopback until SIGINT/SIGTERM.
// Prints one JSON line per host ({"name","url"}, plus "caFile" with --tls) once listening, then
// {"control": url}.
import { readFileSync } from 'node:fs';
import { parseOptions, UsageError } from './cli-args';
import { CliCommand } from './cli-command';

const USAGE = `usage: hvgate sim [--hosts N] [--port P] [--seed S] [--latency-scale X]
                 [--user U] [--password-file F] [--control-port C]
                 [--tls [--ca-out FILE] [--server-name NAME]] [--allow-unencrypted]

  --hosts N           simulated hosts (default 3)
  --port P            first host's WinRM port; the next hosts use P+1, P+2 ... (default 0 = ephemeral)
  --seed S            seed of the demo fleet (default 1)
  --latency-scale X   multiplies simulated durations; 0 = instant (default 1)
  --user U            WinRM user for Basic and NTLM (default Administrator)
  --password-file F   file holding the WinRM password (default password: hvgate-sim)
  --control-port C    port of the JSON control endpoint (default 0 = ephemeral)
  --tls               serve HTTPS with a CA generated at start (its certificate goes to caFile)
  --ca-out FILE       write the CA certificate PEM here (default: a temporary file, removed on exit)
  --server-name NAME  name the server certificate is issued for (default localhost, 127.0.0.1, ::1)
  --allow-unencrypted accept NTLM-authenticated plaintext SOAP over HTTP (WinRM AllowUnencrypted)
`;

function integer(
  name: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} must be an integer, got '${value}'`);
  const n = Number(value);
  if (n < min || n > max) throw new UsageError(`--${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

interface SimArgs {
  hosts: number;
  port: number;
  seed: number;
  latencyScale: number;
  user: string;
  password: string;
  controlPort: number;
  tls: boolean;
  caOut: string | undefined;
  serverName: string | undefined;
  allowUnencrypted: boolean;
}

function parse(args: string[]): SimArgs | 'help' {
  const values = parseOptions(args, {
    hosts: { type: 'string' },
    port: { type: 'string' },
    seed: { type: 'string' },
    'latency-scale': { type: 'string' },
    user: { type: 'string' },
    'password-file': { type: 'string' },
    'control-port': { type: 'string' },
    tls: { type: 'boolean' },
    'ca-out': { type: 'string' },
    'server-name': { type: 'string' },
    'allow-unencrypted': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';
  const hosts = integer('hosts', values.hosts, 3, 1, 64);
  const port = integer('port', values.port, 0, 0, 65535);
  if (port !== 0 && port + hosts - 1 > 65535)
    throw new UsageError(`--port ${port} leaves no room for ${hosts} hosts`);
  const scaleText = values['latency-scale'];
  const latencyScale = scaleText === undefined ? 1 : Number(scaleText);
  if (scaleText !== undefined && (!/^\d+(\.\d+)?$/.test(scaleText) || !Number.isFinite(latencyScale))) {
    throw new UsageError(`--latency-scale must be a number >= 0, got '${scaleText}'`);
  }
  const user = values.user ?? 'Administrator';
  if (!/^[^\s:\\]+$/.test(user)) throw new UsageError(`--user must be a plain account name, got '${user}'`);
  let password = 'hvgate-sim';
  const file = values['password-file'];
  if (file !== undefined) {
    try {
      password = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new UsageError(
        `cannot read --password-file: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    if (password === '') throw new UsageError('--password-file is empty');
  }
  const tls = values.tls === true;
  const caOut = values['ca-out'];
  const serverName = values['server-name'];
  if (!tls && (caOut !== undefined || serverName !== undefined))
    throw new UsageError('--ca-out and --server-name need --tls');
  if (caOut === '') throw new UsageError('--ca-out needs a file name');
  if (serverName !== undefined && !/^[A-Za-z0-9]([A-Za-z0-9.:-]*[A-Za-z0-9])?$/.test(serverName))
    throw new UsageError(`--server-name must be a DNS name or an IP address, got '${serverName}'`);
  return {
    hosts,
    port,
    seed: integer('seed', values.seed, 1, 0, 2 ** 31 - 1),
    latencyScale,
    user,
    password,
    controlPort: integer('control-port', values['control-port'], 0, 0, 65535),
    tls,
    caOut,
    serverName,
    allowUnencrypted: values['allow-unencrypted'] === true,
  };
}

export const simCommand: CliCommand = {
  async run(args) {
    let parsed: SimArgs | 'help';
    try {
      parsed = parse(args);
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      process.stderr.write(`hvgate sim: ${err.message}\n${USAGE}`);
      return 2;
    }
    if (parsed === 'help') {
      process.stdout.write(USAGE);
      return 0;
    }
    // Loaded here so `hvgate sim --help` and flag errors stay instant.
    const { createSimulator, SimulatorOptionsError } =
      require('../simulator/simulator') as typeof import('../simulator/simulator');
    // Handlers go in before anything is printed: a supervisor may signal as soon as it reads the
    // URLs, and on a busy machine that can happen before the next statement after the write.
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => {
      stop = (): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    let sim: Awaited<ReturnType<typeof createSimulator>>;
    try {
      sim = await createSimulator({
        hosts: parsed.hosts,
        seed: parsed.seed,
        latencyScale: parsed.latencyScale,
        user: parsed.user,
        password: parsed.password,
        basePort: parsed.port,
        controlPort: parsed.controlPort,
        tls: parsed.tls,
        caFile: parsed.caOut,
        serverName: parsed.serverName,
        allowUnencrypted: parsed.allowUnencrypted,
      });
    } catch (err) {
      stop();
      if (!(err instanceof SimulatorOptionsError)) throw err;
      process.stderr.write(`hvgate sim: ${err.message}\n`);
      return 2;
    }
    const caFile = sim.caFile;
    for (const h of sim.hosts) {
      const line = caFile === undefined ? { name: h.name, url: h.url } : { name: h.name, url: h.url, caFile };
      process.stdout.write(`${JSON.stringify(line)}\n`);
    }
    process.stdout.write(`${JSON.stringify({ control: sim.controlUrl })}\n`);
    await stopped;
    await sim.close();
    return 0;
  },
};
