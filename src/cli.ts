#!/usr/bin/env node
// `hvgate` command. Each subcommand lives in its own module under src/cli/ and is loaded only when
// called, so `hvgate sim` does not pay for the gateway's dependencies and vice versa.
import { CliCommand } from './cli/cli-command';

const commands: Record<string, { summary: string; load: () => CliCommand }> = {
  demo: {
    summary: 'simulated fleet + gateway on 127.0.0.1 with ready tokens (what npm start runs)',
    load: () => require('./cli/demo-command').demoCommand,
  },
  tour: {
    summary: 'guided walk through the running demo (reads .hvgate/demo.json)',
    load: () => require('./cli/tour-command').tourCommand,
  },
  serve: {
    summary: 'run the gateway (--config hvgate.yaml)',
    load: () => require('./cli/serve-command').serveCommand,
  },
  sim: {
    summary: 'run simulated Hyper-V hosts that speak WinRM',
    load: () => require('./cli/sim-command').simCommand,
  },
  audit: {
    summary: 'verify or export the audit trail (audit verify | audit export)',
    load: () => require('./cli/audit-command').auditCommand,
  },
  selftest: {
    summary: 'check a real Hyper-V host (read-only unless --allow-changes)',
    load: () => require('./cli/selftest-command').selftestCommand,
  },
  token: {
    summary: 'mint a development token (HS256)',
    load: () => require('./cli/token-command').tokenCommand,
  },
};

export async function runCli(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  const entry = commands[name];
  if (!entry) {
    process.stderr.write(`hvgate: unknown command '${name}'\n${usage()}`);
    return 2;
  }
  return entry.load().run(rest);
}

function usage(): string {
  const lines = Object.entries(commands).map(([n, c]) => `  ${n.padEnd(10)} ${c.summary}`);
  return `usage: hvgate <command> [options]\n\ncommands:\n${lines.join('\n')}\n`;
}

if (require.main === module) {
  runCli(process.argv.slice(2)).then(
    (code) => {
      // Long-running commands (sim, serve) resolve only when they have shut down.
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`hvgate: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
