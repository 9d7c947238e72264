// HTTP requests and median latency per short operation against one zero-latency simulated host:
// (a) winrm-client's runPowershell, (b) the hvgate executor running the very same command line,
// (c) the executor running a short hvgate script (host.get@1) through the script envelope.
//   npx tsc -p bench/tsconfig.json && node dist-bench/bench/winrm-bench.js
import { performance } from 'node:perf_hooks';
import { renderScript } from '../src/powershell/script-render';
import { defineScriptTemplate } from '../src/powershell/script-template';
import { createSimulator } from '../src/simulator/simulator';
import { createHostExecutor } from '../src/winrm/host-executor';

const winrmClient = require('winrm-client') as {
  runPowershell(command: string, host: string, user: string, password: string, port: number): Promise<string>;
};

const USER = 'Administrator';
const PASSWORD = 'hvgate-sim';
const OPS = Number(process.env['BENCH_OPS'] ?? 200);
const WARMUP = 5;

interface Figures {
  label: string;
  requestsPerOp: number;
  medianMs: number;
  p95Ms: number;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[idx] as number;
}

async function measure(
  label: string,
  totalRequests: () => number,
  op: () => Promise<unknown>,
): Promise<Figures> {
  for (let i = 0; i < WARMUP; i += 1) await op();
  const before = totalRequests();
  const times: number[] = [];
  for (let i = 0; i < OPS; i += 1) {
    const t0 = performance.now();
    await op();
    times.push(performance.now() - t0);
  }
  const requests = totalRequests() - before;
  times.sort((a, b) => a - b);
  return {
    label,
    requestsPerOp: requests / OPS,
    medianMs: quantile(times, 0.5),
    p95Ms: quantile(times, 0.95),
  };
}

/** The line winrm-client's runPowershell sends, rebuilt so (b) runs the identical command. */
function winrmClientPowershellLine(command: string): string {
  return `powershell.exe -NoProfile -NonInteractive -NoLogo -ExecutionPolicy Bypass -InputFormat Text -Command "& { ${command} }"`;
}

async function main(): Promise<void> {
  const sim = await createSimulator({
    hosts: 1,
    latencyScale: 0,
    controlPort: false,
    user: USER,
    password: PASSWORD,
  });
  const h = sim.hosts[0] as { name: string; port: number };
  const host = sim.host(h.name);
  const totalRequests = (): number => Object.values(host.counters().requests).reduce((a, b) => a + b, 0);
  const exec = createHostExecutor({
    name: h.name,
    address: '127.0.0.1',
    port: h.port,
    transport: 'http',
    auth: 'basic',
    username: USER,
    password: PASSWORD,
  });
  const deadline = (): number => Date.now() + 30_000;
  const script = renderScript(
    defineScriptTemplate({
      opId: 'host.get',
      version: 1,
      core: '$h = Get-VMHost\n$result = [ordered]@{ name = [string]$h.ComputerName }',
    }),
    {},
  );
  try {
    const command = 'hostname';
    const a = await measure('(a) winrm-client runPowershell', totalRequests, () =>
      winrmClient.runPowershell(command, '127.0.0.1', USER, PASSWORD, h.port),
    );
    const b = await measure('(b) hvgate executor, same command line', totalRequests, () =>
      exec.run({ commandLine: winrmClientPowershellLine(command) }, { deadline: deadline() }),
    );
    const c = await measure('(c) hvgate executor, host.get@1 script', totalRequests, () =>
      exec.runScript(script, { deadline: deadline(), allowScriptError: true }),
    );
    const rows = [a, b, c];
    const w = Math.max(...rows.map((r) => r.label.length)) + 2;
    console.log(
      `winrm bench: ${OPS} short operations per client (after ${WARMUP} warm-up), 1 simulated host, latency scale 0`,
    );
    console.log(
      '(a) and (b) send the identical powershell.exe -Command line (the simulator answers both with the same',
    );
    console.log(
      'CLIXML "not recognized" error, exit 1): the comparison is of protocol cost, not of PowerShell.',
    );
    console.log(`${'client'.padEnd(w)}HTTP req/op  median ms  p95 ms`);
    for (const r of rows) {
      console.log(
        `${r.label.padEnd(w)}${r.requestsPerOp.toFixed(2).padStart(11)}  ${r.medianMs.toFixed(2).padStart(9)}  ${r.p95Ms.toFixed(2).padStart(6)}`,
      );
    }
    console.log(
      `ratio (a)/(b): ${(a.requestsPerOp / b.requestsPerOp).toFixed(2)}x HTTP requests, ${(a.medianMs / b.medianMs).toFixed(2)}x median latency`,
    );
    const s = exec.stats();
    console.log(
      `executor: ${s.shellsCreated} shell(s) created, ${s.commands} commands, ${s.httpRequests} HTTP requests in total`,
    );
  } finally {
    await exec.close();
    await sim.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
