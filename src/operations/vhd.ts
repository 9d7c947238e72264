// vhd.resize (job): expand or shrink the VHDX attached at a controller location; online only on
// SCSI and only for VHDX, shrink only VHDX and never below MinimumSize, never with checkpoints
// (reference §8). vhd.optimize (job): compaction of a detached or read-only disk (§9).

import { z } from 'zod';
import { defineScriptTemplate } from '../powershell/script-template';
import { vhdFactsSchema } from './facts-schemas';
import { diskRouteParam, findDisk, slotName, typeOf } from './hard-disk';
import { controllerTypeSchema } from './facts-schemas';
import {
  controllerLocation,
  controllerNumber,
  defineOperation,
  GiB,
  pathText,
  PS_GET_VM,
  psAwaitJob,
  refuse,
  rule,
  TiB,
  vmIdleRule,
} from './operation-helpers';

export const vhdResizeInput = z.strictObject({
  controllerType: controllerTypeSchema.optional(),
  controllerNumber,
  controllerLocation,
  sizeBytes: z
    .number()
    .int()
    .min(512)
    .max(64 * TiB)
    .refine((n) => n % 512 === 0, 'sizeBytes is a multiple of 512'),
});
export type VhdResizeParams = z.infer<typeof vhdResizeInput>;

export const vhdOptimizeInput = z.strictObject({
  path: pathText(),
  mode: z.enum(['Full', 'Quick', 'Retrim', 'Pretrimmed', 'Prezeroed']).optional(),
});
export type VhdOptimizeParams = z.infer<typeof vhdOptimizeInput>;

const VHD_MAX = 2040 * GiB;

export const vhdResize = defineOperation({
  id: 'vhd.resize',
  summary: 'Expand or shrink the VHDX attached at a controller location (online only on SCSI)',
  scope: 'vm:storage',
  method: 'POST',
  route: '/v1/hosts/:host/vms/:vm/hard-disks/:disk/resize',
  target: 'vm',
  input: vhdResizeInput,
  routeParams: diskRouteParam,
  mutates: true,
  longRunning: true,
  defaultWaitSec: 5,
  example: { sizeBytes: 128 * GiB },
  preconditions: [
    rule<VhdResizeParams>(
      'disk-exists',
      'A hard disk is attached at that controller location.',
      (p, { vm }) =>
        findDisk(vm, p)
          ? null
          : refuse('HVG_ERR_DEVICE_NOT_FOUND', `${vm.name} has no hard disk at ${slotName(p)}`),
    ),
    vmIdleRule<VhdResizeParams>(),
    rule<VhdResizeParams>(
      'online-needs-scsi',
      'A disk of a started VM can be resized only on a SCSI controller (§8).',
      (p, { vm }) =>
        vm.state === 'Off' || typeOf(p) === 'SCSI'
          ? null
          : refuse(
              'HVG_ERR_VM_STATE',
              `the disk at ${slotName(p)} of ${vm.name} is on IDE and ${vm.name} is ${vm.state}; only SCSI disks resize online`,
            ),
    ),
    rule<VhdResizeParams>(
      'online-needs-vhdx',
      'Only VHDX files are resized while the VM is started (§8, §18).',
      (p, { vm }) => {
        const disk = findDisk(vm, p);
        return !disk || vm.state === 'Off' || disk.vhdFormat !== 'VHD'
          ? null
          : refuse(
              'HVG_ERR_VM_STATE',
              `${disk.path} is a VHD file and ${vm.name} is ${vm.state}; only VHDX files resize online`,
              'Convert the disk to VHDX, or resize it while the VM is off.',
            );
      },
    ),
    rule<VhdResizeParams>(
      'no-checkpoints',
      'A disk in a checkpoint chain is never resized (§8).',
      (p, { vm }) => {
        const disk = findDisk(vm, p);
        if (vm.checkpoints.length === 0 && disk?.vhdType !== 'Differencing') return null;
        return refuse(
          'HVG_ERR_PRECONDITION',
          `${vm.name} has ${vm.checkpoints.length} checkpoint(s), so the disk is the parent of a differencing chain; resizing it would invalidate the chain`,
          'Remove the checkpoints first (DELETE …/checkpoints/{id}), then resize.',
        );
      },
    ),
    rule<VhdResizeParams>('shrink-vhdx-only', 'Only VHDX files can shrink (§8).', (p, { vm }) => {
      const disk = findDisk(vm, p);
      return !disk || p.sizeBytes >= disk.sizeBytes || disk.vhdFormat !== 'VHD'
        ? null
        : refuse('HVG_ERR_NOT_SUPPORTED', `${disk.path} is a VHD file; only VHDX files can be shrunk`);
    }),
    rule<VhdResizeParams>(
      'size-in-range',
      'Never below MinimumSize; a VHD at most 2040 GB (§8).',
      (p, { vm }) => {
        const disk = findDisk(vm, p);
        if (!disk) return null;
        if (p.sizeBytes < disk.sizeBytes && p.sizeBytes < disk.minimumSizeBytes) {
          return refuse(
            'HVG_ERR_INVALID_VALUE',
            `${p.sizeBytes} bytes is below the minimum size of ${disk.path} (${disk.minimumSizeBytes} bytes)`,
            'Shrink the guest partitions first, then resize to at least minimumSizeBytes.',
            { minimumSizeBytes: disk.minimumSizeBytes },
          );
        }
        if (disk.vhdFormat === 'VHD' && p.sizeBytes > VHD_MAX) {
          return refuse(
            'HVG_ERR_INVALID_VALUE',
            `a VHD file holds at most ${VHD_MAX} bytes; use VHDX for larger disks`,
          );
        }
        return null;
      },
    ),
  ],
  template: defineScriptTemplate({
    opId: 'vhd.resize',
    version: 1,
    core: String.raw`
${PS_GET_VM}
$controllerType = 'SCSI'
if ($null -ne $p.params.controllerType) { $controllerType = [string]$p.params.controllerType }
$drive = Get-VMHardDiskDrive -VM $vm -ControllerType $controllerType -ControllerNumber ([int]$p.params.controllerNumber) -ControllerLocation ([int]$p.params.controllerLocation)
if ($null -eq $drive) {
    Stop-HvgateOperation -ErrorId 'ObjectNotFound,Microsoft.HyperV.PowerShell.Commands.GetVMHardDiskDrive' -Message ('Hyper-V was unable to find a hard disk drive at ' + $controllerType + ' controller ' + $p.params.controllerNumber + ' location ' + $p.params.controllerLocation + ' of virtual machine ' + $vm.Name + '.') -Category ObjectNotFound
}
$vhdPath = [string]$drive.Path
$before = Get-VHD -Path $vhdPath
Write-HvgateProgress -Percent 0 -Text 'Resizing virtual hard disk'
$job = Resize-VHD -Path $vhdPath -SizeBytes ([uint64]$p.params.sizeBytes) -AsJob
${psAwaitJob('$job', 'Resizing virtual hard disk', '$null')}
$vhd = Get-VHD -Path $vhdPath
Write-HvgateProgress -Percent 100 -Text 'Resize complete'
$minimumSize = [int64]0
if ($null -ne $vhd.MinimumSize) { $minimumSize = [int64]$vhd.MinimumSize }
$parentPath = $null
if (-not [string]::IsNullOrEmpty($vhd.ParentPath)) { $parentPath = [string]$vhd.ParentPath }
$result = [ordered]@{
    vmId = ([string]$vm.Id).ToLowerInvariant()
    previousSizeBytes = [int64]$before.Size
    path = $vhdPath
    vhdFormat = [string]$vhd.VhdFormat
    vhdType = [string]$vhd.VhdType
    sizeBytes = [int64]$vhd.Size
    fileSizeBytes = [int64]$vhd.FileSize
    minimumSizeBytes = $minimumSize
    parentPath = $parentPath
    attached = [bool]$vhd.Attached
}
`,
  }),
  result: vhdFactsSchema.extend({ vmId: z.string(), previousSizeBytes: z.number().int().min(0) }),
});

export const vhdOptimize = defineOperation({
  id: 'vhd.optimize',
  summary: 'Compact a detached (or read-only) dynamic or differencing VHD(X) under the storage roots',
  scope: 'vm:storage',
  method: 'POST',
  route: '/v1/hosts/:host/vhds/optimize',
  target: 'host',
  input: vhdOptimizeInput,
  mutates: true,
  longRunning: true,
  defaultWaitSec: 5,
  example: { path: 'D:\\Hyper-V\\Virtual Hard Disks\\archive-2025.vhdx', mode: 'Full' },
  pathFields: [{ field: 'path', roots: 'storage' }],
  facts: { vmList: true },
  preconditions: [
    rule<VhdOptimizeParams>(
      'not-attached-read-write',
      'The disk is not attached read-write to a started VM (§9).',
      (p, { vms }) => {
        const key = p.path.toLowerCase();
        for (const vm of vms) {
          const disk = vm.hardDisks.find((d) => d.path.toLowerCase() === key);
          if (disk && vm.state !== 'Off') {
            return refuse(
              'HVG_ERR_OBJECT_IN_USE',
              `${p.path} is attached read-write to ${vm.name}, which is ${vm.state}; only detached or read-only disks can be optimized`,
              'Detach the disk (DELETE …/hard-disks/{c}:{l}) or optimize it while the VM is off.',
              { vmId: vm.id, vmName: vm.name },
            );
          }
        }
        return null;
      },
    ),
    rule<VhdOptimizeParams>('not-fixed', 'Fixed disks cannot be optimized (§9).', (p, { vms }) => {
      const key = p.path.toLowerCase();
      for (const vm of vms) {
        const disk = vm.hardDisks.find((d) => d.path.toLowerCase() === key);
        if (disk && disk.vhdType === 'Fixed') {
          return refuse(
            'HVG_ERR_NOT_SUPPORTED',
            `${p.path} is a fixed disk; Optimize-VHD works only on dynamic and differencing disks`,
          );
        }
      }
      return null;
    }),
  ],
  template: defineScriptTemplate({
    opId: 'vhd.optimize',
    version: 1,
    core: String.raw`
$vhdPath = [string]$p.params.path
$vhd = Get-VHD -Path $vhdPath
$mode = 'Quick'
if ([string]$vhd.VhdFormat -eq 'VHD') { $mode = 'Full' }
if ($null -ne $p.params.mode) { $mode = [string]$p.params.mode }
$before = [int64]$vhd.FileSize
$mounted = $false
Write-HvgateProgress -Percent 0 -Text 'Mounting virtual hard disk read-only'
if (-not $vhd.Attached -and @('Full', 'Quick', 'Retrim') -contains $mode) {
    Mount-VHD -Path $vhdPath -ReadOnly
    $mounted = $true
}
try {
    $job = Optimize-VHD -Path $vhdPath -Mode $mode -AsJob
    ${psAwaitJob('$job', 'Optimizing', '$null')}
} finally {
    if ($mounted) { Dismount-VHD -Path $vhdPath }
}
$after = Get-VHD -Path $vhdPath
Write-HvgateProgress -Percent 100 -Text 'Optimize complete'
$result = [ordered]@{ path = $vhdPath; mode = $mode; fileSizeBeforeBytes = $before; fileSizeAfterBytes = [int64]$after.FileSize }
`,
  }),
  result: z.object({
    path: z.string(),
    mode: z.string(),
    fileSizeBeforeBytes: z.number().int().min(0),
    fileSizeAfterBytes: z.number().int().min(0),
  }),
});
