// `hvgate serve --config FILE`: loads and validates the configuration (errors name the key; secrets
// are never printed), recovers jobs, listens, and on SIGTERM/SIGINT shuts down gracefully: readiness
// fails, new jobs are refused, running jobs get the grace period, queued jobs stay for the next start.
import { parseArgs } from 'node:util';
import { ConfigError } from '../config/config-errors';
import { loadConfig, resolveConfigPath } from '../config/config-loader';
import { createGateway, type GatewayOverrides } from '../main';
import type { CliCommand } from './cli-command';

const USAGE = `usage: hvgate serve [--config FILE] [--port N] [--host ADDR] [--grace-sec N]

Runs the gateway. The configuration comes from --config or HVGATE_CONFIG. --port and --host
override server.port and server.host. On SIGTERM or SIGINT running jobs get --grace-sec seconds
(default 25) to finish; queued jobs stay queued for the next start.
`;

export interface ServeIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  env?: NodeJS.ProcessEnv;
  /** Resolves when the process should stop (default: SIGTERM or SIGINT). */
  stopSignal?: Promise<string>;
  overrides?: GatewayOverrides;
}

function waitForSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: string) => {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      resolve(sig);
    };
    const onTerm = () => on('SIGTERM');
    const onInt = () => on('SIGINT');
    process.once('SIGTERM', onTerm);
    process.once('SIGINT', onInt);
  });
}

export function createServeCommand(io: ServeIo): CliCommand {
  return {
    async run(args) {
      let values: { config?: string; port?: string; host?: string; 'grace-sec'?: string; help?: boolean };
      try {
        values = parseArgs({
          args,
          options: {
            config: { type: 'string' },
            port: { type: 'string' },
            host: { type: 'string' },
            'grace-sec': { type: 'string' },
            help: { type: 'boolean', short: 'h' },
          },
          strict: true,
        }).values;
      } catch (err) {
        io.stderr.write(`hvgate serve: ${(err as Error).message}\n${USAGE}`);
        return 2;
      }
      if (values.help) {
        io.stdout.write(USAGE);
        return 0;
      }
      const port = values.port === undefined ? undefined : Number(values.port);
      const grace = values['grace-sec'] === undefined ? 25 : Number(values['grace-sec']);
      if (
        (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) ||
        !Number.isFinite(grace) ||
        grace < 0
      ) {
        io.stderr.write(`hvgate serve: --port must be 0-65535 and --grace-sec a number >= 0\n`);
        return 2;
      }
      const configPath = values.config ?? resolveConfigPath([], io.env ?? process.env);
      if (!configPath) {
        io.stderr.write(`hvgate serve: no configuration (give --config FILE or set HVGATE_CONFIG)\n${USAGE}`);
        return 2;
      }
      let gateway;
      try {
        const loaded = await loadConfig(configPath, { env: io.env ?? process.env });
        gateway = createGateway(loaded, io.overrides ?? {});
      } catch (err) {
        if (err instanceof ConfigError) {
          io.stderr.write(`hvgate serve: ${err.message}\n`);
          return 2;
        }
        io.stderr.write(`hvgate serve: cannot start: ${(err as Error).message}\n`);
        return 1;
      }
      const stop = io.stopSignal ?? waitForSignal();
      try {
        await gateway.start();
        const { url } = await gateway.listen(port, values.host);
        io.stdout.write(`${JSON.stringify({ event: 'listening', url })}\n`);
      } catch (err) {
        io.stderr.write(`hvgate serve: cannot start: ${(err as Error).message}\n`);
        await gateway.close(0);
        return 1;
      }
      const signal = await stop;
      io.stdout.write(`${JSON.stringify({ event: 'stopping', signal, graceSec: grace })}\n`);
      await gateway.close(grace * 1000);
      return 0;
    },
  };
}

export const serveCommand: CliCommand = {
  run: (args) => createServeCommand({ stdout: process.stdout, stderr: process.stderr }).run(args),
};
