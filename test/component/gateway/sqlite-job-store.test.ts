// The SQLite job store on a real temp file: conditional state moves, owner-scoped paging, and
// idempotency keys (conflict, expiry after 24 h, release, purge).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { JobRecord } from '../../../src/jobs/job-model';
import { openSqliteDatabase, type SqliteDatabase } from '../../../src/store/sqlite-database';
import { createSqliteJobStore } from '../../../src/store/sqlite-job-store';
import type { JobStore } from '../../../src/store/job-store';

let dir: string;
let db: SqliteDatabase;
let store: JobStore;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hvgate-jobstore-'));
  db = openSqliteDatabase({ path: path.join(dir, 'jobs.db') });
  store = createSqliteJobStore(db);
});
afterEach(() => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function job(id: string, over: Partial<JobRecord> = {}): JobRecord {
  return {
    id,
    operation: 'memory.set',
    host: 'hv-a',
    vmRef: 'web-01',
    vmId: null,
    vmName: null,
    owner: 'iss alice',
    actor: { sub: 'alice', iss: 'iss', clientId: null, tokenId: null, scopes: ['vm:hotplug'] },
    input: { priority: 1 },
    paramsSha256: 'x'.repeat(64),
    requestId: 'r1',
    source: { ip: null, userAgent: null },
    idempotencyKey: null,
    state: 'queued',
    createdAt: 1000,
    startedAt: null,
    finishedAt: null,
    queueWaitMs: null,
    durationMs: null,
    progress: null,
    result: null,
    error: null,
    ...over,
  };
}

test('state moves only from the expected states', async () => {
  await store.create(job('j1'));
  expect(await store.update('j1', { state: 'running', startedAt: 5 }, ['queued'])).toBe(true);
  expect(await store.update('j1', { state: 'cancelled' }, ['queued'])).toBe(false);
  expect((await store.get('j1'))?.state).toBe('running');
  expect(await store.update('missing', { state: 'failed' })).toBe(false);
  expect((await store.listByState(['running'])).map((j) => j.id)).toEqual(['j1']);
});

test('listing is per owner, newest first, with a stable cursor and filters', async () => {
  for (let i = 0; i < 5; i++) await store.create(job(`a${i}`, { createdAt: 1000 + i }));
  await store.create(job('b0', { owner: 'iss bob', createdAt: 2000 }));
  const page1 = await store.list({ owner: 'iss alice', limit: 2 });
  expect(page1.map((j) => j.id)).toEqual(['a4', 'a3']);
  const last = page1[1]!;
  const page2 = await store.list({
    owner: 'iss alice',
    limit: 10,
    before: { createdAt: last.createdAt, id: last.id },
  });
  expect(page2.map((j) => j.id)).toEqual(['a2', 'a1', 'a0']);
  await store.update('a1', { state: 'failed' });
  expect((await store.list({ owner: 'iss alice', limit: 10, states: ['failed'] })).map((j) => j.id)).toEqual([
    'a1',
  ]);
  expect(await store.list({ owner: 'iss alice', limit: 10, host: 'hv-b' })).toEqual([]);
});

test('an idempotency key maps to one job per owner until it expires or is released', async () => {
  const rec = (jobId: string, createdAt: number) => ({
    owner: 'iss alice',
    key: 'k1',
    requestHash: 'h1',
    jobId,
    createdAt,
  });
  expect(await store.create(job('j1'), { record: rec('j1', 1000), notBefore: 0 })).toEqual({ created: true });
  const dup = await store.create(job('j2'), { record: rec('j2', 1500), notBefore: 0 });
  expect(dup).toEqual({
    created: false,
    existing: expect.objectContaining({ jobId: 'j1', requestHash: 'h1' }),
  });
  expect(await store.get('j2')).toBeNull();
  expect(await store.findIdempotency('iss alice', 'k1', 0)).toMatchObject({ jobId: 'j1' });
  expect(await store.findIdempotency('iss bob', 'k1', 0)).toBeNull();
  // Expired (created before notBefore): looked past, and replaced by a new use of the key.
  expect(await store.findIdempotency('iss alice', 'k1', 1001)).toBeNull();
  expect(await store.create(job('j3'), { record: rec('j3', 5000), notBefore: 1001 })).toEqual({
    created: true,
  });
  await store.releaseIdempotency('iss alice', 'k1');
  expect(await store.findIdempotency('iss alice', 'k1', 0)).toBeNull();
  await store.create(job('j4'), { record: { ...rec('j4', 10), key: 'old' }, notBefore: 0 });
  expect(await store.purgeIdempotency(100)).toBe(1);
});

test('checkWritable passes on an open database and fails once it is closed', async () => {
  await expect(store.checkWritable()).resolves.toBeUndefined();
  db.close();
  await expect(store.checkWritable()).rejects.toThrow();
  db = openSqliteDatabase({ path: path.join(dir, 'jobs.db') });
});
