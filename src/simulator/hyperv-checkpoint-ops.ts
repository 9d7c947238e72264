// Checkpoints (reference §10): Production falls back to Standard when a production checkpoint is
// impossible, ProductionOnly fails instead, Disabled refuses; removal merges the .avhdx.

import { WMI, wmiError } from './hyperv-errors';
import { LATENCY, transferMs } from './hyperv-latency';
import {
  Checkpoint,
  CheckpointTypeSetting,
  SnapshotType,
  versionAtLeast,
  VirtualMachine,
} from './hyperv-model';
import { assertVmIdle, holdVm, nowIso, OpContext, releaseVm, requireVm } from './hyperv-op-context';
import type { CheckpointCreateParams, CheckpointKind, CheckpointRemoveParams } from './hyperv-params';
import { checkpointFacts, CheckpointFacts } from './hyperv-views';

/** Hyper-V's per-VM checkpoint limit. */
export const MAX_CHECKPOINTS = 50;

/**
 * Why a production (in-guest VSS / filesystem flush) checkpoint cannot be taken now, or null when it
 * can: it needs configuration version 6.2 (§0.2) and, for a started VM, a running guest with the
 * backup integration service.
 */
export function productionUnavailableReason(vm: VirtualMachine): string | null {
  if (!versionAtLeast(vm.version, '6.2')) {
    return `Production checkpoints require configuration version 6.2 or later; '${vm.name}' is version ${vm.version}.`;
  }
  if (vm.state === 'Off') return null;
  if (vm.state !== 'Running') {
    return `The virtual machine is ${vm.state}, so the guest cannot prepare its data for a production checkpoint.`;
  }
  if (!vm.guestBackupServiceEnabled) {
    return `The guest Backup (volume shadow copy) integration service of '${vm.name}' is not enabled or not responding.`;
  }
  return null;
}

export interface CheckpointDecision {
  setting: CheckpointKind;
  snapshotType: SnapshotType;
  fellBackToStandard: boolean;
}

/** Applies the checkpoint-type rules; throws for Disabled, for ProductionOnly without production, and at the limit. */
export function decideCheckpoint(
  vm: VirtualMachine,
  requested: CheckpointKind | undefined,
  cmdlet: 'CheckpointVM' = 'CheckpointVM',
): CheckpointDecision {
  const what = `Checkpoint operation failed for '${vm.name}'. (Virtual machine ID ${vm.id.toUpperCase()})`;
  if (vm.checkpointType === 'Disabled') {
    throw wmiError(
      cmdlet,
      WMI.invalidState,
      `${what}\nCheckpoints are disabled for the virtual machine '${vm.name}' (CheckpointType Disabled).`,
    );
  }
  if (vm.checkpoints.length >= MAX_CHECKPOINTS) {
    throw wmiError(
      cmdlet,
      WMI.failed,
      `${what}\n'${vm.name}' already has the maximum number of checkpoints (${MAX_CHECKPOINTS}).`,
    );
  }
  const setting: CheckpointKind =
    requested ?? (vm.checkpointType as Exclude<CheckpointTypeSetting, 'Disabled'>);
  if (setting === 'Standard') return { setting, snapshotType: 'Standard', fellBackToStandard: false };
  const reason = productionUnavailableReason(vm);
  if (reason === null) return { setting, snapshotType: 'Production', fellBackToStandard: false };
  if (setting === 'ProductionOnly') {
    throw wmiError(
      cmdlet,
      WMI.invalidState,
      `${what}\nA production checkpoint cannot be created and the checkpoint type is ProductionOnly. ${reason}`,
    );
  }
  return { setting, snapshotType: 'Standard', fellBackToStandard: true };
}

/** Checkpoint-VM's default name: "<vm> - (M/d/yyyy - h:mm:ss AM)". */
export function defaultCheckpointName(vmName: string, epochMs: number): string {
  const d = new Date(epochMs);
  const h = d.getUTCHours() % 12 || 12;
  const pad = (n: number) => String(n).padStart(2, '0');
  const stamp = `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()} - ${h}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} ${d.getUTCHours() < 12 ? 'AM' : 'PM'}`;
  return `${vmName} - (${stamp})`;
}

export function checkpointDurationMs(vm: VirtualMachine, snapshotType: SnapshotType): number {
  if (snapshotType === 'Standard') {
    // A standard checkpoint of a started VM saves its memory too.
    const memory = vm.state === 'Running' || vm.state === 'Paused' ? vm.memory.assignedBytes : 0;
    return LATENCY.standardCheckpointMs + transferMs(memory, LATENCY.memorySaveBytesPerSec);
  }
  return LATENCY.productionCheckpointMs;
}

/** Adds a checkpoint below the current one and makes it current. */
export function addCheckpoint(
  ctx: OpContext,
  vm: VirtualMachine,
  name: string,
  snapshotType: SnapshotType,
): Checkpoint {
  const cp: Checkpoint = {
    id: ctx.fleet.ids.guid(),
    name,
    snapshotType,
    parentId: vm.currentCheckpointId,
    creationTime: nowIso(ctx.fleet),
    differencingBytes: 0,
  };
  vm.checkpoints.push(cp);
  vm.currentCheckpointId = cp.id;
  return cp;
}

/** Removes a checkpoint (and optionally its subtree); children move up to its parent, as a merge does. */
export function deleteCheckpoints(
  vm: VirtualMachine,
  checkpointId: string,
  includeChildren: boolean,
): string[] {
  const target = vm.checkpoints.find((c) => c.id === checkpointId);
  if (!target) return [];
  const removed = new Set([target.id]);
  if (includeChildren) {
    let grew = true;
    while (grew) {
      grew = false;
      for (const c of vm.checkpoints) {
        if (c.parentId !== null && removed.has(c.parentId) && !removed.has(c.id)) {
          removed.add(c.id);
          grew = true;
        }
      }
    }
  } else {
    for (const c of vm.checkpoints) if (c.parentId === target.id) c.parentId = target.parentId;
  }
  vm.checkpoints = vm.checkpoints.filter((c) => !removed.has(c.id));
  if (vm.currentCheckpointId !== null && removed.has(vm.currentCheckpointId))
    vm.currentCheckpointId = target.parentId;
  return [...removed];
}

export async function createCheckpoint(
  ctx: OpContext,
  p: CheckpointCreateParams,
): Promise<CheckpointFacts & { vmId: string; checkpointType: string; fellBackToStandard: boolean }> {
  const plan = (): { vm: VirtualMachine; decision: CheckpointDecision } => {
    const vm = requireVm(ctx.host, p.vmId);
    assertVmIdle(vm, 'CheckpointVM', `Checkpoint operation failed for '${vm.name}'.`);
    return { vm, decision: decideCheckpoint(vm, p.checkpointType) };
  };
  const first = plan();
  const busy = holdVm(first.vm, 'checkpoint.create', 'Creating checkpoint');
  try {
    await ctx.run.sleep(checkpointDurationMs(first.vm, first.decision.snapshotType));
  } finally {
    releaseVm(first.vm, busy);
  }
  const { vm, decision } = plan();
  const cp = addCheckpoint(
    ctx,
    vm,
    p.name ?? defaultCheckpointName(vm.name, ctx.fleet.clock.now()),
    decision.snapshotType,
  );
  return {
    vmId: vm.id,
    ...checkpointFacts(vm, cp),
    checkpointType: decision.setting,
    fellBackToStandard: decision.fellBackToStandard,
  };
}

function requireCheckpoint(vm: VirtualMachine, checkpointId: string): Checkpoint {
  const cp = vm.checkpoints.find((c) => c.id === checkpointId.toLowerCase());
  if (!cp) {
    throw wmiError(
      'GetVMSnapshot',
      WMI.fileNotFound,
      `Hyper-V was unable to find a checkpoint with id "${checkpointId}" for virtual machine '${vm.name}'.`,
    );
  }
  return cp;
}

export async function removeCheckpoint(
  ctx: OpContext,
  p: CheckpointRemoveParams,
): Promise<{ vmId: string; removedCheckpointIds: string[]; currentCheckpointId: string | null }> {
  const plan = (): { vm: VirtualMachine; cp: Checkpoint } => {
    const vm = requireVm(ctx.host, p.vmId);
    const cp = requireCheckpoint(vm, p.checkpointId);
    assertVmIdle(vm, 'RemoveVMSnapshot', `Failed to remove checkpoint '${cp.name}'.`);
    return { vm, cp };
  };
  const first = plan();
  // Delete = merge of the .avhdx into its parent while the VM keeps running (§10).
  const mergeMs = Math.max(200, transferMs(first.cp.differencingBytes, LATENCY.mergeBytesPerSec));
  const busy = holdVm(first.vm, 'checkpoint.remove', 'Merging disks');
  try {
    await ctx.run.sleep(mergeMs);
  } finally {
    releaseVm(first.vm, busy);
  }
  const { vm, cp } = plan();
  const removedCheckpointIds = deleteCheckpoints(vm, cp.id, p.includeChildren ?? false);
  return { vmId: vm.id, removedCheckpointIds, currentCheckpointId: vm.currentCheckpointId };
}
