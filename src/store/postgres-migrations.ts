// Versioned schema migrations for the PostgreSQL store, applied at start by every replica. All
// pending steps run in ONE transaction under a transaction-scoped advisory lock, so replicas that
// start together queue up: the first applies, the others find nothing left to do. Each scope
// ("audit", "jobs", "fleet") numbers its steps 1..n like the SQLite store; a database newer than
// this build is refused rather than written with an old idea of the schema.
import { ADVISORY_KEY_SQL, PostgresStoreError, assertSchemaName, type PostgresPool } from './postgres-pool';

export interface PostgresMigration {
  readonly scope: string;
  readonly version: number;
  readonly description: string;
  readonly sql: string;
}

export class PostgresSchemaError extends Error {
  readonly code = 'HVG_ERR_STORE_SCHEMA';
  constructor(message: string) {
    super(message);
    this.name = 'PostgresSchemaError';
  }
}

function steps(scope: string, list: readonly { description: string; sql: string }[]): PostgresMigration[] {
  return list.map((s, i) => ({ scope, version: i + 1, description: s.description, sql: s.sql }));
}

const AUDIT_STEPS = steps('audit', [
  {
    description: 'append-only audit events and signed checkpoints',
    // Filter columns are generated from the hashed body so they can never disagree with it. The
    // triggers make the tables append-only for every role that does not own them outright; an
    // owner could drop the trigger, which is what the hash chain and the signed checkpoints catch.
    sql: `
      CREATE TABLE audit_events (
        seq BIGINT PRIMARY KEY,
        hash TEXT NOT NULL,
        body TEXT NOT NULL,
        time TEXT GENERATED ALWAYS AS ((body::jsonb) ->> 'time') STORED,
        stage TEXT GENERATED ALWAYS AS ((body::jsonb) ->> 'stage') STORED,
        operation TEXT GENERATED ALWAYS AS ((body::jsonb) ->> 'operation') STORED,
        outcome_status TEXT GENERATED ALWAYS AS ((body::jsonb) #>> '{outcome,status}') STORED,
        actor_sub TEXT GENERATED ALWAYS AS ((body::jsonb) #>> '{actor,sub}') STORED,
        host TEXT GENERATED ALWAYS AS ((body::jsonb) #>> '{target,host}') STORED,
        vm_id TEXT GENERATED ALWAYS AS ((body::jsonb) #>> '{target,vmId}') STORED,
        request_id TEXT GENERATED ALWAYS AS ((body::jsonb) ->> 'requestId') STORED,
        job_id TEXT GENERATED ALWAYS AS ((body::jsonb) ->> 'jobId') STORED
      );
      CREATE INDEX audit_events_time ON audit_events (time COLLATE "C");
      CREATE INDEX audit_events_actor ON audit_events (actor_sub);
      CREATE INDEX audit_events_target ON audit_events (host, vm_id);
      CREATE INDEX audit_events_vm ON audit_events (vm_id);
      CREATE INDEX audit_events_request ON audit_events (request_id);
      CREATE INDEX audit_events_job ON audit_events (job_id);
      CREATE TABLE audit_checkpoints (
        seq BIGINT PRIMARY KEY,
        body TEXT NOT NULL
      );
      CREATE FUNCTION hvgate_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        RAISE EXCEPTION 'hvgate audit table % is append-only (% refused)', TG_TABLE_NAME, TG_OP
          USING ERRCODE = 'insufficient_privilege';
      END
      $fn$;
      CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
        FOR EACH ROW EXECUTE FUNCTION hvgate_audit_append_only();
      CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
        FOR EACH STATEMENT EXECUTE FUNCTION hvgate_audit_append_only();
      CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
        FOR EACH ROW EXECUTE FUNCTION hvgate_audit_append_only();
      CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
        FOR EACH STATEMENT EXECUTE FUNCTION hvgate_audit_append_only();
    `,
  },
]);

const JOB_STEPS = steps('jobs', [
  {
    description: 'jobs and idempotency keys',
    // "C" collation on ids keeps listing order byte-wise, the same as the SQLite store.
    sql: `
      CREATE TABLE jobs (
        id TEXT COLLATE "C" PRIMARY KEY,
        owner TEXT NOT NULL,
        operation TEXT NOT NULL,
        host TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        instance TEXT,
        doc JSONB NOT NULL
      );
      CREATE INDEX jobs_owner_created ON jobs (owner, created_at DESC, id DESC);
      CREATE INDEX jobs_state_created ON jobs (state, created_at, id);
      CREATE TABLE idempotency_keys (
        owner TEXT NOT NULL,
        key TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        job_id TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (owner, key)
      );
      CREATE INDEX idempotency_created ON idempotency_keys (created_at);
    `,
  },
  {
    description: 'outcome records held for the audit sweep',
    sql: `
      CREATE TABLE held_audit_events (
        job_id TEXT COLLATE "C" PRIMARY KEY,
        held_at BIGINT NOT NULL,
        event JSONB NOT NULL
      );
      CREATE INDEX held_audit_events_at ON held_audit_events (held_at, job_id);
    `,
  },
]);

const FLEET_STEPS = steps('fleet', [
  {
    description: 'replica leases, host slot tickets and VM locks',
    sql: `
      CREATE TABLE fleet_replicas (
        instance TEXT PRIMARY KEY,
        started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        expires_at TIMESTAMPTZ NOT NULL
      );
      CREATE TABLE fleet_tickets (
        id BIGSERIAL PRIMARY KEY,
        host TEXT NOT NULL,
        caller TEXT NOT NULL,
        job_id TEXT,
        instance TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('admitted', 'waiting', 'running')),
        admitted_at BIGINT NOT NULL,
        granted_at BIGINT
      );
      CREATE INDEX fleet_tickets_host ON fleet_tickets (host, state, id);
      CREATE INDEX fleet_tickets_instance ON fleet_tickets (instance);
      CREATE TABLE fleet_caller_turns (
        host TEXT NOT NULL,
        caller TEXT NOT NULL,
        last_served BIGINT NOT NULL,
        PRIMARY KEY (host, caller)
      );
      CREATE SEQUENCE fleet_turn_seq;
      CREATE TABLE fleet_vm_locks (
        id BIGSERIAL PRIMARY KEY,
        host TEXT NOT NULL,
        vm_id TEXT NOT NULL,
        holder TEXT,
        instance TEXT NOT NULL,
        enqueued_at BIGINT NOT NULL
      );
      CREATE INDEX fleet_vm_locks_vm ON fleet_vm_locks (host, vm_id, id);
      CREATE INDEX fleet_vm_locks_instance ON fleet_vm_locks (instance);
    `,
  },
]);

export const POSTGRES_MIGRATIONS: readonly PostgresMigration[] = Object.freeze([
  ...AUDIT_STEPS,
  ...JOB_STEPS,
  ...FLEET_STEPS,
]);

export interface ApplyMigrationsOptions {
  /** Created if missing (under its own advisory lock so replicas racing to create it agree). */
  readonly schema?: string;
  readonly migrations?: readonly PostgresMigration[];
}

/** Applies pending migrations; returns the steps this call applied (empty when up to date). */
export async function applyPostgresMigrations(
  pool: PostgresPool,
  options: ApplyMigrationsOptions = {},
): Promise<PostgresMigration[]> {
  const migrations = options.migrations ?? POSTGRES_MIGRATIONS;
  const byScope = new Map<string, PostgresMigration[]>();
  for (const m of migrations) byScope.set(m.scope, [...(byScope.get(m.scope) ?? []), m]);
  for (const [scope, list] of byScope) {
    list.sort((a, b) => a.version - b.version);
    if (list.some((m, i) => m.version !== i + 1))
      throw new PostgresSchemaError(`migrations for '${scope}' must be numbered 1..n without gaps`);
  }
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('BEGIN');
    try {
      if (options.schema !== undefined) {
        const schema = assertSchemaName(options.schema);
        await client.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [
          `hvgate:schema:${schema}`,
        ]);
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      }
      const current = await client.query<{ s: string | null }>('SELECT current_schema() AS s');
      if (!current.rows[0]?.s)
        throw new PostgresSchemaError('no schema to create hvgate tables in (search_path)');
      await client.query(`SELECT pg_advisory_xact_lock(${ADVISORY_KEY_SQL('$1')})`, ['migrations']);
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        scope TEXT NOT NULL,
        version INTEGER NOT NULL,
        description TEXT NOT NULL,
        applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        PRIMARY KEY (scope, version)
      )`);
      const rows = await client.query<{ scope: string; version: number }>(
        'SELECT scope, MAX(version)::int AS version FROM schema_migrations GROUP BY scope',
      );
      const applied = new Map(rows.rows.map((r) => [r.scope, r.version]));
      const done: PostgresMigration[] = [];
      for (const [scope, list] of byScope) {
        const at = applied.get(scope) ?? 0;
        if (at > list.length) {
          throw new PostgresSchemaError(
            `database schema '${scope}' is at version ${at}, newer than this build (${list.length})`,
          );
        }
        for (const m of list.slice(at)) {
          await client.query(m.sql);
          await client.query(
            'INSERT INTO schema_migrations (scope, version, description) VALUES ($1, $2, $3)',
            [m.scope, m.version, m.description],
          );
          done.push(m);
        }
      }
      await client.query('COMMIT');
      return done;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
      if (err instanceof PostgresSchemaError || err instanceof PostgresStoreError) throw err;
      throw new PostgresStoreError('could not apply the PostgreSQL schema migrations', { cause: err });
    }
  } finally {
    client.release(broken);
  }
}

/** Highest applied version per scope; empty when the schema has never been migrated. */
export async function postgresMigrationVersions(pool: PostgresPool): Promise<Map<string, number>> {
  const exists = await pool.query<{ t: string | null }>(`SELECT to_regclass('schema_migrations')::text AS t`);
  if (!exists.rows[0]?.t) return new Map();
  const rows = await pool.query<{ scope: string; version: number }>(
    'SELECT scope, MAX(version)::int AS version FROM schema_migrations GROUP BY scope',
  );
  return new Map(rows.rows.map((r) => [r.scope, r.version]));
}
