// Opens the embedded SQLite database every SQLite-backed store shares, and applies versioned
// schema migrations. Each store owns a migration *scope* ("audit", "jobs", ...) with versions
// 1..n; the `schema_migrations` table records what has been applied per scope, so stores can
// evolve independently and a new store only has to call `applyMigrations` with its own list.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

export type SqliteDatabase = Database.Database;

export interface Migration {
  /** Owner of the tables this migration touches, e.g. "audit" or "jobs". */
  readonly scope: string;
  /** 1-based, contiguous within a scope. */
  readonly version: number;
  readonly description: string;
  /** Runs inside the migration's transaction; must be plain DDL/DML on `db`. */
  up(db: SqliteDatabase): void;
}

export interface MigrationStep {
  readonly description: string;
  up(db: SqliteDatabase): void;
}

export class SqliteSchemaError extends Error {
  readonly code = 'HVG_ERR_STORE_SCHEMA';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SqliteSchemaError';
  }
}

const SCOPE_RE = /^[a-z][a-z0-9-]{0,31}$/;

/**
 * Builds a scope's migration list from ordered steps; versions are the step positions (1..n), so
 * adding a step at the end is the only way to change a schema and old versions never move.
 */
export function defineMigrations(scope: string, steps: readonly MigrationStep[]): readonly Migration[] {
  if (!SCOPE_RE.test(scope)) throw new SqliteSchemaError(`invalid migration scope '${scope}'`);
  return Object.freeze(
    steps.map((step, i) =>
      Object.freeze({ scope, version: i + 1, description: step.description, up: step.up }),
    ),
  );
}

export interface OpenSqliteOptions {
  /** File path, or ':memory:' (tests only: no WAL, nothing durable). */
  readonly path: string;
  /** Opens without write access; migrations are not applied and the file must exist. */
  readonly readonly?: boolean;
  /** How long a statement waits for another connection's lock before SQLITE_BUSY. */
  readonly busyTimeoutMs?: number;
  /** Applied in order on open (read-write only). */
  readonly migrations?: readonly Migration[];
  /**
   * `full` (default): every commit is on disk before it returns. `normal` (WAL): commits reach the
   * WAL without waiting for the disk; they become durable with the next `full` commit of any
   * connection to the same file, because that one syncs the whole WAL they were appended to.
   */
  readonly synchronous?: 'full' | 'normal';
}

export const DEFAULT_BUSY_TIMEOUT_MS = 5000;

export function openSqliteDatabase(options: OpenSqliteOptions): SqliteDatabase {
  const { path: file, readonly = false } = options;
  const inMemory = file === ':memory:';
  if (!inMemory && !readonly) fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const db = new Database(file, { readonly, fileMustExist: readonly });
  try {
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS))}`);
    if (!readonly) {
      if (!inMemory) {
        // WAL lets readers (verify, export, queries) run while the writer commits; FULL makes each
        // commit durable before it returns, which the audit trail's fail-closed promise relies on.
        const mode = db.pragma('journal_mode = WAL', { simple: true });
        if (String(mode).toLowerCase() !== 'wal') {
          throw new SqliteSchemaError(`could not switch ${file} to WAL (journal_mode=${String(mode)})`);
        }
      }
      db.pragma(
        options.synchronous === 'normal' && !inMemory ? 'synchronous = NORMAL' : 'synchronous = FULL',
      );
      db.pragma('foreign_keys = ON');
      if (options.migrations) applyMigrations(db, options.migrations);
    }
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function ensureMigrationsTable(db: SqliteDatabase): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    scope TEXT NOT NULL,
    version INTEGER NOT NULL,
    description TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    PRIMARY KEY (scope, version)
  ) STRICT`);
}

function validateList(migrations: readonly Migration[]): Map<string, Migration[]> {
  const byScope = new Map<string, Migration[]>();
  for (const m of migrations) {
    if (!SCOPE_RE.test(m.scope)) throw new SqliteSchemaError(`invalid migration scope '${m.scope}'`);
    const list = byScope.get(m.scope) ?? [];
    list.push(m);
    byScope.set(m.scope, list);
  }
  for (const [scope, list] of byScope) {
    list.sort((a, b) => a.version - b.version);
    list.forEach((m, i) => {
      if (m.version !== i + 1) {
        throw new SqliteSchemaError(`migrations for '${scope}' must be numbered 1..n without gaps`);
      }
    });
  }
  return byScope;
}

/** Highest applied version per scope (empty when nothing was ever applied). */
export function appliedMigrationVersions(db: SqliteDatabase): Map<string, number> {
  const exists = db
    .prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`)
    .get();
  const out = new Map<string, number>();
  if (!exists) return out;
  const rows = db
    .prepare('SELECT scope, MAX(version) AS version FROM schema_migrations GROUP BY scope')
    .all() as {
    scope: string;
    version: number;
  }[];
  for (const r of rows) out.set(r.scope, r.version);
  return out;
}

/**
 * Applies the migrations not yet recorded. Runs under BEGIN IMMEDIATE so two processes opening
 * the same file cannot both apply a step; each scope's pending steps commit together.
 * Refuses a database whose schema is newer than this build knows.
 */
export function applyMigrations(db: SqliteDatabase, migrations: readonly Migration[]): Migration[] {
  const byScope = validateList(migrations);
  const applied: Migration[] = [];
  ensureMigrationsTable(db);
  const record = db.prepare(
    'INSERT INTO schema_migrations (scope, version, description, applied_at) VALUES (?, ?, ?, ?)',
  );
  for (const [scope, list] of byScope) {
    db.transaction(() => {
      const current = appliedMigrationVersions(db).get(scope) ?? 0;
      if (current > list.length) {
        throw new SqliteSchemaError(
          `database schema '${scope}' is at version ${current}, newer than this build (${list.length})`,
        );
      }
      for (const m of list.slice(current)) {
        m.up(db);
        record.run(scope, m.version, m.description, new Date().toISOString());
        applied.push(m);
      }
    }).immediate();
  }
  return applied;
}
