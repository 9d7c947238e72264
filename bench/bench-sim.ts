// A simulator in its own process for the benchmarks, like `hvgate sim` but also taking the
// simulator's per-operation service time. Options come as one JSON argument; prints one JSON line
// per host ({"name","url"}) then {"control": url}; stops on SIGTERM/SIGINT or when stdin closes
// (the bench that spawned it is gone).
import { createSimulator, type SimulatorOptions } from '../src/simulator/simulator';

async function main(): Promise<void> {
  const opts = JSON.parse(process.argv[2] ?? '{}') as Pick<
    SimulatorOptions,
    'hosts' | 'latencyScale' | 'serviceTimeMs'
  >;
  const sim = await createSimulator({
    hosts: opts.hosts,
    latencyScale: opts.latencyScale,
    serviceTimeMs: opts.serviceTimeMs,
    controlPort: 0,
  });
  const stopped = new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
    process.stdin.once('end', resolve);
    process.stdin.once('close', resolve);
    process.stdin.resume();
  });
  for (const h of sim.hosts) process.stdout.write(`${JSON.stringify({ name: h.name, url: h.url })}\n`);
  process.stdout.write(`${JSON.stringify({ control: sim.controlUrl })}\n`);
  await stopped;
  await sim.close();
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench-sim: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
