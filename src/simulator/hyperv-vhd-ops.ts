// VHD files: online resize (reference §8) and compaction (§9), both long-running.

import { CmdletName, objectInUse, WMI, wmiError } from './hyperv-errors';
import {
  MAX_VHD_BYTES,
  MAX_VHDX_BYTES,
  requireAttachment,
  SECTOR,
  VHDX_OVERHEAD,
  vhdFileFor,
} from './hyperv-disk-ops';
import { LATENCY, transferMs } from './hyperv-latency';
import { MiB, VhdFile, VirtualMachine } from './hyperv-model';
import {
  assertUnderRoots,
  assertVmIdle,
  holdVm,
  OpContext,
  releaseVm,
  requirePath,
  requireVm,
  runWithProgress,
} from './hyperv-op-context';
import type { OptimizeMode, VhdOptimizeParams, VhdResizeParams } from './hyperv-params';
import { VhdFacts, vhdFacts } from './hyperv-views';

interface ResizePlan {
  vm: VirtualMachine;
  file: VhdFile;
  durationMs: number;
}

function planResize(ctx: OpContext, p: VhdResizeParams): ResizePlan {
  const cmdlet: CmdletName = 'ResizeVHD';
  const vm = requireVm(ctx.host, p.vmId);
  const disk = requireAttachment('GetVMHardDiskDrive', vm, p);
  const path = requirePath(cmdlet, disk.path);
  const file = vhdFileFor(ctx, cmdlet, path);
  const what = `Failed to resize the virtual disk.\nThe system failed to resize '${file.path}'.`;
  assertVmIdle(vm, cmdlet, what);
  const online = vm.state !== 'Off';
  // Online resize only on the SCSI chain (Resize-VHD doc); gate on VHDX as well (reference §8, §18).
  if (online && disk.controllerType === 'IDE') {
    throw objectInUse(
      cmdlet,
      what,
      `The disk is attached to an IDE controller of virtual machine '${vm.name}', which is ${vm.state}; only disks on a SCSI controller can be resized while the virtual machine is running.`,
    );
  }
  if (online && file.format === 'VHD') {
    throw objectInUse(
      cmdlet,
      what,
      `The disk is a VHD file attached to virtual machine '${vm.name}', which is ${vm.state}; only VHDX files can be resized while attached to a running virtual machine.`,
    );
  }
  if (vm.checkpoints.length > 0 || file.type === 'Differencing') {
    throw wmiError(
      cmdlet,
      WMI.invalidState,
      `${what}\nThe virtual machine '${vm.name}' has checkpoints, so the disk is the parent of a differencing disk chain (.avhdx); resizing it would invalidate the chain. Remove the checkpoints first.`,
    );
  }
  if (p.sizeBytes < file.sizeBytes) {
    if (file.format === 'VHD') {
      throw wmiError(
        cmdlet,
        WMI.notSupported,
        `${what}\nOnly VHDX files can be shrunk; '${file.path}' is a VHD file.`,
      );
    }
    // WMI ResizeVirtualHardDisk returns 32773 below the minimum (reference §8).
    if (p.sizeBytes < file.minimumSizeBytes) {
      throw wmiError(
        cmdlet,
        WMI.invalidParameter,
        `${what}\nThe requested size (${p.sizeBytes} bytes) is smaller than the minimum size of the virtual disk (MinimumSize ${file.minimumSizeBytes} bytes). Shrink the guest partitions first.`,
      );
    }
  }
  const max = file.format === 'VHD' ? MAX_VHD_BYTES : MAX_VHDX_BYTES;
  if (p.sizeBytes % SECTOR !== 0 || p.sizeBytes > max) {
    throw wmiError(
      cmdlet,
      WMI.invalidParameter,
      `${what}\nThe size ${p.sizeBytes} bytes is not valid for a ${file.format} file: it must be a multiple of ${SECTOR} bytes and at most ${max} bytes.`,
    );
  }
  const growth = Math.max(0, p.sizeBytes - file.sizeBytes);
  const durationMs =
    file.type === 'Fixed' && growth > 0
      ? LATENCY.resizeMetadataMs + transferMs(growth, LATENCY.zeroFillBytesPerSec)
      : LATENCY.resizeMetadataMs;
  return { vm, file, durationMs };
}

export async function resizeVhd(
  ctx: OpContext,
  p: VhdResizeParams,
): Promise<VhdFacts & { vmId: string; previousSizeBytes: number }> {
  const { vm, durationMs } = planResize(ctx, p);
  const busy = holdVm(vm, 'vhd.resize', 'Resizing virtual hard disk');
  try {
    await runWithProgress(
      ctx.run,
      [
        { percent: 0, text: 'Resizing virtual hard disk' },
        { percent: 50, text: 'Resizing virtual hard disk' },
      ],
      durationMs,
      busy,
    );
  } finally {
    releaseVm(vm, busy);
  }
  const plan = planResize(ctx, p);
  const file = plan.file;
  const previousSizeBytes = file.sizeBytes;
  file.sizeBytes = p.sizeBytes;
  if (file.type === 'Fixed')
    file.fileSizeBytes = p.sizeBytes + (file.format === 'VHDX' ? VHDX_OVERHEAD : SECTOR);
  else file.fileSizeBytes = Math.min(file.fileSizeBytes, p.sizeBytes + VHDX_OVERHEAD);
  file.dataBytes = Math.min(file.dataBytes, p.sizeBytes);
  ctx.run.progress(100, 'Resize complete');
  return { vmId: plan.vm.id, previousSizeBytes, ...vhdFacts(file) };
}

interface OptimizePlan {
  file: VhdFile;
  mode: OptimizeMode;
}

function planOptimize(ctx: OpContext, p: VhdOptimizeParams): OptimizePlan {
  const cmdlet: CmdletName = 'OptimizeVHD';
  const path = requirePath(cmdlet, p.path);
  const what = `Failed to compact the virtual disk.\nThe system failed to compact '${path.display}'.`;
  assertUnderRoots(cmdlet, path, ctx.host.storageRoots, what);
  const file = vhdFileFor(ctx, cmdlet, path);
  if (file.type === 'Fixed') {
    throw wmiError(
      cmdlet,
      WMI.notSupported,
      `${what}\nOptimize-VHD does not support fixed virtual hard disks.`,
    );
  }
  // Must be detached or attached read-only; a disk a started VM holds read-write cannot be compacted (§9).
  if (file.attachedTo) {
    const host = ctx.fleet.hosts.get(file.attachedTo.host);
    const owner = host?.vms.find((v) => v.id === file.attachedTo!.vmId);
    if (owner && owner.state !== 'Off') {
      throw objectInUse(
        cmdlet,
        what,
        `'${file.path}' is attached read-write to virtual machine '${owner.name}', which is ${owner.state}. Detach the disk or turn the virtual machine off first.`,
      );
    }
  }
  return { file, mode: p.mode ?? (file.format === 'VHD' ? 'Full' : 'Quick') };
}

export async function optimizeVhd(
  ctx: OpContext,
  p: VhdOptimizeParams,
): Promise<{ path: string; mode: OptimizeMode; fileSizeBeforeBytes: number; fileSizeAfterBytes: number }> {
  const first = planOptimize(ctx, p);
  await runWithProgress(
    ctx.run,
    [
      { percent: 0, text: 'Mounting virtual hard disk read-only' },
      { percent: 10, text: `Optimizing (${first.mode})` },
      { percent: 60, text: `Optimizing (${first.mode})` },
    ],
    transferMs(first.file.fileSizeBytes, LATENCY.optimizeScanBytesPerSec),
  );
  const { file, mode } = planOptimize(ctx, p);
  const before = file.fileSizeBytes;
  const floor = Math.min(before, file.dataBytes + VHDX_OVERHEAD);
  // Pretrimmed/Prezeroed work without a mount but detect less space (§9): reclaim about half.
  const after =
    mode === 'Pretrimmed' || mode === 'Prezeroed'
      ? before - Math.floor((before - floor) / 2 / MiB) * MiB
      : floor;
  file.fileSizeBytes = after;
  ctx.run.progress(100, 'Optimize complete');
  return { path: file.path, mode, fileSizeBeforeBytes: before, fileSizeAfterBytes: after };
}
