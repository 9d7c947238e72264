// The parameter vocabulary of every operation: what the `params` object of a script's blob may
// hold. The gateway's operation catalog uses the same names; units are in the names.

import type { CheckpointTypeSetting, ControllerType, ReplicaAuthenticationType } from './hyperv-model';

export type NoParams = Record<string, never>;

export interface VmIdParams {
  /** VM GUID on the host (`Get-VM -Id`); names are never used to address a VM. */
  vmId: string;
}

export interface MemorySetParams extends VmIdParams {
  /** Static size, or startup size with dynamic memory; a multiple of 2 MiB. */
  startupBytes?: number;
  dynamicMemoryEnabled?: boolean;
  minimumBytes?: number;
  maximumBytes?: number;
  /** Dynamic memory buffer, 5–2000 %. */
  bufferPercent?: number;
  /** Memory weight, 0–100. */
  priority?: number;
}

export interface ProcessorSetParams extends VmIdParams {
  count?: number;
  /** Percent of the VM's processors reserved, 0–100. */
  reserve?: number;
  /** Percent cap of the VM's processors, 0–100. */
  maximum?: number;
  /** 1–10000. */
  relativeWeight?: number;
}

export interface NetworkAdapterAddParams extends VmIdParams {
  name?: string;
  /** Virtual switch to connect to; absent or null leaves the adapter disconnected. */
  switchName?: string | null;
  /** 12 hex digits (separators `-`/`:` allowed); absent = dynamic MAC from the host pool. */
  staticMacAddress?: string;
  /** Access VLAN 1–4094; absent or null = untagged. */
  vlanId?: number | null;
}

export interface NetworkAdapterRemoveParams extends VmIdParams {
  /** The adapter's `Id` as vm.get reports it (names are not unique). */
  adapterId: string;
}

export interface DiskLocationParams extends VmIdParams {
  /** Defaults to SCSI, the only hot-pluggable controller. */
  controllerType?: ControllerType;
  controllerNumber: number;
  controllerLocation: number;
}

export interface HardDiskAddParams extends DiskLocationParams {
  /** .vhdx or .vhd file under a storage root. Attached as is, or created when sizeBytes is given. */
  path: string;
  /** Creates a new disk of this virtual size (New-VHD) before attaching it. */
  sizeBytes?: number;
  /** With sizeBytes: a fixed (zero-filled) disk instead of a dynamic one. */
  fixed?: boolean;
  /** Normalized (8 KiB) IOPS; 0 = no reservation. */
  minimumIops?: number;
  /** Normalized (8 KiB) IOPS; 0 = no limit. */
  maximumIops?: number;
}

export type HardDiskRemoveParams = DiskLocationParams;

export interface HardDiskSetQosParams extends DiskLocationParams {
  minimumIops?: number;
  maximumIops?: number;
}

export interface VhdResizeParams extends DiskLocationParams {
  /** New virtual size of the disk attached at that location. */
  sizeBytes: number;
}

export type OptimizeMode = 'Full' | 'Quick' | 'Retrim' | 'Pretrimmed' | 'Prezeroed';

export interface VhdOptimizeParams {
  /** A detached (or read-only) dynamic/differencing disk under a storage root. */
  path: string;
  /** Default: Full for VHD, Quick for VHDX (Optimize-VHD). */
  mode?: OptimizeMode;
}

export interface DvdDriveAddParams extends VmIdParams {
  /** IDE on Generation 1, SCSI on Generation 2; default 0. */
  controllerNumber?: number;
  /** Default: the first free location on the controller. */
  controllerLocation?: number;
  /** ISO to insert; absent or null = empty drive. */
  path?: string | null;
}

export interface DvdDriveLocationParams extends VmIdParams {
  controllerNumber: number;
  controllerLocation: number;
}

export type DvdDriveRemoveParams = DvdDriveLocationParams;

export interface DvdDriveSetMediaParams extends DvdDriveLocationParams {
  /** ISO to insert, or null to eject. */
  path: string | null;
}

export type CheckpointKind = Exclude<CheckpointTypeSetting, 'Disabled'>;

export interface CheckpointCreateParams extends VmIdParams {
  /** Default: "<vm name> - (<date time>)" as Checkpoint-VM names it. */
  name?: string;
  /** Overrides the VM's CheckpointType for this checkpoint; a Disabled VM is refused regardless. */
  checkpointType?: CheckpointKind;
}

export interface CheckpointRemoveParams extends VmIdParams {
  checkpointId: string;
  /** Also remove every checkpoint below it (-IncludeAllChildSnapshots). */
  includeChildren?: boolean;
}

export type CaptureLiveState =
  'CaptureSavedState' | 'CaptureDataConsistentState' | 'CaptureCrashConsistentState';

export interface VmExportParams extends VmIdParams {
  /** Folder under an export root; the export goes to `<destinationPath>\<vm name>`. */
  destinationPath: string;
  /** Default CaptureSavedState, as Export-VM. */
  captureLiveState?: CaptureLiveState;
}

export interface VmMigrateParams extends VmIdParams {
  /** Another host of the same fleet. */
  destinationHost: string;
  /** Shared-nothing move (VHDs copied); without it the VM's disks must be on SMB storage. */
  includeStorage?: boolean;
  /** Required with includeStorage: folder under one of the destination's storage roots. */
  destinationStoragePath?: string;
}

export interface ReplicationEnableParams extends VmIdParams {
  replicaHost: string;
  /** Default: the replica server's port for the authentication type. */
  replicaServerPort?: number;
  /** Default Kerberos. */
  authenticationType?: ReplicaAuthenticationType;
  /** 30, 300 or 900; default 300. */
  replicationFrequencySec?: number;
  /** Additional recovery points, 0–24; default 0. */
  recoveryHistory?: number;
  /** Default true. */
  compressionEnabled?: boolean;
}

export interface BackupCreateParams extends VmIdParams {
  /** Folder under an export root; the backup goes to `<destinationPath>\<vm name>`. */
  destinationPath: string;
}
