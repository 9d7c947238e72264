// Reads outside jobs take one of the host's slots (the HA mode's way of keeping every command on a
// host under its limit across replicas). Driven here with the in-memory coordinator, which has the
// same interface as the PostgreSQL one.
import { createHostInventory, createHostLimiter, HostBusyError } from '../../../src/fleet';
import { DRY_RUN_CALLER, RESOLUTION_CALLER, gateHostReads, probeSlot } from '../../../src/fleet/pg-read-gate';
import type { OperationRunner, ResolvedTarget } from '../../../src/operations/operation-runner';
import type { OperationSpec } from '../../../src/operations/operation-spec';

function setup(maxConcurrent = 1, maxQueue = 10) {
  const inventory = createHostInventory([{ name: 'hv-01', address: '10.0.0.1', maxConcurrent, maxQueue }]);
  const slots = createHostLimiter({ inventory });
  const seen: { call: string; running: number; callers: string[] }[] = [];
  const note = async (call: string) => {
    const snap = await slots.hostSnapshot('hv-01');
    seen.push({ call, running: snap.running, callers: Object.keys(snap.callers) });
  };
  const runner = {
    async resolveTarget(hostName: string, vmRef?: string): Promise<ResolvedTarget> {
      await note(`resolve ${vmRef ?? '-'}`);
      return { hostName, vmId: '00000000-0000-0000-0000-000000000001' };
    },
    async dryRun(_spec: OperationSpec, target: ResolvedTarget) {
      await note('dry-run');
      return { target } as never;
    },
    prepare: async () => ({}) as never,
    execute: async () => ({}) as never,
  } as unknown as OperationRunner;
  return { slots, gated: gateHostReads(runner, slots), seen };
}

test('a name lookup and a dry run each run under a slot of their own lane', async () => {
  const { gated, seen } = setup();
  await gated.resolveTarget('hv-01', 'web-01');
  await gated.dryRun({} as OperationSpec, { hostName: 'hv-01' }, {}, { jobId: null, requestId: null });
  expect(seen).toEqual([
    { call: 'resolve web-01', running: 1, callers: [RESOLUTION_CALLER] },
    { call: 'dry-run', running: 1, callers: [DRY_RUN_CALLER] },
  ]);
});

test('a host-level target needs no slot', async () => {
  const { gated, seen } = setup();
  await gated.resolveTarget('hv-01');
  expect(seen).toEqual([{ call: 'resolve -', running: 0, callers: [] }]);
});

test('a read waits while a job holds the only slot, and runs once it is released', async () => {
  const { slots, gated, seen } = setup();
  const job = await slots.acquire({ host: 'hv-01', caller: 'svc-a' });
  const read = gated.resolveTarget('hv-01', 'web-01');
  await new Promise((r) => setTimeout(r, 20));
  expect(seen).toEqual([]);
  await job.release();
  await read;
  expect(seen).toEqual([{ call: 'resolve web-01', running: 1, callers: [RESOLUTION_CALLER] }]);
});

describe('health probe slot', () => {
  test('takes a free slot', async () => {
    const { slots } = setup();
    const lease = await probeSlot(slots, 'hv-01', new AbortController().signal, 200);
    expect(lease).not.toBeNull();
    expect((await slots.hostSnapshot('hv-01')).running).toBe(1);
    await lease!.release();
  });

  test('a host whose slots stay busy is reported as answering (null), not as failing', async () => {
    const { slots } = setup();
    const job = await slots.acquire({ host: 'hv-01', caller: 'svc-a' });
    const t0 = Date.now();
    expect(await probeSlot(slots, 'hv-01', new AbortController().signal, 100)).toBeNull();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
    await job.release();
  });

  test('a full queue is the same answer', async () => {
    const { slots } = setup(1, 0);
    const job = await slots.acquire({ host: 'hv-01', caller: 'svc-a' });
    await expect(slots.admit({ host: 'hv-01', caller: 'x' })).rejects.toBeInstanceOf(HostBusyError);
    expect(await probeSlot(slots, 'hv-01', new AbortController().signal, 100)).toBeNull();
    await job.release();
  });

  test('the probe’s own deadline still fails the probe', async () => {
    const { slots } = setup();
    const job = await slots.acquire({ host: 'hv-01', caller: 'svc-a' });
    const probe = new AbortController();
    const pending = probeSlot(slots, 'hv-01', probe.signal, 5000);
    probe.abort(new Error('probe timed out'));
    await expect(pending).rejects.toBeDefined();
    await job.release();
  });
});
