// Runs every benchmark in sequence, each in its own process so one's memory and sockets cannot
// skew the next: winrm, audit, gateway, burst, and ha when bench/ha-bench.ts exists. Prints each
// one's output as it comes; exits non-zero if any failed or overran its time limit.
//   npx tsc -p bench/tsconfig.json && node dist-bench/bench/run-all.js
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const PER_BENCH_LIMIT_MS = Number(process.env['BENCH_LIMIT_SEC'] ?? 600) * 1000;

function benches(): string[] {
  const names = ['winrm', 'audit', 'gateway', 'burst'];
  // The HA bench is optional: it is listed only when its source is in the tree.
  if (fs.existsSync(path.resolve(__dirname, '../../bench/ha-bench.ts'))) names.push('ha');
  return names;
}

function run(name: string): Promise<number> {
  const script = path.resolve(__dirname, `${name}-bench.js`);
  console.log(`\n=== ${name}: node ${path.relative(process.cwd(), script)} ===`);
  if (!fs.existsSync(script)) {
    console.log(`missing ${script}: compile with npx tsc -p bench/tsconfig.json`);
    return Promise.resolve(1);
  }
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [script], { stdio: 'inherit' });
    const timer = setTimeout(() => {
      console.log(`${name}: over ${PER_BENCH_LIMIT_MS / 1000} s, stopped`);
      // SIGTERM first so the bench can take its simulator and gateway children down with it.
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    }, PER_BENCH_LIMIT_MS);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      console.log(
        `=== ${name}: ${signal ?? `exit ${code}`} after ${((Date.now() - t0) / 1000).toFixed(1)} s ===`,
      );
      resolve(code ?? 1);
    });
  });
}

async function main(): Promise<void> {
  const failed: string[] = [];
  for (const name of benches()) if ((await run(name)) !== 0) failed.push(name);
  console.log(failed.length === 0 ? '\nall benchmarks finished' : `\nfailed: ${failed.join(', ')}`);
  if (failed.length > 0) process.exitCode = 1;
}

void main();
