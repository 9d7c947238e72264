// Global per-host command permits for the HA mode. With one replica, each host's executor opens at
// most maxConcurrent shells, which caps every command on the host — including the reads a job
// makes in parallel while preparing (host facts and VM facts at once). With several replicas those
// per-process caps add up, so here every command first takes one of the host's maxConcurrent
// permits, shared across replicas (a second slot namespace in PostgreSQL, round-robin between
// replicas). Deadlock-free: a permit is held for one command only, and its holder never waits for
// anything else while holding it (job slots and VM locks are taken before, never inside).
import type { HostExecutor } from '../winrm/host-executor';
import type { HostInventory } from './host-inventory';
import type { Clock } from './clock';
import type { PgFleetSignal } from './pg-fleet-signal';
import { createPgSlotCoordinator, type PgSlotCoordinator } from './pg-slot-coordinator';
import type { PostgresPool } from '../store/postgres-pool';

export interface PgCommandGateOptions {
  readonly pool: PostgresPool;
  readonly inventory: HostInventory;
  readonly instance: string;
  readonly signal: PgFleetSignal;
  readonly clock?: Clock;
  readonly ready?: Promise<unknown>;
  readonly onError?: (err: unknown, what: string) => void;
}

export interface PgCommandGate {
  /** The same executor; each run first takes a global permit of its host. */
  wrap(executor: HostExecutor): HostExecutor;
  readonly permits: PgSlotCoordinator;
  close(): Promise<void>;
}

/** Commands wait for a permit rather than being refused; their own deadlines bound the wait. */
const COMMAND_QUEUE = 100_000;

export function createPgCommandGate(options: PgCommandGateOptions): PgCommandGate {
  const permits = createPgSlotCoordinator({ ...options, namespace: 'cmd', maxQueue: COMMAND_QUEUE });

  async function guarded<T>(host: string, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
    const lease = await permits.acquire({ host, caller: options.instance, ...(signal ? { signal } : {}) });
    try {
      return await fn();
    } finally {
      await lease.release();
    }
  }

  return {
    permits,
    wrap(executor) {
      return {
        host: executor.host,
        run: (command, runOptions) =>
          guarded(executor.host, runOptions.signal, () => executor.run(command, runOptions)),
        runScript: (script, runOptions) =>
          guarded(executor.host, runOptions.signal, () => executor.runScript(script, runOptions)),
        stats: () => executor.stats(),
        close: () => executor.close(),
      };
    },
    close: () => permits.close(),
  };
}
