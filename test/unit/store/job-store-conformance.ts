// The JobStore contract, written once and run against every implementation (SQLite and
// PostgreSQL). Each test opens a fresh, empty store from the factory.
import type { JobRecord } from '../../../src/jobs/job-model';
import type { JobStore } from '../../../src/store/job-store';

export interface OpenedJobStore {
  store: JobStore;
  /** Another handle on the same data (another connection / replica). */
  openPeer(): Promise<JobStore>;
  close(): Promise<void>;
}

const T0 = 1_750_000_000_000;

export function sampleJob(n: number, overrides: Partial<JobRecord> = {}): JobRecord {
  return {
    id: `job-${String(n).padStart(4, '0')}`,
    operation: n % 2 ? 'memory.set' : 'network-adapter.add',
    host: `hv-0${n % 3}`,
    vmRef: 'web-01',
    vmId: null,
    vmName: null,
    owner: `https://idp.example svc-${n % 2}`,
    actor: {
      sub: `svc-${n % 2}`,
      iss: 'https://idp.example',
      clientId: 'billing',
      tokenId: `jti-${n}`,
      scopes: ['vm:hotplug'],
    },
    input: { name: `nic-${n}`, nested: { list: [1, 'two', null], unicode: 'Zürich ✓' } },
    paramsSha256: 'a'.repeat(64),
    requestId: `req-${n}`,
    source: { ip: '10.0.0.1', userAgent: 'test' },
    idempotencyKey: null,
    state: 'queued',
    createdAt: T0 + n * 1000,
    startedAt: null,
    finishedAt: null,
    queueWaitMs: null,
    durationMs: null,
    progress: null,
    result: null,
    error: null,
    ...overrides,
  };
}

const keyFor = (job: JobRecord, key: string, createdAt = job.createdAt) => ({
  record: { owner: job.owner, key, requestHash: 'h'.repeat(64), jobId: job.id, createdAt },
  notBefore: createdAt - 24 * 3_600_000,
});

export function describeJobStoreConformance(label: string, open: () => Promise<OpenedJobStore>): void {
  describe(`JobStore conformance: ${label}`, () => {
    let s: OpenedJobStore;
    beforeEach(async () => {
      s = await open();
    });
    afterEach(async () => {
      await s.close();
    });

    it('stores a job and reads it back exactly', async () => {
      const job = sampleJob(1);
      expect(await s.store.create(job)).toEqual({ created: true });
      expect(await s.store.get(job.id)).toEqual(job);
      expect(await s.store.get('job-nope')).toBeNull();
      await s.store.checkWritable();
    });

    it('applies patches, guarded by the current state', async () => {
      const job = sampleJob(2);
      await s.store.create(job);
      expect(
        await s.store.update(job.id, { state: 'running', startedAt: T0 + 5, queueWaitMs: 5 }, ['queued']),
      ).toBe(true);
      expect(await s.store.update(job.id, { state: 'cancelled' }, ['queued'])).toBe(false);
      expect(await s.store.update(job.id, { progress: { percent: 40, text: 'copying' } })).toBe(true);
      const result = { adapters: [{ id: 'x', mac: '00155D000001' }], count: 1 };
      expect(
        await s.store.update(job.id, { state: 'succeeded', result, finishedAt: T0 + 9, progress: null }, [
          'running',
        ]),
      ).toBe(true);
      expect(await s.store.get(job.id)).toEqual({
        ...job,
        state: 'succeeded',
        startedAt: T0 + 5,
        queueWaitMs: 5,
        finishedAt: T0 + 9,
        result,
        progress: null,
      });
      expect(await s.store.update('job-nope', { state: 'failed' })).toBe(false);
      expect((await s.store.listByState(['succeeded'])).map((j) => j.id)).toEqual([job.id]);
      expect(await s.store.listByState(['queued'])).toEqual([]);
    });

    it('stores patched text exactly (quotes, line separators, non-ASCII) and drops undefined members', async () => {
      const job = sampleJob(3);
      await s.store.create(job);
      const vmName = `"O'Brien" \\ \u2028 東京 ${'x'.repeat(300)}`;
      const error = {
        code: 'HVG_ERR_INTERNAL',
        title: 'Internal error',
        detail: 'line 1\nline 2 "quoted"',
        status: 500,
      };
      expect(
        await s.store.update(job.id, { vmName, error, state: 'failed', durationMs: 0 }, ['queued']),
      ).toBe(true);
      expect(await s.store.update(job.id, { result: undefined })).toBe(true);
      const got = (await s.store.get(job.id))!;
      expect(got).toEqual({ ...job, vmName, error, state: 'failed', durationMs: 0, result: undefined });
      expect('result' in got).toBe(false);
      expect(await s.store.update(job.id, { state: 'running' }, [])).toBe(false);
    });

    it('lists a caller’s jobs newest first with filters and a cursor', async () => {
      for (let n = 1; n <= 12; n++) await s.store.create(sampleJob(n));
      // Two jobs created in the same millisecond are ordered by id.
      await s.store.create(
        sampleJob(12, { createdAt: T0 + 12_000, id: 'job-0012b', operation: 'memory.set' }),
      );
      const owner = sampleJob(0).owner;
      const all = await s.store.list({ owner, limit: 100 });
      expect(all.map((j) => j.id)).toEqual([
        'job-0012b',
        'job-0012',
        'job-0010',
        'job-0008',
        'job-0006',
        'job-0004',
        'job-0002',
      ]);
      const page1 = await s.store.list({ owner, limit: 3 });
      const last = page1[2]!;
      const page2 = await s.store.list({
        owner,
        limit: 3,
        before: { createdAt: last.createdAt, id: last.id },
      });
      expect([...page1, ...page2].map((j) => j.id)).toEqual(all.slice(0, 6).map((j) => j.id));
      await s.store.update('job-0004', { state: 'failed' });
      expect((await s.store.list({ owner, states: ['failed'], limit: 10 })).map((j) => j.id)).toEqual([
        'job-0004',
      ]);
      expect((await s.store.list({ owner, host: 'hv-00', limit: 10 })).map((j) => j.id)).toEqual([
        'job-0012b',
        'job-0012',
        'job-0006',
      ]);
      expect((await s.store.list({ owner, operation: 'memory.set', limit: 10 })).map((j) => j.id)).toEqual([
        'job-0012b',
      ]);
      expect(await s.store.list({ owner: 'someone else', limit: 10 })).toEqual([]);
    });

    it('lists jobs by state oldest first (the order queued jobs resume in)', async () => {
      await s.store.create(sampleJob(3));
      await s.store.create(sampleJob(1));
      await s.store.create(sampleJob(2, { state: 'running' }));
      expect((await s.store.listByState(['queued'])).map((j) => j.id)).toEqual(['job-0001', 'job-0003']);
      expect((await s.store.listByState(['queued', 'running'])).map((j) => j.id)).toEqual([
        'job-0001',
        'job-0002',
        'job-0003',
      ]);
      expect(await s.store.listByState([])).toEqual([]);
    });

    it('returns the original job for a reused idempotency key and writes nothing', async () => {
      const first = sampleJob(1, { idempotencyKey: 'k-1' });
      expect(await s.store.create(first, keyFor(first, 'k-1'))).toEqual({ created: true });
      const retry = sampleJob(2, { owner: first.owner, idempotencyKey: 'k-1' });
      const again = await s.store.create(retry, keyFor(retry, 'k-1'));
      expect(again).toEqual({
        created: false,
        existing: {
          owner: first.owner,
          key: 'k-1',
          requestHash: 'h'.repeat(64),
          jobId: first.id,
          createdAt: first.createdAt,
        },
      });
      expect(await s.store.get(retry.id)).toBeNull();
      // Keys are per caller.
      const other = sampleJob(3, { owner: 'https://idp.example other', idempotencyKey: 'k-1' });
      expect(await s.store.create(other, keyFor(other, 'k-1'))).toEqual({ created: true });
      expect((await s.store.findIdempotency(first.owner, 'k-1', 0))?.jobId).toBe(first.id);
      expect((await s.store.findIdempotency(other.owner, 'k-1', 0))?.jobId).toBe(other.id);
    });

    it('lets an expired key be used again, forgets released keys and purges old ones', async () => {
      const old = sampleJob(1);
      await s.store.create(old, keyFor(old, 'k-old'));
      const later = sampleJob(2, { owner: old.owner, createdAt: old.createdAt + 25 * 3_600_000 });
      expect(await s.store.findIdempotency(old.owner, 'k-old', later.createdAt - 24 * 3_600_000)).toBeNull();
      expect(await s.store.create(later, keyFor(later, 'k-old'))).toEqual({ created: true });
      expect((await s.store.findIdempotency(old.owner, 'k-old', 0))?.jobId).toBe(later.id);

      const third = sampleJob(3, { owner: old.owner });
      await s.store.create(third, keyFor(third, 'k-3'));
      await s.store.releaseIdempotency(old.owner, 'k-3');
      expect(await s.store.findIdempotency(old.owner, 'k-3', 0)).toBeNull();

      const fourth = sampleJob(4, { owner: old.owner });
      await s.store.create(fourth, keyFor(fourth, 'k-4'));
      expect(await s.store.purgeIdempotency(later.createdAt)).toBe(1);
      expect(await s.store.findIdempotency(old.owner, 'k-4', 0)).toBeNull();
      expect((await s.store.findIdempotency(old.owner, 'k-old', 0))?.jobId).toBe(later.id);
      expect(await s.store.get(fourth.id)).not.toBeNull();
    });

    it('holds outcome records for the audit sweep: oldest first, one per job, taken once', async () => {
      const event = (n: number) => ({
        stage: 'succeeded',
        jobId: `job-${n}`,
        params: { name: 'Zürich ✓', list: [1, null] },
        outcome: { httpStatus: 200, errorCode: null, message: null },
      });
      expect(await s.store.listHeldAuditEvents(10)).toEqual([]);
      await s.store.holdAuditEvent({ jobId: 'job-2', event: event(2), heldAt: T0 + 2 });
      await s.store.holdAuditEvent({ jobId: 'job-1', event: event(1), heldAt: T0 + 1 });
      await s.store.holdAuditEvent({ jobId: 'job-3', event: event(3), heldAt: T0 + 3 });
      // A second hold of the same job replaces the first.
      await s.store.holdAuditEvent({
        jobId: 'job-3',
        event: { ...event(3), stage: 'failed' },
        heldAt: T0 + 4,
      });
      const held = await s.store.listHeldAuditEvents(10);
      expect(held.map((h) => [h.jobId, h.heldAt])).toEqual([
        ['job-1', T0 + 1],
        ['job-2', T0 + 2],
        ['job-3', T0 + 4],
      ]);
      expect(held[0]!.event).toEqual(event(1));
      expect((held[2]!.event as { stage: string }).stage).toBe('failed');
      expect((await s.store.listHeldAuditEvents(1)).map((h) => h.jobId)).toEqual(['job-1']);
      expect(await s.store.countHeldAuditEvents()).toBe(3);

      // Two handles take the same record at once: exactly one gets it.
      const peer = await s.openPeer();
      const taken = await Promise.all([
        s.store.takeHeldAuditEvent('job-2'),
        peer.takeHeldAuditEvent('job-2'),
      ]);
      expect(taken.filter((t) => t !== null)).toEqual([{ jobId: 'job-2', heldAt: T0 + 2, event: event(2) }]);
      expect(await s.store.takeHeldAuditEvent('job-9')).toBeNull();
      expect((await peer.listHeldAuditEvents(10)).map((h) => h.jobId)).toEqual(['job-1', 'job-3']);
      expect(await peer.countHeldAuditEvents()).toBe(2);
      await peer.close();
    });

    it('creates one job when two connections race with the same key', async () => {
      const peer = await s.openPeer();
      const owner = sampleJob(0).owner;
      const attempts = Array.from({ length: 6 }, (_, i) => {
        const job = sampleJob(i + 1, { owner, idempotencyKey: 'race' });
        return (i % 2 ? peer : s.store).create(job, keyFor(job, 'race', T0));
      });
      const results = await Promise.allSettled(attempts);
      const ok = results
        .filter((r) => r.status === 'fulfilled')
        .map((r) => (r as PromiseFulfilledResult<unknown>).value);
      const created = ok.filter((r) => (r as { created: boolean }).created);
      expect(created).toHaveLength(1);
      const winner = (await s.store.findIdempotency(owner, 'race', 0))!.jobId;
      for (const r of ok)
        if (!(r as { created: boolean }).created) expect(r).toMatchObject({ existing: { jobId: winner } });
      expect((await s.store.list({ owner, limit: 50 })).map((j) => j.id)).toEqual([winner]);
      await peer.close();
    });
  });
}
