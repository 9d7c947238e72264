// The audit store on PostgreSQL: the same records and reads as the SQLite store, shared by every
// replica. ONE chain for all replicas (not one per replica bound by checkpoints): the verifier,
// export, reviewer queries and `hvgate audit verify` then work unchanged, and a reviewer sees a
// single total order of what happened. Appends are optimistic: the writer seals a group against
// the head it knows, and appendBatch applies it only if that is still the head, checked inside the
// transaction under an advisory lock that serialises appenders. A replica that lost the race gets
// AuditHeadConflictError, re-reads the head and re-seals (see audit-writer's conflict retries).
// The tables are append-only by trigger (UPDATE, DELETE and TRUNCATE are refused).
import { AuditHeadConflictError } from '../audit/audit-errors';
import type {
  AuditAppendBatch,
  AuditCheckpointRecord,
  AuditEventFilter,
  AuditEventRecord,
  AuditHead,
  AuditPage,
  AuditStore,
  AuditStoreStats,
} from './audit-store';
import { PostgresSchemaError, postgresMigrationVersions } from './postgres-migrations';
import { ADVISORY_KEY_SQL, toNumber, withTransaction, type PostgresPool } from './postgres-pool';

export interface PostgresAuditStoreOptions {
  /** Resolves once the schema is migrated (stores are built before start() awaits migrations). */
  readonly ready?: Promise<unknown>;
  /**
   * Readers such as `hvgate audit verify` pass true: nothing is migrated and a database without
   * audit tables is refused with PostgresSchemaError.
   */
  readonly requireExisting?: boolean;
  /** End the pool when the store is closed (default false: the opener owns it). */
  readonly ownsPool?: boolean;
}

const FILTER_COLUMNS: Record<Exclude<keyof AuditEventFilter, 'fromTime' | 'toTime'>, string> = {
  actorSub: 'actor_sub',
  host: 'host',
  vmId: 'vm_id',
  operation: 'operation',
  stage: 'stage',
  status: 'outcome_status',
  requestId: 'request_id',
  jobId: 'job_id',
};

interface EventRow {
  seq: string;
  hash: string;
  body: string;
}
interface CheckpointRow {
  seq: string;
  body: string;
}

const toEvent = (r: EventRow): AuditEventRecord => ({ seq: toNumber(r.seq), hash: r.hash, body: r.body });
const toCheckpoint = (r: CheckpointRow): AuditCheckpointRecord => ({ seq: toNumber(r.seq), body: r.body });

export function createPostgresAuditStore(
  pool: PostgresPool,
  options: PostgresAuditStoreOptions = {},
): AuditStore {
  let transactions = 0;
  let eventsWritten = 0;
  let checkpointsWritten = 0;

  const ready: Promise<unknown> = options.requireExisting
    ? postgresMigrationVersions(pool).then((v) => {
        if (!v.has('audit'))
          throw new PostgresSchemaError('the database has no audit tables (not an hvgate audit store)');
      })
    : (options.ready ?? Promise.resolve());
  // A failed migration is reported by whoever awaits it; this only keeps it from being "unhandled".
  ready.catch(() => undefined);

  async function q<R extends object>(sql: string, args: unknown[] = []): Promise<R[]> {
    await ready;
    return (await pool.query<R>(sql, args)).rows;
  }

  return {
    async appendBatch(batch: AuditAppendBatch) {
      if (batch.events.length === 0 && batch.checkpoints.length === 0) return;
      await ready;
      await withTransaction(pool, async (c) => {
        await c.query(`SELECT pg_advisory_xact_lock(${ADVISORY_KEY_SQL('$1')})`, ['audit-append']);
        const b = await c.query<{ e: string; c: string }>(
          `SELECT (SELECT COALESCE(MAX(seq), 0) FROM audit_events) AS e,
                  (SELECT COALESCE(MAX(seq), 0) FROM audit_checkpoints) AS c`,
        );
        const current = toNumber(b.rows[0]!.e);
        if (current !== batch.expectedHeadSeq)
          throw new AuditHeadConflictError(batch.expectedHeadSeq, current);
        const currentCp = toNumber(b.rows[0]!.c);
        if (currentCp !== batch.expectedCheckpointSeq)
          throw new AuditHeadConflictError(batch.expectedCheckpointSeq, currentCp, 'checkpoint');
        if (batch.events.length > 0) {
          await c.query(
            'INSERT INTO audit_events (seq, hash, body) SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[])',
            [
              batch.events.map((e) => e.seq),
              batch.events.map((e) => e.hash),
              batch.events.map((e) => e.body),
            ],
          );
        }
        if (batch.checkpoints.length > 0) {
          await c.query(
            'INSERT INTO audit_checkpoints (seq, body) SELECT * FROM unnest($1::bigint[], $2::text[])',
            [batch.checkpoints.map((cp) => cp.seq), batch.checkpoints.map((cp) => cp.body)],
          );
        }
      });
      transactions++;
      eventsWritten += batch.events.length;
      checkpointsWritten += batch.checkpoints.length;
    },

    async head(): Promise<AuditHead | null> {
      const rows = await q<{ seq: string; hash: string }>(
        'SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1',
      );
      return rows[0] ? { seq: toNumber(rows[0].seq), hash: rows[0].hash } : null;
    },

    async lastCheckpoint() {
      const rows = await q<CheckpointRow>(
        'SELECT seq, body FROM audit_checkpoints ORDER BY seq DESC LIMIT 1',
      );
      return rows[0] ? toCheckpoint(rows[0]) : null;
    },

    async bounds() {
      const rows = await q<{ e: string; c: string }>(
        `SELECT (SELECT COALESCE(MAX(seq), 0) FROM audit_events) AS e,
                (SELECT COALESCE(MAX(seq), 0) FROM audit_checkpoints) AS c`,
      );
      return { maxEventSeq: toNumber(rows[0]!.e), maxCheckpointSeq: toNumber(rows[0]!.c) };
    },

    async readEvents(afterSeq, toSeq, limit) {
      const rows = await q<EventRow>(
        'SELECT seq, hash, body FROM audit_events WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3',
        [afterSeq, toSeq, limit],
      );
      return rows.map(toEvent);
    },

    async readCheckpoints(afterSeq, toSeq, limit) {
      const rows = await q<CheckpointRow>(
        'SELECT seq, body FROM audit_checkpoints WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3',
        [afterSeq, toSeq, limit],
      );
      return rows.map(toCheckpoint);
    },

    async checkpointBefore(seq) {
      const rows = await q<CheckpointRow>(
        'SELECT seq, body FROM audit_checkpoints WHERE seq < $1 ORDER BY seq DESC LIMIT 1',
        [seq],
      );
      return rows[0] ? toCheckpoint(rows[0]) : null;
    },

    async checkpointAtOrAfter(seq) {
      const rows = await q<CheckpointRow>(
        'SELECT seq, body FROM audit_checkpoints WHERE seq >= $1 ORDER BY seq LIMIT 1',
        [seq],
      );
      return rows[0] ? toCheckpoint(rows[0]) : null;
    },

    async queryEvents(filter: AuditEventFilter, page: AuditPage) {
      const where: string[] = [];
      const args: unknown[] = [];
      const add = (clause: (p: string) => string, value: unknown) => {
        args.push(value);
        where.push(clause(`$${args.length}`));
      };
      // Byte-wise comparison, like SQLite: ISO-8601 UTC times then order as instants.
      if (filter.fromTime !== undefined) add((p) => `time COLLATE "C" >= ${p}`, filter.fromTime);
      if (filter.toTime !== undefined) add((p) => `time COLLATE "C" < ${p}`, filter.toTime);
      for (const [key, column] of Object.entries(FILTER_COLUMNS)) {
        const value = filter[key as keyof typeof FILTER_COLUMNS];
        if (value !== undefined) add((p) => `${column} = ${p}`, value);
      }
      if (page.afterSeq !== undefined) add((p) => `seq > ${p}`, page.afterSeq);
      if (page.beforeSeq !== undefined) add((p) => `seq < ${p}`, page.beforeSeq);
      args.push(page.limit);
      const rows = await q<EventRow>(
        `SELECT seq, hash, body FROM audit_events${where.length ? ` WHERE ${where.join(' AND ')}` : ''}` +
          ` ORDER BY seq ${page.order === 'desc' ? 'DESC' : 'ASC'} LIMIT $${args.length}`,
        args,
      );
      return rows.map(toEvent);
    },

    async seqRangeForTime(fromTime, toTime) {
      const where: string[] = [];
      const args: string[] = [];
      if (fromTime !== undefined) {
        args.push(fromTime);
        where.push(`time COLLATE "C" >= $${args.length}`);
      }
      if (toTime !== undefined) {
        args.push(toTime);
        where.push(`time COLLATE "C" < $${args.length}`);
      }
      const rows = await q<{ min: string | null; max: string | null }>(
        `SELECT MIN(seq) AS min, MAX(seq) AS max FROM audit_events${where.length ? ` WHERE ${where.join(' AND ')}` : ''}`,
        args,
      );
      const r = rows[0];
      return !r || r.min === null || r.max === null
        ? null
        : { minSeq: toNumber(r.min), maxSeq: toNumber(r.max) };
    },

    stats(): AuditStoreStats {
      return { transactions, eventsWritten, checkpointsWritten };
    },

    async close() {
      if (options.ownsPool) await pool.end();
    },
  };
}
