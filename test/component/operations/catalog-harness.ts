// One simulator per test file (latency 0) with the real executor per host, an inventory whose
// roots are the simulated hosts' roots, and the real catalog runner on top.
import { HvgError, isHvgError } from '../../../src/errors/hvg-error';
import { createHostInventory, HostInventory } from '../../../src/fleet/host-inventory';
import { createOperationRunner, CatalogRunner } from '../../../src/operations/create-operation-runner';
import { mapExecutionError } from '../../../src/operations/host-error-mapping';
import { requireOperation } from '../../../src/operations/operation-registry';
import type {
  DryRunReport,
  OperationOutcome,
  PreparedOperation,
} from '../../../src/operations/operation-runner';
import type { VmFacts } from '../../../src/simulator/hyperv-views';
import type { Simulator } from '../../../src/simulator/simulator';
import { createHostExecutor, HostExecutor } from '../../../src/winrm/host-executor';
import { SIM_PASSWORD, SIM_USER, startSimulator } from '../../helpers/sim-harness';

export interface CatalogHarness {
  sim: Simulator;
  inventory: HostInventory;
  runner: CatalogRunner;
  executor(host: string): HostExecutor;
  /** VM facts as the simulator holds them (by name; index for duplicated names). */
  vm(host: string, name: string, index?: number): VmFacts;
  /** resolveTarget → prepare → execute, as the job layer does. */
  run(op: string, host: string, vm: string | undefined, input?: unknown): Promise<OperationOutcome>;
  prepare(op: string, host: string, vm: string | undefined, input?: unknown): Promise<PreparedOperation>;
  dryRun(op: string, host: string, vm: string | undefined, input?: unknown): Promise<DryRunReport>;
  /** Runs a script text straight on the host (no gateway checks); the mapped error, or null on success. */
  runDirect(host: string, op: string, scriptText: string): Promise<HvgError | null>;
  /** Operation ids the simulated host applied or refused, in order. */
  applied(host: string): string[];
  close(): Promise<void>;
}

const soon = (): number => Date.now() + 20_000;

export interface CatalogHarnessOptions {
  /**
   * The inventory's name of a simulated host (default: its computer name). Operations then name
   * hosts by inventory name; `vm`, `applied` and the simulator keep computer names.
   */
  inventoryName?: (computerName: string) => string;
}

export async function startCatalogHarness(
  hosts = 3,
  options: CatalogHarnessOptions = {},
): Promise<CatalogHarness> {
  const sim = await startSimulator({ hosts });
  const nameOf = options.inventoryName ?? ((n: string) => n);
  const inventory = createHostInventory(
    sim.hosts.map((h) => {
      const facts = sim.fleet.getHost(h.name)!;
      return {
        name: nameOf(h.name),
        address: '127.0.0.1',
        port: h.port,
        transport: 'http' as const,
        auth: 'basic' as const,
        storageRoots: facts.storageRoots,
        exportRoots: facts.exportRoots,
      };
    }),
  );
  const executors = new Map<string, HostExecutor>();
  for (const h of sim.hosts) {
    executors.set(
      nameOf(h.name),
      createHostExecutor({
        name: nameOf(h.name),
        address: '127.0.0.1',
        port: h.port,
        transport: 'http',
        auth: 'basic',
        username: SIM_USER,
        password: SIM_PASSWORD,
      }),
    );
  }
  const executor = (name: string): HostExecutor => {
    const e = executors.get(name);
    if (!e) throw new Error(`no executor for ${name}`);
    return e;
  };
  // Cached facts are safe here: every change goes through the runner, which forgets what it changed.
  const runner = createOperationRunner({ executorFor: executor, inventory, factsTtlMs: 60_000 });
  const meta = { jobId: 'job-test', requestId: 'req-test' };

  const harness: CatalogHarness = {
    sim,
    inventory,
    runner,
    executor,
    vm(host, name, index = 0) {
      const vm = sim.fleet.listVms(host).filter((v) => v.name === name)[index];
      if (!vm) throw new Error(`no VM ${name} on ${host}`);
      return vm;
    },
    async prepare(op, host, vm, input) {
      const target = await runner.resolveTarget(host, vm);
      return runner.prepare(requireOperation(op), target, input ?? {}, meta);
    },
    async run(op, host, vm, input) {
      const prepared = await harness.prepare(op, host, vm, input);
      return runner.execute(prepared, { deadline: soon() });
    },
    async dryRun(op, host, vm, input) {
      const target = await runner.resolveTarget(host, vm);
      return runner.dryRun(requireOperation(op), target, input ?? {}, meta);
    },
    async runDirect(host, op, text) {
      try {
        await executor(host).runScript({ text }, { deadline: soon() });
        return null;
      } catch (err) {
        return mapExecutionError(err, { hostName: host, operation: op });
      }
    },
    applied: (host) => sim.fleet.appliedOperations(host).map((r) => r.operation),
    async close() {
      await Promise.all([...executors.values()].map((e) => e.close()));
      await sim.close();
    },
  };
  return harness;
}

/** The HvgError a promise rejects with (fails the test if it resolves or throws something else). */
export async function hvgErrorOf(p: Promise<unknown>): Promise<HvgError> {
  try {
    await p;
  } catch (err) {
    if (isHvgError(err)) return err;
    throw err;
  }
  throw new Error('expected an HvgError, but the call succeeded');
}
