import { createVmLocks, QueueCancelledError } from '../../../src/fleet';

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

it('serialises one VM in arrival order under contention, while other VMs run in parallel', async () => {
  const locks = createVmLocks();
  const arrivals: Record<string, number[]> = { 'vm-a': [], 'vm-b': [] };
  const starts: Record<string, number[]> = { 'vm-a': [], 'vm-b': [] };
  const holding: Record<string, number> = { 'vm-a': 0, 'vm-b': 0 };
  let parallelVms = 0;
  let peakParallelVms = 0;
  await Promise.all(
    Array.from({ length: 40 }, async (_, i) => {
      const vm = i % 2 === 0 ? 'vm-a' : 'vm-b';
      await sleep((i * 7) % 3);
      arrivals[vm]!.push(i);
      const lease = await locks.acquire({ host: 'hv-01', vmId: vm, holder: `job-${i}` });
      holding[vm]! += 1;
      if (holding[vm]! > 1) throw new Error(`two holders on ${vm}`);
      parallelVms += 1;
      peakParallelVms = Math.max(peakParallelVms, parallelVms);
      starts[vm]!.push(i);
      await (i % 4 === 0 ? sleep(1) : flush());
      parallelVms -= 1;
      holding[vm]! -= 1;
      await lease.release();
    }),
  );
  expect(starts['vm-a']).toEqual(arrivals['vm-a']);
  expect(starts['vm-b']).toEqual(arrivals['vm-b']);
  expect(starts['vm-a']).toHaveLength(20);
  expect(peakParallelVms).toBe(2);
  expect(await locks.snapshot()).toEqual([]);
});

it('treats VM ids case-insensitively and keys them per host', async () => {
  const locks = createVmLocks();
  const a = await locks.acquire({ host: 'hv-01', vmId: 'DE0F4C4E-0000-4000-8000-00000000000A' });
  let second = false;
  const p = locks.acquire({ host: 'hv-01', vmId: 'de0f4c4e-0000-4000-8000-00000000000a' }).then((l) => {
    second = true;
    return l;
  });
  const otherHost = await locks.acquire({ host: 'hv-02', vmId: 'de0f4c4e-0000-4000-8000-00000000000a' });
  await flush();
  expect(second).toBe(false);
  expect(await locks.snapshot()).toEqual(
    expect.arrayContaining([
      { host: 'hv-01', vmId: 'de0f4c4e-0000-4000-8000-00000000000a', holder: null, waiting: 1 },
    ]),
  );
  await a.release();
  await (await p).release();
  await otherHost.release();
  expect(second).toBe(true);
});

it('an aborted waiter leaves the line with the abort reason; the rest keep their order', async () => {
  const locks = createVmLocks();
  const held = await locks.acquire({ host: 'h', vmId: 'v' });
  const controller = new AbortController();
  const order: string[] = [];
  const p1 = locks.acquire({ host: 'h', vmId: 'v', signal: controller.signal });
  const p2 = locks.acquire({ host: 'h', vmId: 'v' }).then(async (l) => {
    order.push('second');
    await l.release();
  });
  const reason = new Error('queue deadline');
  controller.abort(reason);
  await expect(p1).rejects.toBe(reason);
  await held.release();
  await p2;
  expect(order).toEqual(['second']);

  const plain = new AbortController();
  const blocker = await locks.acquire({ host: 'h', vmId: 'v' });
  const p3 = locks.acquire({ host: 'h', vmId: 'v', signal: plain.signal });
  plain.abort();
  await expect(p3).rejects.toBeInstanceOf(QueueCancelledError);
  await blocker.release();
  await expect(locks.acquire({ host: 'h', vmId: 'v', signal: AbortSignal.abort(reason) })).rejects.toBe(
    reason,
  );
});

it('release is idempotent and hands over only once', async () => {
  const locks = createVmLocks();
  const first = await locks.acquire({ host: 'h', vmId: 'v' });
  const got: number[] = [];
  const waiters = [1, 2].map((n) => locks.acquire({ host: 'h', vmId: 'v' }).then((l) => (got.push(n), l)));
  await first.release();
  await first.release();
  await flush();
  expect(got).toEqual([1]);
  await (await waiters[0]!).release();
  await (await waiters[1]!).release();
  expect(got).toEqual([1, 2]);
});
