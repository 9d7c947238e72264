import {
  createHostInventory,
  createHostLimiter,
  createManualClock,
  HostBusyError,
  QueueCancelledError,
  QueueTimeoutError,
  UnknownHostError,
  type HostInput,
  type SlotLease,
} from '../../../src/fleet';

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function limiterFor(
  host: Partial<HostInput>,
  options: { initialServiceTimeMs?: number; manual?: boolean } = {},
) {
  const inventory = createHostInventory([{ name: 'hv-01', address: '10.0.0.1', ...host }]);
  const clock = createManualClock();
  const limiter = createHostLimiter({
    inventory,
    ...(options.manual ? { clock } : {}),
    ...(options.initialServiceTimeMs !== undefined
      ? { initialServiceTimeMs: options.initialServiceTimeMs }
      : {}),
  });
  return { limiter, clock };
}

/** Settles state for promises without awaiting them. */
function track<T>(p: Promise<T>) {
  const state: { value?: T; error?: unknown; settled: boolean } = { settled: false };
  p.then(
    (value) => Object.assign(state, { value, settled: true }),
    (error: unknown) => Object.assign(state, { error, settled: true }),
  );
  return state;
}

it('200 concurrent acquisitions with limit 4 never exceed 4 running', async () => {
  const { limiter } = limiterFor({ maxConcurrent: 4, maxQueue: 1000 });
  let running = 0;
  let peak = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: 200 }, async (_, i) => {
      const lease = await limiter.acquire({ host: 'hv-01', caller: `caller-${i % 7}` });
      running += 1;
      peak = Math.max(peak, running);
      if (running > 4) throw new Error(`limit exceeded: ${running}`);
      await (i % 3 === 0 ? sleep(1) : flush());
      running -= 1;
      done += 1;
      await lease.release();
    }),
  );
  expect(done).toBe(200);
  expect(peak).toBe(4);
  expect(await limiter.hostSnapshot('hv-01')).toMatchObject({ running: 0, queued: 0, callers: {} });
});

describe('when the queue is full', () => {
  it('throws HostBusyError with Retry-After from the service-time estimate', async () => {
    const { limiter } = limiterFor({ maxConcurrent: 2, maxQueue: 3 }, { initialServiceTimeMs: 10_000 });
    await limiter.acquire({ host: 'hv-01', caller: 'a' });
    await limiter.acquire({ host: 'hv-01', caller: 'a' });
    for (let i = 0; i < 3; i++) void (await limiter.admit({ host: 'hv-01', caller: 'b' })).acquire();
    const err = await limiter.admit({ host: 'hv-01', caller: 'c' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostBusyError);
    // 10 s per job × 3 queued / 2 slots = 15 s
    expect(err).toMatchObject({ host: 'hv-01', retryAfterSec: 15, queueDepth: 3, httpStatus: 429 });
  });

  it('learns the service time from completed jobs (EWMA) and clamps Retry-After to 1..300 s', async () => {
    const { limiter, clock } = limiterFor(
      { maxConcurrent: 1, maxQueue: 1 },
      { manual: true, initialServiceTimeMs: 10_000 },
    );
    const lease = await limiter.acquire({ host: 'hv-01', caller: 'a' });
    clock.advance(2000);
    await lease.release();
    // 0.2 × 2000 + 0.8 × 10000 = 8400 ms
    expect((await limiter.hostSnapshot('hv-01')).serviceTimeMs).toBe(8400);
    await limiter.acquire({ host: 'hv-01', caller: 'a' });
    void (await limiter.admit({ host: 'hv-01', caller: 'a' })).acquire();
    await expect(limiter.admit({ host: 'hv-01', caller: 'a' })).rejects.toMatchObject({ retryAfterSec: 9 });

    const fast = limiterFor({ maxConcurrent: 1, maxQueue: 0 }, { initialServiceTimeMs: 1 }).limiter;
    await fast.acquire({ host: 'hv-01', caller: 'a' });
    await expect(fast.admit({ host: 'hv-01', caller: 'a' })).rejects.toMatchObject({ retryAfterSec: 1 });
    const slow = limiterFor({ maxConcurrent: 1, maxQueue: 1 }, { initialServiceTimeMs: 3_600_000 }).limiter;
    await slow.acquire({ host: 'hv-01', caller: 'a' });
    void (await slow.admit({ host: 'hv-01', caller: 'a' })).acquire();
    await expect(slow.admit({ host: 'hv-01', caller: 'a' })).rejects.toMatchObject({ retryAfterSec: 300 });
  });

  it('admits again once a place frees up', async () => {
    const { limiter } = limiterFor({ maxConcurrent: 1, maxQueue: 0 });
    const lease = await limiter.acquire({ host: 'hv-01', caller: 'a' });
    await expect(limiter.admit({ host: 'hv-01', caller: 'b' })).rejects.toBeInstanceOf(HostBusyError);
    await lease.release();
    await expect(limiter.acquire({ host: 'hv-01', caller: 'b' })).resolves.toMatchObject({ caller: 'b' });
  });
});

describe('queue deadline', () => {
  it('gives up a queued entry after queueTimeoutSec and frees its place', async () => {
    const { limiter, clock } = limiterFor(
      { maxConcurrent: 1, maxQueue: 5, queueTimeoutSec: 5 },
      { manual: true },
    );
    const first = await limiter.acquire({ host: 'hv-01', caller: 'a' });
    const waiting = track(limiter.acquire({ host: 'hv-01', caller: 'b' }));
    clock.advance(4999);
    await flush();
    expect(waiting.settled).toBe(false);
    clock.advance(1);
    await flush();
    expect(waiting.error).toBeInstanceOf(QueueTimeoutError);
    expect(waiting.error).toMatchObject({ host: 'hv-01', waitedMs: 5000, httpStatus: 503 });
    expect(await limiter.hostSnapshot('hv-01')).toMatchObject({ running: 1, queued: 0 });
    await first.release();
    expect(await limiter.hostSnapshot('hv-01')).toMatchObject({ running: 0, queued: 0 });
  });

  it('counts from admission: a ticket not yet queued for a slot is aborted with the timeout as reason', async () => {
    const { limiter, clock } = limiterFor({ maxConcurrent: 1, queueTimeoutSec: 2 }, { manual: true });
    await limiter.acquire({ host: 'hv-01', caller: 'a' });
    const ticket = await limiter.admit({ host: 'hv-01', caller: 'b' });
    clock.advance(2000);
    expect(ticket.signal.aborted).toBe(true);
    expect(ticket.signal.reason).toBeInstanceOf(QueueTimeoutError);
    await expect(ticket.acquire()).rejects.toBeInstanceOf(QueueTimeoutError);
  });

  it('a granted slot is not affected by the deadline', async () => {
    const { limiter, clock } = limiterFor({ maxConcurrent: 1, queueTimeoutSec: 1 }, { manual: true });
    const lease = await limiter.acquire({ host: 'hv-01', caller: 'a' });
    clock.advance(10_000);
    expect(clock.pendingTimers()).toBe(0);
    expect((await limiter.hostSnapshot('hv-01')).running).toBe(1);
    await lease.release();
  });
});

describe('one deadline timer per host', () => {
  it('each queued ticket still times out at its own deadline, also after an earlier one left', async () => {
    const { limiter, clock } = limiterFor(
      { maxConcurrent: 1, maxQueue: 10, queueTimeoutSec: 10 },
      { manual: true },
    );
    const first = await limiter.acquire({ host: 'hv-01', caller: 'a' });
    const early = await limiter.admit({ host: 'hv-01', caller: 'b' });
    const earlyWait = track(early.acquire());
    clock.advance(3000);
    const middle = track(limiter.acquire({ host: 'hv-01', caller: 'c' }));
    clock.advance(3000);
    const late = track(limiter.acquire({ host: 'hv-01', caller: 'd' }));
    expect(clock.pendingTimers()).toBe(1);
    // The head leaves before its deadline; the timer armed for it must not end the others early.
    await early.cancel();
    await flush();
    expect(earlyWait.error).toBeInstanceOf(QueueCancelledError);
    clock.advance(6999); // t = 12.999 s: middle is due at 13 s, late at 16 s
    await flush();
    expect(middle.settled).toBe(false);
    clock.advance(1);
    await flush();
    expect(middle.error).toMatchObject({ waitedMs: 10_000 });
    expect(late.settled).toBe(false);
    clock.advance(3000);
    await flush();
    expect(late.error).toBeInstanceOf(QueueTimeoutError);
    expect(clock.pendingTimers()).toBe(0);
    expect(await limiter.hostSnapshot('hv-01')).toMatchObject({ running: 1, queued: 0 });
    await first.release();
  });

  it('a signal read after the ticket ended is already aborted with the reason', async () => {
    const { limiter } = limiterFor({ maxConcurrent: 1 });
    await limiter.acquire({ host: 'hv-01', caller: 'a' });
    const ticket = await limiter.admit({ host: 'hv-01', caller: 'b' });
    await ticket.cancel();
    expect(ticket.signal.aborted).toBe(true);
    expect(ticket.signal.reason).toBeInstanceOf(QueueCancelledError);
    expect(await limiter.hostSnapshot('hv-01')).toMatchObject({ queued: 0 });
  });
});

describe('cancellation', () => {
  it('an aborted queued entry leaves the queue; the next caller gets the slot', async () => {
    const { limiter } = limiterFor({ maxConcurrent: 1 });
    const first = await limiter.acquire({ host: 'hv-01', caller: 'a' });
    const controller = new AbortController();
    const cancelled = track(limiter.acquire({ host: 'hv-01', caller: 'b', signal: controller.signal }));
    const next = track(limiter.acquire({ host: 'hv-01', caller: 'c' }));
    controller.abort(new Error('DELETE /v1/jobs/42'));
    await flush();
    expect(cancelled.error).toBeInstanceOf(QueueCancelledError);
    expect((cancelled.error as Error).cause).toEqual(new Error('DELETE /v1/jobs/42'));
    expect((await limiter.hostSnapshot('hv-01')).queued).toBe(1);
    await first.release();
    await flush();
    expect((next.value as SlotLease).caller).toBe('c');
  });

  it('refuses an already aborted signal and treats cancel() after the grant as a no-op', async () => {
    const { limiter } = limiterFor({ maxConcurrent: 1 });
    await expect(
      limiter.admit({ host: 'hv-01', caller: 'a', signal: AbortSignal.abort() }),
    ).rejects.toBeInstanceOf(QueueCancelledError);
    const ticket = await limiter.admit({ host: 'hv-01', caller: 'a' });
    const lease = await ticket.acquire();
    await ticket.cancel();
    expect((await limiter.hostSnapshot('hv-01')).running).toBe(1);
    await lease.release();
    await lease.release();
    expect((await limiter.hostSnapshot('hv-01')).running).toBe(0);
  });
});

it('is fair: caller B, arriving after A queued 50 jobs, finishes long before A', async () => {
  const { limiter } = limiterFor({ maxConcurrent: 2, maxQueue: 100 });
  const finished: string[] = [];
  const job = async (caller: string, i: number) => {
    const lease = await limiter.acquire({ host: 'hv-01', caller });
    await flush();
    finished.push(`${caller}${i}`);
    await lease.release();
  };
  const all: Promise<void>[] = [];
  for (let i = 0; i < 50; i++) all.push(job('A', i));
  await flush();
  for (let i = 0; i < 5; i++) all.push(job('B', i));
  await Promise.all(all);

  expect(finished).toHaveLength(55);
  const lastB = Math.max(...finished.map((f, i) => (f.startsWith('B') ? i : -1)));
  // Round-robin: B's five run interleaved with A's next five; FIFO would put them at positions 50..54.
  expect(lastB).toBeLessThan(15);
  expect(finished.slice(-10).every((f) => f.startsWith('A'))).toBe(true);
  // Each caller's own jobs still run in their arrival order.
  expect(finished.filter((f) => f.startsWith('B'))).toEqual(['B0', 'B1', 'B2', 'B3', 'B4']);
  expect(finished.filter((f) => f.startsWith('A'))).toEqual(Array.from({ length: 50 }, (_, i) => `A${i}`));
});

it('snapshot() reports running and queued per caller', async () => {
  const { limiter } = limiterFor({ maxConcurrent: 1, maxQueue: 10 });
  await limiter.acquire({ host: 'hv-01', caller: 'a' });
  void limiter.acquire({ host: 'hv-01', caller: 'a' });
  void limiter.acquire({ host: 'hv-01', caller: 'b' });
  await limiter.admit({ host: 'hv-01', caller: 'b' });
  await flush();
  const [snap] = await limiter.snapshot();
  expect(snap).toEqual({
    host: 'hv-01',
    slots: 1,
    running: 1,
    queued: 3,
    maxQueue: 10,
    serviceTimeMs: 5000,
    retryAfterSec: 15,
    callers: { a: { running: 1, queued: 1 }, b: { running: 0, queued: 2 } },
  });
});

it('keeps hosts independent and refuses unknown hosts', async () => {
  const inventory = createHostInventory([
    { name: 'hv-01', address: 'a', maxConcurrent: 1, maxQueue: 0 },
    { name: 'hv-02', address: 'b', maxConcurrent: 1, maxQueue: 0 },
  ]);
  const limiter = createHostLimiter({ inventory });
  await limiter.acquire({ host: 'hv-01', caller: 'a' });
  await expect(limiter.acquire({ host: 'hv-01', caller: 'a' })).rejects.toBeInstanceOf(HostBusyError);
  await expect(limiter.acquire({ host: 'hv-02', caller: 'a' })).resolves.toBeDefined();
  await expect(limiter.admit({ host: 'hv-99', caller: 'a' })).rejects.toBeInstanceOf(UnknownHostError);
});

it('idleSlots counts the slots no job holds or waits for (the intake fast lane asks it)', async () => {
  const { limiter } = limiterFor({ maxConcurrent: 2, maxQueue: 10 });
  const idle = () => limiter.idleSlots!('hv-01');
  expect(idle()).toBe(2);
  const first = await limiter.admit({ host: 'hv-01', caller: 'a' });
  // Admitted and not yet running still counts: the slot is spoken for.
  expect(idle()).toBe(1);
  const lease = await first.acquire();
  expect(idle()).toBe(1);
  const second = await limiter.admit({ host: 'hv-01', caller: 'a' });
  const third = await limiter.admit({ host: 'hv-01', caller: 'b' });
  expect(idle()).toBe(0);
  await third.cancel();
  await second.cancel();
  await lease.release();
  expect(idle()).toBe(2);
  expect(limiter.idleSlots!('no-such-host')).toBe(0);
});
