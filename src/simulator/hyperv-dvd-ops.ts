// DVD drives: IDE on Generation 1 (add/remove needs the VM off), SCSI on Generation 2 (follows
// the SCSI hot-plug rules); changing media is routine while running (reference §5).

import { CmdletName, deviceError, WMI, wmiError } from './hyperv-errors';
import { assertControllerSlot, deviceAtSlot, slotName, slotTaken } from './hyperv-disk-ops';
import { LATENCY } from './hyperv-latency';
import type { ControllerType, DvdDrive, IsoFile, VirtualMachine } from './hyperv-model';
import {
  assertUnderRoots,
  assertVmIdle,
  OpContext,
  requirePath,
  requireVm,
  storeFor,
  vmRef,
} from './hyperv-op-context';
import type {
  DvdDriveAddParams,
  DvdDriveLocationParams,
  DvdDriveRemoveParams,
  DvdDriveSetMediaParams,
} from './hyperv-params';
import { dvdDriveFacts, DvdDriveFacts } from './hyperv-views';

const DVD_DEVICE = 'Synthetic DVD Drive';

const dvdControllerType = (vm: VirtualMachine): ControllerType => (vm.generation === 1 ? 'IDE' : 'SCSI');

function assertDriveChangeAllowed(cmdlet: CmdletName, vm: VirtualMachine, verb: 'add' | 'remove'): void {
  if (vm.state === 'Saved' || vm.state === 'Paused') {
    throw deviceError(
      cmdlet,
      WMI.invalidState,
      verb,
      DVD_DEVICE,
      vmRef(vm),
      `DVD drives cannot be ${verb === 'add' ? 'added' : 'removed'} while the virtual machine is ${vm.state}.`,
    );
  }
  if (dvdControllerType(vm) === 'IDE' && vm.state !== 'Off') {
    throw deviceError(
      cmdlet,
      WMI.invalidState,
      verb,
      DVD_DEVICE,
      vmRef(vm),
      `'${vm.name}' is a Generation 1 virtual machine: its DVD drives are on IDE controllers, which can be changed only while the virtual machine is off.`,
    );
  }
}

function requireIso(
  ctx: OpContext,
  cmdlet: CmdletName,
  vm: VirtualMachine,
  verb: 'add' | 'modify',
  raw: string,
): IsoFile {
  const path = requirePath(cmdlet, raw);
  assertUnderRoots(cmdlet, path, ctx.host.storageRoots, `Failed to ${verb} device '${DVD_DEVICE}'.`);
  const entry = storeFor(ctx.fleet, ctx.host, path).get(path.key);
  if (!entry) {
    throw deviceError(
      cmdlet,
      WMI.fileNotFound,
      verb,
      DVD_DEVICE,
      vmRef(vm),
      `Failed to open '${path.display}': The system cannot find the file specified. (0x80070002)`,
    );
  }
  if (entry.kind !== 'iso') {
    throw deviceError(
      cmdlet,
      WMI.invalidParameter,
      verb,
      DVD_DEVICE,
      vmRef(vm),
      `'${path.display}' is not an ISO image.`,
    );
  }
  return entry;
}

function requireDrive(cmdlet: CmdletName, vm: VirtualMachine, p: DvdDriveLocationParams): DvdDrive {
  const slot = {
    controllerType: dvdControllerType(vm),
    controllerNumber: p.controllerNumber,
    controllerLocation: p.controllerLocation,
  };
  const drive = deviceAtSlot(vm.dvdDrives, slot);
  if (!drive) {
    throw wmiError(
      cmdlet,
      WMI.fileNotFound,
      `Hyper-V was unable to find a DVD drive at ${slotName(slot)} of virtual machine '${vm.name}'.`,
    );
  }
  return drive;
}

/** The common start of an operation on an attached drive: device latency, then the VM and the drive. */
async function existingDrive(
  ctx: OpContext,
  cmdlet: CmdletName,
  verb: 'remove' | 'modify',
  p: DvdDriveLocationParams & { vmId: string },
): Promise<{ vm: VirtualMachine; drive: DvdDrive }> {
  await ctx.run.sleep(LATENCY.dvdMs);
  const vm = requireVm(ctx.host, p.vmId);
  assertVmIdle(vm, cmdlet, `Failed to ${verb} device '${DVD_DEVICE}'.`);
  return { vm, drive: requireDrive(cmdlet, vm, p) };
}

export async function addDvdDrive(
  ctx: OpContext,
  p: DvdDriveAddParams,
): Promise<DvdDriveFacts & { vmId: string }> {
  await ctx.run.sleep(LATENCY.dvdMs);
  const cmdlet: CmdletName = 'AddVMDvdDrive';
  const vm = requireVm(ctx.host, p.vmId);
  assertVmIdle(vm, cmdlet, `Failed to add device '${DVD_DEVICE}'.`);
  const controllerType = dvdControllerType(vm);
  const controllerNumber = p.controllerNumber ?? 0;
  const locations = controllerType === 'IDE' ? 2 : 64;
  assertControllerSlot(
    cmdlet,
    vm,
    { controllerType, controllerNumber, controllerLocation: p.controllerLocation ?? 0 },
    'add',
    DVD_DEVICE,
  );
  assertDriveChangeAllowed(cmdlet, vm, 'add');
  let controllerLocation = p.controllerLocation;
  if (controllerLocation === undefined) {
    for (let l = 0; l < locations; l++) {
      if (!slotTaken(vm, { controllerType, controllerNumber, controllerLocation: l })) {
        controllerLocation = l;
        break;
      }
    }
    if (controllerLocation === undefined) {
      throw deviceError(
        cmdlet,
        WMI.invalidParameter,
        'add',
        DVD_DEVICE,
        vmRef(vm),
        `${controllerType} controller ${controllerNumber} has no free location.`,
      );
    }
  } else if (slotTaken(vm, { controllerType, controllerNumber, controllerLocation })) {
    throw deviceError(
      cmdlet,
      WMI.invalidParameter,
      'add',
      DVD_DEVICE,
      vmRef(vm),
      `A device is already attached at ${slotName({ controllerType, controllerNumber, controllerLocation })}.`,
    );
  }
  const iso = p.path === undefined || p.path === null ? null : requireIso(ctx, cmdlet, vm, 'add', p.path);
  const drive: DvdDrive = { controllerType, controllerNumber, controllerLocation, path: iso?.path ?? null };
  vm.dvdDrives.push(drive);
  return { vmId: vm.id, ...dvdDriveFacts(drive) };
}

export async function removeDvdDrive(
  ctx: OpContext,
  p: DvdDriveRemoveParams,
): Promise<DvdDriveFacts & { vmId: string }> {
  const cmdlet: CmdletName = 'RemoveVMDvdDrive';
  const { vm, drive } = await existingDrive(ctx, cmdlet, 'remove', p);
  // Removing an IDE-attached DVD needs the VM off (WAC feedback #193, reference §5).
  assertDriveChangeAllowed(cmdlet, vm, 'remove');
  vm.dvdDrives.splice(vm.dvdDrives.indexOf(drive), 1);
  return { vmId: vm.id, ...dvdDriveFacts(drive) };
}

export async function setDvdMedia(
  ctx: OpContext,
  p: DvdDriveSetMediaParams,
): Promise<DvdDriveFacts & { vmId: string }> {
  const cmdlet: CmdletName = 'SetVMDvdDrive';
  const { vm, drive } = await existingDrive(ctx, cmdlet, 'modify', p);
  const iso = p.path === null ? null : requireIso(ctx, cmdlet, vm, 'modify', p.path);
  drive.path = iso?.path ?? null;
  return { vmId: vm.id, ...dvdDriveFacts(drive) };
}
