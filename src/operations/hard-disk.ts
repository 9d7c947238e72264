// hard-disk.add / .remove / .set-qos: SCSI hot plug (reference §4; IDE needs the VM off) and
// per-disk Storage QoS in normalized 8 KB IOPS (§6). `-ControllerType` is always passed: without
// it Add-VMHardDiskDrive tries IDE first, which fails on a running Generation 1 VM.

import { z } from 'zod';
import { defineScriptTemplate } from '../powershell/script-template';
import { controllerTypeSchema, hardDiskFactsSchema } from './facts-schemas';
import type { HardDiskFacts, VmFacts } from './facts-schemas';
import {
  controllerLocation,
  controllerNumber,
  defineOperation,
  GiB,
  MiB,
  offOrRunningRule,
  slotRouteParam,
  pathText,
  PS_GET_VM,
  refuse,
  rule,
  TiB,
  vmIdleRule,
} from './operation-helpers';
import type { PreconditionRule } from './operation-spec';

/** Normalized IOPS (8 KB units); 0 = no reservation / no limit. */
const iops = z.number().int().min(0).max(1_000_000_000);

interface Slot {
  controllerType?: 'IDE' | 'SCSI' | undefined;
  controllerNumber: number;
  controllerLocation: number;
}

const slotFields = {
  controllerType: controllerTypeSchema.optional(),
  controllerNumber,
  controllerLocation,
};

export const typeOf = (s: Slot): 'IDE' | 'SCSI' => s.controllerType ?? 'SCSI';
export const slotName = (s: Slot): string =>
  `${typeOf(s)} controller ${s.controllerNumber} location ${s.controllerLocation}`;

export function findDisk(vm: VmFacts, s: Slot): HardDiskFacts | undefined {
  return vm.hardDisks.find(
    (d) =>
      d.controllerType === typeOf(s) &&
      d.controllerNumber === s.controllerNumber &&
      d.controllerLocation === s.controllerLocation,
  );
}

export const diskRouteParam = slotRouteParam('disk');

const VHDX_MIN = 3 * MiB;
const VHD_MAX = 2040 * GiB;
const VHDX_MAX = 64 * TiB;

const extension = (path: string): string => /\.[^.\\/]*$/.exec(path)?.[0]?.toLowerCase() ?? '';

export const hardDiskAddInput = z
  .strictObject({
    ...slotFields,
    path: pathText(),
    sizeBytes: z.number().int().min(MiB).max(VHDX_MAX).optional(),
    fixed: z.boolean().optional(),
    minimumIops: iops.optional(),
    maximumIops: iops.optional(),
  })
  .superRefine((p, ctx) => {
    const ext = extension(p.path);
    if (ext !== '.vhdx' && ext !== '.vhd') {
      ctx.addIssue({
        code: 'custom',
        path: ['path'],
        message: 'a virtual hard disk file ends in .vhdx or .vhd',
      });
    }
    if (p.fixed !== undefined && p.sizeBytes === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['fixed'],
        message: 'fixed applies only when a new disk is created (sizeBytes)',
      });
    }
    if (p.sizeBytes !== undefined) {
      const max = ext === '.vhd' ? VHD_MAX : VHDX_MAX;
      const min = ext === '.vhdx' ? VHDX_MIN : MiB;
      if (p.sizeBytes % 512 !== 0 || p.sizeBytes < min || p.sizeBytes > max) {
        ctx.addIssue({
          code: 'custom',
          path: ['sizeBytes'],
          message: `a new ${ext === '.vhd' ? 'VHD' : 'VHDX'} is a multiple of 512 bytes between ${min} and ${max} bytes`,
        });
      }
    }
    if (
      p.minimumIops !== undefined &&
      p.maximumIops !== undefined &&
      p.maximumIops !== 0 &&
      p.maximumIops < p.minimumIops
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['maximumIops'],
        message: 'maximumIops must be 0 (no limit) or at least minimumIops',
      });
    }
  });
export type HardDiskAddParams = z.infer<typeof hardDiskAddInput>;

export const hardDiskRemoveInput = z.strictObject(slotFields);
export type HardDiskRemoveParams = z.infer<typeof hardDiskRemoveInput>;

export const hardDiskSetQosInput = z
  .strictObject({ ...slotFields, minimumIops: iops.optional(), maximumIops: iops.optional() })
  .refine(
    (p) => p.minimumIops !== undefined || p.maximumIops !== undefined,
    'name minimumIops or maximumIops',
  );
export type HardDiskSetQosParams = z.infer<typeof hardDiskSetQosInput>;

/** The controller exists on this VM (Generation 2 has only SCSI; SCSI controllers are numbered). */
export function controllerExistsRule<P extends Slot>(device = 'disk'): PreconditionRule<P> {
  return rule<P>('controller-exists', 'The controller named exists on the VM.', (p, { vm }) => {
    const type = typeOf(p);
    if (type === 'IDE' && vm.generation === 2) {
      return refuse(
        'HVG_ERR_DEVICE_NOT_FOUND',
        `${vm.name} is a Generation 2 VM and has no IDE controller; use SCSI`,
      );
    }
    if (type === 'IDE') {
      return p.controllerNumber <= 1 && p.controllerLocation <= 1
        ? null
        : refuse(
            'HVG_ERR_INVALID_VALUE',
            `IDE controller ${p.controllerNumber} location ${p.controllerLocation} does not exist; a Generation 1 VM has IDE controllers 0 and 1 with locations 0 and 1`,
          );
    }
    const scsi = vm.controllers.filter((c) => c.controllerType === 'SCSI').length;
    return p.controllerNumber < scsi
      ? null
      : refuse(
          'HVG_ERR_DEVICE_NOT_FOUND',
          `${vm.name} has no SCSI controller ${p.controllerNumber} (it has ${scsi}); adding a SCSI controller needs the VM off, so attach the ${device} to an existing one`,
        );
  });
}

function ideNeedsOffRule<P extends Slot>(verb: 'added' | 'removed'): PreconditionRule<P> {
  return rule<P>(
    'scsi-for-hot-plug',
    `Disks are hot-${verb === 'added' ? 'added' : 'removed'} only on SCSI; IDE needs the VM off (§4).`,
    (p, { vm }) =>
      typeOf(p) === 'SCSI' || vm.state === 'Off'
        ? null
        : refuse(
            'HVG_ERR_VM_STATE',
            `a disk on an IDE controller can be ${verb} only while the VM is off; ${vm.name} is ${vm.state}`,
            'Use a SCSI controller location (hot plug works only on SCSI).',
          ),
  );
}

function diskExistsRule<P extends Slot>(): PreconditionRule<P> {
  return rule<P>('disk-exists', 'A hard disk is attached at that controller location.', (p, { vm }) =>
    findDisk(vm, p)
      ? null
      : refuse(
          'HVG_ERR_DEVICE_NOT_FOUND',
          `${vm.name} has no hard disk at ${slotName(p)}`,
          'GET /v1/hosts/{host}/vms/{vm} lists hardDisks[] with their controller locations.',
        ),
  );
}

const PS_DISK_RESULT = String.raw`
$vhdPath = [string]$drive.Path
$vhd = Get-VHD -Path $vhdPath
$minimumSize = [int64]0
if ($null -ne $vhd.MinimumSize) { $minimumSize = [int64]$vhd.MinimumSize }
$parentPath = $null
if (-not [string]::IsNullOrEmpty($vhd.ParentPath)) { $parentPath = [string]$vhd.ParentPath }
$result = [ordered]@{
    vmId = ([string]$vm.Id).ToLowerInvariant()
    controllerType = [string]$drive.ControllerType
    controllerNumber = [int]$drive.ControllerNumber
    controllerLocation = [int]$drive.ControllerLocation
    minimumIops = [int64]$drive.MinimumIOPS
    maximumIops = [int64]$drive.MaximumIOPS
    path = $vhdPath
    vhdFormat = [string]$vhd.VhdFormat
    vhdType = [string]$vhd.VhdType
    sizeBytes = [int64]$vhd.Size
    fileSizeBytes = [int64]$vhd.FileSize
    minimumSizeBytes = $minimumSize
    parentPath = $parentPath
    attached = [bool]$vhd.Attached
}
`;

const PS_FIND_DRIVE = String.raw`
$controllerType = 'SCSI'
if ($null -ne $p.params.controllerType) { $controllerType = [string]$p.params.controllerType }
$drive = Get-VMHardDiskDrive -VM $vm -ControllerType $controllerType -ControllerNumber ([int]$p.params.controllerNumber) -ControllerLocation ([int]$p.params.controllerLocation)
if ($null -eq $drive) {
    Stop-HvgateOperation -ErrorId 'ObjectNotFound,Microsoft.HyperV.PowerShell.Commands.GetVMHardDiskDrive' -Message ('Hyper-V was unable to find a hard disk drive at ' + $controllerType + ' controller ' + $p.params.controllerNumber + ' location ' + $p.params.controllerLocation + ' of virtual machine ' + $vm.Name + '.') -Category ObjectNotFound
}
`;

export const hardDiskAdd = defineOperation({
  id: 'hard-disk.add',
  summary: 'Hot-add a SCSI hard disk: attach an existing VHD(X) or create a new one under the storage roots',
  scope: 'vm:hotplug',
  method: 'POST',
  route: '/v1/hosts/:host/vms/:vm/hard-disks',
  target: 'vm',
  input: hardDiskAddInput,
  mutates: true,
  longRunning: false,
  defaultWaitSec: 120,
  example: {
    controllerNumber: 0,
    controllerLocation: 2,
    path: 'D:\\Hyper-V\\Virtual Hard Disks\\web-01-data.vhdx',
    sizeBytes: 100 * GiB,
  },
  successStatus: 201,
  pathFields: [{ field: 'path', roots: 'storage' }],
  preconditions: [
    vmIdleRule<HardDiskAddParams>(),
    offOrRunningRule<HardDiskAddParams>('Disks can be added'),
    controllerExistsRule<HardDiskAddParams>(),
    ideNeedsOffRule<HardDiskAddParams>('added'),
    rule<HardDiskAddParams>(
      'slot-free',
      'Nothing is attached at that controller location yet.',
      (p, { vm }) => {
        const taken =
          findDisk(vm, p) ??
          vm.dvdDrives.find(
            (d) =>
              d.controllerType === typeOf(p) &&
              d.controllerNumber === p.controllerNumber &&
              d.controllerLocation === p.controllerLocation,
          );
        return taken
          ? refuse(
              'HVG_ERR_INVALID_VALUE',
              `a device is already attached at ${slotName(p)} of ${vm.name}`,
              'Choose a free controller location.',
            )
          : null;
      },
    ),
    rule<HardDiskAddParams>(
      'disk-not-attached-here',
      'The VHD is not already attached to this VM.',
      (p, { vm }) => {
        const key = p.path.toLowerCase();
        const same = vm.hardDisks.find((d) => d.path.toLowerCase() === key);
        return same
          ? refuse(
              'HVG_ERR_OBJECT_IN_USE',
              `${p.path} is already attached to ${vm.name} at ${slotName(same)}`,
            )
          : null;
      },
    ),
  ],
  template: defineScriptTemplate({
    opId: 'hard-disk.add',
    version: 1,
    core: String.raw`
${PS_GET_VM}
$controllerType = 'SCSI'
if ($null -ne $p.params.controllerType) { $controllerType = [string]$p.params.controllerType }
$vhdPath = [string]$p.params.path
$created = $false
if ($null -ne $p.params.sizeBytes) {
    if ($true -eq $p.params.fixed) {
        $null = New-VHD -Path $vhdPath -SizeBytes ([uint64]$p.params.sizeBytes) -Fixed
    } else {
        $null = New-VHD -Path $vhdPath -SizeBytes ([uint64]$p.params.sizeBytes) -Dynamic
    }
    $created = $true
}
$addArgs = @{ VM = $vm; ControllerType = $controllerType; ControllerNumber = [int]$p.params.controllerNumber; ControllerLocation = [int]$p.params.controllerLocation; Path = $vhdPath; Passthru = $true }
if ($null -ne $p.params.minimumIops) { $addArgs['MinimumIOPS'] = [uint64]$p.params.minimumIops }
if ($null -ne $p.params.maximumIops) { $addArgs['MaximumIOPS'] = [uint64]$p.params.maximumIops }
$drive = Add-VMHardDiskDrive @addArgs
${PS_DISK_RESULT}
$result.created = $created
`,
  }),
  result: hardDiskFactsSchema.extend({ vmId: z.string(), created: z.boolean() }),
});

export const hardDiskRemove = defineOperation({
  id: 'hard-disk.remove',
  summary: 'Hot-remove the hard disk at a SCSI controller location (the VHD file is kept)',
  scope: 'vm:hotplug',
  method: 'DELETE',
  route: '/v1/hosts/:host/vms/:vm/hard-disks/:disk',
  target: 'vm',
  input: hardDiskRemoveInput,
  routeParams: diskRouteParam,
  mutates: true,
  longRunning: false,
  defaultWaitSec: 60,
  preconditions: [
    diskExistsRule<HardDiskRemoveParams>(),
    vmIdleRule<HardDiskRemoveParams>(),
    offOrRunningRule<HardDiskRemoveParams>('Disks can be removed'),
    ideNeedsOffRule<HardDiskRemoveParams>('removed'),
  ],
  template: defineScriptTemplate({
    opId: 'hard-disk.remove',
    version: 1,
    core: String.raw`
${PS_GET_VM}
${PS_FIND_DRIVE}
${PS_DISK_RESULT}
Remove-VMHardDiskDrive -VMHardDiskDrive $drive
$result.attached = $false
`,
  }),
  result: hardDiskFactsSchema.extend({ vmId: z.string() }),
});

export const hardDiskSetQos = defineOperation({
  id: 'hard-disk.set-qos',
  summary: 'Set minimum/maximum normalized IOPS (8 KB units) of an attached disk; 0 = none',
  scope: 'vm:hotplug',
  method: 'PUT',
  route: '/v1/hosts/:host/vms/:vm/hard-disks/:disk/qos',
  target: 'vm',
  input: hardDiskSetQosInput,
  routeParams: diskRouteParam,
  mutates: true,
  longRunning: false,
  defaultWaitSec: 60,
  example: { minimumIops: 100, maximumIops: 2000 },
  preconditions: [
    diskExistsRule<HardDiskSetQosParams>(),
    vmIdleRule<HardDiskSetQosParams>(),
    rule<HardDiskSetQosParams>(
      'maximum-at-least-minimum',
      'Maximum IOPS is 0 (no limit) or at least the minimum (§6).',
      (p, { vm }) => {
        const disk = findDisk(vm, p);
        if (!disk) return null;
        const min = p.minimumIops ?? disk.minimumIops;
        const max = p.maximumIops ?? disk.maximumIops;
        return max === 0 || max >= min
          ? null
          : refuse(
              'HVG_ERR_INVALID_VALUE',
              `maximum IOPS ${max} is below minimum IOPS ${min} for the disk at ${slotName(p)} of ${vm.name}; 0 means no limit`,
            );
      },
    ),
  ],
  template: defineScriptTemplate({
    opId: 'hard-disk.set-qos',
    version: 1,
    core: String.raw`
${PS_GET_VM}
${PS_FIND_DRIVE}
$setArgs = @{ VMHardDiskDrive = $drive; Passthru = $true }
if ($null -ne $p.params.minimumIops) { $setArgs['MinimumIOPS'] = [uint64]$p.params.minimumIops }
if ($null -ne $p.params.maximumIops) { $setArgs['MaximumIOPS'] = [uint64]$p.params.maximumIops }
$drive = Set-VMHardDiskDrive @setArgs
${PS_DISK_RESULT}
`,
  }),
  result: hardDiskFactsSchema.extend({ vmId: z.string() }),
});
