// Host slots shared by every replica, decided in PostgreSQL. A ticket row exists from admission to
// release; admission (maxConcurrent + maxQueue across all replicas) and every grant happen in a
// transaction under the host's advisory lock, so the running count can never pass the limit no
// matter how many replicas decide at once. Grants are global and fair: any replica that frees or
// requests a slot fills the free slots from ALL replicas' waiting tickets, round-robin by caller
// (the caller served longest ago goes first, oldest ticket within a caller). The replica that owns
// a granted ticket learns it from a NOTIFY or its next poll. Tickets of a replica whose lease
// expired are deleted by the lease reaper, which frees their slots.
import { createServiceRateEstimator, type ServiceRateEstimator } from './service-rate';
import { systemClock, type Clock, type ClockTimer } from './clock';
import { HostBusyError, QueueCancelledError, QueueTimeoutError } from './fleet-errors';
import type { HostEntry, HostInventory } from './host-inventory';
import type { HostSlotSnapshot, SlotCoordinator, SlotLease, SlotRequest, SlotTicket } from './host-limiter';
import type { PgFleetSignal } from './pg-fleet-signal';
import {
  ADVISORY_KEY_SQL,
  toNumber,
  withTransaction,
  type PostgresClient,
  type PostgresPool,
} from '../store/postgres-pool';

export interface PgSlotCoordinatorOptions {
  readonly pool: PostgresPool;
  readonly inventory: HostInventory;
  /** This replica's id (its lease row in fleet_replicas covers its tickets). */
  readonly instance: string;
  readonly signal: PgFleetSignal;
  readonly clock?: Clock;
  readonly initialServiceTimeMs?: number;
  /** Resolves once the schema is migrated. */
  readonly ready?: Promise<unknown>;
  /** Background failures (database unreachable while releasing, polling). */
  readonly onError?: (err: unknown, what: string) => void;
  /**
   * Keeps a second, independent set of slots in the same table (e.g. "cmd" for per-command
   * permits); rows and wake-ups are keyed `namespace:host`.
   */
  readonly namespace?: string;
  /** Overrides each host's maxQueue (permits that should wait rather than refuse). */
  readonly maxQueue?: number;
}

export interface PgSlotCoordinator extends SlotCoordinator {
  /** Gives up this replica's waiting tickets (rows the database cannot delete now go with its lease). */
  close(): Promise<void>;
}

type LocalState = 'admitted' | 'waiting' | 'running' | 'done';

interface LocalTicket {
  readonly id: number;
  readonly host: HostEntry;
  readonly caller: string;
  readonly jobId: string | undefined;
  readonly admittedAt: number;
  readonly controller: AbortController;
  state: LocalState;
  timer: ClockTimer | undefined;
  detach: (() => void) | undefined;
  resolve: ((lease: SlotLease) => void) | undefined;
  reject: ((err: Error) => void) | undefined;
  pending: Promise<SlotLease> | undefined;
}

interface HostLocal {
  readonly entry: HostEntry;
  readonly rate: ServiceRateEstimator;
  readonly waiting: Set<LocalTicket>;
  unsubscribe: (() => void) | undefined;
  pumping: boolean;
  again: boolean;
}

export function createPgSlotCoordinator(options: PgSlotCoordinatorOptions): PgSlotCoordinator {
  const { pool, inventory, instance, signal } = options;
  const clock = options.clock ?? systemClock;
  const ready = options.ready ?? Promise.resolve();
  ready.catch(() => undefined);
  const hosts = new Map<string, HostLocal>();
  const report = (err: unknown, what: string) => options.onError?.(err, what);
  const keyOf = (host: string) => (options.namespace ? `${options.namespace}:${host}` : host);
  const topicOf = (host: string) => `slot:${keyOf(host)}`;
  const maxQueueOf = (entry: HostEntry) => options.maxQueue ?? entry.maxQueue;

  function local(name: string): HostLocal {
    let h = hosts.get(name);
    if (!h) {
      const entry = inventory.require(name);
      h = {
        entry,
        rate: createServiceRateEstimator(
          options.initialServiceTimeMs !== undefined ? { initialMs: options.initialServiceTimeMs } : {},
        ),
        waiting: new Set(),
        unsubscribe: undefined,
        pumping: false,
        again: false,
      };
      hosts.set(name, h);
    }
    return h;
  }

  async function lockHost(c: PostgresClient, host: string) {
    await c.query(`SELECT pg_advisory_xact_lock(${ADVISORY_KEY_SQL('$1')})`, [`host:${keyOf(host)}`]);
  }

  /** Fills the host's free slots from every replica's waiting tickets; caller holds the host lock. */
  async function grantFree(c: PostgresClient, h: HostLocal): Promise<number> {
    const running = await c.query<{ n: string }>(
      `SELECT count(*) AS n FROM fleet_tickets WHERE host = $1 AND state = 'running'`,
      [keyOf(h.entry.name)],
    );
    let free = h.entry.maxConcurrent - toNumber(running.rows[0]!.n);
    let granted = 0;
    while (free > 0) {
      const next = await c.query<{ id: string; caller: string }>(
        `SELECT t.id, t.caller FROM fleet_tickets t
           LEFT JOIN fleet_caller_turns c ON c.host = t.host AND c.caller = t.caller
         WHERE t.host = $1 AND t.state = 'waiting'
         ORDER BY COALESCE(c.last_served, 0), t.id
         LIMIT 1`,
        [keyOf(h.entry.name)],
      );
      const row = next.rows[0];
      if (!row) break;
      await c.query(`UPDATE fleet_tickets SET state = 'running', granted_at = $2 WHERE id = $1`, [
        row.id,
        clock.now(),
      ]);
      await c.query(
        `INSERT INTO fleet_caller_turns (host, caller, last_served) VALUES ($1, $2, nextval('fleet_turn_seq'))
         ON CONFLICT (host, caller) DO UPDATE SET last_served = EXCLUDED.last_served`,
        [keyOf(h.entry.name), row.caller],
      );
      free -= 1;
      granted += 1;
    }
    if (granted > 0) await signal.notify(c, topicOf(h.entry.name));
    return granted;
  }

  /** Grants what fits, then hands this replica's granted tickets to their waiters. Serialised per host. */
  async function pump(h: HostLocal): Promise<void> {
    if (h.pumping) {
      h.again = true;
      return;
    }
    h.pumping = true;
    try {
      do {
        h.again = false;
        if (h.waiting.size === 0) break;
        await withTransaction(pool, async (c) => {
          await lockHost(c, h.entry.name);
          await grantFree(c, h);
        });
        // Only the tickets asked about: one that starts waiting during the query is not "missing".
        const asked = [...h.waiting];
        if (asked.length === 0) break;
        const rows = await pool.query<{ id: string; state: string }>(
          'SELECT id, state FROM fleet_tickets WHERE id = ANY($1::bigint[])',
          [asked.map((t) => t.id)],
        );
        const states = new Map(rows.rows.map((r) => [toNumber(r.id), r.state]));
        for (const t of asked) {
          if (t.state !== 'waiting') continue;
          const s = states.get(t.id);
          if (s === 'running') grantLocal(t);
          else if (s === undefined) {
            // The row is gone: the reaper took this replica for dead. The place in the queue is lost.
            abandon(
              t,
              new QueueCancelledError(h.entry.name, new Error('slot ticket expired (replica lease lost)')),
              false,
            );
          }
        }
      } while (h.again);
    } catch (err) {
      report(err, 'slot pump');
    } finally {
      h.pumping = false;
      syncSubscription(h);
    }
  }

  function syncSubscription(h: HostLocal) {
    if (h.waiting.size > 0 && !h.unsubscribe) {
      h.unsubscribe = signal.subscribe(topicOf(h.entry.name), () => void pump(h));
    } else if (h.waiting.size === 0 && h.unsubscribe) {
      h.unsubscribe();
      h.unsubscribe = undefined;
    }
  }

  function cleanup(t: LocalTicket) {
    if (t.timer) clock.clearTimeout(t.timer);
    t.timer = undefined;
    t.detach?.();
    t.detach = undefined;
  }

  /** Deletes a ticket row and refills the slot it may have held, in one transaction. */
  async function dropRow(h: HostLocal, id: number): Promise<void> {
    await ready;
    await withTransaction(pool, async (c) => {
      await lockHost(c, h.entry.name);
      const gone = await c.query<{ state: string }>(
        'DELETE FROM fleet_tickets WHERE id = $1 RETURNING state',
        [id],
      );
      if (gone.rows[0]?.state === 'running') await grantFree(c, h);
    });
  }

  /** Resolves after the first attempt (never rejects); failures keep retrying in the background. */
  function dropRowInBackground(h: HostLocal, id: number): Promise<void> {
    const attempt = (n: number): Promise<void> =>
      dropRow(h, id).catch((err: unknown) => {
        report(err, 'slot release');
        // Keep trying a while; after that the row is this replica's until its lease ends.
        if (n < 5) setTimeout(() => void attempt(n + 1), 200 * 2 ** n).unref();
      });
    return attempt(0);
  }

  function abandon(t: LocalTicket, error: Error, deleteRow = true): Promise<void> {
    if (t.state === 'running' || t.state === 'done') return Promise.resolve();
    const h = local(t.host.name);
    h.waiting.delete(t);
    t.state = 'done';
    cleanup(t);
    t.controller.abort(error);
    t.reject?.(error);
    const dropped = deleteRow ? dropRowInBackground(h, t.id) : Promise.resolve();
    syncSubscription(h);
    return dropped;
  }

  function grantLocal(t: LocalTicket) {
    if (t.state !== 'waiting') return;
    const h = local(t.host.name);
    h.waiting.delete(t);
    t.state = 'running';
    cleanup(t);
    const grantedAt = clock.now();
    let released = false;
    const lease: SlotLease = {
      host: h.entry.name,
      caller: t.caller,
      queueWaitMs: grantedAt - t.admittedAt,
      async release() {
        if (released) return;
        released = true;
        t.state = 'done';
        h.rate.observe(clock.now() - grantedAt);
        try {
          await dropRow(h, t.id);
        } catch (err) {
          report(err, 'slot release');
          dropRowInBackground(h, t.id);
        }
        signal.pokeLocal(topicOf(h.entry.name));
      },
    };
    t.resolve?.(lease);
  }

  /** Joins the round-robin and, in the same transaction, fills free slots; true if this ticket got one. */
  async function enqueueAndGrant(c: PostgresClient, h: HostLocal, id: number): Promise<boolean> {
    await c.query(`UPDATE fleet_tickets SET state = 'waiting' WHERE id = $1 AND state = 'admitted'`, [id]);
    await grantFree(c, h);
    const own = await c.query<{ state: string }>('SELECT state FROM fleet_tickets WHERE id = $1', [id]);
    return own.rows[0]?.state === 'running';
  }

  /**
   * Admission; with `andWait` the ticket also joins the queue (and may be granted) in the same
   * transaction — the one-round-trip path of acquire(request).
   */
  async function admitTicket(
    request: SlotRequest,
    andWait: boolean,
  ): Promise<{ ticket: SlotTicket; granted: boolean }> {
    const h = local(request.host);
    const name = h.entry.name;
    if (request.signal?.aborted) throw new QueueCancelledError(name, request.signal.reason);
    await ready;
    const admittedAt = clock.now();
    const { id, granted } = await withTransaction(pool, async (c) => {
      await lockHost(c, name);
      const counts = await c.query<{ total: string; queued: string }>(
        `SELECT count(*) AS total, count(*) FILTER (WHERE state <> 'running') AS queued
           FROM fleet_tickets WHERE host = $1`,
        [keyOf(name)],
      );
      const total = toNumber(counts.rows[0]!.total);
      const queued = toNumber(counts.rows[0]!.queued);
      if (total >= h.entry.maxConcurrent + maxQueueOf(h.entry)) {
        throw new HostBusyError(name, h.rate.retryAfterSec(queued, h.entry.maxConcurrent), queued);
      }
      const ins = await c.query<{ id: string }>(
        `INSERT INTO fleet_tickets (host, caller, job_id, instance, state, admitted_at)
         VALUES ($1, $2, $3, $4, 'admitted', $5) RETURNING id`,
        [keyOf(name), request.caller, request.jobId ?? null, instance, admittedAt],
      );
      const newId = toNumber(ins.rows[0]!.id);
      return { id: newId, granted: andWait ? await enqueueAndGrant(c, h, newId) : false };
    });

    const t: LocalTicket = {
      id,
      host: h.entry,
      caller: request.caller,
      jobId: request.jobId,
      admittedAt,
      controller: new AbortController(),
      state: 'admitted',
      timer: undefined,
      detach: undefined,
      resolve: undefined,
      reject: undefined,
      pending: undefined,
    };
    const retryAfter = () => h.rate.retryAfterSec(h.waiting.size, h.entry.maxConcurrent);
    // The deadline covers the whole wait, VM turn included, so it starts at admission.
    t.timer = clock.setTimeout(() => {
      abandon(t, new QueueTimeoutError(name, clock.now() - t.admittedAt, retryAfter()));
    }, h.entry.queueTimeoutSec * 1000);
    const callerSignal = request.signal;
    if (callerSignal) {
      const onAbort = () => abandon(t, new QueueCancelledError(name, callerSignal.reason));
      callerSignal.addEventListener('abort', onAbort, { once: true });
      t.detach = () => callerSignal.removeEventListener('abort', onAbort);
      if (callerSignal.aborted) onAbort();
    }

    /** Starts waiting locally; `joined` says whether the row is already queued (and maybe granted). */
    const wait = (joined: { granted: boolean } | null): Promise<SlotLease> => {
      t.pending = new Promise<SlotLease>((resolve, reject) => {
        if (t.state === 'done') {
          const reason = t.controller.signal.reason;
          reject(reason instanceof Error ? reason : new QueueCancelledError(name, reason));
          return;
        }
        t.resolve = resolve;
        t.reject = reject;
        t.state = 'waiting';
        h.waiting.add(t);
        syncSubscription(h);
        if (joined) {
          if (joined.granted) grantLocal(t);
          return;
        }
        withTransaction(pool, async (c) => {
          await lockHost(c, name);
          return enqueueAndGrant(c, h, t.id);
        })
          .then((granted) => {
            if (granted) grantLocal(t);
          })
          .catch((err: unknown) => {
            report(err, 'slot wait');
            abandon(t, new QueueCancelledError(name, err));
          });
      });
      return t.pending;
    };

    const ticket: SlotTicket = {
      host: name,
      caller: t.caller,
      jobId: t.jobId,
      admittedAt,
      signal: t.controller.signal,
      acquire() {
        return t.pending ?? wait(null);
      },
      async cancel() {
        // Resolves once the place is given up in the database, so a new admission sees it free.
        await abandon(t, new QueueCancelledError(name));
      },
    };
    if (andWait) void wait({ granted });
    return { ticket, granted };
  }

  async function snapshotAll(names: readonly string[]): Promise<HostSlotSnapshot[]> {
    await ready;
    const rows = await pool.query<{ host: string; caller: string; running: string; queued: string }>(
      `SELECT host, caller,
              count(*) FILTER (WHERE state = 'running') AS running,
              count(*) FILTER (WHERE state <> 'running') AS queued
         FROM fleet_tickets WHERE host = ANY($1::text[]) GROUP BY host, caller`,
      [names.map(keyOf)],
    );
    return names.map((name) => {
      const h = local(name);
      const callers: HostSlotSnapshot['callers'] = {};
      let running = 0;
      let queued = 0;
      for (const r of rows.rows) {
        if (r.host !== keyOf(name)) continue;
        const c = { running: toNumber(r.running), queued: toNumber(r.queued) };
        callers[r.caller] = c;
        running += c.running;
        queued += c.queued;
      }
      return {
        host: name,
        slots: h.entry.maxConcurrent,
        running,
        queued,
        maxQueue: maxQueueOf(h.entry),
        serviceTimeMs: Math.round(h.rate.serviceTimeMs()),
        retryAfterSec: h.rate.retryAfterSec(queued, h.entry.maxConcurrent),
        callers,
      };
    });
  }

  return {
    admit: async (request) => (await admitTicket(request, false)).ticket,
    async acquire(request) {
      return (await admitTicket(request, true)).ticket.acquire();
    },
    snapshot: () => snapshotAll(inventory.list().map((e) => e.name)),
    async hostSnapshot(host) {
      local(host);
      return (await snapshotAll([host]))[0]!;
    },
    async close() {
      for (const h of hosts.values()) {
        for (const t of [...h.waiting])
          abandon(t, new QueueCancelledError(h.entry.name, new Error('shutting down')));
        h.unsubscribe?.();
        h.unsubscribe = undefined;
      }
    },
  };
}
