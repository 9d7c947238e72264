import { fail, id, ok, singleHost, vm } from './sim-model-kit';

const GEN2 = id(1);
const GEN1 = id(2);
const GEN1_OFF = id(3);
const DISABLED = id(4);
const V50 = id(5);
const NO_VSS = id(6);
const PRODUCTION_ONLY = id(7);
const CHAIN = id(8);
const SAVED = id(9);

const ISO = '\\\\fs01\\iso\\ws2022.iso';

function fleet() {
  return singleHost(
    [
      { id: GEN2, name: 'gen2', dvdDrives: [{ controllerLocation: 1, path: ISO }] },
      {
        id: GEN1,
        name: 'gen1',
        generation: 1,
        dvdDrives: [{ controllerNumber: 1, controllerLocation: 0, path: null }],
      },
      { id: GEN1_OFF, name: 'gen1-off', generation: 1, state: 'Off' },
      { id: DISABLED, name: 'disabled', checkpointType: 'Disabled' },
      { id: V50, name: 'v50', version: '5.0' },
      { id: NO_VSS, name: 'no-vss', guestBackupServiceEnabled: false },
      { id: PRODUCTION_ONLY, name: 'dc', checkpointType: 'ProductionOnly', guestBackupServiceEnabled: false },
      { id: CHAIN, name: 'chain', checkpoints: [{ name: 'a' }, { name: 'b' }, { name: 'c' }] },
      { id: SAVED, name: 'saved', state: 'Saved' },
    ],
    {
      storageRoots: ['D:\\Hyper-V', '\\\\fs01\\iso'],
      files: [
        { kind: 'iso', path: 'D:\\Hyper-V\\ISO\\tools.iso' },
        { kind: 'vhd', path: 'D:\\Hyper-V\\x.vhdx', sizeBytes: 1 << 30 },
      ],
    },
  );
}

const ADD_DVD = 'Microsoft.HyperV.PowerShell.Commands.AddVMDvdDrive';
const REMOVE_DVD = 'Microsoft.HyperV.PowerShell.Commands.RemoveVMDvdDrive';
const SET_DVD = 'Microsoft.HyperV.PowerShell.Commands.SetVMDvdDrive';
const CHECKPOINT = 'Microsoft.HyperV.PowerShell.Commands.CheckpointVM';

describe('dvd-drive.add / remove / set-media', () => {
  it('adds a SCSI DVD drive with media to a running Generation 2 VM at the first free location', async () => {
    const f = fleet();
    const dvd = await ok(f, 'hv-a', 'dvd-drive.add', { vmId: GEN2, path: 'D:\\Hyper-V\\ISO\\tools.iso' });
    expect(dvd).toEqual({
      vmId: GEN2,
      controllerType: 'SCSI',
      controllerNumber: 0,
      controllerLocation: 2,
      path: 'D:\\Hyper-V\\ISO\\tools.iso',
      dvdMediaType: 'ISO',
    });
  });

  it('refuses adding a DVD drive to a running Generation 1 VM (IDE); allows it when off', async () => {
    const f = fleet();
    const error = await fail(f, 'hv-a', 'dvd-drive.add', { vmId: GEN1 });
    expect(error).toMatchObject({ category: 'InvalidOperation', errorId: `InvalidState,${ADD_DVD}` });
    expect(error.message).toMatch(/^Failed to add device 'Synthetic DVD Drive'\./);
    const dvd = await ok(f, 'hv-a', 'dvd-drive.add', { vmId: GEN1_OFF, controllerNumber: 1 });
    expect(dvd).toMatchObject({
      controllerType: 'IDE',
      controllerNumber: 1,
      controllerLocation: 0,
      dvdMediaType: 'None',
    });
  });

  it('refuses removing an IDE DVD drive while running; removes a SCSI one', async () => {
    const f = fleet();
    const error = await fail(f, 'hv-a', 'dvd-drive.remove', {
      vmId: GEN1,
      controllerNumber: 1,
      controllerLocation: 0,
    });
    expect(error.errorId).toBe(`InvalidState,${REMOVE_DVD}`);
    await ok(f, 'hv-a', 'dvd-drive.remove', { vmId: GEN2, controllerNumber: 0, controllerLocation: 1 });
    expect(vm(f, GEN2).dvdDrives).toHaveLength(0);
  });

  it('changes and ejects media while running, also on Generation 1', async () => {
    const f = fleet();
    const inserted = await ok(f, 'hv-a', 'dvd-drive.set-media', {
      vmId: GEN1,
      controllerNumber: 1,
      controllerLocation: 0,
      path: ISO,
    });
    expect(inserted).toMatchObject({ path: ISO, dvdMediaType: 'ISO' });
    const ejected = await ok(f, 'hv-a', 'dvd-drive.set-media', {
      vmId: GEN1,
      controllerNumber: 1,
      controllerLocation: 0,
      path: null,
    });
    expect(ejected).toMatchObject({ path: null, dvdMediaType: 'None' });
  });

  it('refuses media that is missing, not an ISO, or outside the storage roots', async () => {
    const f = fleet();
    const loc = { vmId: GEN2, controllerNumber: 0, controllerLocation: 1 };
    expect(
      await fail(f, 'hv-a', 'dvd-drive.set-media', { ...loc, path: 'D:\\Hyper-V\\ISO\\none.iso' }),
    ).toMatchObject({ category: 'ObjectNotFound', errorId: `ObjectNotFound,${SET_DVD}` });
    expect(
      await fail(f, 'hv-a', 'dvd-drive.set-media', { ...loc, path: 'D:\\Hyper-V\\x.vhdx' }),
    ).toMatchObject({ errorId: `InvalidParameter,${SET_DVD}` });
    expect(await fail(f, 'hv-a', 'dvd-drive.set-media', { ...loc, path: 'C:\\x.iso' })).toMatchObject({
      category: 'PermissionDenied',
      errorId: `AccessDenied,${SET_DVD}`,
    });
    expect(
      await fail(f, 'hv-a', 'dvd-drive.set-media', { ...loc, controllerLocation: 5, path: null }),
    ).toMatchObject({ errorId: `ObjectNotFound,${SET_DVD}` });
  });
});

describe('checkpoint.create', () => {
  it('takes a production checkpoint of a running VM by default, with Checkpoint-VM default naming', async () => {
    const f = fleet();
    const cp = await ok(f, 'hv-a', 'checkpoint.create', { vmId: GEN2 });
    expect(cp).toMatchObject({
      vmId: GEN2,
      vmName: 'gen2',
      snapshotType: 'Production',
      checkpointType: 'Production',
      fellBackToStandard: false,
      parentCheckpointId: null,
    });
    expect(cp.name).toMatch(/^gen2 - \(\d{1,2}\/\d{1,2}\/\d{4} - \d{1,2}:\d{2}:\d{2} [AP]M\)$/);
    expect(vm(f, GEN2).currentCheckpointId).toBe(cp.id);
    const child = await ok(f, 'hv-a', 'checkpoint.create', { vmId: GEN2, name: 'second' });
    expect(child).toMatchObject({ name: 'second', parentCheckpointId: cp.id, parentCheckpointName: cp.name });
  });

  it('refuses a VM whose checkpoint type is Disabled, whatever type is asked for', async () => {
    const f = fleet();
    for (const checkpointType of [undefined, 'Standard']) {
      const error = await fail(f, 'hv-a', 'checkpoint.create', {
        vmId: DISABLED,
        ...(checkpointType ? { checkpointType } : {}),
      });
      expect(error).toMatchObject({ category: 'InvalidOperation', errorId: `InvalidState,${CHECKPOINT}` });
      expect(error.message).toContain('Checkpoints are disabled');
    }
    expect(vm(f, DISABLED).checkpoints).toHaveLength(0);
  });

  it('falls back from Production to Standard when production is impossible (version 5.0, no guest VSS, Saved)', async () => {
    const f = fleet();
    for (const vmId of [V50, NO_VSS, SAVED]) {
      const cp = await ok(f, 'hv-a', 'checkpoint.create', { vmId });
      expect(cp).toMatchObject({
        snapshotType: 'Standard',
        checkpointType: 'Production',
        fellBackToStandard: true,
      });
    }
  });

  it('fails ProductionOnly when production is impossible, and takes Standard when asked', async () => {
    const f = fleet();
    const error = await fail(f, 'hv-a', 'checkpoint.create', { vmId: PRODUCTION_ONLY });
    expect(error).toMatchObject({ category: 'InvalidOperation', errorId: `InvalidState,${CHECKPOINT}` });
    expect(error.message).toContain('ProductionOnly');
    const asked = await fail(f, 'hv-a', 'checkpoint.create', { vmId: V50, checkpointType: 'ProductionOnly' });
    expect(asked.message).toContain('version 6.2');
    const standard = await ok(f, 'hv-a', 'checkpoint.create', {
      vmId: PRODUCTION_ONLY,
      checkpointType: 'Standard',
    });
    expect(standard).toMatchObject({ snapshotType: 'Standard', fellBackToStandard: false });
  });
});

describe('checkpoint.remove', () => {
  it('removes a middle checkpoint and re-parents its child (merge)', async () => {
    const f = fleet();
    const [a, b, c] = vm(f, CHAIN).checkpoints;
    const result = await ok(f, 'hv-a', 'checkpoint.remove', { vmId: CHAIN, checkpointId: b.id });
    expect(result).toEqual({ vmId: CHAIN, removedCheckpointIds: [b.id], currentCheckpointId: c.id });
    const after = vm(f, CHAIN).checkpoints;
    expect(after.map((x: { id: string }) => x.id)).toEqual([a.id, c.id]);
    expect(after[1].parentCheckpointId).toBe(a.id);
  });

  it('removes a subtree with includeChildren and moves the current checkpoint up', async () => {
    const f = fleet();
    const [a, b, c] = vm(f, CHAIN).checkpoints;
    const result = await ok(f, 'hv-a', 'checkpoint.remove', {
      vmId: CHAIN,
      checkpointId: b.id.toUpperCase(),
      includeChildren: true,
    });
    expect(result.removedCheckpointIds.sort()).toEqual([b.id, c.id].sort());
    expect(result.currentCheckpointId).toBe(a.id);
  });

  it('refuses an unknown checkpoint (ObjectNotFound)', async () => {
    const f = fleet();
    const error = await fail(f, 'hv-a', 'checkpoint.remove', { vmId: CHAIN, checkpointId: id(999) });
    expect(error).toMatchObject({
      category: 'ObjectNotFound',
      errorId: 'ObjectNotFound,Microsoft.HyperV.PowerShell.Commands.GetVMSnapshot',
    });
    expect(vm(f, CHAIN).checkpoints).toHaveLength(3);
  });
});
