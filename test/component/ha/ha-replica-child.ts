// One gateway replica in its own process for the HA tests and bench: PostgreSQL store in the
// schema the parent names, hosts from the parent's simulator. Prints one JSON line with its URL
// once it listens; runs until killed (SIGTERM closes it gracefully).
import path from 'node:path';
import { resolveConfig, validateConfig } from '../../../src/config/config-loader';
import { createGateway } from '../../../src/main';

async function main(): Promise<void> {
  const env = process.env;
  const dir = env['HVGATE_TEST_DIR']!;
  const hosts = JSON.parse(env['HVGATE_TEST_HOSTS']!) as { name: string; port: number }[];
  const limits = JSON.parse(env['HVGATE_TEST_LIMITS'] ?? '{}') as {
    maxConcurrent?: number;
    maxQueue?: number;
    queueTimeoutSec?: number;
  };
  const raw = {
    allowInlineSecrets: true,
    server: { host: '127.0.0.1', port: 0 },
    auth: {
      algorithms: ['HS256'],
      issuer: env['HVGATE_TEST_ISSUER'],
      audience: env['HVGATE_TEST_AUDIENCE'],
      hmacSecret: env['HVGATE_TEST_HMAC'],
    },
    store: { kind: 'postgres', url: env['HVGATE_TEST_PG_URL'] },
    audit: { signingKeyFile: path.join(dir, 'audit-signing-key.pem'), checkpointEvery: 50, stdout: false },
    hosts: hosts.map((h) => ({
      name: h.name,
      address: '127.0.0.1',
      port: h.port,
      transport: 'http',
      username: 'Administrator',
      password: 'hvgate-sim',
      maxConcurrent: limits.maxConcurrent ?? 3,
      maxQueue: limits.maxQueue ?? 100,
      queueTimeoutSec: limits.queueTimeoutSec ?? 300,
    })),
  };
  const loaded = await resolveConfig(validateConfig(raw, 'ha-test'), { baseDir: dir });
  const leaseMs = Number(env['HVGATE_TEST_LEASE_MS'] ?? 1500);
  const gateway = createGateway(loaded, {
    // Warnings and errors go to stderr, which the parent shows when a replica misbehaves.
    logger: {
      info: () => undefined,
      warn: (obj, msg) => process.stderr.write(`${JSON.stringify({ level: 'warn', msg, ...obj })}\n`),
      error: (obj, msg) => process.stderr.write(`${JSON.stringify({ level: 'error', msg, ...obj })}\n`),
    },
    auditSink: null,
    healthProbes: false,
    instance: env['HVGATE_TEST_INSTANCE'] ?? `replica-${process.pid}`,
    ha: { schema: env['HVGATE_TEST_PG_SCHEMA']!, leaseMs, heartbeatMs: Math.floor(leaseMs / 5), pollMs: 100 },
  });
  const recovered = await gateway.start();
  const { url } = await gateway.listen(0, '127.0.0.1');
  process.stdout.write(`${JSON.stringify({ url, ...recovered })}\n`);
  process.once('SIGTERM', () => {
    gateway.close(5000).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`ha replica failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
