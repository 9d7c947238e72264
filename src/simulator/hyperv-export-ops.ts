// Export of a running VM (reference §11) and backup as production checkpoint → export of the
// checkpoint → checkpoint removed (§14, option 3 with the checkpoint made explicit).

import { alreadyExists, CmdletName, WMI, wmiError } from './hyperv-errors';
import { vmDiskFiles } from './hyperv-disk-ops';
import {
  addCheckpoint,
  deleteCheckpoints,
  MAX_CHECKPOINTS,
  productionUnavailableReason,
} from './hyperv-checkpoint-ops';
import { LATENCY, transferMs } from './hyperv-latency';
import type { HyperVHost, VirtualMachine } from './hyperv-model';
import {
  assertUnderRoots,
  assertVmIdle,
  evenSteps,
  holdVm,
  nowIso,
  OpContext,
  releaseVm,
  requirePath,
  requireVm,
  runWithProgress,
  storeFor,
} from './hyperv-op-context';
import type { BackupCreateParams, CaptureLiveState, VmExportParams } from './hyperv-params';
import { joinWindowsPath, WindowsPath } from './hyperv-paths';
import type { FleetState } from './hyperv-op-context';

/** Size of the configuration files (.vmcx, .vmgs) an export copies besides the disks. */
const CONFIG_BYTES = 1024 * 1024;

/** Resolves `<destination>\<vm name>` under the host's export roots and checks nothing is there yet. */
export function exportTarget(
  fleet: FleetState,
  host: HyperVHost,
  vm: VirtualMachine,
  cmdlet: CmdletName,
  destinationPath: string,
): WindowsPath {
  const what = `Failed to export virtual machine '${vm.name}'. (Virtual machine ID ${vm.id.toUpperCase()})`;
  const destination = requirePath(cmdlet, destinationPath);
  // A VM name is one folder name; separators or dot names would move the export elsewhere.
  const nameIsFolder = !/[\\/]/.test(vm.name) && vm.name.replace(/[. ]+$/, '') !== '';
  const target = nameIsFolder ? joinWindowsPath(destination, vm.name) : null;
  // The export lands in <destination>\<vm name>; that folder must be inside an export root.
  assertUnderRoots(cmdlet, target ?? destination, host.exportRoots, what);
  if (!target) {
    throw wmiError(
      cmdlet,
      WMI.invalidParameter,
      `${what}\nThe virtual machine name cannot be used as a folder name under '${destination.display}'.`,
    );
  }
  // The target folder must not already hold the export's files: "File exists already (0x80070050)" (§11).
  if (storeFor(fleet, host, target).has(target.key)) {
    throw alreadyExists(
      cmdlet,
      `${what}\nThe system failed to create '${target.display}': The file exists. (0x80070050)`,
    );
  }
  return target;
}

/** Bytes an export copies: every disk file, checkpoint differencing disks and the configuration. */
export function exportBytes(ctx: OpContext, vm: VirtualMachine): number {
  const disks = vmDiskFiles(ctx, vm).reduce((sum, f) => sum + f.fileSizeBytes, 0);
  const checkpoints = vm.checkpoints.reduce((sum, c) => sum + c.differencingBytes, 0);
  return disks + checkpoints + CONFIG_BYTES;
}

export async function exportVm(
  ctx: OpContext,
  p: VmExportParams,
): Promise<{ vmId: string; exportPath: string; captureLiveState: CaptureLiveState; bytesCopied: number }> {
  const plan = () => {
    const vm = requireVm(ctx.host, p.vmId);
    assertVmIdle(vm, 'ExportVM', `Failed to export virtual machine '${vm.name}'.`);
    return { vm, target: exportTarget(ctx.fleet, ctx.host, vm, 'ExportVM', p.destinationPath) };
  };
  const first = plan();
  const captureLiveState = p.captureLiveState ?? 'CaptureSavedState';
  const started = first.vm.state === 'Running' || first.vm.state === 'Paused';
  const savesMemory = started && captureLiveState === 'CaptureSavedState';
  const bytesCopied = exportBytes(ctx, first.vm) + (savesMemory ? first.vm.memory.assignedBytes : 0);
  const totalMs =
    (savesMemory ? LATENCY.savedStateExportStallMs : 0) + transferMs(bytesCopied, LATENCY.exportBytesPerSec);
  const busy = holdVm(first.vm, 'vm.export', 'Exporting');
  try {
    await runWithProgress(
      ctx.run,
      evenSteps(10, (pct) => `Exporting virtual machine (${pct}%)`),
      totalMs,
      busy,
    );
  } finally {
    releaseVm(first.vm, busy);
  }
  const { vm, target } = plan();
  storeFor(ctx.fleet, ctx.host, target).set(target.key, { kind: 'directory', path: target.display });
  ctx.run.progress(100, 'Export complete');
  return { vmId: vm.id, exportPath: target.display, captureLiveState, bytesCopied };
}

export async function createBackup(
  ctx: OpContext,
  p: BackupCreateParams,
): Promise<{
  vmId: string;
  checkpointId: string;
  checkpointName: string;
  exportPath: string;
  bytesCopied: number;
  checkpointRemoved: boolean;
}> {
  const vm = requireVm(ctx.host, p.vmId);
  assertVmIdle(vm, 'CheckpointVM', `Backup of '${vm.name}' failed.`);
  const what = `Checkpoint operation failed for '${vm.name}'. (Virtual machine ID ${vm.id.toUpperCase()})`;
  // A backup needs an application-consistent (production) checkpoint; no fallback to standard.
  const reason = productionUnavailableReason(vm);
  if (reason !== null) {
    throw wmiError(
      'CheckpointVM',
      WMI.invalidState,
      `${what}\nA production checkpoint is required for a backup. ${reason}`,
    );
  }
  if (vm.checkpoints.length >= MAX_CHECKPOINTS) {
    throw wmiError(
      'CheckpointVM',
      WMI.failed,
      `${what}\n'${vm.name}' already has the maximum number of checkpoints (${MAX_CHECKPOINTS}).`,
    );
  }
  const busy = holdVm(vm, 'backup.create', 'Backing up');
  try {
    ctx.run.progress(0, 'Creating production checkpoint');
    await ctx.run.sleep(LATENCY.productionCheckpointMs);
    const cp = addCheckpoint(ctx, vm, `hvgate-backup-${nowIso(ctx.fleet)}`, 'Recovery');
    busy.percent = 10;
    ctx.run.progress(10, `Checkpoint '${cp.name}' created`);
    let exported: { exportPath: string; bytesCopied: number };
    try {
      // Export-VMSnapshot checks its destination only now, after the checkpoint exists.
      const target = exportTarget(ctx.fleet, ctx.host, vm, 'ExportVMSnapshot', p.destinationPath);
      const bytesCopied = exportBytes(ctx, vm);
      const steps = evenSteps(9, (pct) => `Exporting checkpoint (${pct}%)`).map((s) => ({
        percent: 10 + Math.round((s.percent * 80) / 90),
        text: s.text,
      }));
      await runWithProgress(
        ctx.run,
        steps,
        (transferMs(bytesCopied, LATENCY.exportBytesPerSec) * 100) / 80,
        busy,
      );
      storeFor(ctx.fleet, ctx.host, target).set(target.key, { kind: 'directory', path: target.display });
      ctx.run.progress(95, 'Removing backup checkpoint');
      exported = { exportPath: target.display, bytesCopied };
    } finally {
      // The script's finally block: the checkpoint goes whether the export worked or not
      // (PowerShell runs finally blocks on Ctrl+C too, so an abort also removes it).
      try {
        await ctx.run.sleep(transferMs(cp.differencingBytes, LATENCY.mergeBytesPerSec) + 200);
      } catch {
        // Aborted while merging: the removal below still happens, only sooner.
      }
      deleteCheckpoints(vm, cp.id, false);
    }
    ctx.run.progress(100, 'Backup complete');
    return {
      vmId: vm.id,
      checkpointId: cp.id,
      checkpointName: cp.name,
      ...exported,
      checkpointRemoved: true,
    };
  } finally {
    releaseVm(vm, busy);
  }
}
