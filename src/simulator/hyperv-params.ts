// Which params each operation takes, with the PowerShell parameter each binds to and its range.

import { cmdletError } from './hyperv-errors';
import { bool, enumOf, guid, int32, int64, ParamSpec, str, uint64 } from './hyperv-param-binding';
import type {
  BackupCreateParams,
  CheckpointCreateParams,
  CheckpointRemoveParams,
  DvdDriveAddParams,
  DvdDriveRemoveParams,
  DvdDriveSetMediaParams,
  HardDiskAddParams,
  HardDiskRemoveParams,
  HardDiskSetQosParams,
  MemorySetParams,
  NetworkAdapterAddParams,
  NetworkAdapterRemoveParams,
  NoParams,
  ProcessorSetParams,
  ReplicationEnableParams,
  VhdOptimizeParams,
  VhdResizeParams,
  VmExportParams,
  VmIdParams,
  VmMigrateParams,
} from './hyperv-param-types';

export * from './hyperv-param-types';
export { bindParams } from './hyperv-param-binding';
export type { ParamSpec } from './hyperv-param-binding';

const PATH_MAX = 1024;
const NAME_MAX = 256;

const controllerType = enumOf('ControllerType', 'Microsoft.HyperV.PowerShell.ControllerType', [
  'IDE',
  'SCSI',
]);
// Add/Set-VMHardDiskDrive ranges: controller number 0–3, location 0–63 (PSDOCS; reference §4).
const controllerNumber = (required = true) => int32('ControllerNumber', 0, 3, required);
const controllerLocation = (required = true) => int32('ControllerLocation', 0, 63, required);

export const PARAM_SPECS = {
  'host.get': { cmdlet: 'GetVMHost', fields: {} } satisfies ParamSpec<NoParams>,
  'vm.list': { cmdlet: 'GetVM', fields: {} } satisfies ParamSpec<NoParams>,
  'vm.get': { cmdlet: 'GetVM', fields: { vmId: guid('Id') } } satisfies ParamSpec<VmIdParams>,
  'memory.set': {
    cmdlet: 'SetVMMemory',
    fields: {
      vmId: guid('Id'),
      startupBytes: int64('StartupBytes'),
      dynamicMemoryEnabled: bool('DynamicMemoryEnabled'),
      minimumBytes: int64('MinimumBytes'),
      maximumBytes: int64('MaximumBytes'),
      // Set-VMMemory: -Buffer 5–2000, -Priority 0–100 (reference §2).
      bufferPercent: int32('Buffer', 5, 2000),
      priority: int32('Priority', 0, 100),
    },
  } satisfies ParamSpec<MemorySetParams>,
  'processor.set': {
    cmdlet: 'SetVMProcessor',
    fields: {
      vmId: guid('Id'),
      count: int64('Count', 1, 2048),
      // Set-VMProcessor: -Reserve/-Maximum 0–100 %, -RelativeWeight 1–10000 (reference §7).
      reserve: int64('Reserve', 0, 100),
      maximum: int64('Maximum', 0, 100),
      relativeWeight: int32('RelativeWeight', 1, 10000),
    },
  } satisfies ParamSpec<ProcessorSetParams>,
  'network-adapter.add': {
    cmdlet: 'AddVMNetworkAdapter',
    fields: {
      vmId: guid('Id'),
      name: str('Name', NAME_MAX),
      switchName: str('SwitchName', NAME_MAX, false, true),
      staticMacAddress: str('StaticMacAddress', 17),
      vlanId: int32('VlanId', 1, 4094, false, true),
    },
  } satisfies ParamSpec<NetworkAdapterAddParams>,
  'network-adapter.remove': {
    cmdlet: 'RemoveVMNetworkAdapter',
    fields: { vmId: guid('Id'), adapterId: str('Id', NAME_MAX, true) },
  } satisfies ParamSpec<NetworkAdapterRemoveParams>,
  'hard-disk.add': {
    cmdlet: 'AddVMHardDiskDrive',
    fields: {
      vmId: guid('Id'),
      controllerType,
      controllerNumber: controllerNumber(),
      controllerLocation: controllerLocation(),
      path: str('Path', PATH_MAX, true),
      sizeBytes: uint64('SizeBytes'),
      fixed: bool('Fixed'),
      minimumIops: uint64('MinimumIOPS'),
      maximumIops: uint64('MaximumIOPS'),
    },
    check: (p: HardDiskAddParams) => {
      if (p.fixed !== undefined && p.sizeBytes === undefined) {
        throw cmdletError(
          'NewVHD',
          'AmbiguousParameterSet',
          'InvalidArgument',
          'Parameter set cannot be resolved using the specified named parameters. -Fixed applies only when a new disk is created (sizeBytes).',
        );
      }
    },
  } satisfies ParamSpec<HardDiskAddParams>,
  'hard-disk.remove': {
    cmdlet: 'RemoveVMHardDiskDrive',
    fields: {
      vmId: guid('Id'),
      controllerType,
      controllerNumber: controllerNumber(),
      controllerLocation: controllerLocation(),
    },
  } satisfies ParamSpec<HardDiskRemoveParams>,
  'hard-disk.set-qos': {
    cmdlet: 'SetVMHardDiskDrive',
    fields: {
      vmId: guid('Id'),
      controllerType,
      controllerNumber: controllerNumber(),
      controllerLocation: controllerLocation(),
      minimumIops: uint64('MinimumIOPS'),
      maximumIops: uint64('MaximumIOPS'),
    },
  } satisfies ParamSpec<HardDiskSetQosParams>,
  'vhd.resize': {
    cmdlet: 'ResizeVHD',
    fields: {
      vmId: guid('Id'),
      controllerType,
      controllerNumber: controllerNumber(),
      controllerLocation: controllerLocation(),
      sizeBytes: uint64('SizeBytes', true),
    },
  } satisfies ParamSpec<VhdResizeParams>,
  'vhd.optimize': {
    cmdlet: 'OptimizeVHD',
    fields: {
      path: str('Path', PATH_MAX, true),
      mode: enumOf('Mode', 'Microsoft.Vhd.PowerShell.VhdCompactMode', [
        'Full',
        'Quick',
        'Retrim',
        'Pretrimmed',
        'Prezeroed',
      ]),
    },
  } satisfies ParamSpec<VhdOptimizeParams>,
  'dvd-drive.add': {
    cmdlet: 'AddVMDvdDrive',
    fields: {
      vmId: guid('Id'),
      controllerNumber: controllerNumber(false),
      controllerLocation: controllerLocation(false),
      path: str('Path', PATH_MAX, false, true),
    },
  } satisfies ParamSpec<DvdDriveAddParams>,
  'dvd-drive.remove': {
    cmdlet: 'RemoveVMDvdDrive',
    fields: {
      vmId: guid('Id'),
      controllerNumber: controllerNumber(),
      controllerLocation: controllerLocation(),
    },
  } satisfies ParamSpec<DvdDriveRemoveParams>,
  'dvd-drive.set-media': {
    cmdlet: 'SetVMDvdDrive',
    fields: {
      vmId: guid('Id'),
      controllerNumber: controllerNumber(),
      controllerLocation: controllerLocation(),
      path: { ps: 'Path', kind: { type: 'string', maxLength: PATH_MAX }, required: true, nullable: true },
    },
  } satisfies ParamSpec<DvdDriveSetMediaParams>,
  'checkpoint.create': {
    cmdlet: 'CheckpointVM',
    fields: {
      vmId: guid('Id'),
      name: str('SnapshotName', NAME_MAX),
      checkpointType: enumOf('CheckpointType', 'Microsoft.HyperV.PowerShell.CheckpointType', [
        'Production',
        'ProductionOnly',
        'Standard',
      ]),
    },
  } satisfies ParamSpec<CheckpointCreateParams>,
  'checkpoint.remove': {
    cmdlet: 'RemoveVMSnapshot',
    fields: { vmId: guid('Id'), checkpointId: guid('Id'), includeChildren: bool('IncludeAllChildSnapshots') },
  } satisfies ParamSpec<CheckpointRemoveParams>,
  'vm.export': {
    cmdlet: 'ExportVM',
    fields: {
      vmId: guid('Id'),
      destinationPath: str('Path', PATH_MAX, true),
      captureLiveState: enumOf('CaptureLiveState', 'Microsoft.HyperV.PowerShell.CaptureLiveState', [
        'CaptureSavedState',
        'CaptureDataConsistentState',
        'CaptureCrashConsistentState',
      ]),
    },
  } satisfies ParamSpec<VmExportParams>,
  'vm.migrate': {
    cmdlet: 'MoveVM',
    fields: {
      vmId: guid('Id'),
      destinationHost: str('DestinationHost', 255, true),
      includeStorage: bool('IncludeStorage'),
      destinationStoragePath: str('DestinationStoragePath', PATH_MAX),
    },
    check: (p: VmMigrateParams) => {
      if (p.includeStorage === true && p.destinationStoragePath === undefined) {
        throw cmdletError(
          'MoveVM',
          'MissingMandatoryParameter',
          'InvalidArgument',
          'Cannot process command because of one or more missing mandatory parameters: DestinationStoragePath.',
        );
      }
      if (p.includeStorage !== true && p.destinationStoragePath !== undefined) {
        throw cmdletError(
          'MoveVM',
          'AmbiguousParameterSet',
          'InvalidArgument',
          'Parameter set cannot be resolved using the specified named parameters. -DestinationStoragePath needs -IncludeStorage.',
        );
      }
    },
  } satisfies ParamSpec<VmMigrateParams>,
  'replication.enable': {
    cmdlet: 'EnableVMReplication',
    fields: {
      vmId: guid('Id'),
      replicaHost: str('ReplicaServerName', 255, true),
      replicaServerPort: int32('ReplicaServerPort', 1, 65535),
      authenticationType: enumOf(
        'AuthenticationType',
        'Microsoft.HyperV.PowerShell.ReplicationAuthenticationType',
        ['Kerberos', 'Certificate'],
      ),
      replicationFrequencySec: int32('ReplicationFrequencySec', 30, 900),
      // Enable-VMReplication: up to 24 recovery points (reference §13).
      recoveryHistory: int32('RecoveryHistory', 0, 24),
      compressionEnabled: bool('CompressionEnabled'),
    },
    check: (p: ReplicationEnableParams) => {
      if (p.replicationFrequencySec !== undefined && ![30, 300, 900].includes(p.replicationFrequencySec)) {
        throw cmdletError(
          'EnableVMReplication',
          'ParameterArgumentValidationError',
          'InvalidData',
          `Cannot validate argument on parameter 'ReplicationFrequencySec'. The argument "${p.replicationFrequencySec}" does not belong to the set "30,300,900" specified by the ValidateSet attribute. Supply an argument that is in the set and then try the command again.`,
        );
      }
    },
  } satisfies ParamSpec<ReplicationEnableParams>,
  'replication.start': {
    cmdlet: 'StartVMInitialReplication',
    fields: { vmId: guid('Id') },
  } satisfies ParamSpec<VmIdParams>,
  'replication.get': {
    cmdlet: 'GetVMReplication',
    fields: { vmId: guid('Id') },
  } satisfies ParamSpec<VmIdParams>,
  'replication.remove': {
    cmdlet: 'RemoveVMReplication',
    fields: { vmId: guid('Id') },
  } satisfies ParamSpec<VmIdParams>,
  'backup.create': {
    cmdlet: 'CheckpointVM',
    fields: { vmId: guid('Id'), destinationPath: str('Path', PATH_MAX, true) },
  } satisfies ParamSpec<BackupCreateParams>,
} as const;

export type OperationId = keyof typeof PARAM_SPECS;
