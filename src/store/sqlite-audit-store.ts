// The audit store on embedded SQLite. Each record is kept as the exact canonical JSON its hash
// covers; the columns reviewers filter on are *generated* from that JSON, so they cannot drift
// from the hashed content (an UPDATE of the body recomputes them and their indexes).
import type { Statement } from 'better-sqlite3';
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
import {
  SqliteDatabase,
  SqliteSchemaError,
  appliedMigrationVersions,
  applyMigrations,
  defineMigrations,
} from './sqlite-database';

export const AUDIT_MIGRATION_SCOPE = 'audit';

export const auditSqliteMigrations = defineMigrations(AUDIT_MIGRATION_SCOPE, [
  {
    description: 'audit events and signed checkpoints',
    up: (db) => {
      db.exec(`
        CREATE TABLE audit_events (
          seq INTEGER PRIMARY KEY,
          hash TEXT NOT NULL,
          body TEXT NOT NULL,
          event_id TEXT GENERATED ALWAYS AS (json_extract(body, '$.eventId')) VIRTUAL,
          time TEXT GENERATED ALWAYS AS (json_extract(body, '$.time')) VIRTUAL,
          stage TEXT GENERATED ALWAYS AS (json_extract(body, '$.stage')) VIRTUAL,
          operation TEXT GENERATED ALWAYS AS (json_extract(body, '$.operation')) VIRTUAL,
          outcome_status TEXT GENERATED ALWAYS AS (json_extract(body, '$.outcome.status')) VIRTUAL,
          actor_sub TEXT GENERATED ALWAYS AS (json_extract(body, '$.actor.sub')) VIRTUAL,
          host TEXT GENERATED ALWAYS AS (json_extract(body, '$.target.host')) VIRTUAL,
          vm_id TEXT GENERATED ALWAYS AS (json_extract(body, '$.target.vmId')) VIRTUAL,
          request_id TEXT GENERATED ALWAYS AS (json_extract(body, '$.requestId')) VIRTUAL,
          job_id TEXT GENERATED ALWAYS AS (json_extract(body, '$.jobId')) VIRTUAL
        );
        CREATE INDEX audit_events_time ON audit_events (time);
        CREATE INDEX audit_events_actor ON audit_events (actor_sub);
        CREATE INDEX audit_events_target ON audit_events (host, vm_id);
        CREATE INDEX audit_events_vm ON audit_events (vm_id);
        CREATE INDEX audit_events_request ON audit_events (request_id);
        CREATE INDEX audit_events_job ON audit_events (job_id);
        CREATE TABLE audit_checkpoints (
          seq INTEGER PRIMARY KEY,
          body TEXT NOT NULL
        );
      `);
    },
  },
]);

export interface SqliteAuditStoreOptions {
  /**
   * Apply the audit migrations (default true). Readers such as `hvgate audit verify` pass false
   * with a read-only connection and get SqliteSchemaError if the file has no audit tables.
   */
  readonly migrate?: boolean;
  /** Close the database when the store is closed (default false: the opener owns it). */
  readonly ownsDatabase?: boolean;
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

export function createSqliteAuditStore(
  db: SqliteDatabase,
  options: SqliteAuditStoreOptions = {},
): AuditStore {
  if (options.migrate ?? true) {
    applyMigrations(db, auditSqliteMigrations);
  } else if (!appliedMigrationVersions(db).has(AUDIT_MIGRATION_SCOPE)) {
    throw new SqliteSchemaError('the database has no audit tables (not an hvgate audit store)');
  }

  const insertEvent = db.prepare('INSERT INTO audit_events (seq, hash, body) VALUES (?, ?, ?)');
  const insertCheckpoint = db.prepare('INSERT INTO audit_checkpoints (seq, body) VALUES (?, ?)');
  const maxSeq = db.prepare('SELECT IFNULL(MAX(seq), 0) FROM audit_events').pluck();
  const maxCpSeq = db.prepare('SELECT IFNULL(MAX(seq), 0) FROM audit_checkpoints').pluck();
  const headStmt = db.prepare('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1');
  const lastCpStmt = db.prepare('SELECT seq, body FROM audit_checkpoints ORDER BY seq DESC LIMIT 1');
  const boundsStmt = db.prepare(
    `SELECT (SELECT IFNULL(MAX(seq), 0) FROM audit_events) AS maxEventSeq,
            (SELECT IFNULL(MAX(seq), 0) FROM audit_checkpoints) AS maxCheckpointSeq`,
  );
  // raw() skips building a row object per record; this is the verifier's hot path.
  const readEventsStmt = db
    .prepare('SELECT seq, hash, body FROM audit_events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?')
    .raw();
  const readCpStmt = db.prepare(
    'SELECT seq, body FROM audit_checkpoints WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?',
  );
  const cpBeforeStmt = db.prepare(
    'SELECT seq, body FROM audit_checkpoints WHERE seq < ? ORDER BY seq DESC LIMIT 1',
  );
  const cpAtOrAfterStmt = db.prepare(
    'SELECT seq, body FROM audit_checkpoints WHERE seq >= ? ORDER BY seq LIMIT 1',
  );

  let transactions = 0;
  let eventsWritten = 0;
  let checkpointsWritten = 0;

  const append = db.transaction((batch: AuditAppendBatch) => {
    const current = maxSeq.get() as number;
    if (current !== batch.expectedHeadSeq) throw new AuditHeadConflictError(batch.expectedHeadSeq, current);
    const currentCp = maxCpSeq.get() as number;
    if (currentCp !== batch.expectedCheckpointSeq) {
      throw new AuditHeadConflictError(batch.expectedCheckpointSeq, currentCp, 'checkpoint');
    }
    for (const e of batch.events) insertEvent.run(e.seq, e.hash, e.body);
    for (const c of batch.checkpoints) insertCheckpoint.run(c.seq, c.body);
  });

  const queryCache = new Map<string, Statement<(string | number)[]>>();

  return {
    async appendBatch(batch) {
      if (batch.events.length === 0 && batch.checkpoints.length === 0) return;
      // IMMEDIATE takes the write lock up front, so the head check and the inserts see one state.
      append.immediate(batch);
      transactions++;
      eventsWritten += batch.events.length;
      checkpointsWritten += batch.checkpoints.length;
    },

    async head(): Promise<AuditHead | null> {
      return (headStmt.get() as AuditHead | undefined) ?? null;
    },

    async lastCheckpoint() {
      return (lastCpStmt.get() as AuditCheckpointRecord | undefined) ?? null;
    },

    async bounds() {
      return boundsStmt.get() as { maxEventSeq: number; maxCheckpointSeq: number };
    },

    async readEvents(afterSeq, toSeq, limit) {
      const rows = readEventsStmt.all(afterSeq, toSeq, limit) as [number, string, string][];
      const out: AuditEventRecord[] = new Array(rows.length);
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i]!;
        out[i] = { seq: r[0], hash: r[1], body: r[2] };
      }
      return out;
    },

    async readCheckpoints(afterSeq, toSeq, limit) {
      return readCpStmt.all(afterSeq, toSeq, limit) as AuditCheckpointRecord[];
    },

    async checkpointBefore(seq) {
      return (cpBeforeStmt.get(seq) as AuditCheckpointRecord | undefined) ?? null;
    },

    async checkpointAtOrAfter(seq) {
      return (cpAtOrAfterStmt.get(seq) as AuditCheckpointRecord | undefined) ?? null;
    },

    async queryEvents(filter: AuditEventFilter, page: AuditPage) {
      const where: string[] = [];
      const args: (string | number)[] = [];
      if (filter.fromTime !== undefined) {
        where.push('time >= ?');
        args.push(filter.fromTime);
      }
      if (filter.toTime !== undefined) {
        where.push('time < ?');
        args.push(filter.toTime);
      }
      for (const [key, column] of Object.entries(FILTER_COLUMNS)) {
        const value = filter[key as keyof typeof FILTER_COLUMNS];
        if (value !== undefined) {
          where.push(`${column} = ?`);
          args.push(value);
        }
      }
      if (page.afterSeq !== undefined) {
        where.push('seq > ?');
        args.push(page.afterSeq);
      }
      if (page.beforeSeq !== undefined) {
        where.push('seq < ?');
        args.push(page.beforeSeq);
      }
      const sql =
        `SELECT seq, hash, body FROM audit_events${where.length ? ` WHERE ${where.join(' AND ')}` : ''}` +
        ` ORDER BY seq ${page.order === 'desc' ? 'DESC' : 'ASC'} LIMIT ?`;
      let stmt = queryCache.get(sql);
      if (!stmt) {
        stmt = db.prepare<(string | number)[]>(sql);
        // The SQL text is built only from the fixed column map above, so the cache stays small.
        queryCache.set(sql, stmt);
      }
      return stmt.all(...args, page.limit) as AuditEventRecord[];
    },

    async seqRangeForTime(fromTime, toTime) {
      const where: string[] = [];
      const args: string[] = [];
      if (fromTime !== undefined) {
        where.push('time >= ?');
        args.push(fromTime);
      }
      if (toTime !== undefined) {
        where.push('time < ?');
        args.push(toTime);
      }
      const row = db
        .prepare<string[]>(
          `SELECT MIN(seq) AS minSeq, MAX(seq) AS maxSeq FROM audit_events${where.length ? ` WHERE ${where.join(' AND ')}` : ''}`,
        )
        .get(...args) as { minSeq: number | null; maxSeq: number | null };
      return row.minSeq === null || row.maxSeq === null ? null : { minSeq: row.minSeq, maxSeq: row.maxSeq };
    },

    stats(): AuditStoreStats {
      return { transactions, eventsWritten, checkpointsWritten };
    },

    async close() {
      if (options.ownsDatabase && db.open) db.close();
    },
  };
}
