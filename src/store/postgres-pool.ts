// Connection pool for the PostgreSQL (HA) store. Every replica opens one pool; the stores and the
// fleet coordinator share it. An optional schema pins search_path on every connection so tests
// (and operators sharing a database) keep hvgate's tables apart.
import type { Pool, PoolClient, PoolConfig } from 'pg';

export type PostgresPool = Pool;
export type PostgresClient = PoolClient;

export class PostgresStoreError extends Error {
  readonly code = 'HVG_ERR_STORE_UNAVAILABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PostgresStoreError';
  }
}

const SCHEMA_RE = /^[a-z_][a-z0-9_]{0,62}$/;

export interface PostgresPoolOptions {
  /** postgres://user@host:port/db (the password may be in it; it is never logged). */
  readonly url: string;
  /** Schema for hvgate's tables; default the connection's own search_path (usually public). */
  readonly schema?: string;
  /** Default 10. */
  readonly max?: number;
  /** Shown in pg_stat_activity so operators can tell replicas apart. */
  readonly applicationName?: string;
  readonly connectionTimeoutMs?: number;
  /** Server-side cap for each statement; keeps a wedged query from holding locks forever. */
  readonly statementTimeoutMs?: number;
}

export function assertSchemaName(schema: string): string {
  if (!SCHEMA_RE.test(schema)) throw new PostgresStoreError(`invalid schema name '${schema}'`);
  return schema;
}

export function createPostgresPool(options: PostgresPoolOptions): PostgresPool {
  const settings: string[] = [];
  if (options.schema !== undefined) settings.push(`-c search_path=${assertSchemaName(options.schema)}`);
  if (options.statementTimeoutMs !== undefined)
    settings.push(`-c statement_timeout=${Math.max(0, Math.floor(options.statementTimeoutMs))}`);
  const config: PoolConfig = {
    connectionString: options.url,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'hvgate',
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 10_000,
    ...(settings.length > 0 ? { options: settings.join(' ') } : {}),
  };
  // Required here, not at the top: the SQLite gateway loads this module but never opens a pool.
  const { Pool: PgPool } = require('pg') as typeof import('pg');
  const pool = new PgPool(config);
  // An idle client losing its connection (database restart, failover) must not crash the process;
  // the next checkout simply opens a new one.
  pool.on('error', () => undefined);
  return pool;
}

/** Runs `fn` in one transaction on one pooled connection; rolls back on any error. */
export async function withTransaction<T>(
  pool: PostgresPool,
  fn: (client: PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('BEGIN');
    try {
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
      throw err;
    }
  } finally {
    client.release(broken);
  }
}

/** Advisory-lock key for a name, scoped to the current schema so separate schemas never contend. */
export const ADVISORY_KEY_SQL = (param: string) => `hashtextextended(current_schema() || ':' || ${param}, 0)`;

/** BIGINT columns come back as strings from pg; every seq and time in hvgate fits a double. */
export function toNumber(value: unknown): number {
  return typeof value === 'number' ? value : Number(value);
}
