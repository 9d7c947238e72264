// Builds the fleet state from a spec: hosts, VMs, disks and files, with defaults that look like a
// freshly set-up host. GUIDs and MACs come from the seeded id source, in spec order.

import { DEFAULT_HOST_RESERVE, initialDemand, rebalanceMemory } from './hyperv-memory-ops';
import {
  Checkpoint,
  CheckpointTypeSetting,
  Clock,
  ControllerType,
  FileStore,
  GiB,
  HOST_OS,
  HostMigrationSettings,
  HostOs,
  HostProcessor,
  HyperVHost,
  MiB,
  ProcessorConfig,
  ReplicationServerSettings,
  SnapshotType,
  systemClock,
  VhdFormat,
  VhdType,
  VirtualMachine,
  VirtualSwitch,
  VmPowerState,
} from './hyperv-model';
import { FleetState, storeFor } from './hyperv-op-context';
import { extensionOf, parseWindowsPath, WindowsPath } from './hyperv-paths';
import { createIdSource, createPrng } from './hyperv-prng';

// ---- Spec ----

export type FileSpec =
  | {
      kind: 'vhd';
      path: string;
      sizeBytes: number;
      type?: VhdType;
      fileSizeBytes?: number;
      minimumSizeBytes?: number;
      dataBytes?: number;
      parentPath?: string | null;
    }
  | { kind: 'iso'; path: string; sizeBytes?: number }
  | { kind: 'directory'; path: string };

export interface HardDiskSpec {
  controllerType?: ControllerType;
  controllerNumber?: number;
  controllerLocation?: number;
  path: string;
  /** Creates the file when it is not in the spec's files; default 40 GiB. */
  sizeBytes?: number;
  type?: VhdType;
  fileSizeBytes?: number;
  minimumSizeBytes?: number;
  dataBytes?: number;
  minimumIops?: number;
  maximumIops?: number;
}

export interface VmSpec {
  id?: string;
  name: string;
  generation?: 1 | 2;
  /** Default: the host's default configuration version. */
  version?: string;
  state?: VmPowerState;
  path?: string;
  checkpointType?: CheckpointTypeSetting;
  guestBackupServiceEnabled?: boolean;
  memory?: {
    dynamicMemoryEnabled?: boolean;
    startupBytes?: number;
    minimumBytes?: number;
    maximumBytes?: number;
    bufferPercent?: number;
    priority?: number;
    demandBytes?: number;
  };
  processor?: Partial<ProcessorConfig>;
  /** Default: one adapter on the host's first switch. */
  networkAdapters?: {
    name?: string;
    switchName?: string | null;
    macAddress?: string;
    vlanId?: number | null;
    isLegacy?: boolean;
  }[];
  /** Default: 1 on Generation 2, 0 on Generation 1. */
  scsiControllerCount?: number;
  /** Default: a 40 GiB dynamic boot disk on IDE 0:0 (Gen 1) or SCSI 0:0 (Gen 2). */
  hardDisks?: HardDiskSpec[];
  /** Default: none. Controller type follows the generation (IDE on Gen 1, SCSI on Gen 2). */
  dvdDrives?: { controllerNumber?: number; controllerLocation?: number; path?: string | null }[];
  /** A linear chain, oldest first. */
  checkpoints?: {
    name: string;
    snapshotType?: SnapshotType;
    differencingBytes?: number;
    creationTime?: string;
  }[];
}

export interface HostSpec {
  name: string;
  /** Default: hv.example.test. */
  domainName?: string;
  os: HostOs;
  logicalProcessorCount?: number;
  processor?: HostProcessor;
  memoryCapacityBytes?: number;
  memoryReservedBytes?: number;
  numaSpanningEnabled?: boolean;
  virtualSwitches?: VirtualSwitch[];
  /** Default: D:\Hyper-V. */
  storageRoots?: string[];
  /** Default: E:\Exports. */
  exportRoots?: string[];
  virtualHardDiskPath?: string;
  virtualMachinePath?: string;
  migration?: Partial<HostMigrationSettings>;
  replicationServer?: Partial<ReplicationServerSettings>;
  files?: FileSpec[];
  vms?: VmSpec[];
}

export interface FleetSpec {
  /** Seed of GUIDs and MACs; default 1. */
  seed?: number;
  clock?: Clock;
  hosts: HostSpec[];
  /** Files on SMB shares (`\\server\share\…`), visible to every host. */
  sharedFiles?: FileSpec[];
}

/** A spec that cannot describe a consistent fleet. */
export class FleetSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FleetSpecError';
  }
}

// ---- Building the state ----

const DEFAULT_SWITCHES: VirtualSwitch[] = [
  { name: 'External-LAN', switchType: 'External' },
  { name: 'Internal', switchType: 'Internal' },
];

export function buildFleetState(spec: FleetSpec): FleetState {
  const prng = createPrng(spec.seed ?? 1);
  const state: FleetState = {
    hosts: new Map(),
    sharedFiles: new Map(),
    ids: createIdSource(prng),
    clock: spec.clock ?? systemClock,
    records: [],
    nextSeq: 1,
    migrationWaiters: [],
  };
  for (const file of spec.sharedFiles ?? []) addFile(state.sharedFiles, file, true);
  for (const hs of spec.hosts) {
    const key = hs.name.toLowerCase();
    if (!/^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/.test(hs.name))
      throw new FleetSpecError(`invalid host name '${hs.name}'`);
    if (state.hosts.has(key)) throw new FleetSpecError(`duplicate host name '${hs.name}'`);
    if (!Object.hasOwn(HOST_OS, hs.os)) throw new FleetSpecError(`host ${hs.name}: unknown OS '${hs.os}'`);
    state.hosts.set(key, buildHost(hs));
  }
  const seenIds = new Set<string>();
  for (const hs of spec.hosts) {
    const host = state.hosts.get(hs.name.toLowerCase())!;
    for (const file of hs.files ?? []) addFile(storeForRaw(state, host, file.path), file, false);
    for (const vs of hs.vms ?? []) {
      const vm = buildVm(state, host, vs);
      if (seenIds.has(vm.id)) throw new FleetSpecError(`duplicate VM id ${vm.id}`);
      seenIds.add(vm.id);
      host.vms.push(vm);
    }
    for (const vm of host.vms) rebalanceMemory(host, vm);
  }
  return state;
}

function buildHost(hs: HostSpec): HyperVHost {
  const storageRoots = hs.storageRoots ?? ['D:\\Hyper-V'];
  const exportRoots = hs.exportRoots ?? ['E:\\Exports'];
  for (const root of [...storageRoots, ...exportRoots]) requireSpecPath(root, `host ${hs.name} root`);
  return {
    name: hs.name,
    domainName: hs.domainName ?? 'hv.example.test',
    os: hs.os,
    logicalProcessorCount: hs.logicalProcessorCount ?? 32,
    processor: hs.processor ?? { vendor: 'GenuineIntel', family: 'Intel Xeon Gold 6230 (Cascade Lake)' },
    memoryCapacityBytes: hs.memoryCapacityBytes ?? 256 * GiB,
    memoryReservedBytes: hs.memoryReservedBytes ?? DEFAULT_HOST_RESERVE,
    numaSpanningEnabled: hs.numaSpanningEnabled ?? true,
    virtualSwitches: (hs.virtualSwitches ?? DEFAULT_SWITCHES).map((s) => ({ ...s })),
    storageRoots: storageRoots.map((r) => requireSpecPath(r, 'storage root').display),
    exportRoots: exportRoots.map((r) => requireSpecPath(r, 'export root').display),
    virtualHardDiskPath: hs.virtualHardDiskPath ?? `${storageRoots[0]}\\Virtual Hard Disks`,
    virtualMachinePath: hs.virtualMachinePath ?? storageRoots[0]!,
    migration: {
      virtualMachineMigrationEnabled: true,
      virtualMachineMigrationAuthenticationType: 'Kerberos',
      virtualMachineMigrationPerformanceOption: 'Compression',
      maximumVirtualMachineMigrations: 2,
      maximumStorageMigrations: 2,
      useAnyNetworkForMigration: false,
      kerberosDelegationTo: [],
      ...hs.migration,
    },
    replicationServer: {
      replicationEnabled: false,
      allowedAuthenticationType: 'Kerberos',
      kerberosAuthenticationPort: 80,
      certificateAuthenticationPort: 443,
      replicationAllowedFromAnyServer: true,
      defaultStorageLocation: null,
      ...hs.replicationServer,
    },
    vms: [],
    files: new Map(),
    migrationsInProgress: 0,
    peakMigrationsInProgress: 0,
  };
}

function requireSpecPath(raw: string, what: string): WindowsPath {
  const path = parseWindowsPath(raw);
  if (!path) throw new FleetSpecError(`${what}: '${raw}' is not an absolute Windows path`);
  return path;
}

function storeForRaw(state: FleetState, host: HyperVHost, raw: string): FileStore {
  return storeFor(state, host, requireSpecPath(raw, 'file'));
}

function addFile(store: FileStore, file: FileSpec, mustBeUnc: boolean): void {
  const path = requireSpecPath(file.path, 'file');
  if (mustBeUnc && !path.unc) throw new FleetSpecError(`shared file '${file.path}' is not on an SMB share`);
  if (store.has(path.key)) throw new FleetSpecError(`file '${file.path}' is declared twice`);
  if (file.kind === 'iso') {
    store.set(path.key, { kind: 'iso', path: path.display, sizeBytes: file.sizeBytes ?? 5 * GiB });
  } else if (file.kind === 'directory') {
    store.set(path.key, { kind: 'directory', path: path.display });
  } else {
    store.set(path.key, vhdFromSpec(path, file));
  }
}

function vhdFormatOf(path: WindowsPath): VhdFormat {
  const ext = extensionOf(path);
  if (ext === '.vhdx' || ext === '.avhdx') return 'VHDX';
  if (ext === '.vhd' || ext === '.avhd') return 'VHD';
  throw new FleetSpecError(`'${path.display}' is not a .vhd or .vhdx file`);
}

function vhdFromSpec(
  path: WindowsPath,
  file: {
    sizeBytes: number;
    type?: VhdType;
    fileSizeBytes?: number;
    minimumSizeBytes?: number;
    dataBytes?: number;
    parentPath?: string | null;
  },
) {
  const type = file.type ?? 'Dynamic';
  const format = vhdFormatOf(path);
  const dataBytes = file.dataBytes ?? Math.round(file.sizeBytes * 0.3);
  return {
    kind: 'vhd' as const,
    path: path.display,
    format,
    type,
    sizeBytes: file.sizeBytes,
    minimumSizeBytes:
      file.minimumSizeBytes ?? Math.min(file.sizeBytes, Math.ceil((dataBytes * 1.2) / MiB) * MiB),
    fileSizeBytes:
      file.fileSizeBytes ?? (type === 'Fixed' ? file.sizeBytes + 4 * MiB : Math.round(dataBytes * 1.25)),
    dataBytes,
    parentPath: file.parentPath ?? null,
    attachedTo: null,
  };
}

function buildVm(state: FleetState, host: HyperVHost, vs: VmSpec): VirtualMachine {
  const os = HOST_OS[host.os];
  const id = (vs.id ?? state.ids.guid()).toLowerCase();
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) {
    throw new FleetSpecError(`VM ${vs.name}: id '${vs.id}' is not a GUID`);
  }
  const generation = vs.generation ?? 2;
  const version = vs.version ?? os.defaultVmVersion;
  if (!os.supportedVmVersions.includes(version)) {
    throw new FleetSpecError(
      `VM ${vs.name}: configuration version ${version} is not supported on Windows Server ${host.os}`,
    );
  }
  const vmState = vs.state ?? 'Running';
  const folder = requireSpecPath(vs.path ?? `${host.virtualMachinePath}\\${vs.name}`, `VM ${vs.name} path`);
  const mem = vs.memory ?? {};
  const dynamic = mem.dynamicMemoryEnabled ?? false;
  const startup = mem.startupBytes ?? 4 * GiB;
  const vm: VirtualMachine = {
    id,
    name: vs.name,
    generation,
    version,
    state: vmState,
    path: folder.display,
    checkpointType: vs.checkpointType ?? 'Production',
    guestBackupServiceEnabled: vs.guestBackupServiceEnabled ?? true,
    memory: {
      dynamicMemoryEnabled: dynamic,
      startupBytes: startup,
      minimumBytes: mem.minimumBytes ?? (dynamic ? 512 * MiB : startup),
      maximumBytes: mem.maximumBytes ?? (dynamic ? 4 * startup : startup),
      bufferPercent: mem.bufferPercent ?? 20,
      priority: mem.priority ?? 50,
      assignedBytes: startup,
      demandBytes: mem.demandBytes ?? initialDemand(startup, 0.5),
    },
    processor: {
      count: 2,
      reserve: 0,
      maximum: 100,
      relativeWeight: 100,
      compatibilityForMigrationEnabled: false,
      exposeVirtualizationExtensions: false,
      ...vs.processor,
    },
    networkAdapters: [],
    scsiControllerCount: vs.scsiControllerCount ?? (generation === 2 ? 1 : 0),
    hardDisks: [],
    dvdDrives: [],
    checkpoints: [],
    currentCheckpointId: null,
    replication: null,
    busy: null,
  };
  if (generation === 2 && vm.scsiControllerCount < 1)
    throw new FleetSpecError(`VM ${vs.name}: Generation 2 needs a SCSI controller`);

  const nics = vs.networkAdapters ?? [{ switchName: host.virtualSwitches[0]?.name ?? null }];
  for (const n of nics) {
    const switchName = n.switchName ?? null;
    if (switchName !== null && !host.virtualSwitches.some((s) => s.name === switchName)) {
      throw new FleetSpecError(`VM ${vs.name}: no switch '${switchName}' on ${host.name}`);
    }
    if (n.isLegacy && generation === 2)
      throw new FleetSpecError(`VM ${vs.name}: legacy adapters exist only on Generation 1`);
    vm.networkAdapters.push({
      id: `Microsoft:${id.toUpperCase()}\\${state.ids.guid().toUpperCase()}`,
      name: n.name ?? (n.isLegacy ? 'Legacy Network Adapter' : 'Network Adapter'),
      switchName,
      macAddress: n.macAddress ?? state.ids.mac(),
      dynamicMacAddress: n.macAddress === undefined,
      vlanId: n.vlanId ?? null,
      isLegacy: n.isLegacy ?? false,
    });
  }

  const bootType: ControllerType = generation === 1 ? 'IDE' : 'SCSI';
  const disks = vs.hardDisks ?? [{ path: `${folder.display}\\${vs.name}.vhdx` }];
  for (const d of disks) {
    const controllerType = d.controllerType ?? bootType;
    const slot = {
      controllerType,
      controllerNumber: d.controllerNumber ?? 0,
      controllerLocation:
        d.controllerLocation ?? nextFreeLocation(vm, controllerType, d.controllerNumber ?? 0),
    };
    assertSpecSlot(vm, slot);
    const path = requireSpecPath(d.path, `VM ${vs.name} disk`);
    const store = storeFor(state, host, path);
    let file = store.get(path.key);
    if (!file) {
      file = vhdFromSpec(path, { ...d, sizeBytes: d.sizeBytes ?? 40 * GiB });
      store.set(path.key, file);
    }
    if (file.kind !== 'vhd')
      throw new FleetSpecError(`VM ${vs.name}: '${d.path}' is not a virtual hard disk`);
    if (file.attachedTo)
      throw new FleetSpecError(`VM ${vs.name}: '${d.path}' is already attached to ${file.attachedTo.vmId}`);
    file.attachedTo = { host: host.name, vmId: id };
    vm.hardDisks.push({
      ...slot,
      path: file.path,
      minimumIops: d.minimumIops ?? 0,
      maximumIops: d.maximumIops ?? 0,
    });
  }

  for (const dvd of vs.dvdDrives ?? []) {
    const controllerType = bootType;
    const slot = {
      controllerType,
      controllerNumber: dvd.controllerNumber ?? (generation === 1 ? 1 : 0),
      controllerLocation:
        dvd.controllerLocation ??
        nextFreeLocation(vm, controllerType, dvd.controllerNumber ?? (generation === 1 ? 1 : 0)),
    };
    assertSpecSlot(vm, slot);
    let mediaPath: string | null = null;
    if (dvd.path) {
      const path = requireSpecPath(dvd.path, `VM ${vs.name} DVD`);
      const store = storeFor(state, host, path);
      if (!store.has(path.key)) store.set(path.key, { kind: 'iso', path: path.display, sizeBytes: 5 * GiB });
      mediaPath = path.display;
    }
    vm.dvdDrives.push({ ...slot, path: mediaPath });
  }

  let parentId: string | null = null;
  for (const c of vs.checkpoints ?? []) {
    const cp: Checkpoint = {
      id: state.ids.guid(),
      name: c.name,
      snapshotType: c.snapshotType ?? 'Standard',
      parentId,
      creationTime: c.creationTime ?? '2025-01-01T00:00:00.000Z',
      differencingBytes: c.differencingBytes ?? GiB,
    };
    vm.checkpoints.push(cp);
    parentId = cp.id;
  }
  vm.currentCheckpointId = parentId;
  vm.memory.demandBytes = Math.min(
    vm.memory.demandBytes,
    dynamic ? vm.memory.maximumBytes : vm.memory.startupBytes,
  );
  return vm;
}

function nextFreeLocation(vm: VirtualMachine, type: ControllerType, number: number): number {
  const max = type === 'IDE' ? 2 : 64;
  for (let l = 0; l < max; l++) {
    const taken = [...vm.hardDisks, ...vm.dvdDrives].some(
      (d) => d.controllerType === type && d.controllerNumber === number && d.controllerLocation === l,
    );
    if (!taken) return l;
  }
  throw new FleetSpecError(`VM ${vm.name}: ${type} controller ${number} is full`);
}

function assertSpecSlot(
  vm: VirtualMachine,
  slot: { controllerType: ControllerType; controllerNumber: number; controllerLocation: number },
): void {
  const { controllerType, controllerNumber, controllerLocation } = slot;
  const valid =
    controllerType === 'IDE'
      ? vm.generation === 1 && controllerNumber <= 1 && controllerLocation <= 1
      : controllerNumber < vm.scsiControllerCount && controllerLocation <= 63;
  if (!valid || controllerNumber < 0 || controllerLocation < 0) {
    throw new FleetSpecError(
      `VM ${vm.name}: no ${controllerType} slot ${controllerNumber}:${controllerLocation}`,
    );
  }
  const taken = [...vm.hardDisks, ...vm.dvdDrives].some(
    (d) =>
      d.controllerType === controllerType &&
      d.controllerNumber === controllerNumber &&
      d.controllerLocation === controllerLocation,
  );
  if (taken)
    throw new FleetSpecError(
      `VM ${vm.name}: ${controllerType} ${controllerNumber}:${controllerLocation} is used twice`,
    );
}
