// `hvgate demo` (what `npm start` runs): the seeded simulated fleet and the gateway on 127.0.0.1,
// state under .hvgate/, tokens in .hvgate/demo.json, copy-paste curl commands on stdout. With
// --config or HVGATE_CONFIG it is `hvgate serve` instead, so `npm start` also runs a real fleet.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CONFIG_ENV_VAR } from '../config/config-loader';
import type { DemoInfo } from '../demo/demo-state';
import type { CliCommand } from './cli-command';
import { createServeCommand, type ServeIo } from './serve-command';

const USAGE = `usage: hvgate demo [--port N] [--latency-scale X] [--state-dir DIR] [--seed S]
       hvgate demo --config FILE    (or HVGATE_CONFIG=FILE: runs 'hvgate serve' on the real fleet)

Starts three simulated Hyper-V hosts (real WinRM on loopback) and the gateway on 127.0.0.1, and
writes ready-to-use tokens to DIR/demo.json. Every start is a fresh run: new HMAC and audit
signing keys, a new database and a newly seeded fleet.

  --port N            gateway port (default 8080). If the default port is taken the demo falls
                      back to a free port and prints it; a port given with --port that is taken
                      is an error (exit 1). 0 = any free port.
  --latency-scale X   multiplies simulated Hyper-V durations; 0 = instant (default 1 = realistic)
  --state-dir DIR     database, keys, config and demo.json (default .hvgate)
  --seed S            seed of the simulated fleet (default 1)

Ctrl-C or SIGTERM stops the gateway and the simulator (exit 0).
`;

export interface DemoIo extends ServeIo {
  cwd?: string;
}

class UsageError extends Error {}

interface DemoArgs {
  port: number | undefined;
  latencyScale: number;
  stateDir: string;
  seed: number;
}

function parse(args: string[]): DemoArgs | 'help' | { config: string | undefined; rest: string[] } {
  let values;
  try {
    values = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        'latency-scale': { type: 'string' },
        'state-dir': { type: 'string' },
        seed: { type: 'string' },
        config: { type: 'string' },
        host: { type: 'string' },
        'grace-sec': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  if (values.help) return 'help';
  let port: number | undefined;
  if (values.port !== undefined) {
    if (!/^\d{1,5}$/.test(values.port) || Number(values.port) > 65535)
      throw new UsageError(`--port must be 0-65535, got '${values.port}'`);
    port = Number(values.port);
  }
  if (values.config !== undefined) {
    if (
      values['latency-scale'] !== undefined ||
      values['state-dir'] !== undefined ||
      values.seed !== undefined
    )
      throw new UsageError(
        '--latency-scale, --state-dir and --seed apply to the simulated fleet, not --config',
      );
    // Serve mode: the serve flags pass through unchanged.
    const rest = ['--config', values.config];
    if (values.port !== undefined) rest.push('--port', values.port);
    if (values.host !== undefined) rest.push('--host', values.host);
    if (values['grace-sec'] !== undefined) rest.push('--grace-sec', values['grace-sec']);
    return { config: values.config, rest };
  }
  if (values.host !== undefined || values['grace-sec'] !== undefined)
    throw new UsageError('--host and --grace-sec apply only with --config (the demo listens on 127.0.0.1)');
  const scaleText = values['latency-scale'];
  const latencyScale = scaleText === undefined ? 1 : Number(scaleText);
  if (scaleText !== undefined && !/^\d{1,4}(\.\d{1,6})?$/.test(scaleText))
    throw new UsageError(`--latency-scale must be a number >= 0, got '${scaleText}'`);
  const seedText = values.seed ?? '1';
  if (!/^\d{1,9}$/.test(seedText)) throw new UsageError(`--seed must be a whole number, got '${seedText}'`);
  const stateDir = values['state-dir'] ?? '.hvgate';
  if (stateDir.trim() === '') throw new UsageError('--state-dir needs a directory');
  return { port, latencyScale, stateDir, seed: Number(seedText) };
}

function waitForSignal(): { stopped: Promise<string>; cancel(): void } {
  let cancel!: () => void;
  const stopped = new Promise<string>((resolve) => {
    const onTerm = () => done('SIGTERM');
    const onInt = () => done('SIGINT');
    const done = (sig: string) => {
      cancel();
      resolve(sig);
    };
    cancel = () => {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
    };
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  });
  return { stopped, cancel };
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The banner: where things are and commands that work as printed (token read from demo.json). */
export function demoBanner(info: DemoInfo, demoFile: string, note?: string): string {
  const tokenCmd = `export HVGATE_TOKEN=$(node -p ${shellQuote(`require(${JSON.stringify(demoFile)}).tokens.operator`)})`;
  const curls = info.examples.map((ex) => {
    const parts = ['curl -sS'];
    if (ex.method !== 'GET') parts.push(`-X ${ex.method}`);
    parts.push('-H "Authorization: Bearer $HVGATE_TOKEN"');
    if (ex.body !== undefined) {
      parts.push("-H 'Content-Type: application/json'");
      parts.push(`-d ${shellQuote(JSON.stringify(ex.body))}`);
    }
    parts.push(shellQuote(`${info.url}${ex.path}`));
    return `  # ${ex.title}\n  ${parts.join(' ')}`;
  });
  const hosts = info.hosts.map((h) => `${h.name} (group ${h.groups.join(', ')})`).join(', ');
  return [
    '',
    `hvgate demo is running at ${info.url}`,
    ...(note ? [note] : []),
    `  simulated hosts: ${hosts}; latency scale ${info.latencyScale}`,
    `  tokens (operator, auditor, reader): ${demoFile}`,
    `  state: ${info.stateDir} (config ${path.basename(info.configFile)}, gateway.log, hvgate.db)`,
    '',
    'Try it (bash/zsh):',
    `  ${tokenCmd}`,
    ...curls,
    '',
    'Guided tour in another terminal: npm run tour     Stop: Ctrl-C',
    '',
  ].join('\n');
}

export function createDemoCommand(io: DemoIo): CliCommand {
  return {
    async run(args) {
      let parsed;
      try {
        parsed = parse(args);
      } catch (err) {
        if (!(err instanceof UsageError)) throw err;
        io.stderr.write(`hvgate demo: ${err.message}\n${USAGE}`);
        return 2;
      }
      if (parsed === 'help') {
        io.stdout.write(USAGE);
        return 0;
      }
      const env = io.env ?? process.env;
      if ('rest' in parsed || env[CONFIG_ENV_VAR]) {
        const rest = 'rest' in parsed ? parsed.rest : args;
        io.stdout.write(
          `${JSON.stringify({ event: 'config-given', detail: 'serving the configured fleet (hvgate serve)' })}\n`,
        );
        return createServeCommand(io).run(rest);
      }
      // Loaded here so `hvgate demo --help` and flag errors stay instant.
      const { startDemo, DemoPortInUseError, DemoAlreadyRunningError, DEMO_DEFAULT_PORT } =
        require('../demo/demo-runner') as typeof import('../demo/demo-runner');
      // Handlers go in before anything is printed: a supervisor may signal as soon as it reads the URL.
      const signal = io.stopSignal ? { stopped: io.stopSignal, cancel: () => undefined } : waitForSignal();
      const stateDir = path.resolve(io.cwd ?? process.cwd(), parsed.stateDir);
      let demo;
      try {
        demo = await startDemo({
          stateDir,
          port: parsed.port ?? DEMO_DEFAULT_PORT,
          fallbackToEphemeral: parsed.port === undefined,
          latencyScale: parsed.latencyScale,
          seed: parsed.seed,
        });
      } catch (err) {
        signal.cancel();
        if (err instanceof DemoPortInUseError || err instanceof DemoAlreadyRunningError) {
          io.stderr.write(`hvgate demo: ${err.message}\n`);
          return 1;
        }
        io.stderr.write(`hvgate demo: cannot start: ${(err as Error).message}\n`);
        return 1;
      }
      const note = demo.fellBack
        ? `  note: port ${demo.requestedPort} is in use, so the demo took a free port instead`
        : undefined;
      io.stdout.write(demoBanner(demo.info, demo.paths.demoFile, note));
      io.stdout.write(`${JSON.stringify({ event: 'listening', url: demo.info.url })}\n`);
      const sig = await signal.stopped;
      io.stdout.write(`${JSON.stringify({ event: 'stopping', signal: sig })}\n`);
      await demo.close(5000);
      io.stdout.write('hvgate demo stopped\n');
      return 0;
    },
  };
}

export const demoCommand: CliCommand = {
  run: (args) => createDemoCommand({ stdout: process.stdout, stderr: process.stderr }).run(args),
};
