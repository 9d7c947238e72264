// Per-VM serialisation of mutating work across replicas. Each request is a row in fleet_vm_locks;
// the row with the lowest id for a (host, VM) holds the lock, the others wait in id order (first
// come, first served across all replicas). Rows are inserted under the VM's advisory lock, so ids
// commit in the order they were assigned and no later row can become visible "in front of" one a
// waiter has already seen. Rows of a replica whose lease expired are deleted by the lease reaper.
import { systemClock, type Clock } from './clock';
import { QueueCancelledError } from './fleet-errors';
import type { PgFleetSignal } from './pg-fleet-signal';
import type { VmLockCoordinator, VmLockLease, VmLockRequest, VmLockSnapshot } from './vm-lock';
import { ADVISORY_KEY_SQL, toNumber, withTransaction, type PostgresPool } from '../store/postgres-pool';

export interface PgVmLockOptions {
  readonly pool: PostgresPool;
  readonly instance: string;
  readonly signal: PgFleetSignal;
  readonly clock?: Clock;
  readonly ready?: Promise<unknown>;
  readonly onError?: (err: unknown, what: string) => void;
}

export const vmTopic = (host: string, vmId: string) => `vm:${host}/${vmId.toLowerCase()}`;

export function createPgVmLocks(options: PgVmLockOptions): VmLockCoordinator {
  const { pool, instance, signal } = options;
  const clock = options.clock ?? systemClock;
  const ready = options.ready ?? Promise.resolve();
  ready.catch(() => undefined);
  const report = (err: unknown, what: string) => options.onError?.(err, what);

  async function deleteRow(host: string, vmId: string, id: number): Promise<void> {
    await withTransaction(pool, async (c) => {
      await c.query('DELETE FROM fleet_vm_locks WHERE id = $1', [id]);
      await signal.notify(c, vmTopic(host, vmId));
    });
  }

  function deleteInBackground(host: string, vmId: string, id: number) {
    const attempt = (n: number) => {
      deleteRow(host, vmId, id).catch((err: unknown) => {
        report(err, 'vm lock release');
        if (n < 5) setTimeout(() => attempt(n + 1), 200 * 2 ** n).unref();
      });
    };
    attempt(0);
  }

  return {
    async acquire(request: VmLockRequest): Promise<VmLockLease> {
      const host = request.host;
      const vmId = request.vmId.toLowerCase();
      const abortSignal = request.signal;
      const abortError = () =>
        abortSignal?.reason instanceof Error
          ? abortSignal.reason
          : new QueueCancelledError(host, abortSignal?.reason);
      if (abortSignal?.aborted) throw abortError();
      await ready;
      const enqueuedAt = clock.now();
      const id = await withTransaction(pool, async (c) => {
        await c.query(`SELECT pg_advisory_xact_lock(${ADVISORY_KEY_SQL('$1')})`, [`vm:${host}:${vmId}`]);
        const r = await c.query<{ id: string }>(
          `INSERT INTO fleet_vm_locks (host, vm_id, holder, instance, enqueued_at) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
          [host, vmId, request.holder ?? null, instance, enqueuedAt],
        );
        return toNumber(r.rows[0]!.id);
      });
      const topic = vmTopic(host, vmId);

      return new Promise<VmLockLease>((resolve, reject) => {
        let settled = false;
        let checking = false;
        let again = false;
        const finish = () => {
          settled = true;
          unsubscribe();
          abortSignal?.removeEventListener('abort', onAbort);
        };
        const onAbort = () => {
          if (settled) return;
          finish();
          deleteInBackground(host, vmId, id);
          reject(abortError());
        };
        const check = async () => {
          if (settled) return;
          if (checking) {
            again = true;
            return;
          }
          checking = true;
          try {
            do {
              again = false;
              const r = await pool.query<{ head: string | null; mine: boolean }>(
                `SELECT (SELECT MIN(id) FROM fleet_vm_locks WHERE host = $1 AND vm_id = $2) AS head,
                        EXISTS (SELECT 1 FROM fleet_vm_locks WHERE id = $3) AS mine`,
                [host, vmId, id],
              );
              if (settled) return;
              const row = r.rows[0]!;
              if (!row.mine) {
                // Deleted by the reaper: this replica was taken for dead; its place is gone.
                finish();
                reject(
                  new QueueCancelledError(host, new Error('VM lock request expired (replica lease lost)')),
                );
                return;
              }
              if (toNumber(row.head) === id) {
                finish();
                let released = false;
                resolve({
                  host,
                  vmId,
                  waitedMs: clock.now() - enqueuedAt,
                  async release() {
                    if (released) return;
                    released = true;
                    try {
                      await deleteRow(host, vmId, id);
                    } catch (err) {
                      report(err, 'vm lock release');
                      deleteInBackground(host, vmId, id);
                    }
                    signal.pokeLocal(topic);
                  },
                });
                return;
              }
            } while (again);
          } catch (err) {
            report(err, 'vm lock wait');
          } finally {
            checking = false;
          }
        };
        const unsubscribe = signal.subscribe(topic, () => void check());
        abortSignal?.addEventListener('abort', onAbort, { once: true });
        // The caller may have given up while the request row was being written.
        if (abortSignal?.aborted) {
          onAbort();
          return;
        }
        void check();
      });
    },

    async snapshot(): Promise<VmLockSnapshot[]> {
      await ready;
      const r = await pool.query<{ host: string; vm_id: string; holder: string | null; waiting: string }>(
        `SELECT DISTINCT ON (host, vm_id) host, vm_id, holder,
                count(*) OVER (PARTITION BY host, vm_id) - 1 AS waiting
           FROM fleet_vm_locks ORDER BY host, vm_id, id`,
      );
      return r.rows.map((x) => ({
        host: x.host,
        vmId: x.vm_id,
        holder: x.holder,
        waiting: toNumber(x.waiting),
      }));
    },
  };
}
