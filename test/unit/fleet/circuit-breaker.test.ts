import {
  createCircuitBreakerRegistry,
  createManualClock,
  HostUnavailableError,
  isTransportFailure,
  type CircuitStatus,
} from '../../../src/fleet';

const refused = () =>
  Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:5986'), { code: 'ECONNREFUSED' });
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

function setup() {
  const clock = createManualClock(1_000_000);
  const changes: CircuitStatus[] = [];
  const registry = createCircuitBreakerRegistry({
    failureThreshold: 3,
    probeIntervalMs: 15_000,
    clock,
    onStateChange: (s) => changes.push(s),
  });
  return { clock, changes, registry, breaker: registry.forHost('hv-01') };
}

it('opens after N consecutive transport failures and then fails fast without calling the host', async () => {
  const { breaker } = setup();
  let calls = 0;
  const failing = async () => {
    calls += 1;
    throw refused();
  };
  for (let i = 0; i < 3; i++)
    await expect(breaker.execute(failing)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  expect(breaker.state()).toBe('open');
  expect(calls).toBe(3);
  const err = await breaker.execute(failing).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(HostUnavailableError);
  expect(err).toMatchObject({ host: 'hv-01', retryAfterSec: 15, httpStatus: 503 });
  expect(calls).toBe(3);
  expect(() => breaker.assertAvailable()).toThrow(HostUnavailableError);
});

it('does not count operation errors the host reported; they reset the streak', async () => {
  const { breaker } = setup();
  const opError = new Error('HVG: VM is Generation 1');
  for (let i = 0; i < 10; i++)
    await expect(breaker.execute(() => Promise.reject(opError))).rejects.toBe(opError);
  expect(breaker.state()).toBe('closed');
  await expect(breaker.execute(() => Promise.reject(refused()))).rejects.toThrow();
  await expect(breaker.execute(() => Promise.reject(refused()))).rejects.toThrow();
  await expect(breaker.execute(() => Promise.reject(opError))).rejects.toBe(opError);
  await expect(breaker.execute(() => Promise.reject(refused()))).rejects.toThrow();
  await expect(breaker.execute(() => Promise.reject(refused()))).rejects.toThrow();
  expect(breaker.status()).toMatchObject({ state: 'closed', consecutiveFailures: 2 });
  await expect(breaker.execute(async () => 42)).resolves.toBe(42);
});

it('stays open on failed probes, goes half-open after a successful probe, closes after a good trial', async () => {
  const { breaker, clock, changes } = setup();
  for (let i = 0; i < 3; i++) await breaker.execute(() => Promise.reject(refused())).catch(() => undefined);
  clock.advance(60_000);
  // Time alone does not reopen the circuit; only a probe does.
  await expect(breaker.execute(async () => 'x')).rejects.toBeInstanceOf(HostUnavailableError);
  breaker.recordProbe(false);
  expect(breaker.state()).toBe('open');
  clock.advance(15_000);
  breaker.recordProbe(true);
  expect(breaker.state()).toBe('half-open');
  expect(() => breaker.assertAvailable()).not.toThrow();
  await expect(breaker.execute(async () => 'trial ok')).resolves.toBe('trial ok');
  expect(breaker.state()).toBe('closed');
  expect(changes.map((c) => [c.state, c.since])).toEqual([
    ['open', 1_000_000],
    ['half-open', 1_075_000],
    ['closed', 1_075_000],
  ]);
});

it('a failed trial opens the circuit again until the next successful probe', async () => {
  const { breaker } = setup();
  for (let i = 0; i < 3; i++) await breaker.execute(() => Promise.reject(refused())).catch(() => undefined);
  breaker.recordProbe(true);
  await expect(breaker.execute(() => Promise.reject(refused()))).rejects.toMatchObject({
    code: 'ECONNREFUSED',
  });
  expect(breaker.state()).toBe('open');
  await expect(breaker.execute(async () => 'x')).rejects.toBeInstanceOf(HostUnavailableError);
  breaker.recordProbe(true);
  await expect(breaker.execute(async () => 'x')).resolves.toBe('x');
  expect(breaker.state()).toBe('closed');
});

it('while the trial runs, other jobs wait for its outcome instead of piling onto the host', async () => {
  const { breaker } = setup();
  for (let i = 0; i < 3; i++) await breaker.execute(() => Promise.reject(refused())).catch(() => undefined);
  breaker.recordProbe(true);
  let finishTrial!: () => void;
  const order: string[] = [];
  const trial = breaker.execute(
    () =>
      new Promise<string>((resolve) => {
        order.push('trial start');
        finishTrial = () => resolve('trial');
      }),
  );
  const follower = breaker.execute(async () => {
    order.push('follower');
    return 'follower';
  });
  await flush();
  expect(order).toEqual(['trial start']);
  finishTrial();
  await expect(Promise.all([trial, follower])).resolves.toEqual(['trial', 'follower']);
  expect(order).toEqual(['trial start', 'follower']);
});

it('keeps hosts independent', async () => {
  const { registry } = setup();
  for (let i = 0; i < 3; i++)
    await registry
      .forHost('hv-01')
      .execute(() => Promise.reject(refused()))
      .catch(() => undefined);
  await expect(registry.forHost('hv-02').execute(async () => 'ok')).resolves.toBe('ok');
  expect(registry.statuses().map((s) => [s.host, s.state])).toEqual([
    ['hv-01', 'open'],
    ['hv-02', 'closed'],
  ]);
});

it('recognises transport failures by flag, errno code or cause', () => {
  expect(isTransportFailure(refused())).toBe(true);
  expect(isTransportFailure(Object.assign(new Error('x'), { transport: true }))).toBe(true);
  expect(
    isTransportFailure(
      new Error('wrapped', { cause: Object.assign(new Error('reset'), { code: 'ECONNRESET' }) }),
    ),
  ).toBe(true);
  expect(isTransportFailure(Object.assign(new Error('winrm'), { code: 'HOST_UNREACHABLE' }))).toBe(true);
  expect(isTransportFailure(Object.assign(new Error('winrm'), { code: 'TIMEOUT' }))).toBe(true);
  expect(isTransportFailure(Object.assign(new Error('winrm'), { code: 'QUOTA_EXCEEDED' }))).toBe(false);
  expect(isTransportFailure(Object.assign(new Error('winrm'), { code: 'SCRIPT_FAILED' }))).toBe(false);
  expect(isTransportFailure(Object.assign(new Error('winrm'), { code: 'AUTHENTICATION_FAILED' }))).toBe(
    false,
  );
  expect(isTransportFailure(new Error('access denied'))).toBe(false);
  expect(isTransportFailure('ECONNREFUSED')).toBe(false);
});
