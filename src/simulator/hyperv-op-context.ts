// What every simulated operation works with: the fleet state, the host it runs on, and the
// run context (simulated time, progress output, abort). Also the small lookups all operations
// share (VM by GUID, files by path, host memory).

import { CmdletName, HyperVError, VmRef, WMI, objectInUse, vmNotFound, wmiError } from './hyperv-errors';
import {
  hostFqdn,
  type Clock,
  type FileStore,
  type HyperVHost,
  type VirtualMachine,
  type VmBusy,
} from './hyperv-model';
import { isUnderAnyRoot, parseWindowsPath, WindowsPath } from './hyperv-paths';
import type { IdSource } from './hyperv-prng';

export interface AppliedOperationRecord {
  seq: number;
  /** ISO time the operation finished. */
  time: string;
  host: string;
  operation: string;
  version: number;
  /** Params exactly as the script's blob carried them. */
  params: unknown;
  meta: unknown;
  ok: boolean;
  errorId?: string;
}

export interface FleetState {
  hosts: Map<string, HyperVHost>;
  /** Files on SMB shares (`\\server\share\…`), reachable from every host. */
  sharedFiles: FileStore;
  ids: IdSource;
  clock: Clock;
  records: AppliedOperationRecord[];
  nextSeq: number;
  /** Moves waiting for a live-migration slot; each re-checks its hosts when woken. */
  migrationWaiters: Array<() => void>;
}

/** How an operation spends simulated time and reports progress. */
export interface OperationRunContext {
  /** Waits simulated milliseconds; rejects (AbortError) when the run is aborted. */
  sleep(ms: number): Promise<void>;
  /** Reports progress of a long operation (the script prints `HVGATE-PROGRESS:` lines). */
  progress(percent: number, text: string): void;
  readonly signal?: AbortSignal;
}

/** Runs with no simulated time and no progress output (model-level tests, in-process use). */
export const instantRunContext: OperationRunContext = {
  sleep: () => Promise.resolve(),
  progress: () => undefined,
};

export interface OpContext {
  fleet: FleetState;
  host: HyperVHost;
  run: OperationRunContext;
}

export function findVm(host: HyperVHost, vmId: string): VirtualMachine | undefined {
  const id = vmId.toLowerCase();
  return host.vms.find((vm) => vm.id === id);
}

/**
 * The fleet's host a server name given to a cmdlet reaches, as DNS would resolve it inside the
 * domain: the computer name (the suffix search adds the domain) or the FQDN, in any case.
 */
export function findHostByServerName(fleet: FleetState, serverName: string): HyperVHost | undefined {
  const wanted = serverName.toLowerCase();
  for (const h of fleet.hosts.values()) {
    if (wanted === h.name.toLowerCase() || wanted === hostFqdn(h).toLowerCase()) return h;
  }
  return undefined;
}

/** `Get-VM -Id $p.params.vmId` — the first line of every VM-level script. */
export function requireVm(host: HyperVHost, vmId: string): VirtualMachine {
  const vm = findVm(host, vmId);
  if (!vm) throw vmNotFound(vmId);
  return vm;
}

export function vmRef(vm: VirtualMachine): VmRef {
  return { id: vm.id, name: vm.name };
}

/** Refuses a change while a long operation (export, migration, resize, backup) holds the VM. */
export function assertVmIdle(vm: VirtualMachine, cmdlet: CmdletName, what: string): void {
  if (vm.busy) {
    throw objectInUse(
      cmdlet,
      what,
      `'${vm.name}' is busy: ${vm.busy.status} (${vm.busy.percent}%). (Virtual machine ID ${vm.id.toUpperCase()})`,
    );
  }
}

/** Marks the VM busy for a long operation; returns the release function. */
export function holdVm(vm: VirtualMachine, operation: string, status: string): VmBusy {
  const busy: VmBusy = { operation, status, percent: 0 };
  vm.busy = busy;
  return busy;
}

export function releaseVm(vm: VirtualMachine, busy: VmBusy): void {
  if (vm.busy === busy) vm.busy = null;
}

export function storeFor(fleet: FleetState, host: HyperVHost, path: WindowsPath): FileStore {
  return path.unc ? fleet.sharedFiles : host.files;
}

/** Parses a caller path; a malformed one fails like .NET path validation does in the cmdlet. */
export function requirePath(cmdlet: CmdletName, raw: string): WindowsPath {
  const path = parseWindowsPath(raw);
  if (!path) {
    throw wmiError(
      cmdlet,
      WMI.invalidParameter,
      `The path '${raw}' is not of a legal form. An absolute path on a local volume (X:\\…) or an SMB share (\\\\server\\share\\…) is required.`,
    );
  }
  return path;
}

/**
 * Paths outside the host's storage roots are volumes the VM management service has no rights on:
 * "General access denied error (0x80070005)".
 */
export function assertUnderRoots(
  cmdlet: CmdletName,
  path: WindowsPath,
  roots: readonly string[],
  what: string,
): void {
  if (!isUnderAnyRoot(path, roots)) {
    throw wmiError(
      cmdlet,
      WMI.accessDenied,
      `${what}\nThe Hyper-V Virtual Machine Management service account does not have permission to access ` +
        `'${path.display}'. Error: 'General access denied error' (0x80070005).\n` +
        `Allowed locations on this host: ${roots.join(', ')}`,
    );
  }
}

/** Memory the host can still give to VMs: capacity − root reserve − what running/paused VMs hold. */
export function hostAvailableMemory(host: HyperVHost): number {
  let used = host.memoryReservedBytes;
  for (const vm of host.vms) used += heldMemory(vm);
  return Math.max(0, host.memoryCapacityBytes - used);
}

/** Saved VMs keep their memory in the .vmrs file on disk, not in host RAM. */
export function heldMemory(vm: VirtualMachine): number {
  return vm.state === 'Running' || vm.state === 'Paused' ? vm.memory.assignedBytes : 0;
}

export interface ProgressStep {
  percent: number;
  text: string;
}

/**
 * Spends `totalMs` of simulated time across the steps, printing each step's progress line first;
 * the time between two steps is proportional to their percent difference.
 */
export async function runWithProgress(
  run: OperationRunContext,
  steps: readonly ProgressStep[],
  totalMs: number,
  busy?: VmBusy,
): Promise<void> {
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]!;
    run.progress(step.percent, step.text);
    if (busy) busy.percent = step.percent;
    const nextPercent = steps[i + 1]?.percent ?? 100;
    const slice = (totalMs * Math.max(0, nextPercent - step.percent)) / 100;
    if (slice > 0) await run.sleep(slice);
  }
}

/** Evenly spaced progress steps from 0 to 90 % with one text. */
export function evenSteps(count: number, text: (percent: number) => string): ProgressStep[] {
  return Array.from({ length: count }, (_, i) => {
    const percent = Math.round((i * 90) / Math.max(1, count - 1));
    return { percent, text: text(percent) };
  });
}

export function isAbortError(err: unknown, signal?: AbortSignal): boolean {
  if (signal?.aborted) return true;
  // DOMException('…', 'AbortError') from the server's sleep counts as well as plain Errors.
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'AbortError';
}

export function asHyperVError(err: unknown): HyperVError | null {
  return err instanceof HyperVError ? err : null;
}

/** ISO time of the fleet clock. */
export function nowIso(fleet: FleetState): string {
  return new Date(fleet.clock.now()).toISOString();
}
