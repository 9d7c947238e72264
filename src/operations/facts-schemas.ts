// What host.get / vm.get / vm.list return, as the gateway checks it before trusting any fact.
// Scripts build these from explicit hashtables (enums as strings, sizes in bytes, GUIDs as
// strings; reference §0.5). Fields a real Get-VMHost cannot report (the simulator's roots, the
// live-migration count) are optional: rules treat an absent fact as "unknown", never as "ok".

import { z } from 'zod';

const bytes = z.number().int().min(0);
const nullableString = z.string().nullable();

export const controllerTypeSchema = z.enum(['IDE', 'SCSI']);
export type ControllerType = z.infer<typeof controllerTypeSchema>;

export const memoryFactsSchema = z.object({
  dynamicMemoryEnabled: z.boolean(),
  startupBytes: bytes,
  minimumBytes: bytes,
  maximumBytes: bytes,
  bufferPercent: z.number().int(),
  priority: z.number().int(),
  assignedBytes: bytes,
  demandBytes: bytes,
  memoryStatus: z.string(),
});

export const processorFactsSchema = z.object({
  count: z.number().int().min(0),
  reserve: z.number().int().min(0).max(100),
  maximum: z.number().int().min(0).max(100),
  relativeWeight: z.number().int(),
  compatibilityForMigrationEnabled: z.boolean(),
  exposeVirtualizationExtensions: z.boolean(),
});

export const networkAdapterFactsSchema = z.object({
  id: z.string(),
  name: z.string(),
  switchName: nullableString,
  macAddress: z.string(),
  dynamicMacAddress: z.boolean(),
  vlanId: z.number().int().nullable(),
  isLegacy: z.boolean(),
  status: z.string(),
  ipAddresses: z.array(z.string()),
});

export const vhdFactsSchema = z.object({
  path: z.string(),
  vhdFormat: z.string(),
  vhdType: z.string(),
  sizeBytes: bytes,
  fileSizeBytes: bytes,
  minimumSizeBytes: bytes,
  parentPath: nullableString,
  attached: z.boolean(),
});

export const hardDiskFactsSchema = vhdFactsSchema.extend({
  controllerType: controllerTypeSchema,
  controllerNumber: z.number().int().min(0),
  controllerLocation: z.number().int().min(0),
  minimumIops: z.number().int().min(0),
  maximumIops: z.number().int().min(0),
});

export const dvdDriveFactsSchema = z.object({
  controllerType: controllerTypeSchema,
  controllerNumber: z.number().int().min(0),
  controllerLocation: z.number().int().min(0),
  path: nullableString,
  dvdMediaType: z.string(),
});

export const checkpointFactsSchema = z.object({
  id: z.string(),
  name: z.string(),
  vmName: z.string(),
  snapshotType: z.string(),
  parentCheckpointId: nullableString,
  parentCheckpointName: nullableString,
  creationTime: z.string(),
});

export const replicationFactsSchema = z.object({
  replicationState: z.string(),
  replicationMode: z.string(),
  replicationHealth: z.string(),
  primaryServer: nullableString,
  replicaServer: nullableString,
  replicaServerPort: z.number().int().nullable(),
  authenticationType: nullableString,
  replicationFrequencySec: z.number().int().nullable(),
  recoveryHistory: z.number().int().nullable(),
  compressionEnabled: z.boolean().nullable(),
  lastReplicationTime: nullableString,
});

export const vmFactsSchema = z.object({
  id: z.string(),
  name: z.string(),
  hostName: z.string(),
  generation: z.number().int().min(1).max(2),
  version: z.string(),
  state: z.string(),
  status: z.string(),
  path: z.string(),
  checkpointType: z.string(),
  guestBackupServiceEnabled: z.boolean(),
  memory: memoryFactsSchema,
  processor: processorFactsSchema,
  networkAdapters: z.array(networkAdapterFactsSchema),
  controllers: z.array(
    z.object({ controllerType: controllerTypeSchema, controllerNumber: z.number().int().min(0) }),
  ),
  hardDisks: z.array(hardDiskFactsSchema),
  dvdDrives: z.array(dvdDriveFactsSchema),
  checkpoints: z.array(checkpointFactsSchema),
  currentCheckpointId: nullableString,
  replication: replicationFactsSchema,
  operationInProgress: nullableString,
});

export const vmListSchema = z.array(vmFactsSchema);

export const hostFactsSchema = z.object({
  name: z.string(),
  /** Get-VMHost's FullyQualifiedDomainName; empty on a host outside a domain. */
  fullyQualifiedDomainName: z.string().optional(),
  osName: z.string(),
  osVersion: z.string(),
  osBuild: z.string(),
  supportedVmVersions: z.array(z.string()),
  defaultVmVersion: z.string(),
  logicalProcessorCount: z.number().int().min(0),
  processorVendor: z.string(),
  processorFamily: z.string(),
  memoryCapacityBytes: bytes,
  memoryAvailableBytes: bytes,
  numaSpanningEnabled: z.boolean(),
  virtualSwitches: z.array(z.object({ name: z.string(), switchType: z.string() })),
  storageRoots: z.array(z.string()).optional(),
  exportRoots: z.array(z.string()).optional(),
  virtualHardDiskPath: z.string(),
  virtualMachinePath: z.string(),
  virtualMachineMigrationEnabled: z.boolean(),
  virtualMachineMigrationAuthenticationType: z.string(),
  virtualMachineMigrationPerformanceOption: z.string(),
  maximumVirtualMachineMigrations: z.number().int().min(0),
  maximumStorageMigrations: z.number().int().min(0),
  useAnyNetworkForMigration: z.boolean(),
  /** Host names the computer account may delegate live migration to; absent = could not be read. */
  kerberosDelegationTo: z.array(z.string()).optional(),
  migrationsInProgress: z.number().int().min(0).optional(),
  replicationServer: z.object({
    replicationEnabled: z.boolean(),
    allowedAuthenticationType: z.string(),
    kerberosAuthenticationPort: z.number().int(),
    certificateAuthenticationPort: z.number().int(),
    replicationAllowedFromAnyServer: z.boolean(),
    defaultStorageLocation: nullableString,
  }),
  vmCount: z.number().int().min(0),
  /** $PSVersionTable.PSVersion and the Hyper-V module version, when the host reports them. */
  powershellVersion: z.string().optional(),
  hypervModuleVersion: z.string().optional(),
});

export type MemoryFacts = z.infer<typeof memoryFactsSchema>;
export type NetworkAdapterFacts = z.infer<typeof networkAdapterFactsSchema>;
export type HardDiskFacts = z.infer<typeof hardDiskFactsSchema>;
export type DvdDriveFacts = z.infer<typeof dvdDriveFactsSchema>;
export type CheckpointFacts = z.infer<typeof checkpointFactsSchema>;
export type ReplicationFacts = z.infer<typeof replicationFactsSchema>;
export type VmFacts = z.infer<typeof vmFactsSchema>;
export type HostFacts = z.infer<typeof hostFactsSchema>;

/** `"9.0"` ≥ `"6.2"`, compared numerically per part. */
export function versionAtLeast(version: string, minimum: string): boolean {
  const a = version.split('.').map((n) => Number(n) || 0);
  const b = minimum.split('.').map((n) => Number(n) || 0);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}
