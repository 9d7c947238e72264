// Jobs and idempotency keys in the embedded SQLite database (same file as the audit trail, own
// migration scope). Rows keep the queryable columns apart and the rest as JSON.
import type { JobRecord, JobState } from '../jobs/job-model';
import { applyMigrations, defineMigrations, type SqliteDatabase } from './sqlite-database';
import type {
  CreateJobResult,
  HeldAuditEvent,
  IdempotencyRecord,
  JobListFilter,
  JobPatch,
  JobStore,
} from './job-store';

export const JOBS_MIGRATION_SCOPE = 'jobs';

export const jobSqliteMigrations = defineMigrations(JOBS_MIGRATION_SCOPE, [
  {
    description: 'jobs and idempotency keys',
    up(db) {
      db.exec(`
        CREATE TABLE jobs (
          id TEXT PRIMARY KEY,
          owner TEXT NOT NULL,
          operation TEXT NOT NULL,
          host TEXT NOT NULL,
          state TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          doc TEXT NOT NULL
        ) STRICT;
        CREATE INDEX jobs_owner_created ON jobs (owner, created_at DESC, id DESC);
        CREATE INDEX jobs_state_created ON jobs (state, created_at, id);
        CREATE TABLE idempotency_keys (
          owner TEXT NOT NULL,
          key TEXT NOT NULL,
          request_hash TEXT NOT NULL,
          job_id TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          PRIMARY KEY (owner, key)
        ) STRICT;
        CREATE INDEX idempotency_created ON idempotency_keys (created_at);
      `);
    },
  },
  {
    description: 'outcome records held for the audit sweep',
    up(db) {
      db.exec(`
        CREATE TABLE held_audit_events (
          job_id TEXT PRIMARY KEY,
          held_at INTEGER NOT NULL,
          event TEXT NOT NULL
        ) STRICT;
        CREATE INDEX held_audit_events_at ON held_audit_events (held_at, job_id);
      `);
    },
  },
]);

interface JobRow {
  doc: string;
}

interface HeldRow {
  job_id: string;
  held_at: number;
  event: string;
}

const toHeld = (r: HeldRow): HeldAuditEvent => ({
  jobId: r.job_id,
  heldAt: r.held_at,
  event: JSON.parse(r.event) as unknown,
});

interface KeyRow {
  owner: string;
  key: string;
  request_hash: string;
  job_id: string;
  created_at: number;
}

const toKey = (r: KeyRow): IdempotencyRecord => ({
  owner: r.owner,
  key: r.key,
  requestHash: r.request_hash,
  jobId: r.job_id,
  createdAt: r.created_at,
});

export function createSqliteJobStore(db: SqliteDatabase): JobStore {
  applyMigrations(db, jobSqliteMigrations);

  const insertJob = db.prepare(
    'INSERT INTO jobs (id, owner, operation, host, state, created_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  const getJob = db.prepare('SELECT doc FROM jobs WHERE id = ?');
  const writeJob = db.prepare('UPDATE jobs SET state = ?, doc = ? WHERE id = ?');
  const getKey = db.prepare('SELECT * FROM idempotency_keys WHERE owner = ? AND key = ?');
  const deleteKey = db.prepare('DELETE FROM idempotency_keys WHERE owner = ? AND key = ?');
  const insertKey = db.prepare(
    'INSERT INTO idempotency_keys (owner, key, request_hash, job_id, created_at) VALUES (?, ?, ?, ?, ?)',
  );
  const purgeKeys = db.prepare('DELETE FROM idempotency_keys WHERE created_at < ?');
  const holdEvent = db.prepare(
    'INSERT OR REPLACE INTO held_audit_events (job_id, held_at, event) VALUES (?, ?, ?)',
  );
  const listHeld = db.prepare(
    'SELECT job_id, held_at, event FROM held_audit_events ORDER BY held_at, job_id LIMIT ?',
  );
  const countHeld = db.prepare('SELECT COUNT(*) FROM held_audit_events').pluck();
  const takeHeld = db.prepare(
    'DELETE FROM held_audit_events WHERE job_id = ? RETURNING job_id, held_at, event',
  );

  const parse = (row: JobRow | undefined): JobRecord | null =>
    row ? (JSON.parse(row.doc) as JobRecord) : null;

  const create = db.transaction(
    (job: JobRecord, idem?: { record: IdempotencyRecord; notBefore: number }): CreateJobResult => {
      if (idem) {
        const existing = getKey.get(idem.record.owner, idem.record.key) as KeyRow | undefined;
        if (existing && existing.created_at >= idem.notBefore)
          return { created: false, existing: toKey(existing) };
        if (existing) deleteKey.run(existing.owner, existing.key);
        const r = idem.record;
        insertKey.run(r.owner, r.key, r.requestHash, r.jobId, r.createdAt);
      }
      insertJob.run(
        job.id,
        job.owner,
        job.operation,
        job.host,
        job.state,
        job.createdAt,
        JSON.stringify(job),
      );
      return { created: true };
    },
  );

  const update = db.transaction((id: string, patch: JobPatch, fromStates?: readonly JobState[]): boolean => {
    const job = parse(getJob.get(id) as JobRow | undefined);
    if (!job) return false;
    if (fromStates && !fromStates.includes(job.state)) return false;
    const next: JobRecord = { ...job, ...patch };
    writeJob.run(next.state, JSON.stringify(next), id);
    return true;
  });

  return {
    // IMMEDIATE: the audit store commits through another connection to the same file; a deferred
    // transaction that read first and then found the file changed could not upgrade to a writer
    // (SQLITE_BUSY without retry). Taking the write lock up front waits (busy_timeout) instead.
    async create(job, idem) {
      return create.immediate(job, idem);
    },
    async get(id) {
      return parse(getJob.get(id) as JobRow | undefined);
    },
    async update(id, patch, fromStates) {
      return update.immediate(id, patch, fromStates);
    },
    async list(filter: JobListFilter) {
      const where = ['owner = ?'];
      const args: unknown[] = [filter.owner];
      if (filter.states && filter.states.length > 0) {
        where.push(`state IN (${filter.states.map(() => '?').join(', ')})`);
        args.push(...filter.states);
      }
      if (filter.host !== undefined) {
        where.push('host = ?');
        args.push(filter.host);
      }
      if (filter.operation !== undefined) {
        where.push('operation = ?');
        args.push(filter.operation);
      }
      if (filter.before) {
        where.push('(created_at < ? OR (created_at = ? AND id < ?))');
        args.push(filter.before.createdAt, filter.before.createdAt, filter.before.id);
      }
      args.push(filter.limit);
      const rows = db
        .prepare(
          `SELECT doc FROM jobs WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT ?`,
        )
        .all(...args) as JobRow[];
      return rows.map((r) => parse(r)!);
    },
    async listByState(states) {
      if (states.length === 0) return [];
      const rows = db
        .prepare(
          `SELECT doc FROM jobs WHERE state IN (${states.map(() => '?').join(', ')}) ORDER BY created_at, id`,
        )
        .all(...states) as JobRow[];
      return rows.map((r) => parse(r)!);
    },
    async findIdempotency(owner, key, notBefore) {
      const row = getKey.get(owner, key) as KeyRow | undefined;
      return row && row.created_at >= notBefore ? toKey(row) : null;
    },
    async releaseIdempotency(owner, key) {
      deleteKey.run(owner, key);
    },
    async purgeIdempotency(olderThan) {
      return purgeKeys.run(olderThan).changes;
    },
    async holdAuditEvent(held) {
      holdEvent.run(held.jobId, held.heldAt, JSON.stringify(held.event));
    },
    async listHeldAuditEvents(limit) {
      return (listHeld.all(limit) as HeldRow[]).map(toHeld);
    },
    async countHeldAuditEvents() {
      return countHeld.get() as number;
    },
    async takeHeldAuditEvent(jobId) {
      const row = takeHeld.get(jobId) as HeldRow | undefined;
      return row ? toHeld(row) : null;
    },
    async checkWritable() {
      if (!db.open || db.readonly) throw new Error('job store is not writable');
      // Takes (and drops) the write lock: fails on a read-only, locked or broken database file.
      db.exec('BEGIN IMMEDIATE; ROLLBACK');
    },
    async close() {
      // The opener owns the database handle.
    },
  };
}
