import { createPostgresJobStore } from '../../../src/store/postgres-job-store';
import { describeJobStoreConformance, sampleJob } from './job-store-conformance';
import { createTestSchema, describeWithPostgres, type TestSchema } from './pg-test-kit';

describeWithPostgres('PostgreSQL job store', () => {
  describeJobStoreConformance('PostgreSQL', async () => {
    const ts = createTestSchema('jobs');
    await ts.migrate();
    // A peer is the same replica on another connection; other replicas are tested below.
    return {
      store: createPostgresJobStore(ts.pool(), { instance: 'replica-a' }),
      openPeer: async () => createPostgresJobStore(ts.pool(), { instance: 'replica-a' }),
      close: () => ts.drop(),
    };
  });

  describe('across replicas', () => {
    let ts: TestSchema;
    beforeAll(async () => {
      ts = createTestSchema('jobs_ha');
      await ts.migrate();
    });
    afterAll(() => ts.drop());

    it('a retry with the same key on another replica gets the original job, readable there', async () => {
      const a = createPostgresJobStore(ts.pool(), { instance: 'replica-a' });
      const b = createPostgresJobStore(ts.pool(), { instance: 'replica-b' });
      const first = sampleJob(1, { idempotencyKey: 'pay-1' });
      const key = (job: typeof first) => ({
        record: {
          owner: job.owner,
          key: 'pay-1',
          requestHash: 'h'.repeat(64),
          jobId: job.id,
          createdAt: job.createdAt,
        },
        notBefore: job.createdAt - 24 * 3_600_000,
      });
      expect(await a.create(first, key(first))).toEqual({ created: true });
      const retry = sampleJob(9, { owner: first.owner, idempotencyKey: 'pay-1' });
      const res = await b.create(retry, key(retry));
      expect(res).toMatchObject({ created: false, existing: { jobId: first.id } });
      expect(await b.get(first.id)).toEqual(first);
      expect(await b.findIdempotency(first.owner, 'pay-1', 0)).toMatchObject({ jobId: first.id });
    });

    it('listByState answers for the replica’s own jobs only', async () => {
      const a = createPostgresJobStore(ts.pool(), { instance: 'replica-a2' });
      const b = createPostgresJobStore(ts.pool(), { instance: 'replica-b2' });
      await a.create(sampleJob(101, { state: 'running' }));
      await b.create(sampleJob(102, { state: 'running' }));
      expect((await a.listByState(['running'])).map((j) => j.id)).toEqual(['job-0101']);
      expect((await b.listByState(['running'])).map((j) => j.id)).toEqual(['job-0102']);
      // Status is shared: either replica reads and moves any job.
      expect(await b.update('job-0101', { state: 'interrupted' }, ['running'])).toBe(true);
      expect((await a.get('job-0101'))?.state).toBe('interrupted');
    });

    it('fencing: only the replica a job is assigned to can start it; others can still cancel it', async () => {
      const a = createPostgresJobStore(ts.pool(), { instance: 'replica-a3' });
      const b = createPostgresJobStore(ts.pool(), { instance: 'replica-b3' });
      await a.create(sampleJob(201));
      await a.create(sampleJob(202));
      // replica-b3 adopts job 201, as the lease reaper does for a replica taken for dead.
      await ts.pool().query(`UPDATE jobs SET instance = 'replica-b3' WHERE id = 'job-0201'`);
      expect(await a.update('job-0201', { state: 'running', startedAt: 5 }, ['queued'])).toBe(false);
      expect(await b.update('job-0201', { state: 'running', startedAt: 6 }, ['queued'])).toBe(true);
      expect((await a.get('job-0201'))?.startedAt).toBe(6);
      // Cancelling and settling are not fenced: any replica serves DELETE /v1/jobs/{id}.
      expect(await b.update('job-0202', { state: 'cancelled' }, ['queued'])).toBe(true);
    });
  });
});
