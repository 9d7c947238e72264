// Replica liveness for the HA mode. Each replica holds a lease row (fleet_replicas) that it renews
// by heartbeat; its slot tickets, VM locks and jobs hang off that lease. Every replica also reaps:
// when a lease has expired (the replica died or lost the database for longer than the lease), its
// tickets and VM locks are deleted — freeing the slots — and its unfinished jobs are adopted by the
// reaping replica, which then marks the running ones `interrupted` (audited) and runs the queued
// ones (onAdopted → JobService.recover()). Times are the database's, so replica clocks may differ.
import { withTransaction, type PostgresPool } from './postgres-pool';
import type { PgFleetSignal } from '../fleet/pg-fleet-signal';
import { vmTopic } from '../fleet/pg-vm-lock';

export interface ReplicaLeaseOptions {
  readonly pool: PostgresPool;
  readonly instance: string;
  readonly signal?: PgFleetSignal;
  /** How long a replica counts as alive after its last heartbeat. Default 15 s. */
  readonly leaseMs?: number;
  /** Heartbeat and reap interval. Default leaseMs / 3. */
  readonly heartbeatMs?: number;
  /** Called (serially) after this replica adopted jobs of dead replicas. */
  readonly onAdopted?: (count: number) => Promise<void> | void;
  readonly onError?: (err: unknown, what: string) => void;
  /** Called when this replica found its own lease gone (it was taken for dead). */
  readonly onLeaseLost?: () => void;
  readonly ready?: Promise<unknown>;
}

export interface ReapResult {
  deadReplicas: string[];
  freedTickets: number;
  freedVmLocks: number;
  adoptedJobs: number;
}

export interface ReplicaLease {
  /** Registers the lease (must happen before the replica admits any work) and starts heartbeats. */
  start(): Promise<void>;
  heartbeat(): Promise<void>;
  reap(): Promise<ReapResult>;
  /** Stops heartbeats and gives the lease up; unfinished jobs go to the next reaper at once. */
  stop(options?: { release?: boolean }): Promise<void>;
}

export function createReplicaLease(options: ReplicaLeaseOptions): ReplicaLease {
  const { pool, instance } = options;
  const leaseMs = Math.max(100, Math.floor(options.leaseMs ?? 15_000));
  const heartbeatMs = Math.max(20, Math.floor(options.heartbeatMs ?? leaseMs / 3));
  const ready = options.ready ?? Promise.resolve();
  ready.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let started = false;

  async function heartbeat(): Promise<void> {
    await ready;
    const r = await pool.query<{ inserted: boolean }>(
      `INSERT INTO fleet_replicas (instance, expires_at) VALUES ($1, now() + $2 * interval '1 millisecond')
       ON CONFLICT (instance) DO UPDATE SET expires_at = EXCLUDED.expires_at
       RETURNING (xmax = 0) AS inserted`,
      [instance, leaseMs],
    );
    return r.rows[0]?.inserted && started ? options.onLeaseLost?.() : undefined;
  }

  async function reap(): Promise<ReapResult> {
    await ready;
    // First adopt the unfinished jobs of replicas without a live lease and let the job service
    // settle them (running → interrupted, audited; queued → run here) while their slots and VM
    // locks are still held: the audit then shows the outcome before anyone else touches that VM.
    const adopted = await pool.query(
      `UPDATE jobs j SET instance = $1
        WHERE j.state IN ('queued', 'running') AND j.instance IS DISTINCT FROM $1
          AND NOT EXISTS (SELECT 1 FROM fleet_replicas r WHERE r.instance = j.instance AND r.expires_at >= now())`,
      [instance],
    );
    const adoptedJobs = adopted.rowCount ?? 0;
    if (adoptedJobs > 0) {
      try {
        await options.onAdopted?.(adoptedJobs);
      } catch (err) {
        // The jobs are this replica's now; its next recovery pass settles them.
        options.onError?.(err, 'adopting jobs');
      }
    }
    const freed = await withTransaction(pool, async (c) => {
      const dead = await c.query<{ instance: string }>(
        `DELETE FROM fleet_replicas WHERE expires_at < now() AND instance <> $1 RETURNING instance`,
        [instance],
      );
      // Rows whose replica has no lease (expired just now, or never registered) are orphans.
      const tickets = await c.query<{ host: string }>(
        `DELETE FROM fleet_tickets t WHERE NOT EXISTS (SELECT 1 FROM fleet_replicas r WHERE r.instance = t.instance)
         RETURNING host`,
      );
      const locks = await c.query<{ host: string; vm_id: string }>(
        `DELETE FROM fleet_vm_locks l WHERE NOT EXISTS (SELECT 1 FROM fleet_replicas r WHERE r.instance = l.instance)
         RETURNING host, vm_id`,
      );
      if (options.signal) {
        for (const host of new Set(tickets.rows.map((r) => r.host)))
          await options.signal.notify(c, `slot:${host}`);
        for (const key of new Set(locks.rows.map((r) => vmTopic(r.host, r.vm_id))))
          await options.signal.notify(c, key);
      }
      return {
        deadReplicas: dead.rows.map((r) => r.instance),
        freedTickets: tickets.rowCount ?? 0,
        freedVmLocks: locks.rowCount ?? 0,
      };
    });
    return { ...freed, adoptedJobs };
  }

  // Two loops, so a slow reap (or the adoption it triggers) can never delay this replica's own
  // heartbeat into looking dead.
  let beating: Promise<void> | null = null;
  let reaping: Promise<void> | null = null;

  function beat(): Promise<void> {
    beating ??= heartbeat()
      .catch((err: unknown) => options.onError?.(err, 'replica heartbeat'))
      .finally(() => {
        beating = null;
      });
    return beating;
  }

  function sweep(): Promise<void> {
    reaping ??= reap()
      .then(() => undefined)
      .catch((err: unknown) => options.onError?.(err, 'replica reaper'))
      .finally(() => {
        reaping = null;
      });
    return reaping;
  }

  return {
    async start() {
      await heartbeat();
      started = true;
      stopped = false;
      timer = setInterval(() => {
        if (stopped) return;
        void beat();
        void sweep();
      }, heartbeatMs);
      timer.unref();
      // Pick up anything left by replicas that died before this one started.
      await sweep();
    },
    heartbeat,
    reap,
    async stop(stopOptions = {}) {
      stopped = true;
      if (timer) clearInterval(timer);
      timer = undefined;
      await Promise.all([beating, reaping]);
      if (stopOptions.release ?? true) {
        await pool
          .query('DELETE FROM fleet_replicas WHERE instance = $1', [instance])
          .catch((err: unknown) => {
            options.onError?.(err, 'replica lease release');
          });
      }
    },
  };
}
