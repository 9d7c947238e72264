// A gateway in its own process for the restart test: config from the parent (temp dir + simulator
// ports), prints one JSON line with its URL once it listens, runs until killed.
import { createGateway } from '../../../src/main';
import { buildConfig } from './gateway-kit';

async function main(): Promise<void> {
  const dir = process.env['HVGATE_TEST_DIR']!;
  const hosts = JSON.parse(process.env['HVGATE_TEST_HOSTS']!) as { name: string; port: number }[];
  const loaded = await buildConfig(dir, { hosts }, { maxConcurrent: 2 });
  const gateway = createGateway(loaded, {
    logger: null,
    auditSink: null,
    healthProbes: false,
    instance: `child-${process.pid}`,
  });
  const recovered = await gateway.start();
  const { url } = await gateway.listen(0, '127.0.0.1');
  process.stdout.write(`${JSON.stringify({ url, ...recovered })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`gateway child failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
