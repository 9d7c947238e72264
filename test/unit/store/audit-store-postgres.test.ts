import { createPostgresAuditStore } from '../../../src/store/postgres-audit-store';
import {
  POSTGRES_MIGRATIONS,
  applyPostgresMigrations,
  postgresMigrationVersions,
} from '../../../src/store/postgres-migrations';
import { createPostgresPool } from '../../../src/store/postgres-pool';
import fs from 'node:fs';
import path from 'node:path';
import { appendConcurrently, makeTempDir, testPublicKeys, testWriter } from '../audit/audit-test-kit';
import { runAuditCli } from '../audit/cli-harness';
import { describeAuditStoreConformance } from './audit-store-conformance';
import { PG_TEST_URL, createTestSchema, describeWithPostgres, type TestSchema } from './pg-test-kit';

describeWithPostgres('PostgreSQL audit store', () => {
  const schemas: TestSchema[] = [];
  afterAll(async () => {
    await Promise.all(schemas.map((s) => s.drop()));
  });

  describeAuditStoreConformance('PostgreSQL', async () => {
    const ts = createTestSchema('audit');
    schemas.push(ts);
    await ts.migrate();
    return {
      store: createPostgresAuditStore(ts.pool()),
      openPeer: async () => createPostgresAuditStore(ts.pool()),
      close: async () => {
        await ts.drop();
      },
    };
  });

  describe('schema and integrity', () => {
    let ts: TestSchema;
    beforeAll(async () => {
      ts = createTestSchema('audit_int');
      schemas.push(ts);
    });

    it('applies the migrations once when several replicas start at the same moment', async () => {
      const pools = [ts.pool(), ts.pool(), ts.pool(), ts.pool()];
      const applied = await Promise.all(pools.map((p) => applyPostgresMigrations(p, { schema: ts.schema })));
      expect(applied.map((a) => a.length).sort()).toEqual([0, 0, 0, POSTGRES_MIGRATIONS.length]);
      const versions = await postgresMigrationVersions(pools[0]!);
      expect(Object.fromEntries(versions)).toEqual({ audit: 1, jobs: 2, fleet: 1 });
      expect(await applyPostgresMigrations(pools[1]!, { schema: ts.schema })).toEqual([]);
    });

    it('refuses a database whose schema is newer than this build', async () => {
      await ts.migrate();
      await ts.query(
        `INSERT INTO schema_migrations (scope, version, description) VALUES ('audit', 99, 'future')`,
      );
      await expect(applyPostgresMigrations(ts.pool(), { schema: ts.schema })).rejects.toThrow(
        /newer than this build/,
      );
      await ts.query(`SELECT 1`);
    });

    it('rejects UPDATE, DELETE and TRUNCATE of audit records', async () => {
      const t2 = createTestSchema('audit_ro');
      schemas.push(t2);
      await t2.migrate();
      const store = createPostgresAuditStore(t2.pool());
      const { writer } = testWriter(store);
      await appendConcurrently(writer, 6);
      await writer.close();
      for (const sql of [
        `UPDATE audit_events SET body = '{}' WHERE seq = 2`,
        `DELETE FROM audit_events WHERE seq = 6`,
        `TRUNCATE audit_events`,
        `UPDATE audit_checkpoints SET body = '{}'`,
        `DELETE FROM audit_checkpoints`,
        `TRUNCATE audit_checkpoints`,
      ]) {
        await expect(t2.query(sql)).rejects.toThrow(/append-only/);
      }
      expect((await store.head())?.seq).toBe(6);
      expect((await store.readEvents(0, 10, 10)).map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    });

    it('hvgate audit verify --config and export read the PostgreSQL trail, and report tampering', async () => {
      const t3 = createTestSchema('audit_cli');
      schemas.push(t3);
      await t3.migrate();
      const store = createPostgresAuditStore(t3.pool());
      const { writer } = testWriter(store, { checkpointEvery: 4 });
      await appendConcurrently(writer, 10);
      await writer.close();
      const tmp = makeTempDir('hvgate-pgcli-');
      try {
        const pub = path.join(tmp.dir, 'audit.pub.pem');
        fs.writeFileSync(pub, testPublicKeys()[0]!.publicKeyPem);
        const url = `${PG_TEST_URL}?options=${encodeURIComponent(`-c search_path=${t3.schema}`)}`;
        fs.writeFileSync(path.join(tmp.dir, 'db-url'), `${url}\n`);
        const cfg = path.join(tmp.dir, 'hvgate.yaml');
        fs.writeFileSync(
          cfg,
          ['store:', '  kind: postgres', '  urlFile: db-url', 'hosts: []', ''].join('\n'),
        );
        const ok = await runAuditCli(['verify', '--config', cfg, '--public-key', pub]);
        expect(ok.stdout).toContain('Verification OK');
        expect(ok.stdout).toContain('10 events');
        expect(ok.code).toBe(0);
        const exported = await runAuditCli(['export', '--config', cfg]);
        expect(exported.code).toBe(0);
        expect(exported.stdout.trim().split('\n').length).toBeGreaterThanOrEqual(10);

        // An owner can drop the trigger; the chain still tells.
        await t3.query('ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only');
        await t3.query(`UPDATE audit_events SET body = replace(body, 'nic-3', 'nic-X') WHERE seq = 4`);
        const bad = await runAuditCli(['verify', '--config', cfg, '--public-key', pub]);
        expect(bad.code).toBe(1);
        expect(bad.stdout).toMatch(/seq 4\tINVALID/);

        const missing = path.join(tmp.dir, 'missing.yaml');
        fs.writeFileSync(
          missing,
          ['store:', '  kind: postgres', '  urlEnv: HVGATE_NO_SUCH_VAR_X', ''].join('\n'),
        );
        const usage = await runAuditCli(['verify', '--config', missing, '--public-key', pub]);
        expect(usage.code).toBe(2);
        expect(usage.stderr).toContain('HVGATE_NO_SUCH_VAR_X');
      } finally {
        tmp.cleanup();
      }
    });

    it('a reader on a schema without audit tables gets a typed error, not a crash', async () => {
      const empty = createTestSchema('audit_none');
      schemas.push(empty);
      await empty.query(`CREATE SCHEMA ${empty.schema}`);
      const pool = createPostgresPool({ url: PG_TEST_URL, schema: empty.schema, max: 1 });
      const store = createPostgresAuditStore(pool, { requireExisting: true, ownsPool: true });
      await expect(store.head()).rejects.toMatchObject({ name: 'PostgresSchemaError' });
      await store.close();
    });
  });
});
