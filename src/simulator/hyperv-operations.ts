// The dispatch table: operation id → template versions the simulated host knows, its params,
// and the model function that does what the real script would do.

import { setProcessor } from './hyperv-processor-ops';
import { createCheckpoint, removeCheckpoint } from './hyperv-checkpoint-ops';
import { addDvdDrive, removeDvdDrive, setDvdMedia } from './hyperv-dvd-ops';
import { addHardDisk, removeHardDisk, setHardDiskQos } from './hyperv-disk-ops';
import { optimizeVhd, resizeVhd } from './hyperv-vhd-ops';
import { createBackup, exportVm } from './hyperv-export-ops';
import { LATENCY } from './hyperv-latency';
import { setMemory } from './hyperv-memory-ops';
import { migrateVm } from './hyperv-migration-ops';
import { addNetworkAdapter, removeNetworkAdapter } from './hyperv-network-ops';
import { OpContext, requireVm } from './hyperv-op-context';
import {
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
  OperationId,
  PARAM_SPECS,
  ParamSpec,
  ProcessorSetParams,
  ReplicationEnableParams,
  VhdOptimizeParams,
  VhdResizeParams,
  VmExportParams,
  VmIdParams,
  VmMigrateParams,
} from './hyperv-params';
import {
  enableReplication,
  getReplication,
  removeReplication,
  startReplication,
} from './hyperv-replication-ops';
import { hostFacts, vmFacts } from './hyperv-views';

/** Params each operation takes (the blob's `params` object). */
export interface OperationParams {
  'host.get': NoParams;
  'vm.list': NoParams;
  'vm.get': VmIdParams;
  'memory.set': MemorySetParams;
  'processor.set': ProcessorSetParams;
  'network-adapter.add': NetworkAdapterAddParams;
  'network-adapter.remove': NetworkAdapterRemoveParams;
  'hard-disk.add': HardDiskAddParams;
  'hard-disk.remove': HardDiskRemoveParams;
  'hard-disk.set-qos': HardDiskSetQosParams;
  'vhd.resize': VhdResizeParams;
  'vhd.optimize': VhdOptimizeParams;
  'dvd-drive.add': DvdDriveAddParams;
  'dvd-drive.remove': DvdDriveRemoveParams;
  'dvd-drive.set-media': DvdDriveSetMediaParams;
  'checkpoint.create': CheckpointCreateParams;
  'checkpoint.remove': CheckpointRemoveParams;
  'vm.export': VmExportParams;
  'vm.migrate': VmMigrateParams;
  'replication.enable': ReplicationEnableParams;
  'replication.start': VmIdParams;
  'replication.get': VmIdParams;
  'replication.remove': VmIdParams;
  'backup.create': BackupCreateParams;
}

export interface OperationDefinition<P> {
  id: OperationId;
  /** Template versions of the script this host understands. */
  versions: readonly number[];
  /** Host-level operations take no vmId. */
  hostLevel: boolean;
  /** Prints HVGATE-PROGRESS lines while it runs. */
  longRunning: boolean;
  spec: ParamSpec<P>;
  run(ctx: OpContext, params: P): Promise<unknown>;
}

type OperationTable = { [K in OperationId]: OperationDefinition<OperationParams[K]> };

const read =
  <P>(fn: (ctx: OpContext, p: P) => unknown) =>
  async (ctx: OpContext, p: P): Promise<unknown> => {
    await ctx.run.sleep(LATENCY.readMs);
    return fn(ctx, p);
  };

const op = <K extends OperationId>(
  id: K,
  run: (ctx: OpContext, params: OperationParams[K]) => Promise<unknown>,
  options: { hostLevel?: boolean; longRunning?: boolean } = {},
): OperationDefinition<OperationParams[K]> => ({
  id,
  versions: [1],
  hostLevel: options.hostLevel ?? false,
  longRunning: options.longRunning ?? false,
  spec: PARAM_SPECS[id] as unknown as ParamSpec<OperationParams[K]>,
  run,
});

export const OPERATIONS: OperationTable = {
  'host.get': op(
    'host.get',
    read((ctx) => hostFacts(ctx.host)),
    { hostLevel: true },
  ),
  'vm.list': op(
    'vm.list',
    read((ctx) => ctx.host.vms.map((vm) => vmFacts(ctx.fleet, ctx.host, vm))),
    { hostLevel: true },
  ),
  'vm.get': op(
    'vm.get',
    read((ctx, p: VmIdParams) => vmFacts(ctx.fleet, ctx.host, requireVm(ctx.host, p.vmId))),
  ),
  'memory.set': op('memory.set', setMemory),
  'processor.set': op('processor.set', setProcessor),
  'network-adapter.add': op('network-adapter.add', addNetworkAdapter),
  'network-adapter.remove': op('network-adapter.remove', removeNetworkAdapter),
  'hard-disk.add': op('hard-disk.add', addHardDisk),
  'hard-disk.remove': op('hard-disk.remove', removeHardDisk),
  'hard-disk.set-qos': op('hard-disk.set-qos', setHardDiskQos),
  'vhd.resize': op('vhd.resize', resizeVhd, { longRunning: true }),
  'vhd.optimize': op('vhd.optimize', optimizeVhd, { hostLevel: true, longRunning: true }),
  'dvd-drive.add': op('dvd-drive.add', addDvdDrive),
  'dvd-drive.remove': op('dvd-drive.remove', removeDvdDrive),
  'dvd-drive.set-media': op('dvd-drive.set-media', setDvdMedia),
  'checkpoint.create': op('checkpoint.create', createCheckpoint),
  'checkpoint.remove': op('checkpoint.remove', removeCheckpoint),
  'vm.export': op('vm.export', exportVm, { longRunning: true }),
  'vm.migrate': op('vm.migrate', migrateVm, { longRunning: true }),
  'replication.enable': op('replication.enable', enableReplication),
  'replication.start': op('replication.start', startReplication),
  'replication.get': op('replication.get', getReplication),
  'replication.remove': op('replication.remove', removeReplication),
  'backup.create': op('backup.create', createBackup, { longRunning: true }),
};

export const OPERATION_IDS = Object.keys(OPERATIONS) as OperationId[];

export function findOperation(id: string): OperationDefinition<unknown> | undefined {
  return Object.hasOwn(OPERATIONS, id)
    ? (OPERATIONS[id as OperationId] as unknown as OperationDefinition<unknown>)
    : undefined;
}
