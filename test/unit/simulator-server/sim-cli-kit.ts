// Running the built `hvgate sim` CLI as a child process: where it is, whether it is built (the
// tests skip loudly when not), and waiting for a child's exit.
import { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const CLI = path.resolve(__dirname, '../../../dist/cli.js');

/** `describe` when dist/ holds the sim command (npm test builds it first), else a warned skip. */
export function describeIfCliBuilt(what: string): jest.Describe {
  const built =
    fs.existsSync(CLI) && fs.existsSync(path.resolve(__dirname, '../../../dist/cli/sim-command.js'));
  if (!built)
    console.warn(`SKIPPED ${what} CLI tests: ${CLI} not built (run npx tsc -p tsconfig.build.json)`);
  return built ? describe : describe.skip;
}

export function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve({ code: child.exitCode, signal: child.signalCode });
      return;
    }
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}
