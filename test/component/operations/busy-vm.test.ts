// While a long operation holds a VM (here an export with its saved-state stall), the gateway
// refuses other changes with vm-not-busy (409 HVG_ERR_OBJECT_IN_USE), and the host alone refuses
// the same script with ObjectInUse → the same 409. Simulated time runs at 2 % so the export
// lasts well under a second.
import { createHostInventory } from '../../../src/fleet/host-inventory';
import { createOperationRunner } from '../../../src/operations/create-operation-runner';
import { mapExecutionError } from '../../../src/operations/host-error-mapping';
import { requireOperation } from '../../../src/operations/operation-registry';
import { createHostExecutor, HostExecutor } from '../../../src/winrm/host-executor';
import { SIM_PASSWORD, SIM_USER, useSimulator } from '../../helpers/sim-harness';
import { hvgErrorOf } from './catalog-harness';

const sim = useSimulator({ hosts: 1, latencyScale: 0.02 });
const HOST = 'hv-tokyo-01';
let executor: HostExecutor;

afterAll(async () => {
  await executor?.close();
});

it('refuses changes to a VM another long operation holds, and the host agrees', async () => {
  const s = sim();
  const h = s.hosts[0]!;
  executor = createHostExecutor({
    name: HOST,
    address: '127.0.0.1',
    port: h.port,
    transport: 'http',
    auth: 'basic',
    username: SIM_USER,
    password: SIM_PASSWORD,
  });
  const inventory = createHostInventory([
    {
      name: HOST,
      address: '127.0.0.1',
      port: h.port,
      transport: 'http',
      storageRoots: ['D:\\Hyper-V'],
      exportRoots: ['E:\\Exports'],
    },
  ]);
  const runner = createOperationRunner({ executorFor: () => executor, inventory, factsTtlMs: 0 });
  const meta = { jobId: null, requestId: null };
  const target = await runner.resolveTarget(HOST, 'web-01');

  const exportPrepared = await runner.prepare(
    requireOperation('vm.export'),
    target,
    { destinationPath: 'E:\\Exports\\busy' },
    meta,
  );
  const exporting = runner.execute(exportPrepared, { deadline: Date.now() + 30_000 });
  const started = Date.now();
  while (s.fleet.getVm(target.vmId!)?.operationInProgress == null) {
    if (Date.now() - started > 10_000) throw new Error('the export never held the VM');
    await new Promise((r) => setTimeout(r, 20));
  }

  const spec = requireOperation('processor.set');
  const report = await runner.dryRun(spec, target, { relativeWeight: 300 }, meta);
  expect(report.rules.find((r) => !r.passed)).toMatchObject({
    id: 'vm-not-busy',
    failure: { code: 'HVG_ERR_OBJECT_IN_USE' },
  });
  const refused = await hvgErrorOf(runner.prepare(spec, target, { relativeWeight: 300 }, meta));
  expect(refused).toMatchObject({ code: 'HVG_ERR_OBJECT_IN_USE', status: 409 });
  expect(refused.detail).toContain('vm.export');

  let hostSaid;
  try {
    await executor.runScript({ text: report.script.text }, { deadline: Date.now() + 10_000 });
  } catch (err) {
    hostSaid = mapExecutionError(err, { hostName: HOST, operation: spec.id });
  }
  expect(hostSaid).toMatchObject({ status: 409, code: 'HVG_ERR_OBJECT_IN_USE' });

  await expect(exporting).resolves.toMatchObject({ result: { exportPath: 'E:\\Exports\\busy\\web-01' } });
});
