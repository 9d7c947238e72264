// Wake-ups for replicas waiting on a host slot or a VM lock. Whoever frees a slot or a lock sends
// NOTIFY on one channel (the payload names the schema and the topic); each replica keeps ONE
// listening connection and pokes its local waiters on that topic. Notifications are only a
// latency optimisation: waiters also re-check on a poll interval, so a lost notification (or a
// slot freed by the lease reaper of another replica) delays a grant by at most one poll.
import type { Client, PoolClient } from 'pg';
import type { PostgresPool } from '../store/postgres-pool';

export const FLEET_CHANNEL = 'hvgate_fleet';

export interface PgFleetSignal {
  /** Calls `fn` on every notification for `topic` and on every poll tick; returns the unsubscribe. */
  subscribe(topic: string, fn: () => void): () => void;
  /** Sends the notification inside the caller's transaction (delivered on commit). */
  notify(client: Pick<PoolClient, 'query'>, topic: string): Promise<void>;
  /** Delivers to this replica's own subscribers at once (no round trip). */
  pokeLocal(topic: string): void;
  close(): Promise<void>;
}

export interface PgFleetSignalOptions {
  readonly pool: PostgresPool;
  /** Safety-net re-check interval. Default 250 ms. */
  readonly pollMs?: number;
}

export function createPgFleetSignal(options: PgFleetSignalOptions): PgFleetSignal {
  const { pool } = options;
  const pollMs = options.pollMs ?? 250;
  const subscribers = new Map<string, Set<() => void>>();
  let schema: string | null = null;
  let listener: Client | null = null;
  let closed = false;
  let connecting: Promise<void> | null = null;

  function fire(topic: string) {
    const set = subscribers.get(topic);
    if (!set) return;
    for (const fn of [...set]) fn();
  }

  async function connect(): Promise<void> {
    const schemaRow = await pool.query<{ s: string }>('SELECT current_schema() AS s');
    schema = schemaRow.rows[0]?.s ?? 'public';
    // Pool options carry the connection string and search_path settings of this replica.
    // Required here so the SQLite gateway, which never builds a signal, does not load pg.
    const { Client: PgClient } = require('pg') as typeof import('pg');
    const client = new PgClient(pool.options);
    client.on('error', () => {
      // The listening connection dropped: fall back to polling and reconnect on the next tick.
      if (listener === client) listener = null;
    });
    client.on('notification', (msg) => {
      const payload = msg.payload ?? '';
      const sep = payload.indexOf('|');
      if (sep < 0 || payload.slice(0, sep) !== schema) return;
      fire(payload.slice(sep + 1));
    });
    await client.connect();
    await client.query(`LISTEN ${FLEET_CHANNEL}`);
    if (closed) {
      await client.end().catch(() => undefined);
      return;
    }
    listener = client;
  }

  function ensureListener() {
    if (closed || listener || connecting) return;
    connecting = connect()
      .catch(() => undefined)
      .finally(() => {
        connecting = null;
      });
  }

  const timer = setInterval(() => {
    ensureListener();
    for (const topic of subscribers.keys()) fire(topic);
  }, pollMs);
  timer.unref();
  ensureListener();

  return {
    subscribe(topic, fn) {
      let set = subscribers.get(topic);
      if (!set) subscribers.set(topic, (set = new Set()));
      set.add(fn);
      return () => {
        set.delete(fn);
        if (set.size === 0 && subscribers.get(topic) === set) subscribers.delete(topic);
      };
    },
    async notify(client, topic) {
      await client.query(`SELECT pg_notify($1, current_schema() || '|' || $2)`, [FLEET_CHANNEL, topic]);
    },
    pokeLocal(topic) {
      queueMicrotask(() => fire(topic));
    },
    async close() {
      closed = true;
      clearInterval(timer);
      if (connecting) await connecting;
      const l = listener;
      listener = null;
      if (l) await l.end().catch(() => undefined);
    },
  };
}
