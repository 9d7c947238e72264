// The simulator's fixed per-operation service time: the named operation holds its command for that
// long (unscaled, so it works at latency scale 0), other operations do not wait, an abort ends the
// wait, and bad options are refused with a typed error.
import { memorySet } from '../../../src/operations/memory';
import { vmGet } from '../../../src/operations/host-facts';
import { renderScript } from '../../../src/powershell/script-render';
import { createDemoFleet } from '../../../src/simulator/demo-fleet';
import { EXIT_CODE_STOPPED, createPowerShellRunner } from '../../../src/simulator/powershell-host';
import type { SimProcessContext } from '../../../src/simulator/sim-process';
import { SimulatorOptionsError, createSimulator } from '../../../src/simulator/simulator';

const SERVICE_MS = 150;

function context(hostName: string, signal: AbortSignal = new AbortController().signal) {
  const out: string[] = [];
  const ctx: SimProcessContext = {
    hostName,
    user: 'Administrator',
    write: (_stream, data) => out.push(data.toString()),
    readStdinToEnd: () => Promise.resolve(Buffer.alloc(0)),
    signal,
    // Latency scale 0: the model's own simulated time costs nothing.
    sleep: () => Promise.resolve(),
  };
  return { ctx, out };
}

function setup() {
  const fleet = createDemoFleet({ seed: 1, hosts: 1 });
  const host = fleet.hostNames[0]!;
  const vm = fleet.listVms(host).find((v) => !v.memory.dynamicMemoryEnabled)!;
  const run = createPowerShellRunner(fleet, { serviceTimeMs: { 'memory.set': SERVICE_MS } });
  const change = renderScript(memorySet.template, {
    vmId: vm.id,
    startupBytes: vm.memory.startupBytes,
  }).text;
  const read = renderScript(vmGet.template, { vmId: vm.id }).text;
  return { fleet, host, vm, run, change, read };
}

test('the named operation takes its service time, then applies', async () => {
  const { fleet, host, run, change } = setup();
  const { ctx, out } = context(host);
  const t0 = performance.now();
  const code = await run(change, ctx);
  const elapsed = performance.now() - t0;
  expect(elapsed).toBeGreaterThanOrEqual(SERVICE_MS - 5);
  expect(elapsed).toBeLessThan(SERVICE_MS + 1000);
  expect(code).toBe(0);
  const line = /HVGATE-RESULT:(\S+)/.exec(out.join(''))![1]!;
  expect(JSON.parse(Buffer.from(line, 'base64').toString('utf8'))).toMatchObject({ ok: true });
  expect(fleet.appliedOperations(host).map((r) => r.operation)).toEqual(['memory.set']);
});

test('operations without a service time do not wait', async () => {
  const { host, run, read } = setup();
  const { ctx } = context(host);
  const t0 = performance.now();
  expect(await run(read, ctx)).toBe(0);
  expect(performance.now() - t0).toBeLessThan(SERVICE_MS - 50);
});

test('an abort during the service time stops the program before anything is applied', async () => {
  const { fleet, host, run, change } = setup();
  const abort = new AbortController();
  const { ctx } = context(host, abort.signal);
  const pending = run(change, ctx);
  setTimeout(() => abort.abort(), 20);
  const t0 = performance.now();
  expect(await pending).toBe(EXIT_CODE_STOPPED);
  expect(performance.now() - t0).toBeLessThan(SERVICE_MS);
  expect(fleet.appliedOperations(host)).toEqual([]);
});

test('createSimulator refuses a bad service time or an unknown operation', async () => {
  await expect(
    createSimulator({ hosts: 1, controlPort: false, serviceTimeMs: { 'memory.set': -1 } }),
  ).rejects.toThrow(SimulatorOptionsError);
  await expect(
    createSimulator({ hosts: 1, controlPort: false, serviceTimeMs: { 'memory.set': 0.5 } }),
  ).rejects.toThrow(SimulatorOptionsError);
  await expect(
    createSimulator({ hosts: 1, controlPort: false, serviceTimeMs: { 'vm.reboot': 100 } }),
  ).rejects.toThrow(/unknown operation 'vm.reboot'/);
});
