// Every operation of the catalog succeeds end to end on the simulator over loopback (real
// executor, real runner), and for every mutating operation a dry run first reports its rules
// and the script it would run while nothing reaches the host's Hyper-V model.
import { decodeParamsBlob, extractParamsBlob } from '../../../src/powershell/script-render';
import { listOperations } from '../../../src/operations/operation-registry';
import { CatalogHarness, startCatalogHarness } from './catalog-harness';

let h: CatalogHarness;
beforeAll(async () => {
  h = await startCatalogHarness();
});
afterAll(async () => {
  await h.close();
});

const TOKYO = 'hv-tokyo-01';
const OSAKA = 'hv-osaka-02';
const NAGOYA = 'hv-nagoya-03';
const GiB = 1024 ** 3;
const covered = new Set<string>();

/** Dry run (nothing applied, rules all pass, script carries the params), then the real run. */
async function dryThenRun(
  op: string,
  host: string,
  vm: string | undefined,
  input: Record<string, unknown> = {},
) {
  covered.add(op);
  const before = h.applied(host).length;
  const report = await h.dryRun(op, host, vm, input);
  expect(
    h
      .applied(host)
      .slice(before)
      .filter((id) => id === op),
  ).toEqual([]);
  expect(report.operation).toBe(op);
  expect(report.wouldRun).toBe(true);
  expect(report.rules.every((r) => r.passed)).toBe(true);
  const doc = decodeParamsBlob(extractParamsBlob(report.script.text)!);
  expect(doc.params).toEqual(report.params);
  expect(report.script.text.startsWith(`# hvgate-op: ${op}@1\n`)).toBe(true);
  const outcome = await h.run(op, host, vm, input);
  expect(h.applied(host).slice(before)).toContain(op);
  expect(outcome.exitCode).toBe(0);
  return outcome.result as Record<string, unknown>;
}

async function readOnly(op: string, host: string, vm?: string) {
  covered.add(op);
  return (await h.run(op, host, vm)).result as Record<string, unknown>;
}

describe('operations on the simulator', () => {
  it('host.get, vm.list, vm.get read validated facts', async () => {
    const host = await readOnly('host.get', TOKYO);
    expect(host).toMatchObject({ name: TOKYO, supportedVmVersions: expect.arrayContaining(['8.0']) });
    const list = (await h.run('vm.list', TOKYO, undefined)).result as { name: string }[];
    covered.add('vm.list');
    expect(list.map((v) => v.name)).toEqual(expect.arrayContaining(['web-01', 'legacy-erp']));
    const vm = await readOnly('vm.get', TOKYO, 'web-01');
    expect(vm).toMatchObject({ name: 'web-01', generation: 2, state: 'Running' });
  });

  it('memory.set resizes static memory of a running VM', async () => {
    const r = await dryThenRun('memory.set', TOKYO, 'web-01', { startupBytes: 6 * GiB });
    expect(r).toMatchObject({ startupBytes: 6 * GiB, dynamicMemoryEnabled: false });
    expect(h.vm(TOKYO, 'web-01').memory.startupBytes).toBe(6 * GiB);
  });

  it('memory.set raises the maximum of a running dynamic-memory VM', async () => {
    const vm = h.vm(TOKYO, 'ウェブサーバー01');
    const r = await dryThenRun('memory.set', TOKYO, 'ウェブサーバー01', {
      maximumBytes: vm.memory.maximumBytes + 2 * GiB,
      bufferPercent: 30,
    });
    expect(r).toMatchObject({ maximumBytes: vm.memory.maximumBytes + 2 * GiB, bufferPercent: 30 });
  });

  it('processor.set changes reserve, maximum and weight live', async () => {
    const r = await dryThenRun('processor.set', TOKYO, 'web-01', {
      reserve: 10,
      maximum: 80,
      relativeWeight: 200,
    });
    expect(r).toMatchObject({ reserve: 10, maximum: 80, relativeWeight: 200 });
  });

  it('network-adapter.add then .remove on a running Generation 2 VM', async () => {
    const added = await dryThenRun('network-adapter.add', TOKYO, 'web-01', {
      name: 'app-nic',
      switchName: 'Internal',
      staticMacAddress: '00-15-5D-01-02-03',
      vlanId: 20,
    });
    expect(added).toMatchObject({
      name: 'app-nic',
      switchName: 'Internal',
      vlanId: 20,
      macAddress: '00155D010203',
    });
    const removed = await dryThenRun('network-adapter.remove', TOKYO, 'web-01', { adapterId: added.id });
    expect(removed.id).toBe(added.id);
    expect(h.vm(TOKYO, 'web-01').networkAdapters.some((n) => n.id === added.id)).toBe(false);
  });

  it('hard-disk.add (new VHDX) → set-qos → vhd.resize → hard-disk.remove', async () => {
    const path = 'D:\\Hyper-V\\web-01\\data-01.vhdx';
    const added = await dryThenRun('hard-disk.add', TOKYO, 'web-01', {
      controllerNumber: 0,
      controllerLocation: 5,
      path,
      sizeBytes: 10 * GiB,
      minimumIops: 100,
    });
    expect(added).toMatchObject({
      controllerType: 'SCSI',
      controllerLocation: 5,
      created: true,
      sizeBytes: 10 * GiB,
    });
    const qos = await dryThenRun('hard-disk.set-qos', TOKYO, 'web-01', {
      controllerNumber: 0,
      controllerLocation: 5,
      maximumIops: 2000,
    });
    expect(qos).toMatchObject({ minimumIops: 100, maximumIops: 2000 });
    const resized = await dryThenRun('vhd.resize', TOKYO, 'web-01', {
      controllerNumber: 0,
      controllerLocation: 5,
      sizeBytes: 20 * GiB,
    });
    expect(resized).toMatchObject({ previousSizeBytes: 10 * GiB, sizeBytes: 20 * GiB });
    const removed = await dryThenRun('hard-disk.remove', TOKYO, 'web-01', {
      controllerNumber: 0,
      controllerLocation: 5,
    });
    expect(removed).toMatchObject({ path, attached: false });
  });

  it('vhd.optimize compacts a detached disk and reports progress', async () => {
    covered.add('vhd.optimize');
    const before = h.applied(TOKYO).length;
    const report = await h.dryRun('vhd.optimize', TOKYO, undefined, {
      path: 'D:/Hyper-V/Library/./template-ws2022.vhdx',
    });
    expect(report.params.path).toBe('D:\\Hyper-V\\Library\\template-ws2022.vhdx');
    expect(report.wouldRun).toBe(true);
    expect(h.applied(TOKYO).slice(before)).not.toContain('vhd.optimize');
    const progress: number[] = [];
    const prepared = await h.prepare('vhd.optimize', TOKYO, undefined, {
      path: 'D:\\Hyper-V\\Library\\template-ws2022.vhdx',
    });
    const outcome = await h.runner.execute(prepared, {
      deadline: Date.now() + 20_000,
      onProgress: (p) => progress.push(p.percent),
    });
    expect(outcome.result).toMatchObject({ mode: 'Quick' });
    expect(progress).toContain(100);
  });

  it('dvd-drive.add → set-media (eject) → remove on Generation 2', async () => {
    const added = await dryThenRun('dvd-drive.add', TOKYO, 'web-01', {
      path: 'D:\\Hyper-V\\ISO\\drivers.iso',
    });
    expect(added).toMatchObject({ controllerType: 'SCSI', dvdMediaType: 'ISO' });
    const slot = { controllerNumber: added.controllerNumber, controllerLocation: added.controllerLocation };
    const ejected = await dryThenRun('dvd-drive.set-media', TOKYO, 'web-01', { ...slot, path: null });
    expect(ejected).toMatchObject({ path: null, dvdMediaType: 'None' });
    await dryThenRun('dvd-drive.remove', TOKYO, 'web-01', slot);
    expect(h.vm(TOKYO, 'web-01').dvdDrives).toHaveLength(1);
  });

  it('checkpoint.create then .remove', async () => {
    const cp = await dryThenRun('checkpoint.create', TOKYO, 'web-01', {
      name: 'before-patch',
      checkpointType: 'Production',
    });
    expect(cp).toMatchObject({ name: 'before-patch', snapshotType: 'Production' });
    const removed = await dryThenRun('checkpoint.remove', TOKYO, 'web-01', { checkpointId: cp.id });
    expect(removed.removedCheckpointIds).toEqual([cp.id]);
  });

  it('vm.export writes under an export root', async () => {
    const r = await dryThenRun('vm.export', TOKYO, 'web-01', {
      destinationPath: 'E:\\Exports\\nightly',
      captureLiveState: 'CaptureDataConsistentState',
    });
    expect(r).toMatchObject({
      exportPath: 'E:\\Exports\\nightly\\web-01',
      captureLiveState: 'CaptureDataConsistentState',
    });
  });

  it('backup.create: checkpoint, export, checkpoint removed', async () => {
    const r = await dryThenRun('backup.create', TOKYO, 'web-01', { destinationPath: 'E:\\Exports\\backups' });
    expect(r).toMatchObject({ exportPath: 'E:\\Exports\\backups\\web-01', checkpointRemoved: true });
    expect(h.vm(TOKYO, 'web-01').checkpoints).toEqual([]);
  });

  it('backup.create removes its checkpoint also when the export fails', async () => {
    const before = h.vm(TOKYO, 'web-01').checkpoints.length;
    const err = await h
      .run('backup.create', TOKYO, 'web-01', { destinationPath: 'E:\\Exports\\backups' })
      .then(
        () => undefined,
        (e: unknown) => e as { code: string; status: number; extensions: Record<string, unknown> },
      );
    expect(err).toMatchObject({ code: 'HVG_ERR_CONFLICT', status: 409 });
    expect(String((err!.extensions.hostError as { message: string }).message)).toContain('0x80070050');
    expect(h.vm(TOKYO, 'web-01').checkpoints).toHaveLength(before);
  });

  it('replication.enable → get → start → remove', async () => {
    const enabled = await dryThenRun('replication.enable', OSAKA, 'メールサーバー', {
      replicaHost: NAGOYA,
      replicationFrequencySec: 30,
    });
    // Enable-VMReplication was given the replica's FQDN, from its own facts.
    const fqdn = `${NAGOYA}.hv.example.test`;
    expect(enabled).toMatchObject({ replicationState: 'ReadyForInitialReplication', replicaServer: fqdn });
    const got = await readOnly('replication.get', OSAKA, 'メールサーバー');
    expect(got.replicaServer).toBe(fqdn);
    const started = await dryThenRun('replication.start', OSAKA, 'メールサーバー');
    expect(started.replicationState).not.toBe('ReadyForInitialReplication');
    const removed = await dryThenRun('replication.remove', OSAKA, 'メールサーバー');
    expect(removed.replicationState).toBe('Disabled');
  });

  it('vm.migrate moves a VM on SMB storage to another inventory host', async () => {
    const id = h.vm(OSAKA, 'api-gateway-01').id;
    const r = await dryThenRun('vm.migrate', OSAKA, 'api-gateway-01', { destinationHost: NAGOYA });
    expect(r).toMatchObject({ vmId: id, sourceHost: OSAKA, destinationHost: NAGOYA });
    expect(h.sim.fleet.listVms(NAGOYA).some((v) => v.id === id)).toBe(true);
  });

  it('covers every operation of the registry', () => {
    expect(
      listOperations()
        .map((s) => s.id)
        .filter((id) => !covered.has(id)),
    ).toEqual([]);
  });
});
