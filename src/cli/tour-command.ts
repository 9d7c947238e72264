// `hvgate tour` (what `npm run tour` runs): the guided walk through a running `hvgate demo`. Exit 0
// only if every step behaved as described; 1 if one did not; 2 for usage errors or no demo.
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { parseArgs } from 'node:util';
import { DemoStateError } from '../demo/demo-state';
import { runTour } from '../demo/tour';
import { createAuditCommand } from './audit-command';
import type { CliCommand } from './cli-command';

const USAGE = `usage: hvgate tour [--state-dir DIR] [--no-offline-verify]

Walks through the running demo (started with npm start / hvgate demo) using the tokens in
DIR/demo.json (default .hvgate): hosts and VMs, hot-plug changes, a refused change, a job with
progress, back-pressure (429), refused tokens, then the session's audit trail and its verification,
both over the API and with 'hvgate audit verify' on the database file (--no-offline-verify skips it).
`;

export interface TourIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  cwd?: string;
  fetchImpl?: typeof fetch;
}

/** Runs `hvgate audit verify --config FILE` in this process and captures what it prints. */
export async function verifyAuditOffline(configFile: string): Promise<{ code: number; output: string }> {
  const chunks: string[] = [];
  const sink = new PassThrough();
  sink.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
  const code = await createAuditCommand({ stdout: sink, stderr: sink, stdin: new PassThrough() }).run([
    'verify',
    '--config',
    configFile,
  ]);
  sink.end();
  return { code, output: chunks.join('') };
}

export function createTourCommand(io: TourIo): CliCommand {
  return {
    async run(args) {
      let values;
      try {
        values = parseArgs({
          args,
          strict: true,
          allowPositionals: false,
          options: {
            'state-dir': { type: 'string' },
            'no-offline-verify': { type: 'boolean' },
            help: { type: 'boolean', short: 'h' },
          },
        }).values;
      } catch (err) {
        io.stderr.write(`hvgate tour: ${(err as Error).message}\n${USAGE}`);
        return 2;
      }
      if (values.help) {
        io.stdout.write(USAGE);
        return 0;
      }
      const stateDir = path.resolve(io.cwd ?? process.cwd(), values['state-dir'] ?? '.hvgate');
      try {
        const report = await runTour({
          stateDir,
          out: io.stdout,
          ...(io.fetchImpl ? { fetchImpl: io.fetchImpl } : {}),
          ...(values['no-offline-verify'] ? {} : { offlineVerify: verifyAuditOffline }),
        });
        return report.ok ? 0 : 1;
      } catch (err) {
        if (err instanceof DemoStateError) {
          io.stderr.write(`hvgate tour: ${err.message}\n`);
          return 2;
        }
        io.stderr.write(`hvgate tour: ${(err as Error).message}\n`);
        return 1;
      }
    },
  };
}

export const tourCommand: CliCommand = {
  run: (args) => createTourCommand({ stdout: process.stdout, stderr: process.stderr }).run(args),
};
