// Hard disks: SCSI hot plug (reference §4) and per-disk Storage QoS (§6).

import { alreadyExists, CmdletName, deviceError, objectInUse, WMI, wmiError } from './hyperv-errors';
import { LATENCY, transferMs } from './hyperv-latency';
import {
  ControllerType,
  GiB,
  HardDiskAttachment,
  HyperVHost,
  MiB,
  TiB,
  VhdFile,
  VirtualMachine,
} from './hyperv-model';
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
  DiskLocationParams,
  HardDiskAddParams,
  HardDiskRemoveParams,
  HardDiskSetQosParams,
} from './hyperv-params';
import { extensionOf, WindowsPath } from './hyperv-paths';
import { HardDiskFacts, hardDiskFacts } from './hyperv-views';

const DISK_DEVICE = 'Synthetic Disk Drive';
/** Metadata a VHDX file carries beyond its data blocks. */
export const VHDX_OVERHEAD = 4 * MiB;
export const MAX_VHD_BYTES = 2040 * GiB;
export const MAX_VHDX_BYTES = 64 * TiB;
const MIN_VHDX_BYTES = 3 * MiB;
export const SECTOR = 512;

type SlotKind = { controllerType: ControllerType; controllerNumber: number; controllerLocation: number };

/** Checks the controller exists and the location is addressable on it. */
export function assertControllerSlot(
  cmdlet: CmdletName,
  vm: VirtualMachine,
  slot: SlotKind,
  verb: 'add' | 'remove' | 'modify',
  device: string,
): void {
  const { controllerType, controllerNumber, controllerLocation } = slot;
  if (controllerType === 'IDE') {
    if (vm.generation === 2) {
      throw wmiError(
        cmdlet,
        WMI.fileNotFound,
        `'${vm.name}' is a Generation 2 virtual machine and has no IDE controller; use a SCSI controller.`,
      );
    }
    if (controllerNumber > 1 || controllerLocation > 1) {
      throw deviceError(
        cmdlet,
        WMI.invalidParameter,
        verb,
        device,
        vmRef(vm),
        `IDE controller ${controllerNumber} location ${controllerLocation} does not exist: a Generation 1 virtual machine has IDE controllers 0 and 1 with locations 0 and 1.`,
      );
    }
    return;
  }
  if (controllerNumber >= vm.scsiControllerCount) {
    throw wmiError(
      cmdlet,
      WMI.fileNotFound,
      `'${vm.name}' has no SCSI controller number ${controllerNumber} (it has ${vm.scsiControllerCount}). Adding a SCSI controller requires the virtual machine to be off.`,
    );
  }
}

const sameSlot = (a: SlotKind, b: SlotKind): boolean =>
  a.controllerType === b.controllerType &&
  a.controllerNumber === b.controllerNumber &&
  a.controllerLocation === b.controllerLocation;

/** The device (disk or DVD drive) attached at exactly that controller slot. */
export function deviceAtSlot<D extends SlotKind>(devices: readonly D[], slot: SlotKind): D | undefined {
  return devices.find((d) => sameSlot(d, slot));
}

export function slotTaken(vm: VirtualMachine, slot: SlotKind): boolean {
  return deviceAtSlot(vm.hardDisks, slot) !== undefined || deviceAtSlot(vm.dvdDrives, slot) !== undefined;
}

export const slotName = (s: SlotKind): string =>
  `${s.controllerType} controller ${s.controllerNumber} location ${s.controllerLocation}`;

function assertQos(
  vm: VirtualMachine,
  cmdlet: CmdletName,
  verb: 'add' | 'modify',
  min: number,
  max: number,
): void {
  // Maximum is a hard cap, 0 means unlimited; a reservation above the cap is refused (reference §6).
  if (max !== 0 && max < min) {
    throw deviceError(
      cmdlet,
      WMI.invalidParameter,
      verb,
      'Virtual Hard Disk',
      vmRef(vm),
      `The minimum IOPS (${min}) must be less than or equal to the maximum IOPS (${max}); 0 means no limit.`,
    );
  }
}

export function requireAttachment(
  cmdlet: CmdletName,
  vm: VirtualMachine,
  p: DiskLocationParams,
): HardDiskAttachment {
  const slot = {
    controllerType: p.controllerType ?? 'SCSI',
    controllerNumber: p.controllerNumber,
    controllerLocation: p.controllerLocation,
  };
  const disk = deviceAtSlot(vm.hardDisks, slot);
  if (!disk) {
    throw wmiError(
      cmdlet,
      WMI.fileNotFound,
      `Hyper-V was unable to find a hard disk drive at ${slotName(slot)} of virtual machine '${vm.name}'.`,
    );
  }
  return disk;
}

export function vhdFileFor(ctx: OpContext, cmdlet: CmdletName, path: WindowsPath): VhdFile {
  const entry = storeFor(ctx.fleet, ctx.host, path).get(path.key);
  if (!entry) {
    throw wmiError(
      cmdlet,
      WMI.fileNotFound,
      `Failed to open '${path.display}'.\nThe system cannot find the file specified. (0x80070002)`,
    );
  }
  if (entry.kind !== 'vhd') {
    throw wmiError(cmdlet, WMI.invalidParameter, `'${path.display}' is not a virtual hard disk file.`);
  }
  return entry;
}

function assertVhdExtension(cmdlet: CmdletName, path: WindowsPath): 'VHD' | 'VHDX' {
  const ext = extensionOf(path);
  if (ext === '.vhdx') return 'VHDX';
  if (ext === '.vhd') return 'VHD';
  throw wmiError(
    cmdlet,
    WMI.invalidParameter,
    `The file extension '${ext || '(none)'}' of '${path.display}' is not supported. A virtual hard disk file ends in .vhd or .vhdx.`,
  );
}

function assertNewDiskSize(format: 'VHD' | 'VHDX', sizeBytes: number, cmdlet: CmdletName): void {
  const max = format === 'VHD' ? MAX_VHD_BYTES : MAX_VHDX_BYTES;
  const min = format === 'VHDX' ? MIN_VHDX_BYTES : MiB;
  if (sizeBytes % SECTOR !== 0 || sizeBytes < min || sizeBytes > max) {
    throw wmiError(
      cmdlet,
      WMI.invalidParameter,
      `The size ${sizeBytes} bytes is not valid for a ${format} file: it must be a multiple of ${SECTOR} bytes between ${min} and ${max} bytes.`,
    );
  }
}

function assertDiskChangeAllowed(
  cmdlet: CmdletName,
  vm: VirtualMachine,
  verb: 'add' | 'remove',
  controllerType: ControllerType,
): void {
  if (vm.state === 'Saved' || vm.state === 'Paused') {
    throw deviceError(
      cmdlet,
      WMI.invalidState,
      verb,
      DISK_DEVICE,
      vmRef(vm),
      `Disks cannot be ${verb === 'add' ? 'added' : 'removed'} while the virtual machine is ${vm.state}.`,
    );
  }
  // Hot plug works only on SCSI; IDE storage needs the VM off (reference §4, BPA SCSI hot-plug doc).
  if (controllerType === 'IDE' && vm.state !== 'Off') {
    throw deviceError(
      cmdlet,
      WMI.invalidState,
      verb,
      DISK_DEVICE,
      vmRef(vm),
      verb === 'add'
        ? `A disk can be added to an IDE controller only while the virtual machine is off; hot add works only on a SCSI controller.`
        : `A disk on an IDE controller can be removed only while the virtual machine is off; hot remove works only on a SCSI controller.`,
    );
  }
}

interface AddPlan {
  vm: VirtualMachine;
  path: WindowsPath;
  format: 'VHD' | 'VHDX';
  existing: VhdFile | null;
}

function planAddDisk(ctx: OpContext, p: HardDiskAddParams): AddPlan {
  const vm = requireVm(ctx.host, p.vmId);
  const cmdlet: CmdletName = 'AddVMHardDiskDrive';
  assertVmIdle(vm, cmdlet, `Failed to add device '${DISK_DEVICE}'.`);
  const slot = {
    controllerType: p.controllerType ?? 'SCSI',
    controllerNumber: p.controllerNumber,
    controllerLocation: p.controllerLocation,
  };
  assertControllerSlot(cmdlet, vm, slot, 'add', DISK_DEVICE);
  assertDiskChangeAllowed(cmdlet, vm, 'add', slot.controllerType);
  if (slotTaken(vm, slot)) {
    throw deviceError(
      cmdlet,
      WMI.invalidParameter,
      'add',
      DISK_DEVICE,
      vmRef(vm),
      `A device is already attached at ${slotName(slot)}.`,
    );
  }
  const creating = p.sizeBytes !== undefined;
  const fileCmdlet: CmdletName = creating ? 'NewVHD' : cmdlet;
  const path = requirePath(fileCmdlet, p.path);
  const format = assertVhdExtension(fileCmdlet, path);
  assertUnderRoots(
    fileCmdlet,
    path,
    ctx.host.storageRoots,
    creating ? 'Failed to create the virtual hard disk.' : `Failed to add device 'Virtual Hard Disk'.`,
  );
  assertQos(vm, cmdlet, 'add', p.minimumIops ?? 0, p.maximumIops ?? 0);
  const store = storeFor(ctx.fleet, ctx.host, path);
  if (creating) {
    assertNewDiskSize(format, p.sizeBytes!, 'NewVHD');
    if (store.has(path.key)) {
      throw alreadyExists(
        'NewVHD',
        `Failed to create the virtual hard disk.\nThe system failed to create '${path.display}': The file exists. (0x80070050)`,
      );
    }
    return { vm, path, format, existing: null };
  }
  const existing = vhdFileFor(ctx, cmdlet, path);
  // A disk in use elsewhere (another VM, mounted, being copied) gives ObjectInUse (§4; TFHV #121/#188).
  if (existing.attachedTo) {
    throw objectInUse(
      cmdlet,
      `Failed to add device 'Virtual Hard Disk'.`,
      `'${path.display}' is attached to virtual machine ${existing.attachedTo.vmId.toUpperCase()} on ${existing.attachedTo.host}.`,
    );
  }
  return { vm, path, format, existing };
}

export async function addHardDisk(
  ctx: OpContext,
  p: HardDiskAddParams,
): Promise<HardDiskFacts & { vmId: string; created: boolean }> {
  // Validate before spending the time a fixed disk's zero-fill takes, then again atomically after it.
  planAddDisk(ctx, p);
  const createMs =
    p.sizeBytes === undefined
      ? 0
      : p.fixed
        ? transferMs(p.sizeBytes, LATENCY.zeroFillBytesPerSec)
        : LATENCY.newDynamicVhdMs;
  await ctx.run.sleep(createMs + LATENCY.attachDiskMs);
  const plan = planAddDisk(ctx, p);
  const { vm, path } = plan;
  let file = plan.existing;
  if (!file) {
    const size = p.sizeBytes!;
    file = {
      kind: 'vhd',
      path: path.display,
      format: plan.format,
      type: p.fixed ? 'Fixed' : 'Dynamic',
      sizeBytes: size,
      minimumSizeBytes: plan.format === 'VHDX' ? MIN_VHDX_BYTES : size,
      fileSizeBytes: p.fixed ? size + (plan.format === 'VHDX' ? VHDX_OVERHEAD : SECTOR) : VHDX_OVERHEAD,
      dataBytes: 0,
      parentPath: null,
      attachedTo: null,
    };
    storeFor(ctx.fleet, ctx.host, path).set(path.key, file);
  }
  file.attachedTo = { host: ctx.host.name, vmId: vm.id };
  const disk: HardDiskAttachment = {
    controllerType: p.controllerType ?? 'SCSI',
    controllerNumber: p.controllerNumber,
    controllerLocation: p.controllerLocation,
    path: file.path,
    minimumIops: p.minimumIops ?? 0,
    maximumIops: p.maximumIops ?? 0,
  };
  vm.hardDisks.push(disk);
  return { vmId: vm.id, created: plan.existing === null, ...hardDiskFacts(ctx.fleet, ctx.host, disk) };
}

export async function removeHardDisk(
  ctx: OpContext,
  p: HardDiskRemoveParams,
): Promise<HardDiskFacts & { vmId: string }> {
  await ctx.run.sleep(LATENCY.detachDiskMs);
  const cmdlet: CmdletName = 'RemoveVMHardDiskDrive';
  const vm = requireVm(ctx.host, p.vmId);
  assertVmIdle(vm, cmdlet, `Failed to remove device '${DISK_DEVICE}'.`);
  const disk = requireAttachment(cmdlet, vm, p);
  assertDiskChangeAllowed(cmdlet, vm, 'remove', disk.controllerType);
  const facts = hardDiskFacts(ctx.fleet, ctx.host, disk);
  vm.hardDisks.splice(vm.hardDisks.indexOf(disk), 1);
  const file = findAttachedFile(ctx, disk.path);
  if (file) file.attachedTo = null;
  return { vmId: vm.id, ...facts, attached: false };
}

function findAttachedFile(ctx: OpContext, rawPath: string): VhdFile | undefined {
  const path = requirePath('GetVMHardDiskDrive', rawPath);
  const entry = storeFor(ctx.fleet, ctx.host, path).get(path.key);
  return entry?.kind === 'vhd' ? entry : undefined;
}

export async function setHardDiskQos(
  ctx: OpContext,
  p: HardDiskSetQosParams,
): Promise<HardDiskFacts & { vmId: string }> {
  await ctx.run.sleep(LATENCY.setQosMs);
  const cmdlet: CmdletName = 'SetVMHardDiskDrive';
  const vm = requireVm(ctx.host, p.vmId);
  assertVmIdle(vm, cmdlet, `Failed to modify device 'Virtual Hard Disk'.`);
  const disk = requireAttachment(cmdlet, vm, p);
  const min = p.minimumIops ?? disk.minimumIops;
  const max = p.maximumIops ?? disk.maximumIops;
  // QoS can change while the VM runs (TechNet Storage QoS tip, reference §6).
  assertQos(vm, cmdlet, 'modify', min, max);
  disk.minimumIops = min;
  disk.maximumIops = max;
  return { vmId: vm.id, ...hardDiskFacts(ctx.fleet, ctx.host, disk) };
}

/** All VHD files a host can see that belong to a VM (for export and migration sizes). */
export function vmDiskFiles(
  ctx: { fleet: OpContext['fleet']; host: HyperVHost },
  vm: VirtualMachine,
): VhdFile[] {
  const files: VhdFile[] = [];
  for (const disk of vm.hardDisks) {
    const path = requirePath('GetVMHardDiskDrive', disk.path);
    const entry = storeFor(ctx.fleet, ctx.host, path).get(path.key);
    if (entry?.kind === 'vhd') files.push(entry);
  }
  return files;
}
