// Result JSON as a real hvgate script builds it from explicit hashtables (reference §0.5):
// enums as strings, sizes in bytes, GUIDs as lower-case strings, times as ISO strings.
// `vm.get`/`vm.list` carry every fact the gateway checks preconditions against.

import type {
  Checkpoint,
  ControllerType,
  DvdDrive,
  HardDiskAttachment,
  HyperVHost,
  NetworkAdapter,
  VhdFile,
  VirtualMachine,
} from './hyperv-model';
import { HOST_OS, hostFqdn } from './hyperv-model';
import { FleetState, hostAvailableMemory, storeFor } from './hyperv-op-context';
import { parseWindowsPath } from './hyperv-paths';

export interface MemoryFacts {
  dynamicMemoryEnabled: boolean;
  startupBytes: number;
  minimumBytes: number;
  maximumBytes: number;
  bufferPercent: number;
  priority: number;
  assignedBytes: number;
  demandBytes: number;
  /** Get-VM MemoryStatus: "" without dynamic memory or when not running, else OK/Low/Warning. */
  memoryStatus: string;
}

export interface ProcessorFacts {
  count: number;
  reserve: number;
  maximum: number;
  relativeWeight: number;
  compatibilityForMigrationEnabled: boolean;
  exposeVirtualizationExtensions: boolean;
}

export interface NetworkAdapterFacts {
  id: string;
  name: string;
  switchName: string | null;
  macAddress: string;
  dynamicMacAddress: boolean;
  vlanId: number | null;
  isLegacy: boolean;
  status: string;
  ipAddresses: string[];
}

export interface VhdFacts {
  path: string;
  vhdFormat: string;
  vhdType: string;
  sizeBytes: number;
  fileSizeBytes: number;
  minimumSizeBytes: number;
  parentPath: string | null;
  attached: boolean;
}

export interface HardDiskFacts extends VhdFacts {
  controllerType: ControllerType;
  controllerNumber: number;
  controllerLocation: number;
  minimumIops: number;
  maximumIops: number;
}

export interface DvdDriveFacts {
  controllerType: ControllerType;
  controllerNumber: number;
  controllerLocation: number;
  path: string | null;
  dvdMediaType: 'None' | 'ISO';
}

export interface CheckpointFacts {
  id: string;
  name: string;
  vmName: string;
  snapshotType: string;
  parentCheckpointId: string | null;
  parentCheckpointName: string | null;
  creationTime: string;
}

export interface ReplicationFacts {
  replicationState: string;
  replicationMode: string;
  replicationHealth: string;
  primaryServer: string | null;
  replicaServer: string | null;
  replicaServerPort: number | null;
  authenticationType: string | null;
  replicationFrequencySec: number | null;
  recoveryHistory: number | null;
  compressionEnabled: boolean | null;
  lastReplicationTime: string | null;
}

export interface VmFacts {
  id: string;
  name: string;
  hostName: string;
  generation: number;
  version: string;
  state: string;
  status: string;
  path: string;
  checkpointType: string;
  guestBackupServiceEnabled: boolean;
  memory: MemoryFacts;
  processor: ProcessorFacts;
  networkAdapters: NetworkAdapterFacts[];
  /** Controllers present: IDE 0 and 1 on Generation 1, SCSI 0..n-1. */
  controllers: { controllerType: ControllerType; controllerNumber: number }[];
  hardDisks: HardDiskFacts[];
  dvdDrives: DvdDriveFacts[];
  checkpoints: CheckpointFacts[];
  currentCheckpointId: string | null;
  replication: ReplicationFacts;
  /** The long operation holding the VM (export, migration, …), or null. */
  operationInProgress: string | null;
}

export interface HostFacts {
  name: string;
  fullyQualifiedDomainName: string;
  osName: string;
  osVersion: string;
  osBuild: string;
  supportedVmVersions: string[];
  defaultVmVersion: string;
  logicalProcessorCount: number;
  processorVendor: string;
  processorFamily: string;
  memoryCapacityBytes: number;
  memoryAvailableBytes: number;
  numaSpanningEnabled: boolean;
  virtualSwitches: { name: string; switchType: string }[];
  storageRoots: string[];
  exportRoots: string[];
  virtualHardDiskPath: string;
  virtualMachinePath: string;
  virtualMachineMigrationEnabled: boolean;
  virtualMachineMigrationAuthenticationType: string;
  virtualMachineMigrationPerformanceOption: string;
  maximumVirtualMachineMigrations: number;
  maximumStorageMigrations: number;
  useAnyNetworkForMigration: boolean;
  kerberosDelegationTo: string[];
  migrationsInProgress: number;
  replicationServer: {
    replicationEnabled: boolean;
    allowedAuthenticationType: string;
    kerberosAuthenticationPort: number;
    certificateAuthenticationPort: number;
    replicationAllowedFromAnyServer: boolean;
    defaultStorageLocation: string | null;
  };
  vmCount: number;
}

export function hostFacts(host: HyperVHost): HostFacts {
  const os = HOST_OS[host.os];
  const m = host.migration;
  const r = host.replicationServer;
  return {
    name: host.name,
    fullyQualifiedDomainName: hostFqdn(host),
    osName: os.osName,
    osVersion: host.os,
    osBuild: os.osBuild,
    supportedVmVersions: [...os.supportedVmVersions],
    defaultVmVersion: os.defaultVmVersion,
    logicalProcessorCount: host.logicalProcessorCount,
    processorVendor: host.processor.vendor,
    processorFamily: host.processor.family,
    memoryCapacityBytes: host.memoryCapacityBytes,
    memoryAvailableBytes: hostAvailableMemory(host),
    numaSpanningEnabled: host.numaSpanningEnabled,
    virtualSwitches: host.virtualSwitches.map((s) => ({ name: s.name, switchType: s.switchType })),
    storageRoots: [...host.storageRoots],
    exportRoots: [...host.exportRoots],
    virtualHardDiskPath: host.virtualHardDiskPath,
    virtualMachinePath: host.virtualMachinePath,
    virtualMachineMigrationEnabled: m.virtualMachineMigrationEnabled,
    virtualMachineMigrationAuthenticationType: m.virtualMachineMigrationAuthenticationType,
    virtualMachineMigrationPerformanceOption: m.virtualMachineMigrationPerformanceOption,
    maximumVirtualMachineMigrations: m.maximumVirtualMachineMigrations,
    maximumStorageMigrations: m.maximumStorageMigrations,
    useAnyNetworkForMigration: m.useAnyNetworkForMigration,
    kerberosDelegationTo: [...m.kerberosDelegationTo],
    migrationsInProgress: host.migrationsInProgress,
    replicationServer: {
      replicationEnabled: r.replicationEnabled,
      allowedAuthenticationType: r.allowedAuthenticationType,
      kerberosAuthenticationPort: r.kerberosAuthenticationPort,
      certificateAuthenticationPort: r.certificateAuthenticationPort,
      replicationAllowedFromAnyServer: r.replicationAllowedFromAnyServer,
      defaultStorageLocation: r.defaultStorageLocation,
    },
    vmCount: host.vms.length,
  };
}

export function memoryFacts(vm: VirtualMachine): MemoryFacts {
  const m = vm.memory;
  const live = vm.state === 'Running' || vm.state === 'Paused';
  return {
    dynamicMemoryEnabled: m.dynamicMemoryEnabled,
    startupBytes: m.startupBytes,
    minimumBytes: m.minimumBytes,
    maximumBytes: m.maximumBytes,
    bufferPercent: m.bufferPercent,
    priority: m.priority,
    assignedBytes: live ? m.assignedBytes : 0,
    demandBytes: live ? m.demandBytes : 0,
    memoryStatus: memoryStatus(vm),
  };
}

function memoryStatus(vm: VirtualMachine): string {
  const m = vm.memory;
  if (!m.dynamicMemoryEnabled || vm.state !== 'Running') return '';
  const wanted = m.demandBytes * (1 + m.bufferPercent / 100);
  if (m.assignedBytes >= Math.min(wanted, m.maximumBytes) * 0.99) return 'OK';
  return m.assignedBytes >= m.demandBytes ? 'Low' : 'Warning';
}

export function processorFacts(vm: VirtualMachine): ProcessorFacts {
  return { ...vm.processor };
}

export function networkAdapterFacts(vm: VirtualMachine, nic: NetworkAdapter): NetworkAdapterFacts {
  const connected = nic.switchName !== null && vm.state === 'Running';
  return {
    id: nic.id,
    name: nic.name,
    switchName: nic.switchName,
    macAddress: nic.macAddress,
    dynamicMacAddress: nic.dynamicMacAddress,
    vlanId: nic.vlanId,
    isLegacy: nic.isLegacy,
    status: connected ? 'Ok' : '',
    // Addresses come from the KVP integration service; the simulator has no guest network.
    ipAddresses: [],
  };
}

export function findVhd(fleet: FleetState, host: HyperVHost, rawPath: string): VhdFile | undefined {
  const path = parseWindowsPath(rawPath);
  if (!path) return undefined;
  const entry = storeFor(fleet, host, path).get(path.key);
  return entry?.kind === 'vhd' ? entry : undefined;
}

export function vhdFacts(file: VhdFile): VhdFacts {
  return {
    path: file.path,
    vhdFormat: file.format,
    vhdType: file.type,
    sizeBytes: file.sizeBytes,
    fileSizeBytes: file.fileSizeBytes,
    minimumSizeBytes: file.minimumSizeBytes,
    parentPath: file.parentPath,
    attached: file.attachedTo !== null,
  };
}

export function hardDiskFacts(fleet: FleetState, host: HyperVHost, disk: HardDiskAttachment): HardDiskFacts {
  const file = findVhd(fleet, host, disk.path);
  const vhd: VhdFacts = file
    ? vhdFacts(file)
    : {
        path: disk.path,
        vhdFormat: 'Unknown',
        vhdType: 'Unknown',
        sizeBytes: 0,
        fileSizeBytes: 0,
        minimumSizeBytes: 0,
        parentPath: null,
        attached: true,
      };
  return {
    controllerType: disk.controllerType,
    controllerNumber: disk.controllerNumber,
    controllerLocation: disk.controllerLocation,
    minimumIops: disk.minimumIops,
    maximumIops: disk.maximumIops,
    ...vhd,
  };
}

export function dvdDriveFacts(dvd: DvdDrive): DvdDriveFacts {
  return {
    controllerType: dvd.controllerType,
    controllerNumber: dvd.controllerNumber,
    controllerLocation: dvd.controllerLocation,
    path: dvd.path,
    dvdMediaType: dvd.path === null ? 'None' : 'ISO',
  };
}

export function checkpointFacts(vm: VirtualMachine, cp: Checkpoint): CheckpointFacts {
  const parent = cp.parentId === null ? undefined : vm.checkpoints.find((c) => c.id === cp.parentId);
  return {
    id: cp.id,
    name: cp.name,
    vmName: vm.name,
    snapshotType: cp.snapshotType,
    parentCheckpointId: parent?.id ?? null,
    parentCheckpointName: parent?.name ?? null,
    creationTime: cp.creationTime,
  };
}

/** Initial replication finishes after its simulated duration; state is derived from the clock. */
export function replicationFacts(fleet: FleetState, vm: VirtualMachine): ReplicationFacts {
  const r = vm.replication;
  if (!r) {
    return {
      replicationState: 'Disabled',
      replicationMode: 'None',
      replicationHealth: 'NotApplicable',
      primaryServer: null,
      replicaServer: null,
      replicaServerPort: null,
      authenticationType: null,
      replicationFrequencySec: null,
      recoveryHistory: null,
      compressionEnabled: null,
      lastReplicationTime: null,
    };
  }
  const now = fleet.clock.now();
  let state = r.state;
  let lastReplicationTime: string | null = null;
  if (r.initialReplicationStartedAt !== null) {
    const done = r.initialReplicationStartedAt + r.initialReplicationDurationMs;
    if (now >= done) {
      state = 'Replicating';
      // Replication then runs every frequency interval; report the latest completed cycle.
      const cycles = Math.floor((now - done) / (r.replicationFrequencySec * 1000));
      lastReplicationTime = new Date(done + cycles * r.replicationFrequencySec * 1000).toISOString();
    }
  }
  return {
    replicationState: state,
    replicationMode: r.mode,
    replicationHealth: state === 'ReadyForInitialReplication' ? 'Warning' : 'Normal',
    primaryServer: r.primaryServer,
    replicaServer: r.replicaServer,
    replicaServerPort: r.replicaServerPort,
    authenticationType: r.authenticationType,
    replicationFrequencySec: r.replicationFrequencySec,
    recoveryHistory: r.recoveryHistory,
    compressionEnabled: r.compressionEnabled,
    lastReplicationTime,
  };
}

export function vmStatus(vm: VirtualMachine): string {
  if (vm.busy) return `${vm.busy.status} (${vm.busy.percent}%)`;
  return 'Operating normally';
}

export function vmFacts(fleet: FleetState, host: HyperVHost, vm: VirtualMachine): VmFacts {
  const controllers: VmFacts['controllers'] = [];
  if (vm.generation === 1) {
    controllers.push(
      { controllerType: 'IDE', controllerNumber: 0 },
      { controllerType: 'IDE', controllerNumber: 1 },
    );
  }
  for (let n = 0; n < vm.scsiControllerCount; n++)
    controllers.push({ controllerType: 'SCSI', controllerNumber: n });
  return {
    id: vm.id,
    name: vm.name,
    hostName: host.name,
    generation: vm.generation,
    version: vm.version,
    state: vm.state,
    status: vmStatus(vm),
    path: vm.path,
    checkpointType: vm.checkpointType,
    guestBackupServiceEnabled: vm.guestBackupServiceEnabled,
    memory: memoryFacts(vm),
    processor: processorFacts(vm),
    networkAdapters: vm.networkAdapters.map((n) => networkAdapterFacts(vm, n)),
    controllers,
    hardDisks: vm.hardDisks.map((d) => hardDiskFacts(fleet, host, d)),
    dvdDrives: vm.dvdDrives.map(dvdDriveFacts),
    checkpoints: vm.checkpoints.map((c) => checkpointFacts(vm, c)),
    currentCheckpointId: vm.currentCheckpointId,
    replication: replicationFacts(fleet, vm),
    operationInProgress: vm.busy?.operation ?? null,
  };
}
