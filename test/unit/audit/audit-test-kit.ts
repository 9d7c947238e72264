// Shared fixtures for the audit tests: temp SQLite stores, a fixed clock and ids, fixed test keys,
// and the raw-SQL tampering an attacker with write access to the database file could do.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AuditEventInput, StoredEvent } from '../../../src/audit/audit-event';
import { createAuditSigner, AuditSigner } from '../../../src/audit/audit-signer';
import {
  AuditClock,
  AuditWriter,
  createAuditWriter,
  AuditWriterOptions,
} from '../../../src/audit/audit-writer';
import type { AuditStore } from '../../../src/store/audit-store';
import { createSqliteAuditStore } from '../../../src/store/sqlite-audit-store';
import { openSqliteDatabase, SqliteDatabase } from '../../../src/store/sqlite-database';

// Test-only Ed25519 keys (never used outside tests). Ed25519 signatures are deterministic, so
// fixed keys give fixed checkpoint signatures for the known-answer test.
export const TEST_PRIVATE_KEY_PEM = `-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIHxzHooJCwjK6ELsyBDPuAO9KIV0vERgs8O+xZwaNCX3
-----END PRIVATE KEY-----
`;
export const ATTACKER_PRIVATE_KEY_PEM = `-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIDbcORK42n+zFq8ZqCwamxhDHLETviByq3OVVpo5ACdF
-----END PRIVATE KEY-----
`;

export const testSigner = (): AuditSigner => createAuditSigner({ privateKey: TEST_PRIVATE_KEY_PEM });
export const attackerSigner = (): AuditSigner => createAuditSigner({ privateKey: ATTACKER_PRIVATE_KEY_PEM });
export const testPublicKeys = () => testSigner().publicKeys();

export function makeTempDir(prefix = 'hvgate-audit-'): { dir: string; cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** A clock that advances by `stepMs` on every read (negative steps run it backwards). */
export function steppingClock(
  startIso = '2025-06-01T10:00:00.000Z',
  stepMs = 1000,
): AuditClock & { reads: number } {
  const start = Date.parse(startIso);
  const clock = {
    reads: 0,
    now() {
      return start + stepMs * clock.reads++;
    },
  };
  return clock;
}

export function sequentialIds(prefix = '00000000-0000-4000-8000-'): () => string {
  let n = 0;
  return () => `${prefix}${String(++n).padStart(12, '0')}`;
}

export interface TestStore {
  db: SqliteDatabase;
  store: AuditStore;
  dbPath: string;
  close(): void;
}

export function openTestStore(dir: string, name = 'audit.db'): TestStore {
  const dbPath = path.join(dir, name);
  const db = openSqliteDatabase({ path: dbPath });
  const store = createSqliteAuditStore(db);
  return { db, store, dbPath, close: () => db.open && db.close() };
}

/**
 * Registers hooks for a describe block: one temp dir for the block and a fresh store per test
 * (a random file name, so no test sees another's chain). Call the returned function inside a test.
 */
export function useFreshTestStore(prefix: string): () => TestStore {
  let tmp: ReturnType<typeof makeTempDir>;
  let ts: TestStore;
  beforeAll(() => {
    tmp = makeTempDir();
  });
  afterAll(() => tmp.cleanup());
  beforeEach(() => {
    ts = openTestStore(tmp.dir, `${prefix}-${Math.random().toString(36).slice(2)}.db`);
  });
  afterEach(() => ts.close());
  return () => ts;
}

export function sampleInput(i: number, overrides: Partial<AuditEventInput> = {}): AuditEventInput {
  const stages = ['requested', 'started', 'succeeded'] as const;
  return {
    stage: stages[i % 3]!,
    operation: 'network-adapter.add',
    requestId: `req-${Math.floor(i / 3)}`,
    jobId: `job-${Math.floor(i / 3)}`,
    actor: {
      sub: `svc-${i % 4}`,
      iss: 'https://idp.example',
      clientId: 'billing',
      tokenId: `jti-${i}`,
      scopes: ['vm:hotplug'],
    },
    source: { ip: '10.2.3.4', userAgent: 'billing-svc/2.1' },
    target: {
      host: `hv-0${i % 2}`,
      vmId: `3f2e0000-0000-4000-8000-${String(i % 5).padStart(12, '0')}`,
      vmName: 'web-01',
    },
    params: { switchName: 'External', name: `nic-${i}` },
    ...(i % 3 === 0 ? {} : { script: { id: 'network-adapter.add@1', sha256: 'a'.repeat(64) } }),
    ...(i % 3 === 2
      ? { outcome: { httpStatus: 201 }, execution: { queueWaitMs: 12, durationMs: 2310, exitCode: 0 } }
      : {}),
    ...overrides,
  };
}

export interface WriterHarness {
  writer: AuditWriter;
  signer: AuditSigner;
}

export function testWriter(store: AuditStore, overrides: Partial<AuditWriterOptions> = {}): WriterHarness {
  const signer = overrides.signer ?? testSigner();
  const writer = createAuditWriter({
    store,
    signer,
    clock: steppingClock(),
    newEventId: sequentialIds(),
    checkpointEvery: 5,
    checkpointIntervalMs: 0,
    service: { version: '0.1.0', instance: 'test-1' },
    ...overrides,
  });
  return { writer, signer };
}

/** Appends `n` sample events at once (one group commit; seq follows call order). */
export async function appendConcurrently(writer: AuditWriter, n: number, from = 0): Promise<StoredEvent[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => writer.append(sampleInput(from + i))));
}

/** Appends `n` sample events one after another (each its own group). */
export async function appendSequentially(writer: AuditWriter, n: number, from = 0): Promise<void> {
  for (let i = from; i < from + n; i++) await writer.append(sampleInput(i));
}

// --- tampering, as someone with write access to the database file would do it ---

export function readBody(db: SqliteDatabase, seq: number): string {
  return (
    (db.prepare('SELECT body FROM audit_events WHERE seq = ?').pluck().get(seq) as string | undefined) ?? ''
  );
}

export function setBody(db: SqliteDatabase, seq: number, body: string): void {
  db.prepare('UPDATE audit_events SET body = ? WHERE seq = ?').run(body, seq);
}

export function setHash(db: SqliteDatabase, seq: number, hash: string): void {
  db.prepare('UPDATE audit_events SET hash = ? WHERE seq = ?').run(hash, seq);
}

export function deleteEvent(db: SqliteDatabase, seq: number): void {
  db.prepare('DELETE FROM audit_events WHERE seq = ?').run(seq);
}

export function swapEvents(db: SqliteDatabase, a: number, b: number): void {
  const get = db.prepare('SELECT hash, body FROM audit_events WHERE seq = ?');
  const ra = get.get(a) as { hash: string; body: string };
  const rb = get.get(b) as { hash: string; body: string };
  const put = db.prepare('UPDATE audit_events SET hash = ?, body = ? WHERE seq = ?');
  db.transaction(() => {
    put.run(rb.hash, rb.body, a);
    put.run(ra.hash, ra.body, b);
  })();
}

/** Inserts a copy of record `seq` right after it, shifting later rows up by one. */
export function duplicateEvent(db: SqliteDatabase, seq: number): void {
  db.transaction(() => {
    const rows = db
      .prepare('SELECT seq FROM audit_events WHERE seq > ? ORDER BY seq DESC')
      .pluck()
      .all(seq) as number[];
    const move = db.prepare('UPDATE audit_events SET seq = seq + 1 WHERE seq = ?');
    for (const s of rows) move.run(s);
    db.prepare(
      'INSERT INTO audit_events (seq, hash, body) SELECT seq + 1, hash, body FROM audit_events WHERE seq = ?',
    ).run(seq);
  })();
}

export function truncateEventsAfter(db: SqliteDatabase, seq: number): void {
  db.prepare('DELETE FROM audit_events WHERE seq > ?').run(seq);
}

export function readCheckpointBody(db: SqliteDatabase, seq: number): string {
  return db.prepare('SELECT body FROM audit_checkpoints WHERE seq = ?').pluck().get(seq) as string;
}

export function setCheckpointBody(db: SqliteDatabase, seq: number, body: string): void {
  db.prepare('UPDATE audit_checkpoints SET body = ? WHERE seq = ?').run(body, seq);
}

export function checkpointSeqs(db: SqliteDatabase): number[] {
  return db.prepare('SELECT seq FROM audit_checkpoints ORDER BY seq').pluck().all() as number[];
}

/** A store wrapper whose appends can be made to fail, to test fail-closed behaviour. */
export function flakyStore(inner: AuditStore): AuditStore & {
  failAppends: boolean;
  failHead: boolean;
  /** Commit, then throw anyway (an ambiguous commit, as a dropped database connection gives). */
  failAfterCommit: boolean;
  appendCalls: number;
} {
  const s = {
    ...inner,
    failAppends: false,
    failHead: false,
    failAfterCommit: false,
    appendCalls: 0,
    async appendBatch(batch: Parameters<AuditStore['appendBatch']>[0]) {
      s.appendCalls++;
      if (s.failAppends) throw new Error('SQLITE_IOERR: disk I/O error');
      await inner.appendBatch(batch);
      if (s.failAfterCommit) throw new Error('connection reset after commit');
    },
    async head() {
      if (s.failHead) throw new Error('SQLITE_BUSY: database is locked');
      return inner.head();
    },
  };
  return s;
}
