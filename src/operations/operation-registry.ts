// Every operation of the catalog. Routes, OpenAPI, dry-run, audit and the job runner read this
// list; adding a feature is adding one module and one line here.

import { backupCreate } from './backup';
import { checkpointCreate, checkpointRemove } from './checkpoint';
import { dvdDriveAdd, dvdDriveRemove, dvdDriveSetMedia } from './dvd-drive';
import { hardDiskAdd, hardDiskRemove, hardDiskSetQos } from './hard-disk';
import { hostGet, vmGet, vmList } from './host-facts';
import { memorySet } from './memory';
import { networkAdapterAdd, networkAdapterRemove } from './network-adapter';
import type { HttpMethod, OperationSpec } from './operation-spec';
import { processorSet } from './processor';
import { replicationEnable, replicationGet, replicationRemove, replicationStart } from './replication';
import { vhdOptimize, vhdResize } from './vhd';
import { vmExport } from './vm-export';
import { vmMigrate } from './vm-migrate';

const erase = (spec: unknown): OperationSpec => spec as OperationSpec;

export const OPERATIONS: readonly OperationSpec[] = Object.freeze(
  [
    hostGet,
    vmList,
    vmGet,
    memorySet,
    processorSet,
    networkAdapterAdd,
    networkAdapterRemove,
    hardDiskAdd,
    hardDiskRemove,
    hardDiskSetQos,
    vhdResize,
    vhdOptimize,
    dvdDriveAdd,
    dvdDriveRemove,
    dvdDriveSetMedia,
    checkpointCreate,
    checkpointRemove,
    vmExport,
    vmMigrate,
    replicationEnable,
    replicationStart,
    replicationGet,
    replicationRemove,
    backupCreate,
  ].map(erase),
);

const byId = new Map(OPERATIONS.map((s) => [s.id, s]));
if (byId.size !== OPERATIONS.length) throw new Error('duplicate operation id in the catalog');
const routeKeys = new Set(OPERATIONS.map((s) => `${s.method} ${s.route}`));
if (routeKeys.size !== OPERATIONS.length) throw new Error('two operations share a method and route');

export function listOperations(): readonly OperationSpec[] {
  return OPERATIONS;
}

export function getOperation(id: string): OperationSpec | undefined {
  return byId.get(id);
}

/** Throws for an unknown id (a programming error, not caller input). */
export function requireOperation(id: string): OperationSpec {
  const spec = byId.get(id);
  if (!spec) throw new Error(`unknown operation ${id}`);
  return spec;
}

export function findOperationByRoute(method: HttpMethod, route: string): OperationSpec | undefined {
  return OPERATIONS.find((s) => s.method === method && s.route === route);
}
