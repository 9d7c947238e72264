// dvd-drive.add / .remove / .set-media (reference §5): SCSI on Generation 2 (follows SCSI hot
// plug), IDE on Generation 1 (add/remove needs the VM off); media change is routine while running.
// ISO paths must fall under the host's storage roots.

import { z } from 'zod';
import { defineScriptTemplate } from '../powershell/script-template';
import { dvdDriveFactsSchema } from './facts-schemas';
import type { VmFacts } from './facts-schemas';
import {
  controllerLocation,
  controllerNumber,
  defineOperation,
  offOrRunningRule,
  slotRouteParam,
  pathText,
  PS_GET_VM,
  refuse,
  rule,
  vmIdleRule,
} from './operation-helpers';
import type { PreconditionRule } from './operation-spec';

const isoPath = pathText().refine((p) => /\.iso$/i.test(p), 'an ISO image path ends in .iso');

export const dvdDriveAddInput = z.strictObject({
  controllerNumber: controllerNumber.optional(),
  controllerLocation: controllerLocation.optional(),
  path: isoPath.nullable().optional(),
});
export type DvdDriveAddParams = z.infer<typeof dvdDriveAddInput>;

export const dvdDriveRemoveInput = z.strictObject({ controllerNumber, controllerLocation });
export type DvdDriveRemoveParams = z.infer<typeof dvdDriveRemoveInput>;

export const dvdDriveSetMediaInput = z.strictObject({
  controllerNumber,
  controllerLocation,
  path: isoPath.nullable(),
});
export type DvdDriveSetMediaParams = z.infer<typeof dvdDriveSetMediaInput>;

const controllerTypeOf = (vm: VmFacts): 'IDE' | 'SCSI' => (vm.generation === 1 ? 'IDE' : 'SCSI');

function sameSlot(vm: VmFacts, n: number, l: number) {
  const type = controllerTypeOf(vm);
  const match = (d: { controllerType: string; controllerNumber: number; controllerLocation: number }) =>
    d.controllerType === type && d.controllerNumber === n && d.controllerLocation === l;
  return vm.dvdDrives.some(match) || vm.hardDisks.some(match);
}

function ideNeedsOff<P>(verb: 'added' | 'removed'): PreconditionRule<P> {
  return rule<P>(
    'ide-needs-off',
    `DVD drives on IDE (Generation 1) can be ${verb} only while the VM is off (§5).`,
    (_p, { vm }) =>
      vm.generation === 2 || vm.state === 'Off'
        ? null
        : refuse(
            'HVG_ERR_REQUIRES_GEN2',
            `DVD drives can be ${verb} on a running VM only on Generation 2 (SCSI); ${vm.name} is Generation 1 and its DVD drives are on IDE`,
            'Change the media of an existing drive instead (PUT …/dvd-drives/{c}:{l}), or make the change while the VM is off.',
          ),
  );
}

function driveExists<
  P extends { controllerNumber: number; controllerLocation: number },
>(): PreconditionRule<P> {
  return rule<P>('drive-exists', 'A DVD drive is attached at that controller location.', (p, { vm }) =>
    vm.dvdDrives.some(
      (d) =>
        d.controllerType === controllerTypeOf(vm) &&
        d.controllerNumber === p.controllerNumber &&
        d.controllerLocation === p.controllerLocation,
    )
      ? null
      : refuse(
          'HVG_ERR_DEVICE_NOT_FOUND',
          `${vm.name} has no DVD drive at ${controllerTypeOf(vm)} controller ${p.controllerNumber} location ${p.controllerLocation}`,
          'GET /v1/hosts/{host}/vms/{vm} lists dvdDrives[].',
        ),
  );
}

const PS_DVD_RESULT = String.raw`
$isoPath = $null
if (-not [string]::IsNullOrEmpty($drive.Path)) { $isoPath = [string]$drive.Path }
$result = [ordered]@{
    vmId = ([string]$vm.Id).ToLowerInvariant()
    controllerType = [string]$drive.ControllerType
    controllerNumber = [int]$drive.ControllerNumber
    controllerLocation = [int]$drive.ControllerLocation
    path = $isoPath
    dvdMediaType = [string]$drive.DvdMediaType
}
`;

const PS_FIND_DVD = String.raw`
$drive = Get-VMDvdDrive -VM $vm -ControllerNumber ([int]$p.params.controllerNumber) -ControllerLocation ([int]$p.params.controllerLocation)
if ($null -eq $drive) {
    Stop-HvgateOperation -ErrorId 'ObjectNotFound,Microsoft.HyperV.PowerShell.Commands.GetVMDvdDrive' -Message ('Hyper-V was unable to find a DVD drive at controller ' + $p.params.controllerNumber + ' location ' + $p.params.controllerLocation + ' of virtual machine ' + $vm.Name + '.') -Category ObjectNotFound
}
`;

export const dvdDriveAdd = defineOperation({
  id: 'dvd-drive.add',
  summary: 'Add a DVD drive (SCSI on Generation 2), optionally with an ISO under the storage roots',
  scope: 'vm:hotplug',
  method: 'POST',
  route: '/v1/hosts/:host/vms/:vm/dvd-drives',
  target: 'vm',
  input: dvdDriveAddInput,
  mutates: true,
  longRunning: false,
  defaultWaitSec: 60,
  example: { controllerNumber: 0, controllerLocation: 3, path: 'D:\\Hyper-V\\ISO\\tools.iso' },
  successStatus: 201,
  pathFields: [{ field: 'path', roots: 'storage' }],
  preconditions: [
    vmIdleRule<DvdDriveAddParams>(),
    offOrRunningRule<DvdDriveAddParams>('DVD drives can be added'),
    ideNeedsOff<DvdDriveAddParams>('added'),
    rule<DvdDriveAddParams>(
      'controller-exists',
      'The controller exists (IDE 0–1 on Generation 1, existing SCSI controllers on Generation 2).',
      (p, { vm }) => {
        const n = p.controllerNumber ?? 0;
        if (vm.generation === 1) {
          const l = p.controllerLocation ?? 0;
          return n <= 1 && l <= 1
            ? null
            : refuse(
                'HVG_ERR_INVALID_VALUE',
                `IDE controller ${n} location ${l} does not exist; a Generation 1 VM has IDE controllers 0 and 1 with locations 0 and 1`,
              );
        }
        const scsi = vm.controllers.filter((c) => c.controllerType === 'SCSI').length;
        return n < scsi
          ? null
          : refuse('HVG_ERR_DEVICE_NOT_FOUND', `${vm.name} has no SCSI controller ${n} (it has ${scsi})`);
      },
    ),
    rule<DvdDriveAddParams>(
      'slot-free',
      'The controller location is free (or, when omitted, the controller has a free one).',
      (p, { vm }) => {
        const n = p.controllerNumber ?? 0;
        if (p.controllerLocation !== undefined) {
          return sameSlot(vm, n, p.controllerLocation)
            ? refuse(
                'HVG_ERR_INVALID_VALUE',
                `a device is already attached at ${controllerTypeOf(vm)} controller ${n} location ${p.controllerLocation} of ${vm.name}`,
              )
            : null;
        }
        const locations = vm.generation === 1 ? 2 : 64;
        for (let l = 0; l < locations; l++) if (!sameSlot(vm, n, l)) return null;
        return refuse(
          'HVG_ERR_INVALID_VALUE',
          `${controllerTypeOf(vm)} controller ${n} of ${vm.name} has no free location`,
        );
      },
    ),
  ],
  template: defineScriptTemplate({
    opId: 'dvd-drive.add',
    version: 1,
    core: String.raw`
${PS_GET_VM}
$controllerNumber = 0
if ($null -ne $p.params.controllerNumber) { $controllerNumber = [int]$p.params.controllerNumber }
# Without a controller object Add-VMDvdDrive picks the first IDE controller; name the controller explicitly.
if ([int]$vm.Generation -eq 1) {
    $controller = Get-VMIdeController -VM $vm -ControllerNumber $controllerNumber
} else {
    $controller = Get-VMScsiController -VM $vm -ControllerNumber $controllerNumber
}
$addArgs = @{ VMDriveController = $controller; Passthru = $true }
if ($null -ne $p.params.controllerLocation) { $addArgs['ControllerLocation'] = [int]$p.params.controllerLocation }
if ($null -ne $p.params.path) { $addArgs['Path'] = [string]$p.params.path }
$drive = Add-VMDvdDrive @addArgs
${PS_DVD_RESULT}
`,
  }),
  result: dvdDriveFactsSchema.extend({ vmId: z.string() }),
});

export const dvdDriveRemove = defineOperation({
  id: 'dvd-drive.remove',
  summary: 'Remove the DVD drive at a controller location (Generation 2 while running)',
  scope: 'vm:hotplug',
  method: 'DELETE',
  route: '/v1/hosts/:host/vms/:vm/dvd-drives/:drive',
  target: 'vm',
  input: dvdDriveRemoveInput,
  routeParams: slotRouteParam('drive'),
  mutates: true,
  longRunning: false,
  defaultWaitSec: 60,
  preconditions: [
    driveExists<DvdDriveRemoveParams>(),
    vmIdleRule<DvdDriveRemoveParams>(),
    offOrRunningRule<DvdDriveRemoveParams>('DVD drives can be removed'),
    ideNeedsOff<DvdDriveRemoveParams>('removed'),
  ],
  template: defineScriptTemplate({
    opId: 'dvd-drive.remove',
    version: 1,
    core: String.raw`
${PS_GET_VM}
${PS_FIND_DVD}
${PS_DVD_RESULT}
Remove-VMDvdDrive -VMDvdDrive $drive
`,
  }),
  result: dvdDriveFactsSchema.extend({ vmId: z.string() }),
});

export const dvdDriveSetMedia = defineOperation({
  id: 'dvd-drive.set-media',
  summary: 'Insert an ISO (under the storage roots) into a DVD drive, or eject with path null',
  scope: 'vm:hotplug',
  method: 'PUT',
  route: '/v1/hosts/:host/vms/:vm/dvd-drives/:drive',
  target: 'vm',
  input: dvdDriveSetMediaInput,
  routeParams: slotRouteParam('drive'),
  mutates: true,
  longRunning: false,
  defaultWaitSec: 60,
  example: { path: 'D:\\Hyper-V\\ISO\\tools.iso' },
  pathFields: [{ field: 'path', roots: 'storage' }],
  preconditions: [driveExists<DvdDriveSetMediaParams>(), vmIdleRule<DvdDriveSetMediaParams>()],
  template: defineScriptTemplate({
    opId: 'dvd-drive.set-media',
    version: 1,
    core: String.raw`
${PS_GET_VM}
${PS_FIND_DVD}
if ($null -eq $p.params.path) {
    Set-VMDvdDrive -VMDvdDrive $drive -Path $null
} else {
    Set-VMDvdDrive -VMDvdDrive $drive -Path ([string]$p.params.path)
}
$drive = Get-VMDvdDrive -VM $vm -ControllerNumber ([int]$p.params.controllerNumber) -ControllerLocation ([int]$p.params.controllerLocation)
${PS_DVD_RESULT}
`,
  }),
  result: dvdDriveFactsSchema.extend({ vmId: z.string() }),
});
