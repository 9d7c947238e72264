// The runner's own duties against the simulator: `{vm}` resolution (GUID, exact and Japanese
// names, duplicates, wildcards), input validation, path policy, inventory-only peer hosts, the
// facts cache being forgotten after a change, and WinRM failures mapped to 503/504/502.
import { createManualClock } from '../../../src/fleet/clock';
import { createOperationRunner } from '../../../src/operations/create-operation-runner';
import { requireOperation } from '../../../src/operations/operation-registry';
import { createHostExecutor, type HostExecutor } from '../../../src/winrm/host-executor';
import { SIM_USER } from '../../helpers/sim-harness';
import { CatalogHarness, hvgErrorOf, startCatalogHarness } from './catalog-harness';

let h: CatalogHarness;
beforeAll(async () => {
  h = await startCatalogHarness(2);
});
afterAll(async () => {
  await h.close();
});
afterEach(() => {
  h.sim.host(TOKYO).faults.clear();
});

const TOKYO = 'hv-tokyo-01';
const GiB = 1024 ** 3;
const meta = { jobId: null, requestId: null };

/** A fresh executor for Tokyo over plain HTTP with Basic auth (the harness's own one stays untouched). */
function tokyoBasicExecutor(password: string): HostExecutor {
  return createHostExecutor({
    name: TOKYO,
    address: '127.0.0.1',
    port: h.sim.hosts[0]!.port,
    transport: 'http',
    auth: 'basic',
    username: SIM_USER,
    password,
  });
}

describe('resolveTarget', () => {
  it('resolves an exact name, a Japanese name and a GUID in any case to the VM GUID', async () => {
    const web = h.vm(TOKYO, 'web-01');
    await expect(h.runner.resolveTarget(TOKYO, 'web-01')).resolves.toEqual({
      hostName: TOKYO,
      vmId: web.id,
      vmName: 'web-01',
    });
    const jp = h.vm(TOKYO, '経理システム');
    await expect(h.runner.resolveTarget(TOKYO, '経理システム')).resolves.toMatchObject({ vmId: jp.id });
    await expect(h.runner.resolveTarget(TOKYO, web.id.toUpperCase())).resolves.toMatchObject({
      vmId: web.id,
      vmName: 'web-01',
    });
  });

  it('two VMs with one name → 409 listing both GUIDs', async () => {
    const err = await hvgErrorOf(h.runner.resolveTarget(TOKYO, 'batch-worker'));
    expect(err).toMatchObject({ code: 'HVG_ERR_AMBIGUOUS_VM_NAME', status: 409 });
    expect([...(err.extensions.candidates as string[])].sort()).toEqual(
      [h.vm(TOKYO, 'batch-worker', 0).id, h.vm(TOKYO, 'batch-worker', 1).id].sort(),
    );
  });

  it('wildcards are refused (400), unknown names and GUIDs are 404, unknown hosts 404', async () => {
    for (const ref of ['web-*', 'web-0?', '[w]eb-01']) {
      await expect(h.runner.resolveTarget(TOKYO, ref)).rejects.toMatchObject({
        code: 'HVG_ERR_WILDCARD_NAME',
        status: 400,
      });
    }
    await expect(h.runner.resolveTarget(TOKYO, 'WEB-01')).rejects.toMatchObject({
      code: 'HVG_ERR_VM_NOT_FOUND',
      status: 404,
    });
    await expect(h.runner.resolveTarget(TOKYO, '11111111-2222-4333-8444-555555555555')).rejects.toMatchObject(
      { code: 'HVG_ERR_VM_NOT_FOUND', status: 404 },
    );
    await expect(h.runner.resolveTarget('hv-nowhere', 'web-01')).rejects.toMatchObject({
      code: 'HVG_ERR_UNKNOWN_HOST',
      status: 404,
    });
  });
});

describe('prepare', () => {
  it('refuses unknown fields, vmId in the body and bad values with field errors (400)', async () => {
    const target = await h.runner.resolveTarget(TOKYO, 'web-01');
    const spec = requireOperation('memory.set');
    for (const input of [
      { startupBytes: 6 * GiB, extra: 1 },
      { vmId: target.vmId },
      { startupBytes: 3 },
      {},
    ]) {
      const err = await hvgErrorOf(h.runner.prepare(spec, target, input, meta));
      expect(err).toMatchObject({ code: 'HVG_ERR_VALIDATION', status: 400 });
      expect(Array.isArray(err.extensions.errors)).toBe(true);
    }
  });

  it.each([
    ['outside the roots', 'C:\\Windows\\System32\\evil.vhdx'],
    ['with ..', 'D:\\Hyper-V\\..\\Windows\\x.vhdx'],
    ['a device path', '\\\\?\\D:\\Hyper-V\\x.vhdx'],
    ['an alternate data stream', 'D:\\Hyper-V\\data:hidden.vhdx'],
    ['relative', 'Hyper-V\\x.vhdx'],
    ['a root prefix lookalike', 'D:\\Hyper-V-other\\x.vhdx'],
  ])('refuses a path %s with 400 naming the roots', async (_what, path) => {
    const before = h.applied(TOKYO).length;
    const err = await hvgErrorOf(
      h.prepare('hard-disk.add', TOKYO, 'web-01', {
        controllerNumber: 0,
        controllerLocation: 30,
        path,
        sizeBytes: GiB,
      }),
    );
    expect(err).toMatchObject({ code: 'HVG_ERR_PATH_NOT_ALLOWED', status: 400 });
    expect(err.extensions.allowedRoots).toEqual(h.inventory.get(TOKYO)!.storageRoots);
    expect(err.detail).toContain('D:\\Hyper-V');
    expect(h.applied(TOKYO).slice(before)).toEqual([]);
  });

  it('normalises an allowed path before it goes into the script', async () => {
    const prepared = await h.prepare('dvd-drive.add', TOKYO, 'web-01', {
      path: 'd:/Hyper-V//ISO/./drivers.iso',
    });
    expect(prepared.params.path).toBe('D:\\Hyper-V\\ISO\\drivers.iso');
  });

  it('migration and replication peers must be inventory hosts, never addresses', async () => {
    for (const [op, input] of [
      ['vm.migrate', { destinationHost: '10.0.0.5' }],
      ['replication.enable', { replicaHost: 'evil.example.com' }],
    ] as const) {
      await expect(h.prepare(op, TOKYO, 'web-01', input)).rejects.toMatchObject({
        code: 'HVG_ERR_UNKNOWN_HOST',
        status: 404,
      });
    }
  });

  it('renders the script with vmId and meta in the blob', async () => {
    const prepared = await h.prepare('processor.set', TOKYO, 'web-01', { relativeWeight: 300 });
    expect(prepared.params).toEqual({ relativeWeight: 300, vmId: h.vm(TOKYO, 'web-01').id });
    expect(prepared.script.id).toBe('processor.set@1');
    expect(prepared.script.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('a dry run reports how the script would travel: processor.set encoded, memory.set packed', async () => {
    const short = await h.dryRun('processor.set', TOKYO, 'web-01', { relativeWeight: 300 });
    expect(short.script).toMatchObject({ id: 'processor.set@1', delivery: 'encoded' });
    expect(short.script.commandLineLength).toBeLessThanOrEqual(8191);
    const packed = await h.dryRun('memory.set', TOKYO, 'web-01', { startupBytes: 8 * GiB });
    expect(packed.script).toMatchObject({ id: 'memory.set@1', delivery: 'packed' });
    expect(packed.script.commandLineLength).toBeLessThanOrEqual(8191);
  });
});

describe('facts cache', () => {
  it('a dry run may use cached facts, but a change through the runner is seen right after', async () => {
    const before = (await h.dryRun('processor.set', TOKYO, 'web-01', { count: 2 })).wouldRun;
    expect(before).toBe(true);
    await h.run('memory.set', TOKYO, 'web-01', { startupBytes: 8 * GiB });
    const report = await h.dryRun('memory.set', TOKYO, 'web-01', { startupBytes: 8 * GiB });
    expect(report.params.startupBytes).toBe(8 * GiB);
    const facts = await h.run('vm.get', TOKYO, 'web-01');
    expect((facts.result as { memory: { startupBytes: number } }).memory.startupBytes).toBe(8 * GiB);
  });
});

describe('facts cache timing', () => {
  const count = (op: string): number =>
    h.sim.fleet.appliedOperations(TOKYO).filter((r) => r.operation === op).length;
  /** A runner of its own over the harness's executors, on a manual clock. */
  const runnerWith = (ttl: { factsTtlMs?: number; changeFactsTtlMs?: number }) => {
    const clock = createManualClock();
    return {
      clock,
      runner: createOperationRunner({ executorFor: h.executor, inventory: h.inventory, clock, ...ttl }),
    };
  };

  it('reuses facts for the TTL outside the lock, reads the VM fresh in prepare, keeps host facts for their TTL, forgets the VM after a change', async () => {
    const { clock, runner } = runnerWith({ factsTtlMs: 2000 });
    const reads = (): number => count('vm.get') + count('host.get');
    const spec = requireOperation('processor.set');
    const target = await runner.resolveTarget(TOKYO, h.vm(TOKYO, 'web-01').id);
    const afterResolve = reads();

    await runner.dryRun(spec, target, { relativeWeight: 700 }, meta);
    expect(reads()).toBe(afterResolve + 1); // host.get; vm.get came from resolveTarget
    await runner.dryRun(spec, target, { relativeWeight: 700 }, meta);
    expect(reads()).toBe(afterResolve + 1);
    clock.advance(2500);
    await runner.dryRun(spec, target, { relativeWeight: 700 }, meta);
    expect(reads()).toBe(afterResolve + 3);

    // Inside the lock the VM is read again; the host's facts are still within their TTL.
    const hostReads = count('host.get');
    const prepared = await runner.prepare(spec, target, { relativeWeight: 700 }, meta);
    expect(reads()).toBe(afterResolve + 4);
    expect(count('host.get')).toBe(hostReads);
    await runner.execute(prepared, { deadline: Date.now() + 10_000 });
    // The change forgot the VM's facts, not the host's.
    await runner.dryRun(spec, target, { relativeWeight: 800 }, meta);
    expect(reads()).toBe(afterResolve + 5);
    expect(count('host.get')).toBe(hostReads);
    clock.advance(2500);
    await runner.prepare(spec, target, { relativeWeight: 800 }, meta);
    expect(reads()).toBe(afterResolve + 7);
  });

  it('a memory or processor change leaves the VM facts it re-read for the next change to that VM, for the TTL only', async () => {
    const { clock, runner } = runnerWith({ factsTtlMs: 2000 });
    const vmReads = (): number => count('vm.get');
    const processor = requireOperation('processor.set');
    const memory = requireOperation('memory.set');
    const target = await runner.resolveTarget(TOKYO, h.vm(TOKYO, 'ウェブサーバー01').id);
    const change = async (spec: typeof processor, input: Record<string, unknown>) =>
      runner.execute(await runner.prepare(spec, target, input, meta), { deadline: Date.now() + 10_000 });
    try {
      const reads0 = vmReads();
      await change(processor, { maximum: 50 });
      expect(vmReads()).toBe(reads0 + 1);
      // The rules see the maximum the first change set (the facts read before it had 100) and no
      // second read reaches the host.
      const err = await hvgErrorOf(runner.prepare(processor, target, { reserve: 60 }, meta));
      expect(err).toMatchObject({ code: 'HVG_ERR_INVALID_VALUE', status: 422 });
      expect(err.detail).toContain('must not exceed the maximum 50%');
      expect(vmReads()).toBe(reads0 + 1);
      // A processor change, then a memory change: each starts from what the one before left.
      clock.advance(1500);
      await change(processor, { relativeWeight: 250 });
      clock.advance(1500);
      const mem = await change(memory, { priority: 70 });
      expect(vmReads()).toBe(reads0 + 1);

      // Past the TTL the next change reads the VM again.
      clock.advance(2001);
      await change(processor, { relativeWeight: 260 });
      expect(vmReads()).toBe(reads0 + 2);
      // invalidate() drops them.
      runner.invalidate(TOKYO, target.vmId);
      await change(processor, { relativeWeight: 270 });
      expect(vmReads()).toBe(reads0 + 3);
      // A failed change drops them: what it did on the host is unknown.
      h.sim.host(TOKYO).faults.inject({ kind: 'http500', actions: ['Command'], count: 1 });
      await expect(change(processor, { relativeWeight: 280 })).rejects.toThrow();
      h.sim.host(TOKYO).faults.clear();
      await change(processor, { relativeWeight: 290 });
      expect(vmReads()).toBe(reads0 + 4);
      expect((mem.result as { priority: number }).priority).toBe(70);
    } finally {
      await change(processor, { maximum: 100, relativeWeight: 100 });
    }
  });

  it('with changeFactsTtlMs 0 (replicas sharing a fleet) every change reads its VM', async () => {
    const { runner } = runnerWith({ factsTtlMs: 2000, changeFactsTtlMs: 0 });
    const vmReads = (): number => count('vm.get');
    const spec = requireOperation('processor.set');
    const target = await runner.resolveTarget(TOKYO, h.vm(TOKYO, 'ウェブサーバー01').id);
    const reads0 = vmReads();
    for (const relativeWeight of [310, 320]) {
      const prepared = await runner.prepare(spec, target, { relativeWeight }, meta);
      await runner.execute(prepared, { deadline: Date.now() + 10_000 });
    }
    expect(vmReads()).toBe(reads0 + 2);
  });

  it('concurrent reads of the same facts share one command, and a prepare runs one command at a time', async () => {
    const { clock, runner } = runnerWith({});
    const spec = requireOperation('processor.set');
    const vmId = h.vm(TOKYO, 'web-01').id;
    const hosts0 = count('host.get');
    const vms0 = count('vm.get');
    const targets = await Promise.all(Array.from({ length: 6 }, () => runner.resolveTarget(TOKYO, vmId)));
    expect(count('vm.get')).toBe(vms0 + 1);
    await Promise.all(targets.map((t) => runner.dryRun(spec, t, { relativeWeight: 600 }, meta)));
    expect(count('host.get')).toBe(hosts0 + 1);
    clock.advance(5000);
    h.sim.host(TOKYO).resetCounters();
    await runner.prepare(spec, targets[0]!, { relativeWeight: 600 }, meta);
    expect(h.sim.host(TOKYO).counters().maxCommandsRunning).toBe(1);
  });
});

describe('WinRM failures', () => {
  it('a hung host → 504 HVG_ERR_TIMEOUT and nothing leaks', async () => {
    const prepared = await h.prepare('processor.set', TOKYO, 'web-01', { relativeWeight: 400 });
    h.sim.host(TOKYO).faults.inject({ kind: 'hang', actions: ['Receive'] });
    const err = await hvgErrorOf(h.runner.execute(prepared, { deadline: Date.now() + 300 }));
    expect(err).toMatchObject({ code: 'HVG_ERR_TIMEOUT', status: 504 });
  });

  it('a refused connection → 503 HVG_ERR_HOST_UNAVAILABLE', async () => {
    const prepared = await h.prepare('processor.set', TOKYO, 'web-01', { relativeWeight: 500 });
    h.sim.host(TOKYO).faults.inject({ kind: 'refuse', count: 50 });
    const closed = tokyoBasicExecutor('x');
    try {
      const runner = createOperationRunner({ executorFor: () => closed, inventory: h.inventory });
      const err = await hvgErrorOf(runner.execute(prepared, { deadline: Date.now() + 5000 }));
      expect(err).toMatchObject({ code: 'HVG_ERR_HOST_UNAVAILABLE', status: 503 });
    } finally {
      await closed.close();
    }
  });

  it('wrong credentials → 503 HVG_ERR_HOST_AUTH', async () => {
    const bad = tokyoBasicExecutor('wrong');
    try {
      const runner = createOperationRunner({ executorFor: () => bad, inventory: h.inventory });
      await expect(runner.resolveTarget(TOKYO, 'web-01')).rejects.toMatchObject({
        code: 'HVG_ERR_HOST_AUTH',
        status: 503,
      });
    } finally {
      await bad.close();
    }
  });

  it('an answer that is not WS-Management → 502 HVG_ERR_HOST_PROTOCOL', async () => {
    const prepared = await h.prepare('processor.set', TOKYO, 'web-01', { relativeWeight: 600 });
    h.sim.host(TOKYO).faults.inject({ kind: 'garbage', actions: ['Command'], count: 3 });
    const err = await hvgErrorOf(h.runner.execute(prepared, { deadline: Date.now() + 5000 }));
    expect(err).toMatchObject({ code: 'HVG_ERR_HOST_PROTOCOL', status: 502 });
  });
});
