// Jobs and idempotency keys on PostgreSQL, shared by every replica: a job created on one replica
// is readable (and its idempotency key honoured) on all of them. Each job row names the replica
// that runs it (`instance`); listByState answers for this replica's jobs — its own plus those it
// adopted from replicas whose lease expired (postgres-replica-lease.ts) — so recovery on one
// replica never touches work another live replica is doing.
import type { JobRecord, JobState } from '../jobs/job-model';
import type {
  CreateJobResult,
  HeldAuditEvent,
  IdempotencyRecord,
  JobListFilter,
  JobPatch,
  JobStore,
} from './job-store';
import { PostgresStoreError, toNumber, withTransaction, type PostgresPool } from './postgres-pool';

export interface PostgresJobStoreOptions {
  /** This replica's id; stamped on the jobs it creates. */
  readonly instance: string;
  /** Resolves once the schema is migrated. */
  readonly ready?: Promise<unknown>;
}

interface KeyRow {
  owner: string;
  key: string;
  request_hash: string;
  job_id: string;
  created_at: string;
}

interface HeldRow {
  job_id: string;
  held_at: string;
  event: unknown;
}

const toHeld = (r: HeldRow): HeldAuditEvent => ({
  jobId: r.job_id,
  heldAt: toNumber(r.held_at),
  event: r.event,
});

const toKey = (r: KeyRow): IdempotencyRecord => ({
  owner: r.owner,
  key: r.key,
  requestHash: r.request_hash,
  jobId: r.job_id,
  createdAt: toNumber(r.created_at),
});

/**
 * jsonb drops keys whose value is undefined, and `{...job, ...patch}` (the SQLite store) turns them
 * into absent keys; removing them explicitly keeps the two stores identical.
 */
function splitPatch(patch: JobPatch): { set: Record<string, unknown>; unset: string[] } {
  const set: Record<string, unknown> = {};
  const unset: string[] = [];
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) unset.push(k);
    else set[k] = v;
  }
  return { set, unset };
}

export function createPostgresJobStore(pool: PostgresPool, options: PostgresJobStoreOptions): JobStore {
  const ready = options.ready ?? Promise.resolve();
  ready.catch(() => undefined);
  const instance = options.instance;

  async function rows<R extends object>(sql: string, args: unknown[] = []): Promise<R[]> {
    await ready;
    return (await pool.query<R>(sql, args)).rows;
  }

  return {
    async create(job, idem): Promise<CreateJobResult> {
      await ready;
      return withTransaction(pool, async (c) => {
        if (idem) {
          const r = idem.record;
          // One statement decides, even when two replicas race on the same key: the loser waits for the
          // winner's commit, then sees a live key and takes the existing record.
          const claimed = await c.query(
            `INSERT INTO idempotency_keys (owner, key, request_hash, job_id, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (owner, key) DO UPDATE
               SET request_hash = EXCLUDED.request_hash, job_id = EXCLUDED.job_id, created_at = EXCLUDED.created_at
               WHERE idempotency_keys.created_at < $6
             RETURNING 1`,
            [r.owner, r.key, r.requestHash, r.jobId, r.createdAt, idem.notBefore],
          );
          if (claimed.rowCount === 0) {
            const existing = await c.query<KeyRow>(
              'SELECT * FROM idempotency_keys WHERE owner = $1 AND key = $2',
              [r.owner, r.key],
            );
            if (!existing.rows[0]) throw new PostgresStoreError('idempotency key vanished during creation');
            return { created: false, existing: toKey(existing.rows[0]) };
          }
        }
        await c.query(
          `INSERT INTO jobs (id, owner, operation, host, state, created_at, instance, doc)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)`,
          [
            job.id,
            job.owner,
            job.operation,
            job.host,
            job.state,
            job.createdAt,
            instance,
            JSON.stringify(job),
          ],
        );
        return { created: true };
      });
    },

    async get(id) {
      const r = await rows<{ doc: JobRecord }>('SELECT doc FROM jobs WHERE id = $1', [id]);
      return r[0]?.doc ?? null;
    },

    async update(id, patch, fromStates) {
      const { set, unset } = splitPatch(patch);
      const r = await rows(
        `UPDATE jobs SET
           doc = (doc - $2::text[]) || $3::jsonb,
           state = COALESCE($3::jsonb ->> 'state', state)
         WHERE id = $1 AND ($4::text[] IS NULL OR state = ANY($4::text[]))
           AND ($5::text IS NULL OR instance = $5)
         RETURNING 1`,
        // Fencing: only the replica a job is assigned to may start it. A replica taken for dead
        // whose queued jobs were adopted elsewhere then loses the start instead of running them twice.
        [
          id,
          unset,
          JSON.stringify(set),
          fromStates ? [...fromStates] : null,
          patch.state === 'running' ? instance : null,
        ],
      );
      return r.length > 0;
    },

    async list(filter: JobListFilter) {
      const where = ['owner = $1'];
      const args: unknown[] = [filter.owner];
      const add = (clause: (...p: string[]) => string, ...values: unknown[]) => {
        const params = values.map((v) => {
          args.push(v);
          return `$${args.length}`;
        });
        where.push(clause(...params));
      };
      if (filter.states && filter.states.length > 0)
        add((p) => `state = ANY(${p}::text[])`, [...filter.states]);
      if (filter.host !== undefined) add((p) => `host = ${p}`, filter.host);
      if (filter.operation !== undefined) add((p) => `operation = ${p}`, filter.operation);
      if (filter.before) {
        add(
          (a, b) => `(created_at < ${a} OR (created_at = ${a} AND id < ${b}))`,
          filter.before.createdAt,
          filter.before.id,
        );
      }
      args.push(filter.limit);
      const r = await rows<{ doc: JobRecord }>(
        `SELECT doc FROM jobs WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT $${args.length}`,
        args,
      );
      return r.map((x) => x.doc);
    },

    async listByState(states: readonly JobState[]) {
      if (states.length === 0) return [];
      const r = await rows<{ doc: JobRecord }>(
        'SELECT doc FROM jobs WHERE state = ANY($1::text[]) AND instance = $2 ORDER BY created_at, id',
        [[...states], instance],
      );
      return r.map((x) => x.doc);
    },

    async findIdempotency(owner, key, notBefore) {
      const r = await rows<KeyRow>(
        'SELECT * FROM idempotency_keys WHERE owner = $1 AND key = $2 AND created_at >= $3',
        [owner, key, notBefore],
      );
      return r[0] ? toKey(r[0]) : null;
    },

    async releaseIdempotency(owner, key) {
      await rows('DELETE FROM idempotency_keys WHERE owner = $1 AND key = $2', [owner, key]);
    },

    async purgeIdempotency(olderThan) {
      await ready;
      const r = await pool.query('DELETE FROM idempotency_keys WHERE created_at < $1', [olderThan]);
      return r.rowCount ?? 0;
    },

    async holdAuditEvent(held) {
      await rows(
        `INSERT INTO held_audit_events (job_id, held_at, event) VALUES ($1, $2, $3::jsonb)
         ON CONFLICT (job_id) DO UPDATE SET held_at = EXCLUDED.held_at, event = EXCLUDED.event`,
        [held.jobId, held.heldAt, JSON.stringify(held.event)],
      );
    },

    async listHeldAuditEvents(limit) {
      const r = await rows<HeldRow>(
        'SELECT job_id, held_at, event FROM held_audit_events ORDER BY held_at, job_id LIMIT $1',
        [limit],
      );
      return r.map(toHeld);
    },

    async countHeldAuditEvents() {
      const r = await rows<{ n: string }>('SELECT COUNT(*) AS n FROM held_audit_events');
      return toNumber(r[0]?.n ?? 0);
    },

    async takeHeldAuditEvent(jobId) {
      const r = await rows<HeldRow>(
        'DELETE FROM held_audit_events WHERE job_id = $1 RETURNING job_id, held_at, event',
        [jobId],
      );
      return r[0] ? toHeld(r[0]) : null;
    },

    async checkWritable() {
      const r = await rows<{ ro: string; recovery: boolean }>(
        `SELECT current_setting('transaction_read_only') AS ro, pg_is_in_recovery() AS recovery`,
      );
      // A standby (after a failover went the wrong way) or a read-only default is not writable.
      if (!r[0] || r[0].ro === 'on' || r[0].recovery)
        throw new PostgresStoreError('job store is not writable');
    },

    async close() {
      // The opener owns the pool.
    },
  };
}
