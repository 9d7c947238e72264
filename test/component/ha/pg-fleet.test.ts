// Global host slots, VM locks and replica leases on a real PostgreSQL, with several "replicas"
// (separate pools and coordinators) in one process.
import { createHostInventory } from '../../../src/fleet/host-inventory';
import {
  HostBusyError,
  QueueCancelledError,
  QueueTimeoutError,
  UnknownHostError,
} from '../../../src/fleet/fleet-errors';
import type { SlotLease } from '../../../src/fleet/host-limiter';
import { createPostgresBackend, type PostgresBackend } from '../../../src/store/postgres-backend';
import {
  createTestSchema,
  describeWithPostgres,
  PG_TEST_URL,
  type TestSchema,
} from '../../unit/store/pg-test-kit';

const inventory = createHostInventory([
  { name: 'hv-a', address: '127.0.0.1', maxConcurrent: 2, maxQueue: 3 },
  { name: 'hv-b', address: '127.0.0.1', maxConcurrent: 1, maxQueue: 50, queueTimeoutSec: 5 },
  { name: 'hv-c', address: '127.0.0.1', maxConcurrent: 1, maxQueue: 5, queueTimeoutSec: 1 },
]);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(pred: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await sleep(20);
  }
}

describeWithPostgres('HA coordination on PostgreSQL', () => {
  let ts: TestSchema;
  const replicas: PostgresBackend[] = [];

  function replica(name: string, timing: { leaseMs?: number } = {}): PostgresBackend {
    const r = createPostgresBackend({
      url: PG_TEST_URL,
      schema: ts.schema,
      instance: name,
      inventory,
      leaseMs: timing.leaseMs ?? 10_000,
      heartbeatMs: Math.max(50, Math.floor((timing.leaseMs ?? 10_000) / 4)),
      pollMs: 100,
      poolSize: 4,
    });
    replicas.push(r);
    return r;
  }

  beforeEach(async () => {
    ts = createTestSchema('ha');
    await ts.migrate();
  });
  afterEach(async () => {
    await Promise.all(replicas.splice(0).map((r) => r.close()));
    await ts.drop();
  });

  it('admits maxConcurrent + maxQueue across all replicas, then answers 429', async () => {
    const [a, b] = [replica('r-a'), replica('r-b')];
    await Promise.all([a.start(async () => undefined), b.start(async () => undefined)]);
    const tickets = [];
    for (let i = 0; i < 5; i++)
      tickets.push(await (i % 2 ? a : b).slots.admit({ host: 'hv-a', caller: `c${i}` }));
    await expect(a.slots.admit({ host: 'hv-a', caller: 'late' })).rejects.toBeInstanceOf(HostBusyError);
    await expect(b.slots.admit({ host: 'hv-a', caller: 'late' })).rejects.toMatchObject({
      httpStatus: 429,
      queueDepth: 5,
    });
    await expect(a.slots.admit({ host: 'nope', caller: 'x' })).rejects.toBeInstanceOf(UnknownHostError);
    await tickets[0]!.cancel();
    const again = await a.slots.admit({ host: 'hv-a', caller: 'late' });
    await again.cancel();
    for (const t of tickets.slice(1)) await t.cancel();
    await until(async () => (await a.slots.hostSnapshot('hv-a')).queued === 0);
  });

  it('never runs more than the host limit across replicas, and grants round-robin by caller', async () => {
    const rs = [replica('r-1'), replica('r-2'), replica('r-3')];
    await Promise.all(rs.map((r) => r.start(async () => undefined)));
    let running = 0;
    let peak = 0;
    const order: string[] = [];
    // Caller "bulk" floods through replica 1; "small" asks twice through replica 2 and 3.
    const work = async (r: PostgresBackend, caller: string, host: string) => {
      const t = await r.slots.admit({ host, caller });
      const lease: SlotLease = await t.acquire();
      running++;
      peak = Math.max(peak, running);
      order.push(caller);
      await sleep(15);
      running--;
      await lease.release();
    };
    const jobs = [];
    for (let i = 0; i < 8; i++) jobs.push(work(rs[0]!, 'bulk', 'hv-b'));
    await sleep(50);
    jobs.push(work(rs[1]!, 'small', 'hv-b'), work(rs[2]!, 'small', 'hv-b'));
    await Promise.all(jobs);
    expect(peak).toBe(1);
    expect(order).toHaveLength(10);
    // Both "small" tickets run long before the bulk caller's backlog is done.
    expect(order.lastIndexOf('small')).toBeLessThan(6);
  });

  it('gives a waiting ticket up at the queue deadline and frees its place', async () => {
    const [a, b] = [replica('d-a'), replica('d-b')];
    await Promise.all([a.start(async () => undefined), b.start(async () => undefined)]);
    const held = await a.slots.acquire({ host: 'hv-c', caller: 'x' });
    const started = Date.now();
    await expect(b.slots.acquire({ host: 'hv-c', caller: 'y' })).rejects.toBeInstanceOf(QueueTimeoutError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    await until(async () => (await a.slots.hostSnapshot('hv-c')).queued === 0);
    expect(await a.slots.hostSnapshot('hv-c')).toMatchObject({
      running: 1,
      queued: 0,
      callers: { x: { running: 1 } },
    });
    await held.release();
    expect((await b.slots.hostSnapshot('hv-c')).running).toBe(0);
  });

  it('serialises one VM across replicas in arrival order', async () => {
    const rs = [replica('v-1'), replica('v-2')];
    await Promise.all(rs.map((r) => r.start(async () => undefined)));
    const vm = '3F2E0000-0000-4000-8000-000000000001';
    let holders = 0;
    let peak = 0;
    const order: number[] = [];
    const jobs = [];
    for (let i = 0; i < 6; i++) {
      const r = rs[i % 2]!;
      const lease = r.vmLocks.acquire({
        host: 'hv-a',
        vmId: i % 2 ? vm : vm.toLowerCase(),
        holder: `job-${i}`,
      });
      jobs.push(
        lease.then(async (l) => {
          holders++;
          peak = Math.max(peak, holders);
          order.push(i);
          await sleep(10);
          holders--;
          await l.release();
        }),
      );
      // Arrival is when the request row commits; leave time for it under load.
      await sleep(60);
    }
    await Promise.all(jobs);
    expect(peak).toBe(1);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
    expect(await rs[0]!.vmLocks.snapshot()).toEqual([]);
  });

  it('gives up a VM wait when the job is cancelled', async () => {
    const r = replica('v-c');
    await r.start(async () => undefined);
    const first = await r.vmLocks.acquire({ host: 'hv-a', vmId: 'vm-1' });
    const ctl = new AbortController();
    const second = r.vmLocks.acquire({ host: 'hv-a', vmId: 'vm-1', signal: ctl.signal });
    await sleep(50);
    ctl.abort(new QueueCancelledError('hv-a'));
    await expect(second).rejects.toBeInstanceOf(QueueCancelledError);
    await first.release();
    const third = await r.vmLocks.acquire({ host: 'hv-a', vmId: 'vm-1' });
    await third.release();
  });

  it('a dead replica’s slots and VM locks are freed once its lease expires, and its jobs are adopted', async () => {
    const dying = replica('dying', { leaseMs: 400 });
    const alive = replica('alive', { leaseMs: 400 });
    const adopted: number[] = [];
    await dying.start(async () => undefined);
    await alive.start(async () => {
      adopted.push(1);
    });
    await dying.jobStore.create({
      id: 'job-dead-1',
      operation: 'memory.set',
      host: 'hv-b',
      vmRef: 'web',
      vmId: null,
      vmName: null,
      owner: 'o',
      actor: { sub: 's', iss: 'i', clientId: null, tokenId: null, scopes: [] },
      input: {},
      paramsSha256: 'a'.repeat(64),
      requestId: null,
      source: { ip: null, userAgent: null },
      idempotencyKey: null,
      state: 'running',
      createdAt: 1,
      startedAt: 2,
      finishedAt: null,
      queueWaitMs: 0,
      durationMs: null,
      progress: null,
      result: null,
      error: null,
    });
    await dying.vmLocks.acquire({ host: 'hv-b', vmId: 'vm-x' });
    const held = await dying.slots.acquire({ host: 'hv-b', caller: 'c' });
    expect(held.host).toBe('hv-b');
    // SIGKILL, as far as the database can tell: heartbeats stop, nothing is released.
    await dying.lease.stop({ release: false });

    const waiting = alive.slots.acquire({ host: 'hv-b', caller: 'd' });
    const vmWait = alive.vmLocks.acquire({ host: 'hv-b', vmId: 'vm-x' });
    const lease = await waiting;
    await (await vmWait).release();
    await lease.release();
    await until(() => adopted.length > 0);
    expect((await alive.jobStore.listByState(['running'])).map((j) => j.id)).toEqual(['job-dead-1']);
    expect(await dying.jobStore.listByState(['running'])).toEqual([]);
  });

  it('applies migrations once when replicas start together on a fresh schema', async () => {
    const fresh = createTestSchema('ha_fresh');
    try {
      const rs = [1, 2, 3].map((i) =>
        createPostgresBackend({
          url: PG_TEST_URL,
          schema: fresh.schema,
          instance: `m-${i}`,
          inventory,
          poolSize: 2,
        }),
      );
      await Promise.all(rs.map((r) => r.start(async () => undefined)));
      const rows = await fresh.query('SELECT scope, version FROM schema_migrations ORDER BY scope, version');
      expect(rows).toEqual([
        { scope: 'audit', version: 1 },
        { scope: 'fleet', version: 1 },
        { scope: 'jobs', version: 1 },
        { scope: 'jobs', version: 2 },
      ]);
      await Promise.all(rs.map((r) => r.close()));
    } finally {
      await fresh.drop();
    }
  });
});
