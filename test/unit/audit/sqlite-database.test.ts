import path from 'node:path';
import {
  SqliteSchemaError,
  appliedMigrationVersions,
  applyMigrations,
  defineMigrations,
  openSqliteDatabase,
} from '../../../src/store/sqlite-database';
import { auditSqliteMigrations, createSqliteAuditStore } from '../../../src/store/sqlite-audit-store';
import { makeTempDir } from './audit-test-kit';

describe('openSqliteDatabase', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  beforeEach(() => {
    tmp = makeTempDir('hvgate-sqlite-');
  });
  afterEach(() => tmp.cleanup());

  it('opens with WAL, synchronous=FULL and a busy timeout, creating the folder', () => {
    const db = openSqliteDatabase({ path: path.join(tmp.dir, 'nested', 'state.db'), busyTimeoutMs: 1234 });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('synchronous', { simple: true })).toBe(2); // FULL
      expect(db.pragma('busy_timeout', { simple: true })).toBe(1234);
      expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    } finally {
      db.close();
    }
  });

  it('applies each scope’s migrations once, in order, and later ones on the next open', () => {
    const file = path.join(tmp.dir, 'm.db');
    const calls: string[] = [];
    const v1 = defineMigrations('jobs', [
      {
        description: 'jobs table',
        up: (db) => (calls.push('jobs1'), db.exec('CREATE TABLE jobs (id TEXT PRIMARY KEY)')),
      },
    ]);
    let db = openSqliteDatabase({ path: file, migrations: [...auditSqliteMigrations, ...v1] });
    db.close();
    db = openSqliteDatabase({ path: file, migrations: [...auditSqliteMigrations, ...v1] });
    expect(calls).toEqual(['jobs1']);
    db.close();
    const v2 = defineMigrations('jobs', [
      { description: 'jobs table', up: () => calls.push('again') },
      {
        description: 'jobs state',
        up: (d) => (calls.push('jobs2'), d.exec('ALTER TABLE jobs ADD COLUMN state TEXT')),
      },
    ]);
    db = openSqliteDatabase({ path: file, migrations: v2 });
    try {
      expect(calls).toEqual(['jobs1', 'jobs2']);
      expect(Object.fromEntries(appliedMigrationVersions(db))).toEqual({ audit: 1, jobs: 2 });
      db.prepare("INSERT INTO jobs (id, state) VALUES ('a', 'queued')").run();
    } finally {
      db.close();
    }
  });

  it('rolls a failing migration back completely', () => {
    const file = path.join(tmp.dir, 'f.db');
    const bad = defineMigrations('jobs', [
      {
        description: 'half done',
        up: (db) => {
          db.exec('CREATE TABLE half (x)');
          throw new Error('boom');
        },
      },
    ]);
    expect(() => openSqliteDatabase({ path: file, migrations: bad })).toThrow('boom');
    const db = openSqliteDatabase({ path: file });
    try {
      expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'half'").get()).toBeUndefined();
      expect(appliedMigrationVersions(db).has('jobs')).toBe(false);
    } finally {
      db.close();
    }
  });

  it('refuses a database whose schema is newer than this build, and malformed migration lists', () => {
    const file = path.join(tmp.dir, 'n.db');
    const two = defineMigrations('jobs', [
      { description: 'a', up: () => undefined },
      { description: 'b', up: () => undefined },
    ]);
    openSqliteDatabase({ path: file, migrations: two }).close();
    expect(() => openSqliteDatabase({ path: file, migrations: two.slice(0, 1) })).toThrow(SqliteSchemaError);
    const db = openSqliteDatabase({ path: file });
    try {
      expect(() => applyMigrations(db, [two[1]!])).toThrow(/1..n without gaps/);
      expect(() => defineMigrations('Bad Scope', [])).toThrow(SqliteSchemaError);
    } finally {
      db.close();
    }
  });

  it('opens read-only for reviewers: no migrations, and a file without audit tables is refused', () => {
    const file = path.join(tmp.dir, 'r.db');
    expect(() => openSqliteDatabase({ path: file, readonly: true })).toThrow();
    openSqliteDatabase({ path: file }).close();
    const ro = openSqliteDatabase({ path: file, readonly: true });
    try {
      expect(() => createSqliteAuditStore(ro, { migrate: false })).toThrow(SqliteSchemaError);
      expect(() => ro.exec('CREATE TABLE x (y)')).toThrow();
    } finally {
      ro.close();
    }
  });
});
