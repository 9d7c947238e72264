// Starts gateway replicas as child processes sharing one PostgreSQL schema, in front of one
// simulator. Used by the HA component tests.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { generateSigningKey } from '../../../src/audit/audit-signer';
import { mintDevToken } from '../../../src/auth/token-minter';
import type { Scope } from '../../../src/auth/principal';
import type { Simulator } from '../../../src/simulator/simulator';

const REGISTER = path.resolve(__dirname, '../gateway/swc-register.js');
const CHILD = path.resolve(__dirname, 'ha-replica-child.ts');

export const HA_ISSUER = 'https://idp.ha.test/';
export const HA_AUDIENCE = 'hvgate-ha-test';
export const HA_HMAC = 'ha-test-hmac-secret-0123456789abcdef-xyz';

export interface Replica {
  readonly instance: string;
  readonly url: string;
  readonly child: ChildProcess;
  /** What the replica wrote to stderr so far (warnings, errors). */
  stderr(): string;
}

export interface ClusterOptions {
  readonly sim: Simulator;
  readonly pgUrl: string;
  readonly schema: string;
  readonly replicas: number;
  readonly leaseMs?: number;
  readonly limits?: { maxConcurrent?: number; maxQueue?: number; queueTimeoutSec?: number };
}

export interface Cluster {
  readonly dir: string;
  readonly replicas: Replica[];
  token(sub?: string, scopes?: Scope[]): string;
  kill(i: number): Promise<void>;
  close(): Promise<void>;
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hvgate-ha-'));
  generateSigningKey(dir);
  const children: ChildProcess[] = [];

  async function startOne(i: number): Promise<Replica> {
    const instance = `replica-${i}-${process.pid}`;
    const child = spawn(process.execPath, ['-r', REGISTER, CHILD], {
      env: {
        ...process.env,
        HVGATE_TEST_DIR: dir,
        HVGATE_TEST_HOSTS: JSON.stringify(options.sim.hosts),
        HVGATE_TEST_LIMITS: JSON.stringify(options.limits ?? {}),
        HVGATE_TEST_PG_URL: options.pgUrl,
        HVGATE_TEST_PG_SCHEMA: options.schema,
        HVGATE_TEST_INSTANCE: instance,
        HVGATE_TEST_LEASE_MS: String(options.leaseMs ?? 3000),
        HVGATE_TEST_ISSUER: HA_ISSUER,
        HVGATE_TEST_AUDIENCE: HA_AUDIENCE,
        HVGATE_TEST_HMAC: HA_HMAC,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const rl = readline.createInterface({ input: child.stdout! });
    const first = await new Promise<string>((resolve, reject) => {
      rl.once('line', resolve);
      child.once('exit', (code) => reject(new Error(`replica ${i} exited ${code}: ${stderr}`)));
    });
    rl.close();
    return { instance, child, url: (JSON.parse(first) as { url: string }).url, stderr: () => stderr };
  }

  try {
    // One after another: the first applies the migrations; the others find them done.
    const replicas: Replica[] = [];
    for (let i = 0; i < options.replicas; i++) replicas.push(await startOne(i));
    return {
      dir,
      replicas,
      token(sub = 'ha-test', scopes: Scope[] = ['vm:read', 'vm:hotplug', 'audit:read']) {
        return mintDevToken({
          sub,
          scopes,
          hosts: ['*'],
          issuer: HA_ISSUER,
          audience: HA_AUDIENCE,
          ttlSec: 3600,
          secret: Buffer.from(HA_HMAC),
        });
      },
      async kill(i) {
        const c = replicas[i]!.child;
        if (c.exitCode !== null || c.signalCode !== null) return;
        const exited = new Promise((r) => c.once('exit', r));
        c.kill('SIGKILL');
        await exited;
      },
      close: () => stopAll(children, dir),
    };
  } catch (err) {
    await stopAll(children, dir);
    throw err;
  }
}

async function stopAll(children: ChildProcess[], dir: string): Promise<void> {
  await Promise.all(
    children.map((c) => {
      if (c.exitCode !== null || c.signalCode !== null) return null;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      const hard = setTimeout(() => c.kill('SIGKILL'), 8000);
      return exited.finally(() => clearTimeout(hard));
    }),
  );
  fs.rmSync(dir, { recursive: true, force: true });
}
