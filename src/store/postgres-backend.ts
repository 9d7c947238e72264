// Everything the HA mode keeps in PostgreSQL, built for one replica: pool, migrations (applied at
// start), audit and job stores, the global host slots and VM locks, and the replica lease. The
// composition root selects it with `store.kind: postgres`.
import type { Clock } from '../fleet/clock';
import type { HostInventory } from '../fleet/host-inventory';
import { createPgFleetSignal, type PgFleetSignal } from '../fleet/pg-fleet-signal';
import { createPgSlotCoordinator, type PgSlotCoordinator } from '../fleet/pg-slot-coordinator';
import { createPgVmLocks } from '../fleet/pg-vm-lock';
import type { VmLockCoordinator } from '../fleet/vm-lock';
import type { AuditStore } from './audit-store';
import type { JobStore } from './job-store';
import { createPostgresAuditStore } from './postgres-audit-store';
import { createPostgresJobStore } from './postgres-job-store';
import { applyPostgresMigrations } from './postgres-migrations';
import { createPostgresPool, type PostgresPool } from './postgres-pool';
import { createReplicaLease, type ReplicaLease } from './postgres-replica-lease';

/** Timing of the HA coordination; defaults suit production, tests shorten them. */
export interface HaTiming {
  /** A replica silent for this long is taken for dead. Default 15000. */
  readonly leaseMs?: number;
  /** Default leaseMs / 3. */
  readonly heartbeatMs?: number;
  /** Safety-net re-check of waiting slots and VM locks. Default 250. */
  readonly pollMs?: number;
}

/**
 * With several replicas most audit groups lose the head race at least once; the writer re-seals
 * after each loss, and this many attempts make a failed append (503) practically impossible.
 */
export const HA_AUDIT_CONFLICT_RETRIES = 200;

export interface PostgresBackendOptions extends HaTiming {
  readonly url: string;
  readonly instance: string;
  readonly inventory: HostInventory;
  readonly clock?: Clock;
  /** Schema for the tables (tests); default the connection's search_path. */
  readonly schema?: string;
  readonly poolSize?: number;
  readonly onError?: (err: unknown, what: string) => void;
  readonly onLeaseLost?: () => void;
}

export interface PostgresBackend {
  readonly pool: PostgresPool;
  /** Resolves once migrations are applied; every store method waits for it. */
  readonly ready: Promise<void>;
  readonly auditStore: AuditStore;
  readonly jobStore: JobStore;
  readonly slots: PgSlotCoordinator;
  readonly vmLocks: VmLockCoordinator;
  readonly lease: ReplicaLease;
  readonly signal: PgFleetSignal;
  /** Migrates, takes the lease and starts heartbeats; `onAdopted` runs jobs adopted from dead replicas. */
  start(onAdopted: () => Promise<unknown>): Promise<void>;
  /** Stops heartbeats (giving the lease up unless told not to) and closes the pool. */
  close(options?: { releaseLease?: boolean }): Promise<void>;
}

export function createPostgresBackend(options: PostgresBackendOptions): PostgresBackend {
  const poolOptions = {
    url: options.url,
    applicationName: `hvgate ${options.instance}`.slice(0, 63),
    ...(options.schema !== undefined ? { schema: options.schema } : {}),
  };
  const pool = createPostgresPool({ ...poolOptions, max: options.poolSize ?? 20 });
  // Heartbeats get their own connection: a replica busy enough to queue for the shared pool must
  // not lose its lease (and have its jobs adopted) for that reason alone.
  const leasePool = createPostgresPool({ ...poolOptions, max: 2 });
  const ready = applyPostgresMigrations(
    pool,
    options.schema !== undefined ? { schema: options.schema } : {},
  ).then(() => undefined);
  ready.catch(() => undefined);
  const signal = createPgFleetSignal({
    pool,
    ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}),
  });
  const common = {
    pool,
    instance: options.instance,
    signal,
    ready,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.onError ? { onError: options.onError } : {}),
  };
  let adopt: () => Promise<unknown> = async () => undefined;
  const lease = createReplicaLease({
    pool: leasePool,
    instance: options.instance,
    signal,
    ready,
    ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}),
    ...(options.heartbeatMs !== undefined ? { heartbeatMs: options.heartbeatMs } : {}),
    ...(options.onError ? { onError: options.onError } : {}),
    ...(options.onLeaseLost ? { onLeaseLost: options.onLeaseLost } : {}),
    onAdopted: async () => {
      await adopt();
    },
  });
  const slots = createPgSlotCoordinator({ ...common, inventory: options.inventory });
  let closed: Promise<void> | undefined;
  return {
    pool,
    ready,
    auditStore: createPostgresAuditStore(pool, { ready }),
    jobStore: createPostgresJobStore(pool, { instance: options.instance, ready }),
    slots,
    vmLocks: createPgVmLocks(common),
    lease,
    signal,
    async start(onAdopted) {
      adopt = onAdopted;
      await ready;
      await lease.start();
    },
    close(closeOptions = {}) {
      closed ??= (async () => {
        await lease.stop({ release: closeOptions.releaseLease ?? true });
        await slots.close();
        await signal.close();
        await pool.end().catch(() => undefined);
        await leasePool.end().catch(() => undefined);
      })();
      return closed;
    },
  };
}
