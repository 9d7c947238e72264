// The simulated fleet: build it from a spec, apply operations to it, read it back.
// Everything random (GUIDs, MACs) comes from the seed, so the same spec and seed give the same fleet.

import { CMDLETS, HyperVError, HyperVErrorRecord } from './hyperv-errors';
import { buildFleetState, FleetSpec } from './hyperv-fleet-builder';
import { rebalanceMemory, setMemoryDemand as setDemand } from './hyperv-memory-ops';
import { HyperVHost, VirtualMachine, VmPowerState } from './hyperv-model';
import {
  AppliedOperationRecord,
  FleetState,
  hostAvailableMemory,
  instantRunContext,
  isAbortError,
  nowIso,
  OperationRunContext,
} from './hyperv-op-context';
import { findOperation } from './hyperv-operations';
import { bindParams } from './hyperv-params';
import { HostFacts, hostFacts, VmFacts, vmFacts } from './hyperv-views';

export type { FileSpec, FleetSpec, HardDiskSpec, HostSpec, VmSpec } from './hyperv-fleet-builder';
export { FleetSpecError } from './hyperv-fleet-builder';
export type { AppliedOperationRecord } from './hyperv-op-context';

/** A fleet-level lookup (tests, CLI) that named something the fleet does not have. */
export class FleetLookupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FleetLookupError';
  }
}

// ---- Fleet API ----

export type OperationOutcome = { ok: true; result: unknown } | { ok: false; error: HyperVErrorRecord };

export interface HyperVFleet {
  readonly hostNames: readonly string[];
  hasHost(name: string): boolean;
  /** True when the host knows this operation id at this template version. */
  supports(operation: string, version: number): boolean;
  /**
   * Runs one operation script's work on a host. Resolves to the result envelope's JSON; rejects
   * only with an AbortError when `run.signal` aborts (the script process was stopped).
   */
  apply(
    hostName: string,
    operation: string,
    version: number,
    params: unknown,
    meta?: unknown,
    run?: OperationRunContext,
  ): Promise<OperationOutcome>;
  /** Every operation the hosts ran (or refused), oldest first; optionally of one host. */
  appliedOperations(hostName?: string): AppliedOperationRecord[];
  getHost(name: string): HostFacts | undefined;
  listVms(hostName: string): VmFacts[];
  /** A VM anywhere in the fleet, by GUID. */
  getVm(vmId: string): VmFacts | undefined;
  /** Sets what a VM's guest uses; dynamic-memory VMs grow or shrink and host free memory follows. */
  setMemoryDemand(vmId: string, demandBytes: number): void;
  /** Powers a VM on/off/saves/pauses outside any operation (hvgate never does; tests and demos do). */
  setVmState(vmId: string, state: VmPowerState): void;
  /** Highest number of simultaneous live migrations a host has run. */
  peakMigrations(hostName: string): number;
}

export function createFleet(spec: FleetSpec): HyperVFleet {
  const state = buildFleetState(spec);
  return createFleetApi(state);
}

function createFleetApi(state: FleetState): HyperVFleet {
  const lookupHost = (name: string): HyperVHost | undefined => state.hosts.get(name.toLowerCase());
  const locate = (vmId: string): { host: HyperVHost; vm: VirtualMachine } => {
    const id = vmId.toLowerCase();
    for (const host of state.hosts.values()) {
      const vm = host.vms.find((v) => v.id === id);
      if (vm) return { host, vm };
    }
    throw new FleetLookupError(`no VM with id ${vmId} in the fleet`);
  };

  const record = (
    host: HyperVHost,
    operation: string,
    version: number,
    params: unknown,
    meta: unknown,
    ok: boolean,
    errorId?: string,
  ): void => {
    const entry: AppliedOperationRecord = {
      seq: state.nextSeq++,
      time: nowIso(state),
      host: host.name,
      operation,
      version,
      params: cloneJson(params),
      meta: cloneJson(meta),
      ok,
    };
    if (errorId !== undefined) entry.errorId = errorId;
    state.records.push(entry);
  };

  return {
    get hostNames() {
      return [...state.hosts.values()].map((h) => h.name);
    },
    hasHost: (name) => lookupHost(name) !== undefined,
    supports: (operation, version) => findOperation(operation)?.versions.includes(version) ?? false,

    async apply(hostName, operation, version, params, meta = null, run = instantRunContext) {
      const def = findOperation(operation);
      if (!def || !def.versions.includes(version)) {
        return {
          ok: false,
          error: {
            category: 'InvalidArgument',
            errorId: def ? 'HvgateUnsupportedTemplateVersion' : 'HvgateUnknownOperation',
            message: def
              ? `Template version ${version} of operation '${operation}' is not installed on this host (installed: ${def.versions.join(', ')}).`
              : `Operation '${operation}' is not known on this host.`,
          },
        };
      }
      const host = lookupHost(hostName);
      if (!host) {
        return {
          ok: false,
          error: {
            category: 'ObjectNotFound',
            errorId: `ObjectNotFound,${CMDLETS.GetVMHost}`,
            message: `Hyper-V was unable to find the host '${hostName}'.`,
          },
        };
      }
      try {
        const bound = bindParams(def.spec, params);
        const result = await def.run({ fleet: state, host, run }, bound);
        record(host, operation, version, params, meta, true);
        return { ok: true, result: cloneJson(result) };
      } catch (err) {
        if (isAbortError(err, run.signal)) {
          record(host, operation, version, params, meta, false, 'PipelineStopped');
          throw err;
        }
        const error =
          err instanceof HyperVError
            ? err.toRecord()
            : {
                category: 'NotSpecified' as const,
                errorId: 'UnhandledException,hvgate-simulator',
                message: err instanceof Error ? err.message : String(err),
              };
        record(host, operation, version, params, meta, false, error.errorId);
        return { ok: false, error };
      }
    },

    appliedOperations(hostName) {
      const host = hostName === undefined ? undefined : lookupHost(hostName);
      if (hostName !== undefined && !host) return [];
      return state.records.filter((r) => !host || r.host === host.name).map((r) => cloneJson(r));
    },
    getHost(name) {
      const host = lookupHost(name);
      return host ? hostFacts(host) : undefined;
    },
    listVms(hostName) {
      const host = lookupHost(hostName);
      if (!host) throw new FleetLookupError(`no host named ${hostName} in the fleet`);
      return host.vms.map((vm) => vmFacts(state, host, vm));
    },
    getVm(vmId) {
      try {
        const { host, vm } = locate(vmId);
        return vmFacts(state, host, vm);
      } catch {
        return undefined;
      }
    },
    setMemoryDemand(vmId, demandBytes) {
      const { host, vm } = locate(vmId);
      if (!Number.isFinite(demandBytes) || demandBytes < 0) {
        throw new FleetLookupError(`demandBytes must be a non-negative number, got ${demandBytes}`);
      }
      setDemand(host, vm, demandBytes);
    },
    setVmState(vmId, next) {
      const { host, vm } = locate(vmId);
      if (!['Running', 'Off', 'Saved', 'Paused'].includes(next)) {
        throw new FleetLookupError(`unknown VM state '${String(next)}'`);
      }
      const wasHolding = vm.state === 'Running' || vm.state === 'Paused';
      if (!wasHolding && (next === 'Running' || next === 'Paused')) {
        const needed = vm.memory.dynamicMemoryEnabled ? vm.memory.minimumBytes : vm.memory.startupBytes;
        if (needed > hostAvailableMemory(host)) {
          throw new FleetLookupError(`not enough memory on ${host.name} to start ${vm.name}`);
        }
        // A starting VM gets its startup memory; dynamic memory then balances from there.
        vm.memory.assignedBytes = Math.min(vm.memory.startupBytes, hostAvailableMemory(host));
      }
      vm.state = next;
      rebalanceMemory(host, vm);
    },
    peakMigrations(hostName) {
      return lookupHost(hostName)?.peakMigrationsInProgress ?? 0;
    },
  };
}

function cloneJson<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}
