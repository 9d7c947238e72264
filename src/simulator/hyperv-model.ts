// State of the simulated Hyper-V fleet: hosts, their VMs, and the files on their volumes.
// Plain mutable records; the operation modules enforce the rules, hyperv-views.ts turns them
// into the JSON a real hvgate script would print.

export type HostOs = '2016' | '2019' | '2022' | '2025';
export type VmPowerState = 'Running' | 'Off' | 'Saved' | 'Paused';
export type CheckpointTypeSetting = 'Disabled' | 'Production' | 'ProductionOnly' | 'Standard';
export type ControllerType = 'IDE' | 'SCSI';
export type VhdFormat = 'VHD' | 'VHDX';
export type VhdType = 'Fixed' | 'Dynamic' | 'Differencing';
export type MigrationAuthenticationType = 'CredSSP' | 'Kerberos';
export type MigrationPerformanceOption = 'TCPIP' | 'Compression' | 'SMB';
export type ReplicaAuthenticationType = 'Kerberos' | 'Certificate';
export type ReplicationServerAuthentication = 'Kerberos' | 'Certificate' | 'CertificateAndKerberos';
export type SwitchType = 'External' | 'Internal' | 'Private';
export type SnapshotType = 'Standard' | 'Production' | 'Recovery';

export interface HostOsInfo {
  osName: string;
  osBuild: string;
  /** VM configuration versions the host runs (reference §0.1, WSDOCS upgrade doc table). */
  supportedVmVersions: readonly string[];
  defaultVmVersion: string;
}

export const HOST_OS: Record<HostOs, HostOsInfo> = {
  '2016': {
    osName: 'Microsoft Windows Server 2016 Datacenter',
    osBuild: '10.0.14393',
    supportedVmVersions: ['5.0', '6.2', '7.0', '7.1', '8.0'],
    defaultVmVersion: '8.0',
  },
  '2019': {
    osName: 'Microsoft Windows Server 2019 Datacenter',
    osBuild: '10.0.17763',
    supportedVmVersions: ['5.0', '6.2', '7.0', '7.1', '8.0', '8.1', '8.2', '8.3', '9.0'],
    defaultVmVersion: '9.0',
  },
  '2022': {
    osName: 'Microsoft Windows Server 2022 Datacenter',
    osBuild: '10.0.20348',
    supportedVmVersions: ['8.0', '8.1', '8.2', '8.3', '9.0', '9.1', '9.2', '9.3', '10.0'],
    defaultVmVersion: '10.0',
  },
  '2025': {
    osName: 'Microsoft Windows Server 2025 Datacenter',
    osBuild: '10.0.26100',
    supportedVmVersions: ['8.0', '8.1', '8.2', '8.3', '9.0', '9.1', '9.2', '9.3', '10.0', '11.0', '12.0'],
    defaultVmVersion: '12.0',
  },
};

/** `[version]$a -ge [version]$b` for "major.minor" configuration versions. */
export function versionAtLeast(version: string, minimum: string): boolean {
  const [aMajor = 0, aMinor = 0] = version.split('.').map(Number);
  const [bMajor = 0, bMinor = 0] = minimum.split('.').map(Number);
  return aMajor > bMajor || (aMajor === bMajor && aMinor >= bMinor);
}

export interface VirtualSwitch {
  name: string;
  switchType: SwitchType;
}

export interface HostProcessor {
  vendor: 'GenuineIntel' | 'AuthenticAMD';
  /** CPU model line; live migration between different lines needs processor compatibility mode. */
  family: string;
}

export interface HostMigrationSettings {
  virtualMachineMigrationEnabled: boolean;
  virtualMachineMigrationAuthenticationType: MigrationAuthenticationType;
  virtualMachineMigrationPerformanceOption: MigrationPerformanceOption;
  maximumVirtualMachineMigrations: number;
  maximumStorageMigrations: number;
  useAnyNetworkForMigration: boolean;
  /**
   * Hosts this host's computer account may delegate to (cifs and Microsoft Virtual System Migration
   * Service, "use any authentication protocol"): the AD side of Kerberos live migration (§12).
   */
  kerberosDelegationTo: string[];
}

export interface ReplicationServerSettings {
  replicationEnabled: boolean;
  allowedAuthenticationType: ReplicationServerAuthentication;
  kerberosAuthenticationPort: number;
  certificateAuthenticationPort: number;
  replicationAllowedFromAnyServer: boolean;
  defaultStorageLocation: string | null;
}

export interface VhdFile {
  kind: 'vhd';
  path: string;
  format: VhdFormat;
  type: VhdType;
  /** Virtual size seen by the guest. */
  sizeBytes: number;
  /** Smallest size a shrink may reach (end of the last guest partition). */
  minimumSizeBytes: number;
  /** Size of the file on the host volume. */
  fileSizeBytes: number;
  /** Bytes of blocks the guest really uses; what Optimize-VHD can compact down to. */
  dataBytes: number;
  parentPath: string | null;
  attachedTo: { host: string; vmId: string } | null;
}

export interface IsoFile {
  kind: 'iso';
  path: string;
  sizeBytes: number;
}

export interface DirectoryEntry {
  kind: 'directory';
  path: string;
}

export type FileEntry = VhdFile | IsoFile | DirectoryEntry;

/** Files of one volume namespace, keyed by normalized lower-case path (see hyperv-paths.ts). */
export type FileStore = Map<string, FileEntry>;

export interface MemoryConfig {
  dynamicMemoryEnabled: boolean;
  startupBytes: number;
  minimumBytes: number;
  maximumBytes: number;
  bufferPercent: number;
  priority: number;
  /** Memory the VM holds now; counts against host memory while Running or Paused. */
  assignedBytes: number;
  /** What the guest uses now (the Dynamic Memory balancer's demand). */
  demandBytes: number;
}

export interface ProcessorConfig {
  count: number;
  reserve: number;
  maximum: number;
  relativeWeight: number;
  compatibilityForMigrationEnabled: boolean;
  exposeVirtualizationExtensions: boolean;
}

export interface NetworkAdapter {
  id: string;
  name: string;
  switchName: string | null;
  macAddress: string;
  dynamicMacAddress: boolean;
  vlanId: number | null;
  isLegacy: boolean;
}

export interface HardDiskAttachment {
  controllerType: ControllerType;
  controllerNumber: number;
  controllerLocation: number;
  path: string;
  minimumIops: number;
  maximumIops: number;
}

export interface DvdDrive {
  controllerType: ControllerType;
  controllerNumber: number;
  controllerLocation: number;
  path: string | null;
}

export interface Checkpoint {
  id: string;
  name: string;
  snapshotType: SnapshotType;
  parentId: string | null;
  creationTime: string;
  /** Bytes written since the checkpoint (its .avhdx); what a merge has to fold back. */
  differencingBytes: number;
}

export type ReplicationStateName =
  'ReadyForInitialReplication' | 'InitialReplicationInProgress' | 'Replicating';

export interface VmReplication {
  mode: 'Primary';
  state: ReplicationStateName;
  primaryServer: string;
  replicaServer: string;
  replicaServerPort: number;
  authenticationType: ReplicaAuthenticationType;
  replicationFrequencySec: number;
  recoveryHistory: number;
  compressionEnabled: boolean;
  /** Epoch ms when the initial copy started, or null before Start-VMInitialReplication. */
  initialReplicationStartedAt: number | null;
  /** How long the initial copy takes in simulated time, from the VM's disk sizes. */
  initialReplicationDurationMs: number;
}

export interface VmBusy {
  operation: string;
  status: string;
  percent: number;
}

export interface VirtualMachine {
  id: string;
  name: string;
  generation: 1 | 2;
  version: string;
  state: VmPowerState;
  /** Configuration folder (`Path` / `ConfigurationLocation`). */
  path: string;
  checkpointType: CheckpointTypeSetting;
  /** Guest "Backup (volume shadow copy)" integration service: production checkpoints need it. */
  guestBackupServiceEnabled: boolean;
  memory: MemoryConfig;
  processor: ProcessorConfig;
  networkAdapters: NetworkAdapter[];
  /** Number of SCSI controllers (0–4); Gen 1 VMs also have IDE controllers 0 and 1. */
  scsiControllerCount: number;
  hardDisks: HardDiskAttachment[];
  dvdDrives: DvdDrive[];
  checkpoints: Checkpoint[];
  currentCheckpointId: string | null;
  replication: VmReplication | null;
  /** A long operation (export, resize, migration, backup) holding the VM. */
  busy: VmBusy | null;
}

export interface HyperVHost {
  name: string;
  /** The Active Directory domain the host is joined to; its FQDN is `<name>.<domainName>`. */
  domainName: string;
  os: HostOs;
  logicalProcessorCount: number;
  processor: HostProcessor;
  memoryCapacityBytes: number;
  /** Memory the root partition keeps for itself; never available to VMs. */
  memoryReservedBytes: number;
  numaSpanningEnabled: boolean;
  virtualSwitches: VirtualSwitch[];
  /** Volumes/shares VM files may live on; anything else is denied to the VM management service. */
  storageRoots: string[];
  /** Folders exports may be written under. */
  exportRoots: string[];
  virtualHardDiskPath: string;
  virtualMachinePath: string;
  migration: HostMigrationSettings;
  replicationServer: ReplicationServerSettings;
  vms: VirtualMachine[];
  /** Local volumes (drive-letter paths). UNC paths live in the fleet's shared store. */
  files: FileStore;
  migrationsInProgress: number;
  peakMigrationsInProgress: number;
}

/** Get-VMHost's FullyQualifiedDomainName. */
export function hostFqdn(host: HyperVHost): string {
  return `${host.name}.${host.domainName}`;
}

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
export const TiB = 1024 * GiB;
