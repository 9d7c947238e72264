// PostgreSQL for tests: the local server (127.0.0.1:5432, trust auth, database `test`) or
// HVGATE_TEST_PG_URL. Each test file gets its own schema and drops it afterwards. Without a reachable
// server the suites skip with a visible warning — except in CI, where that is a failure.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import { Pool } from 'pg';
import { applyPostgresMigrations } from '../../../src/store/postgres-migrations';
import { createPostgresPool, type PostgresPool } from '../../../src/store/postgres-pool';

export const PG_TEST_URL = process.env['HVGATE_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

let probed: string | null | undefined;

/** null when PostgreSQL answers; otherwise why not. Probed once per file, synchronously, so describe() can branch. */
export function postgresUnavailableReason(): string | null {
  if (probed !== undefined) return probed;
  const script = `const {Client}=require('pg');const c=new Client({connectionString:process.argv[1],connectionTimeoutMillis:3000});
c.connect().then(()=>c.query('select 1')).then(()=>c.end()).then(()=>process.exit(0),e=>{console.error(e.message);process.exit(1)})`;
  const r = spawnSync(process.execPath, ['-e', script, PG_TEST_URL], {
    encoding: 'utf8',
    timeout: 8000,
    cwd: __dirname,
  });
  probed = r.status === 0 ? null : (r.stderr || r.error?.message || 'no answer').trim();
  return probed;
}

/**
 * `describe` when PostgreSQL is reachable; otherwise a loud `describe.skip` (or, under CI=true, a
 * describe whose single test fails, because CI always has PostgreSQL).
 */
export function describeWithPostgres(name: string, fn: () => void): void {
  const reason = postgresUnavailableReason();
  if (reason === null) {
    describe(name, fn);
    return;
  }
  if (process.env['CI'] === 'true') {
    describe(name, () => {
      it('needs PostgreSQL (CI always provides it)', () => {
        throw new Error(`PostgreSQL at ${PG_TEST_URL} is not reachable: ${reason}`);
      });
    });
    return;
  }
  console.warn(`SKIPPED "${name}": PostgreSQL at ${PG_TEST_URL} is not reachable (${reason})`);
  describe.skip(name, fn);
}

export function uniqueSchemaName(tag = 'test'): string {
  return `hvgate_${tag}_${process.pid}_${crypto.randomBytes(4).toString('hex')}`;
}

export interface TestSchema {
  readonly schema: string;
  readonly url: string;
  /** A pool with search_path on the schema (migrated when asked). */
  pool(options?: { max?: number }): PostgresPool;
  migrate(): Promise<void>;
  /** Runs SQL as the superuser in the schema, e.g. to tamper like an attacker. */
  query(sql: string, args?: unknown[]): Promise<Record<string, unknown>[]>;
  /** Ends every pool handed out and drops the schema. */
  drop(): Promise<void>;
}

export function createTestSchema(tag?: string): TestSchema {
  const schema = uniqueSchemaName(tag);
  const pools: PostgresPool[] = [];
  const pool = (options: { max?: number } = {}) => {
    const p = createPostgresPool({ url: PG_TEST_URL, schema, max: options.max ?? 4 });
    pools.push(p);
    return p;
  };
  let admin: PostgresPool | undefined;
  const adminPool = () => (admin ??= pool({ max: 1 }));
  return {
    schema,
    url: PG_TEST_URL,
    pool,
    async migrate() {
      await applyPostgresMigrations(adminPool(), { schema });
    },
    async query(sql, args = []) {
      return (await adminPool().query(sql, args)).rows as Record<string, unknown>[];
    },
    async drop() {
      await Promise.all(pools.splice(0).map((p) => p.end().catch(() => undefined)));
      const root = new Pool({ connectionString: PG_TEST_URL, max: 1 });
      try {
        await root.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await root.end();
      }
    },
  };
}
