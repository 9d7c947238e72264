import {
  createCircuitBreakerRegistry,
  createHostHealthMonitor,
  createHostInventory,
  createManualClock,
  type HostEntry,
} from '../../../src/fleet';

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));
const refused = () =>
  Object.assign(new Error('connect ECONNREFUSED 10.9.9.9:5986 as CORP\\svc'), { code: 'ECONNREFUSED' });

function setup(probe: (host: HostEntry, signal: AbortSignal) => Promise<void>) {
  const clock = createManualClock(0);
  const inventory = createHostInventory([
    { name: 'hv-01', address: '10.0.0.1' },
    { name: 'hv-02', address: '10.0.0.2' },
  ]);
  const breakers = createCircuitBreakerRegistry({ failureThreshold: 1, clock });
  const monitor = createHostHealthMonitor({
    inventory,
    breakers,
    probe,
    clock,
    intervalMs: 30_000,
    openIntervalMs: 5_000,
    timeoutMs: 2_000,
  });
  return { clock, breakers, monitor };
}

it('probes every host periodically once started, and stops cleanly', async () => {
  const probed: string[] = [];
  const { clock, monitor } = setup(async (h) => {
    probed.push(h.name);
  });
  expect(monitor.statuses().map((s) => s.status)).toEqual(['unknown', 'unknown']);
  monitor.start();
  clock.advance(29_999);
  expect(probed).toEqual([]);
  clock.advance(1);
  await flush();
  expect(probed).toEqual(['hv-01', 'hv-02']);
  expect(monitor.status('hv-01')).toMatchObject({
    status: 'up',
    circuit: 'closed',
    lastProbeAt: 30_000,
    lastOkAt: 30_000,
    lastError: null,
  });
  clock.advance(30_000);
  await flush();
  expect(probed).toHaveLength(4);
  await monitor.stop();
  expect(clock.pendingTimers()).toBe(0);
  clock.advance(120_000);
  expect(probed).toHaveLength(4);
});

it('reports a failing host as down with the error code only', async () => {
  const { monitor } = setup(async (h) => {
    if (h.name === 'hv-02') throw refused();
  });
  const [one, two] = await monitor.probeAll();
  expect(one).toMatchObject({ host: 'hv-01', status: 'up' });
  expect(two).toMatchObject({ host: 'hv-02', status: 'down', lastError: 'ECONNREFUSED' });
  expect(JSON.stringify(two)).not.toContain('10.9.9.9');
});

it('times a hung probe out and aborts its signal', async () => {
  let seen: AbortSignal | undefined;
  const { clock, monitor } = setup((_h, signal) => {
    seen = signal;
    return new Promise<void>(() => undefined);
  });
  const result = monitor.probeNow('hv-01');
  clock.advance(2_000);
  expect(await result).toMatchObject({ status: 'down', lastError: 'ProbeTimeout', latencyMs: 2_000 });
  expect(seen?.aborted).toBe(true);
});

it('probes an open host more often and half-opens its circuit when the probe succeeds', async () => {
  let up = false;
  const probed: number[] = [];
  const { clock, breakers, monitor } = setup(async (h) => {
    if (h.name !== 'hv-01') return;
    probed.push(clock.now());
    if (!up) throw refused();
  });
  const breaker = breakers.forHost('hv-01');
  await breaker.execute(() => Promise.reject(refused())).catch(() => undefined);
  expect(breaker.state()).toBe('open');
  monitor.start();
  clock.advance(5_000);
  await flush();
  expect(probed).toEqual([5_000]);
  expect(breaker.state()).toBe('open');
  up = true;
  clock.advance(5_000);
  await flush();
  expect(probed).toEqual([5_000, 10_000]);
  expect(breaker.state()).toBe('half-open');
  expect(monitor.status('hv-01').circuit).toBe('half-open');
  await monitor.stop();
});

it('does not run overlapping probes for one host', async () => {
  let calls = 0;
  let finish!: () => void;
  const { monitor } = setup(
    () =>
      new Promise<void>((resolve) => {
        calls += 1;
        finish = resolve;
      }),
  );
  const a = monitor.probeNow('hv-01');
  const b = monitor.probeNow('hv-01');
  finish();
  await Promise.all([a, b]);
  expect(calls).toBe(1);
  await expect(Promise.resolve().then(() => monitor.status('hv-404'))).rejects.toThrow(
    /not in the inventory/,
  );
});
