// Live migration between hosts of the fleet (reference §12): migration enabled on both ends, the
// destination runs the VM's configuration version, compatible processors, the same switches,
// reachable storage (or a shared-nothing move), and authentication that survives the double hop
// from the gateway's WinRM session. Each host runs at most MaximumVirtualMachineMigrations moves
// at once; extra moves wait for a slot, as Hyper-V queues them.

import { alreadyExists, CMDLETS, HyperVError, WMI, wmiError } from './hyperv-errors';
import { vmDiskFiles } from './hyperv-disk-ops';
import { LATENCY, transferMs } from './hyperv-latency';
import { HOST_OS, HyperVHost, VirtualMachine } from './hyperv-model';
import { rebalanceMemory } from './hyperv-memory-ops';
import {
  assertUnderRoots,
  assertVmIdle,
  evenSteps,
  findHostByServerName,
  FleetState,
  heldMemory,
  holdVm,
  hostAvailableMemory,
  OpContext,
  releaseVm,
  requirePath,
  requireVm,
  runWithProgress,
  storeFor,
} from './hyperv-op-context';
import type { VmMigrateParams } from './hyperv-params';
import { baseName, isUnderAnyRoot, joinWindowsPath, parseWindowsPath, WindowsPath } from './hyperv-paths';

interface MigrationPlan {
  vm: VirtualMachine;
  destination: HyperVHost;
  /** Source disk path key → destination path, for a shared-nothing move. */
  moves: { from: WindowsPath; to: WindowsPath }[];
  storageBytes: number;
}

function failedAt(vm: VirtualMachine, side: 'source' | 'destination', host: string): string {
  return `Virtual machine migration operation for '${vm.name}' failed at migration ${side} '${host}'. (Virtual machine ID ${vm.id.toUpperCase()})`;
}

function planMigration(ctx: OpContext, p: VmMigrateParams): MigrationPlan {
  const source = ctx.host;
  const vm = requireVm(source, p.vmId);
  assertVmIdle(vm, 'MoveVM', failedAt(vm, 'source', source.name));
  const destination = findHostByServerName(ctx.fleet, p.destinationHost);
  if (!destination) {
    throw new HyperVError({
      category: 'ConnectionError',
      errorId: `OperationFailed,${CMDLETS.MoveVM}`,
      message: `${failedAt(vm, 'source', source.name)}\nFailed to establish a connection with host '${p.destinationHost}': No such host is known. (0x80072AF9)`,
    });
  }
  if (destination === source) {
    throw wmiError(
      'MoveVM',
      WMI.invalidParameter,
      `${failedAt(vm, 'source', source.name)}\nThe destination host is the host the virtual machine is already on.`,
    );
  }
  if (!source.migration.virtualMachineMigrationEnabled) {
    throw wmiError(
      'MoveVM',
      WMI.invalidState,
      `${failedAt(vm, 'source', source.name)}\nVirtual machine migration is not enabled on host '${source.name}' (VirtualMachineMigrationEnabled is False; see Enable-VMMigration).`,
    );
  }
  if (!destination.migration.virtualMachineMigrationEnabled) {
    throw wmiError(
      'MoveVM',
      WMI.invalidState,
      `${failedAt(vm, 'source', source.name)}\nThe Virtual Machine Management Service failed to establish a connection for a virtual machine migration with host '${destination.name}': No connection could be made because the target machine actively refused it. (0x8007274D) Virtual machine migration is not enabled on '${destination.name}'.`,
    );
  }
  assertDelegation(vm, source, destination);
  const supported = HOST_OS[destination.os].supportedVmVersions;
  if (!supported.includes(vm.version)) {
    throw wmiError(
      'MoveVM',
      WMI.notSupported,
      `${failedAt(vm, 'destination', destination.name)}\nThe virtual machine configuration version ${vm.version} is not supported on host '${destination.name}' (Windows Server ${destination.os} supports ${supported.join(', ')}).`,
    );
  }
  assertProcessorCompatible(vm, source, destination);
  for (const nic of vm.networkAdapters) {
    if (
      nic.switchName !== null &&
      !destination.virtualSwitches.some((s) => s.name.toLowerCase() === nic.switchName!.toLowerCase())
    ) {
      throw wmiError(
        'MoveVM',
        WMI.invalidState,
        `${failedAt(vm, 'destination', destination.name)}\nCould not find Ethernet switch '${nic.switchName}'.`,
      );
    }
  }
  const files = vmDiskFiles(ctx, vm);
  const moves: MigrationPlan['moves'] = [];
  let storageBytes = 0;
  if (p.includeStorage) {
    const folder = requirePath('MoveVM', p.destinationStoragePath!);
    assertUnderRoots(
      'MoveVM',
      folder,
      destination.storageRoots,
      failedAt(vm, 'destination', destination.name),
    );
    for (const file of files) {
      const from = parseWindowsPath(file.path)!;
      const to = joinWindowsPath(folder, baseName(from))!;
      if (storeFor(ctx.fleet, destination, to).has(to.key)) {
        throw alreadyExists(
          'MoveVM',
          `${failedAt(vm, 'destination', destination.name)}\nThe system failed to create '${to.display}': The file exists. (0x80070050)`,
        );
      }
      moves.push({ from, to });
      storageBytes += file.fileSizeBytes;
    }
  } else {
    // Without -IncludeStorage the VM's files must be on SMB storage both hosts reach (Move-VM example 1).
    const paths = [vm.path, ...vm.hardDisks.map((d) => d.path)];
    for (const raw of paths) {
      const path = parseWindowsPath(raw);
      if (!path || !path.unc || !isUnderAnyRoot(path, destination.storageRoots)) {
        throw wmiError(
          'MoveVM',
          WMI.invalidState,
          `${failedAt(vm, 'destination', destination.name)}\nThe virtual machine's file '${raw}' is not on storage the destination host can reach. Move the storage too (includeStorage) or keep the files on an SMB share.`,
        );
      }
    }
  }
  const memory = heldMemory(vm);
  if (memory > hostAvailableMemory(destination)) {
    throw wmiError(
      'MoveVM',
      WMI.outOfMemory,
      `${failedAt(vm, 'destination', destination.name)}\nNot enough memory in the system to start the virtual machine '${vm.name}' on '${destination.name}': it needs ${Math.round(memory / 1048576)} MB. (0x8007000E)`,
    );
  }
  return { vm, destination, moves, storageBytes };
}

/**
 * The gateway's WinRM session holds no delegable credentials, so the source's VMMS can reach the
 * destination only through Kerberos constrained delegation ("use any authentication protocol") from
 * source to destination; CredSSP needs a sign-in on the source that a Basic/NTLM session is not (§12).
 */
function assertDelegation(vm: VirtualMachine, source: HyperVHost, destination: HyperVHost): void {
  const auth = source.migration.virtualMachineMigrationAuthenticationType;
  const delegated = source.migration.kerberosDelegationTo.some(
    (h) => h.toLowerCase() === destination.name.toLowerCase(),
  );
  if (auth === 'Kerberos' && delegated) return;
  const why =
    auth === 'Kerberos'
      ? `Kerberos constrained delegation from '${source.name}' to '${destination.name}' (cifs and Microsoft Virtual System Migration Service, "use any authentication protocol") is not configured.`
      : `CredSSP authentication needs a session signed in on '${source.name}' with delegable credentials; a remote WinRM session does not carry them.`;
  throw new HyperVError({
    category: 'AuthenticationError',
    errorId: `OperationFailed,${CMDLETS.MoveVM}`,
    message: `${failedAt(vm, 'source', source.name)}\nFailed to establish a connection with host '${destination.name}': No credentials are available in the security package (0x8009030E).\n${why}`,
  });
}

function assertProcessorCompatible(vm: VirtualMachine, source: HyperVHost, destination: HyperVHost): void {
  const message = `${failedAt(vm, 'destination', destination.name)}\nThe virtual machine cannot be moved to the destination computer. The hardware on the destination computer is not compatible with the hardware requirements of this virtual machine.`;
  // Never between CPU vendors; between generations only with processor compatibility mode,
  // when the VM carries processor state (started, or checkpoints with saved state).
  if (source.processor.vendor !== destination.processor.vendor) {
    throw wmiError(
      'MoveVM',
      WMI.notSupported,
      `${message}\nThe hosts have processors from different manufacturers (${source.processor.vendor}, ${destination.processor.vendor}).`,
    );
  }
  const carriesState = vm.state !== 'Off' || vm.checkpoints.length > 0;
  if (
    source.processor.family !== destination.processor.family &&
    carriesState &&
    !vm.processor.compatibilityForMigrationEnabled
  ) {
    throw wmiError(
      'MoveVM',
      WMI.notSupported,
      `${message}\nProcessor '${source.processor.family}' differs from '${destination.processor.family}'. Turn the virtual machine off and run Set-VMProcessor -CompatibilityForMigrationEnabled $true.`,
    );
  }
}

function hasMigrationSlot(host: HyperVHost): boolean {
  return host.migrationsInProgress < host.migration.maximumVirtualMachineMigrations;
}

function waitForRelease(fleet: FleetState, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError());
      return;
    }
    const list = fleet.migrationWaiters;
    const onAbort = () => {
      const i = list.indexOf(done);
      if (i >= 0) list.splice(i, 1);
      reject(abortError());
    };
    const done = () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    };
    list.push(done);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function abortError(): Error {
  const err = new Error('The operation was aborted');
  err.name = 'AbortError';
  return err;
}

async function acquireSlots(ctx: OpContext, hosts: HyperVHost[]): Promise<void> {
  while (!hosts.every(hasMigrationSlot)) await waitForRelease(ctx.fleet, ctx.run.signal);
  for (const h of hosts) {
    h.migrationsInProgress += 1;
    h.peakMigrationsInProgress = Math.max(h.peakMigrationsInProgress, h.migrationsInProgress);
  }
}

function releaseSlots(fleet: FleetState, hosts: HyperVHost[]): void {
  for (const h of hosts) h.migrationsInProgress -= 1;
  const waiters = fleet.migrationWaiters.splice(0);
  for (const w of waiters) w();
}

export async function migrateVm(
  ctx: OpContext,
  p: VmMigrateParams,
): Promise<{
  vmId: string;
  sourceHost: string;
  destinationHost: string;
  includeStorage: boolean;
  destinationStoragePath: string | null;
  durationSec: number;
  finalState: string;
}> {
  const first = planMigration(ctx, p);
  const source = ctx.host;
  const hosts = [source, first.destination];
  const busy = holdVm(first.vm, 'vm.migrate', 'Migrating');
  const startedAt = ctx.fleet.clock.now();
  let simulatedMs = 0;
  try {
    ctx.run.progress(0, `Waiting for a migration slot on ${source.name} and ${first.destination.name}`);
    await acquireSlots(ctx, hosts);
    try {
      simulatedMs =
        LATENCY.migrationSetupMs +
        transferMs(heldMemory(first.vm), LATENCY.migrationMemoryBytesPerSec) +
        transferMs(first.storageBytes, LATENCY.migrationStorageBytesPerSec);
      await runWithProgress(
        ctx.run,
        evenSteps(10, (pct) => `Migrating to ${first.destination.name} (${pct}%)`),
        simulatedMs,
        busy,
      );
    } finally {
      releaseSlots(ctx.fleet, hosts);
    }
  } finally {
    releaseVm(first.vm, busy);
  }
  const { vm, destination, moves } = planMigration(ctx, p);
  commitMove(ctx, vm, destination, moves, p.destinationStoragePath);
  ctx.run.progress(100, 'Migration complete');
  return {
    vmId: vm.id,
    sourceHost: source.name,
    destinationHost: destination.name,
    includeStorage: p.includeStorage ?? false,
    destinationStoragePath: p.includeStorage
      ? requirePath('MoveVM', p.destinationStoragePath!).display
      : null,
    durationSec: Math.max(simulatedMs, ctx.fleet.clock.now() - startedAt) / 1000,
    finalState: vm.state,
  };
}

function commitMove(
  ctx: OpContext,
  vm: VirtualMachine,
  destination: HyperVHost,
  moves: MigrationPlan['moves'],
  destinationStoragePath: string | undefined,
): void {
  const source = ctx.host;
  for (const { from, to } of moves) {
    const fromStore = storeFor(ctx.fleet, source, from);
    const file = fromStore.get(from.key);
    if (file?.kind !== 'vhd') continue;
    fromStore.delete(from.key);
    file.path = to.display;
    storeFor(ctx.fleet, destination, to).set(to.key, file);
    for (const disk of vm.hardDisks) if (disk.path.toLowerCase() === from.key) disk.path = to.display;
  }
  for (const file of vmDiskFiles({ fleet: ctx.fleet, host: destination }, vm)) {
    file.attachedTo = { host: destination.name, vmId: vm.id };
  }
  if (destinationStoragePath !== undefined) {
    const folder = requirePath('MoveVM', destinationStoragePath);
    vm.path = (joinWindowsPath(folder, vm.name) ?? folder).display;
  }
  if (vm.replication) vm.replication.primaryServer = destination.name;
  source.vms.splice(source.vms.indexOf(vm), 1);
  destination.vms.push(vm);
  rebalanceMemory(destination, vm);
}
