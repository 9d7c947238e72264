import {
  createCircuitBreakerRegistry,
  createFleetScheduler,
  createHostInventory,
  createHostLimiter,
  createManualClock,
  createVmLocks,
  HostBusyError,
  HostUnavailableError,
  QueueTimeoutError,
  type Clock,
  type HostInput,
} from '../../../src/fleet';

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function setup(hosts: HostInput[], clock?: Clock) {
  const inventory = createHostInventory(hosts);
  const slots = createHostLimiter({ inventory, ...(clock ? { clock } : {}) });
  const vmLocks = createVmLocks(clock ? { clock } : {});
  const breakers = createCircuitBreakerRegistry({ failureThreshold: 2, ...(clock ? { clock } : {}) });
  return { slots, vmLocks, breakers, scheduler: createFleetScheduler({ slots, vmLocks, breakers }) };
}

it('a job waiting for its VM does not occupy a host slot', async () => {
  const { scheduler, slots } = setup([{ name: 'hv-01', address: 'a', maxConcurrent: 2 }]);
  const releaseFirst = deferred();
  const log: string[] = [];
  const first = (await scheduler.admit({ host: 'hv-01', caller: 'a', vmId: 'vm-1', mutating: true })).run(
    async () => {
      log.push('vm-1 first start');
      await releaseFirst.promise;
      log.push('vm-1 first end');
    },
  );
  const second = (await scheduler.admit({ host: 'hv-01', caller: 'a', vmId: 'vm-1', mutating: true })).run(
    async () => {
      log.push('vm-1 second start');
    },
  );
  await flush();
  // The second vm-1 job waits for its VM turn: one running, one queued, one slot still free.
  expect(await slots.hostSnapshot('hv-01')).toMatchObject({ running: 1, queued: 1 });
  const other = (await scheduler.admit({ host: 'hv-01', caller: 'b', vmId: 'vm-2', mutating: true })).run(
    async () => {
      log.push('vm-2 start');
    },
  );
  await other;
  expect(log).toEqual(['vm-1 first start', 'vm-2 start']);
  releaseFirst.resolve();
  await Promise.all([first, second]);
  expect(log).toEqual(['vm-1 first start', 'vm-2 start', 'vm-1 first end', 'vm-1 second start']);
  expect(await slots.hostSnapshot('hv-01')).toMatchObject({ running: 0, queued: 0 });
});

it('reads do not take the VM lock', async () => {
  const { scheduler } = setup([{ name: 'hv-01', address: 'a', maxConcurrent: 4 }]);
  const hold = deferred();
  const writing = (await scheduler.admit({ host: 'hv-01', caller: 'a', vmId: 'vm-1', mutating: true })).run(
    () => hold.promise,
  );
  await flush();
  const read = await (
    await scheduler.admit({ host: 'hv-01', caller: 'a', vmId: 'vm-1', mutating: false })
  ).run(async (ctx) => ({
    vmWaitMs: ctx.vmWaitMs,
    value: 'facts',
  }));
  expect(read).toEqual({ vmWaitMs: 0, value: 'facts' });
  hold.resolve();
  await writing;
});

it('keeps per-VM FIFO order and the host limit under contention from several callers', async () => {
  const { scheduler } = setup([{ name: 'hv-01', address: 'a', maxConcurrent: 2, maxQueue: 100 }]);
  const admitted: Record<string, number[]> = {};
  const started: Record<string, number[]> = {};
  let running = 0;
  let peak = 0;
  await Promise.all(
    Array.from({ length: 36 }, async (_, i) => {
      const vm = `vm-${i % 3}`;
      await sleep(i % 2);
      const job = await scheduler.admit({
        host: 'hv-01',
        caller: i % 4 === 0 ? 'bulk' : 'portal',
        vmId: vm,
        mutating: true,
      });
      (admitted[vm] ??= []).push(i);
      await job.run(async () => {
        running += 1;
        peak = Math.max(peak, running);
        (started[vm] ??= []).push(i);
        await (i % 5 === 0 ? sleep(1) : flush());
        running -= 1;
      });
    }),
  );
  for (const vm of ['vm-0', 'vm-1', 'vm-2']) expect(started[vm]).toEqual(admitted[vm]);
  expect(peak).toBeLessThanOrEqual(2);
  expect(peak).toBe(2);
});

it('jobs waiting for a VM count against maxQueue, so the queue stays bounded', async () => {
  const { scheduler, slots } = setup([{ name: 'hv-01', address: 'a', maxConcurrent: 1, maxQueue: 2 }]);
  const hold = deferred();
  const runs = [];
  for (let i = 0; i < 3; i++) {
    const job = await scheduler.admit({ host: 'hv-01', caller: 'a', vmId: 'vm-1', mutating: true });
    runs.push(job.run(() => (i === 0 ? hold.promise : Promise.resolve())));
  }
  await flush();
  expect(await slots.hostSnapshot('hv-01')).toMatchObject({ running: 1, queued: 2 });
  await expect(
    scheduler.admit({ host: 'hv-01', caller: 'b', vmId: 'vm-9', mutating: true }),
  ).rejects.toBeInstanceOf(HostBusyError);
  hold.resolve();
  await Promise.all(runs);
});

it('the queue deadline also covers the wait for the VM', async () => {
  const clock = createManualClock();
  const { scheduler, slots } = setup(
    [{ name: 'hv-01', address: 'a', maxConcurrent: 4, queueTimeoutSec: 3 }],
    clock,
  );
  const hold = deferred();
  const first = (await scheduler.admit({ host: 'hv-01', caller: 'a', vmId: 'vm-1', mutating: true })).run(
    () => hold.promise,
  );
  const waiting = (await scheduler.admit({ host: 'hv-01', caller: 'a', vmId: 'vm-1', mutating: true })).run(
    async () => 'ran',
  );
  const outcome = waiting.catch((e: unknown) => e);
  clock.advance(3000);
  expect(await outcome).toBeInstanceOf(QueueTimeoutError);
  expect(await slots.hostSnapshot('hv-01')).toMatchObject({ running: 1, queued: 0 });
  hold.resolve();
  await first;
});

it('releases slot and VM lock when the work fails', async () => {
  const { scheduler, slots, vmLocks } = setup([{ name: 'hv-01', address: 'a', maxConcurrent: 1 }]);
  const job = await scheduler.admit({ host: 'hv-01', caller: 'a', vmId: 'vm-1', mutating: true });
  await expect(job.run(async () => Promise.reject(new Error('needs a Generation 2 VM')))).rejects.toThrow(
    'Generation 2',
  );
  expect(await slots.hostSnapshot('hv-01')).toMatchObject({ running: 0, queued: 0 });
  expect(await vmLocks.snapshot()).toEqual([]);
});

it('fails fast at admission once the host circuit is open; other hosts are unaffected', async () => {
  const { scheduler, breakers } = setup([
    { name: 'hv-01', address: 'a' },
    { name: 'hv-02', address: 'b' },
  ]);
  const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
  for (let i = 0; i < 2; i++) {
    const job = await scheduler.admit({ host: 'hv-01', caller: 'a', mutating: false });
    await expect(job.run(() => Promise.reject(refused))).rejects.toBe(refused);
  }
  expect(breakers.forHost('hv-01').state()).toBe('open');
  await expect(scheduler.admit({ host: 'hv-01', caller: 'a', mutating: false })).rejects.toBeInstanceOf(
    HostUnavailableError,
  );
  const ok = await scheduler.admit({ host: 'hv-02', caller: 'a', mutating: false });
  await expect(ok.run(async () => 'fine')).resolves.toBe('fine');
});

it('refuses mutating work without a VM id', async () => {
  const { scheduler } = setup([{ name: 'hv-01', address: 'a' }]);
  await expect(scheduler.admit({ host: 'hv-01', caller: 'a', mutating: true })).rejects.toThrow(
    /needs a vmId/,
  );
});

it('run() takes the signal for the work when admission had none', async () => {
  const { scheduler } = setup([{ name: 'hv-01', address: 'a', maxConcurrent: 1 }]);
  const job = await scheduler.admit({ host: 'hv-01', caller: 'a', mutating: false });
  const controller = new AbortController();
  const seen = await job.run(async (ctx) => ctx.signal, controller.signal);
  expect(seen).toBe(controller.signal);
});
