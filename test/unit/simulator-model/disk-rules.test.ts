import { fail, GiB, id, MiB, ok, recordingRun, singleHost, vm } from './sim-model-kit';

const GEN2 = id(1);
const GEN1 = id(2);
const GEN1_OFF = id(3);
const OFF = id(4);
const CKPT = id(5);
const OTHER = id(6);

function fleet() {
  return singleHost(
    [
      {
        id: GEN2,
        name: 'gen2',
        hardDisks: [
          {
            path: 'D:\\Hyper-V\\gen2\\boot.vhdx',
            sizeBytes: 40 * GiB,
            dataBytes: 10 * GiB,
            minimumSizeBytes: 12 * GiB,
          },
        ],
      },
      {
        id: GEN1,
        name: 'gen1',
        generation: 1,
        scsiControllerCount: 1,
        hardDisks: [
          { controllerType: 'IDE', path: 'D:\\Hyper-V\\gen1\\boot.vhd', sizeBytes: 60 * GiB },
          {
            controllerType: 'SCSI',
            controllerLocation: 0,
            path: 'D:\\Hyper-V\\gen1\\data.vhdx',
            sizeBytes: 100 * GiB,
          },
          {
            controllerType: 'SCSI',
            controllerLocation: 1,
            path: 'D:\\Hyper-V\\gen1\\old.vhd',
            sizeBytes: 20 * GiB,
          },
        ],
      },
      { id: GEN1_OFF, name: 'gen1-off', generation: 1, state: 'Off', hardDisks: [] },
      {
        id: OFF,
        name: 'off',
        state: 'Off',
        hardDisks: [
          { path: 'D:\\Hyper-V\\off\\boot.vhdx', sizeBytes: 40 * GiB },
          { path: 'D:\\Hyper-V\\off\\legacy.vhd', sizeBytes: 20 * GiB, dataBytes: 2 * GiB },
        ],
      },
      {
        id: CKPT,
        name: 'with-checkpoint',
        hardDisks: [{ path: 'D:\\Hyper-V\\ckpt\\boot.vhdx', sizeBytes: 40 * GiB }],
        checkpoints: [{ name: 'before-patch' }],
      },
      {
        id: OTHER,
        name: 'other',
        hardDisks: [{ path: 'D:\\Hyper-V\\other\\boot.vhdx', sizeBytes: 40 * GiB }],
      },
    ],
    {
      storageRoots: ['D:\\Hyper-V', '\\\\fs01\\vms'],
      files: [
        {
          kind: 'vhd',
          path: 'D:\\Hyper-V\\Library\\free.vhdx',
          sizeBytes: 50 * GiB,
          dataBytes: 5 * GiB,
          fileSizeBytes: 20 * GiB,
        },
        { kind: 'vhd', path: 'D:\\Hyper-V\\Library\\fixed.vhdx', sizeBytes: 10 * GiB, type: 'Fixed' },
        { kind: 'vhd', path: 'C:\\Windows\\Temp\\outside.vhdx', sizeBytes: 10 * GiB },
        { kind: 'iso', path: 'D:\\Hyper-V\\ISO\\tools.iso' },
      ],
    },
  );
}

const ADD = 'Microsoft.HyperV.PowerShell.Commands.AddVMHardDiskDrive';
const REMOVE = 'Microsoft.HyperV.PowerShell.Commands.RemoveVMHardDiskDrive';
const SET = 'Microsoft.HyperV.PowerShell.Commands.SetVMHardDiskDrive';
const NEW_VHD = 'Microsoft.Vhd.PowerShell.Cmdlets.NewVHD';
const RESIZE = 'Microsoft.Vhd.PowerShell.Cmdlets.ResizeVHD';
const OPTIMIZE = 'Microsoft.Vhd.PowerShell.Cmdlets.OptimizeVHD';

describe('hard-disk.add', () => {
  it('hot-adds an existing VHDX on SCSI to a running VM', async () => {
    const f = fleet();
    const disk = await ok(f, 'hv-a', 'hard-disk.add', {
      vmId: GEN2,
      controllerNumber: 0,
      controllerLocation: 1,
      path: 'd:\\hyper-v\\library\\FREE.vhdx',
      minimumIops: 100,
      maximumIops: 1000,
    });
    expect(disk).toMatchObject({
      vmId: GEN2,
      created: false,
      controllerType: 'SCSI',
      controllerNumber: 0,
      controllerLocation: 1,
      path: 'D:\\Hyper-V\\Library\\free.vhdx',
      vhdFormat: 'VHDX',
      vhdType: 'Dynamic',
      sizeBytes: 50 * GiB,
      minimumIops: 100,
      maximumIops: 1000,
      attached: true,
    });
    expect(vm(f, GEN2).hardDisks).toHaveLength(2);
  });

  it('creates a new dynamic or fixed disk; a fixed one takes zero-fill time', async () => {
    const f = fleet();
    const dynRun = recordingRun();
    const dynamic = await ok(
      f,
      'hv-a',
      'hard-disk.add',
      {
        vmId: GEN2,
        controllerNumber: 0,
        controllerLocation: 2,
        path: 'D:\\Hyper-V\\gen2\\new.vhdx',
        sizeBytes: 20 * GiB,
      },
      dynRun,
    );
    expect(dynamic).toMatchObject({
      created: true,
      vhdType: 'Dynamic',
      sizeBytes: 20 * GiB,
      fileSizeBytes: 4 * MiB,
    });
    const fixedRun = recordingRun();
    const fixed = await ok(
      f,
      'hv-a',
      'hard-disk.add',
      {
        vmId: GEN2,
        controllerNumber: 0,
        controllerLocation: 3,
        path: '\\\\fs01\\vms\\gen2\\fixed.vhdx',
        sizeBytes: 20 * GiB,
        fixed: true,
      },
      fixedRun,
    );
    expect(fixed).toMatchObject({ created: true, vhdType: 'Fixed', sizeBytes: 20 * GiB });
    expect(fixedRun.slept - dynRun.slept).toBeGreaterThanOrEqual(19_000);
  });

  it('refuses a disk on IDE while the VM runs (hot plug is SCSI only); allows it when off', async () => {
    const f = fleet();
    const error = await fail(f, 'hv-a', 'hard-disk.add', {
      vmId: GEN1,
      controllerType: 'IDE',
      controllerNumber: 1,
      controllerLocation: 0,
      path: 'D:\\Hyper-V\\Library\\free.vhdx',
    });
    expect(error).toMatchObject({ category: 'InvalidOperation', errorId: `InvalidState,${ADD}` });
    expect(error.message).toMatch(/^Failed to add device 'Synthetic Disk Drive'\./);
    await ok(f, 'hv-a', 'hard-disk.add', {
      vmId: GEN1_OFF,
      controllerType: 'IDE',
      controllerNumber: 0,
      controllerLocation: 0,
      path: 'D:\\Hyper-V\\Library\\free.vhdx',
    });
  });

  it('refuses IDE on Generation 2 and a SCSI controller the VM does not have', async () => {
    const f = fleet();
    const ide = await fail(f, 'hv-a', 'hard-disk.add', {
      vmId: GEN2,
      controllerType: 'IDE',
      controllerNumber: 0,
      controllerLocation: 0,
      path: 'D:\\Hyper-V\\Library\\free.vhdx',
    });
    expect(ide).toMatchObject({ category: 'ObjectNotFound', errorId: `ObjectNotFound,${ADD}` });
    const scsi1 = await fail(f, 'hv-a', 'hard-disk.add', {
      vmId: GEN2,
      controllerNumber: 1,
      controllerLocation: 0,
      path: 'D:\\Hyper-V\\Library\\free.vhdx',
    });
    expect(scsi1.errorId).toBe(`ObjectNotFound,${ADD}`);
    expect(scsi1.message).toContain('requires the virtual machine to be off');
  });

  it('refuses an occupied location', async () => {
    const error = await fail(fleet(), 'hv-a', 'hard-disk.add', {
      vmId: GEN2,
      controllerNumber: 0,
      controllerLocation: 0,
      path: 'D:\\Hyper-V\\Library\\free.vhdx',
    });
    expect(error.errorId).toBe(`InvalidParameter,${ADD}`);
  });

  it('refuses paths outside the storage roots, also through .. (access denied)', async () => {
    const f = fleet();
    for (const path of [
      'C:\\Windows\\Temp\\outside.vhdx',
      'D:\\Hyper-V\\..\\Windows\\x.vhdx',
      'D:\\Hyper-V-evil\\x.vhdx',
      '\\\\fs02\\vms\\x.vhdx',
    ]) {
      const error = await fail(f, 'hv-a', 'hard-disk.add', {
        vmId: GEN2,
        controllerNumber: 0,
        controllerLocation: 5,
        path,
      });
      expect(error).toMatchObject({ category: 'PermissionDenied', errorId: `AccessDenied,${ADD}` });
      expect(error.message).toContain('0x80070005');
    }
    const create = await fail(f, 'hv-a', 'hard-disk.add', {
      vmId: GEN2,
      controllerNumber: 0,
      controllerLocation: 5,
      path: 'C:\\x.vhdx',
      sizeBytes: GiB,
    });
    expect(create.errorId).toBe(`AccessDenied,${NEW_VHD}`);
  });

  it('refuses a file that does not exist (attach) or already exists (create)', async () => {
    const f = fleet();
    const missing = await fail(f, 'hv-a', 'hard-disk.add', {
      vmId: GEN2,
      controllerNumber: 0,
      controllerLocation: 5,
      path: 'D:\\Hyper-V\\nope.vhdx',
    });
    expect(missing).toMatchObject({ category: 'ObjectNotFound', errorId: `ObjectNotFound,${ADD}` });
    expect(missing.message).toContain('0x80070002');
    const exists = await fail(f, 'hv-a', 'hard-disk.add', {
      vmId: GEN2,
      controllerNumber: 0,
      controllerLocation: 5,
      path: 'D:\\Hyper-V\\Library\\free.vhdx',
      sizeBytes: GiB,
    });
    expect(exists).toMatchObject({ category: 'ResourceExists', errorId: `ObjectAlreadyExists,${NEW_VHD}` });
    expect(exists.message).toContain('0x80070050');
  });

  it('refuses a disk attached to another VM (ObjectInUse), a non-VHD file and a bad extension', async () => {
    const f = fleet();
    const inUse = await fail(f, 'hv-a', 'hard-disk.add', {
      vmId: GEN2,
      controllerNumber: 0,
      controllerLocation: 5,
      path: 'D:\\Hyper-V\\other\\boot.vhdx',
    });
    expect(inUse).toMatchObject({ category: 'ResourceBusy', errorId: `ObjectInUse,${ADD}` });
    const iso = await fail(f, 'hv-a', 'hard-disk.add', {
      vmId: GEN2,
      controllerNumber: 0,
      controllerLocation: 5,
      path: 'D:\\Hyper-V\\ISO\\tools.iso',
    });
    expect(iso.errorId).toBe(`InvalidParameter,${ADD}`);
    const ext = await fail(f, 'hv-a', 'hard-disk.add', {
      vmId: GEN2,
      controllerNumber: 0,
      controllerLocation: 5,
      path: 'D:\\Hyper-V\\x.img',
      sizeBytes: GiB,
    });
    expect(ext.errorId).toBe(`InvalidParameter,${NEW_VHD}`);
  });

  it('refuses -Fixed without a size (parameter set)', async () => {
    const error = await fail(fleet(), 'hv-a', 'hard-disk.add', {
      vmId: GEN2,
      controllerNumber: 0,
      controllerLocation: 5,
      path: 'D:\\Hyper-V\\Library\\free.vhdx',
      fixed: true,
    });
    expect(error).toMatchObject({ category: 'InvalidArgument', errorId: `AmbiguousParameterSet,${NEW_VHD}` });
  });
});

describe('hard-disk.remove', () => {
  it('hot-removes a SCSI disk from a running VM and leaves the file detached', async () => {
    const f = fleet();
    const removed = await ok(f, 'hv-a', 'hard-disk.remove', {
      vmId: GEN1,
      controllerNumber: 0,
      controllerLocation: 0,
    });
    expect(removed).toMatchObject({ path: 'D:\\Hyper-V\\gen1\\data.vhdx', attached: false });
    expect(vm(f, GEN1).hardDisks).toHaveLength(2);
    await ok(f, 'hv-a', 'hard-disk.add', {
      vmId: GEN2,
      controllerNumber: 0,
      controllerLocation: 4,
      path: 'D:\\Hyper-V\\gen1\\data.vhdx',
    });
  });

  it('refuses removing a disk from IDE while running', async () => {
    const f = fleet();
    const error = await fail(f, 'hv-a', 'hard-disk.remove', {
      vmId: GEN1,
      controllerType: 'IDE',
      controllerNumber: 0,
      controllerLocation: 0,
    });
    expect(error).toMatchObject({ category: 'InvalidOperation', errorId: `InvalidState,${REMOVE}` });
    expect(vm(f, GEN1).hardDisks).toHaveLength(3);
  });

  it('refuses an empty location (ObjectNotFound)', async () => {
    const error = await fail(fleet(), 'hv-a', 'hard-disk.remove', {
      vmId: GEN2,
      controllerNumber: 0,
      controllerLocation: 9,
    });
    expect(error).toMatchObject({ category: 'ObjectNotFound', errorId: `ObjectNotFound,${REMOVE}` });
  });
});

describe('hard-disk.set-qos', () => {
  it('sets minimum and maximum IOPS while running; 0 means no limit', async () => {
    const f = fleet();
    const result = await ok(f, 'hv-a', 'hard-disk.set-qos', {
      vmId: GEN2,
      controllerNumber: 0,
      controllerLocation: 0,
      minimumIops: 200,
      maximumIops: 0,
    });
    expect(result).toMatchObject({ minimumIops: 200, maximumIops: 0 });
    await ok(f, 'hv-a', 'hard-disk.set-qos', {
      vmId: GEN2,
      controllerNumber: 0,
      controllerLocation: 0,
      maximumIops: 500,
    });
    expect(vm(f, GEN2).hardDisks[0]).toMatchObject({ minimumIops: 200, maximumIops: 500 });
  });

  it('refuses a non-zero maximum below the minimum', async () => {
    const f = fleet();
    const error = await fail(f, 'hv-a', 'hard-disk.set-qos', {
      vmId: GEN2,
      controllerNumber: 0,
      controllerLocation: 0,
      minimumIops: 500,
      maximumIops: 100,
    });
    expect(error).toMatchObject({ category: 'InvalidArgument', errorId: `InvalidParameter,${SET}` });
    const onAdd = await fail(f, 'hv-a', 'hard-disk.add', {
      vmId: GEN2,
      controllerNumber: 0,
      controllerLocation: 5,
      path: 'D:\\Hyper-V\\Library\\free.vhdx',
      minimumIops: 10,
      maximumIops: 5,
    });
    expect(onAdd.errorId).toBe(`InvalidParameter,${ADD}`);
  });
});

describe('vhd.resize', () => {
  it('expands a SCSI-attached VHDX of a running VM, printing progress', async () => {
    const f = fleet();
    const run = recordingRun();
    const result = await ok(
      f,
      'hv-a',
      'vhd.resize',
      { vmId: GEN2, controllerNumber: 0, controllerLocation: 0, sizeBytes: 60 * GiB },
      run,
    );
    expect(result).toMatchObject({
      vmId: GEN2,
      previousSizeBytes: 40 * GiB,
      sizeBytes: 60 * GiB,
      vhdFormat: 'VHDX',
      attached: true,
    });
    expect(run.steps.map((s) => s.percent)).toEqual([0, 50, 100]);
    expect(vm(f, GEN2).hardDisks[0].sizeBytes).toBe(60 * GiB);
  });

  it('shrinks a VHDX down to, but not below, its MinimumSize', async () => {
    const f = fleet();
    const below = await fail(f, 'hv-a', 'vhd.resize', {
      vmId: GEN2,
      controllerNumber: 0,
      controllerLocation: 0,
      sizeBytes: 12 * GiB - MiB,
    });
    expect(below).toMatchObject({ category: 'InvalidArgument', errorId: `InvalidParameter,${RESIZE}` });
    expect(below.message).toContain('MinimumSize');
    await ok(f, 'hv-a', 'vhd.resize', {
      vmId: GEN2,
      controllerNumber: 0,
      controllerLocation: 0,
      sizeBytes: 12 * GiB,
    });
  });

  it('refuses resizing an IDE-attached disk while running', async () => {
    const error = await fail(fleet(), 'hv-a', 'vhd.resize', {
      vmId: GEN1,
      controllerType: 'IDE',
      controllerNumber: 0,
      controllerLocation: 0,
      sizeBytes: 80 * GiB,
    });
    expect(error).toMatchObject({ category: 'ResourceBusy', errorId: `ObjectInUse,${RESIZE}` });
    expect(error.message).toContain('IDE');
  });

  it('refuses resizing a VHD (not VHDX) attached to a running VM; expands it when the VM is off', async () => {
    const f = fleet();
    const error = await fail(f, 'hv-a', 'vhd.resize', {
      vmId: GEN1,
      controllerNumber: 0,
      controllerLocation: 1,
      sizeBytes: 30 * GiB,
    });
    expect(error).toMatchObject({ category: 'ResourceBusy', errorId: `ObjectInUse,${RESIZE}` });
    expect(error.message).toContain('only VHDX');
    await ok(f, 'hv-a', 'vhd.resize', {
      vmId: OFF,
      controllerNumber: 0,
      controllerLocation: 1,
      sizeBytes: 30 * GiB,
    });
  });

  it('refuses shrinking a VHD', async () => {
    const error = await fail(fleet(), 'hv-a', 'vhd.resize', {
      vmId: OFF,
      controllerNumber: 0,
      controllerLocation: 1,
      sizeBytes: 10 * GiB,
    });
    expect(error).toMatchObject({ category: 'NotImplemented', errorId: `NotSupported,${RESIZE}` });
  });

  it('refuses resizing a disk of a VM with checkpoints', async () => {
    const error = await fail(fleet(), 'hv-a', 'vhd.resize', {
      vmId: CKPT,
      controllerNumber: 0,
      controllerLocation: 0,
      sizeBytes: 50 * GiB,
    });
    expect(error).toMatchObject({ category: 'InvalidOperation', errorId: `InvalidState,${RESIZE}` });
    expect(error.message).toContain('checkpoints');
  });
});

describe('vhd.optimize', () => {
  it('compacts a detached dynamic disk, printing progress', async () => {
    const f = fleet();
    const run = recordingRun();
    const result = await ok(f, 'hv-a', 'vhd.optimize', { path: 'D:\\Hyper-V\\Library\\free.vhdx' }, run);
    expect(result).toEqual({
      path: 'D:\\Hyper-V\\Library\\free.vhdx',
      mode: 'Quick',
      fileSizeBeforeBytes: 20 * GiB,
      fileSizeAfterBytes: 5 * GiB + 4 * MiB,
    });
    expect(run.steps.at(-1)).toEqual({ percent: 100, text: 'Optimize complete' });
    expect(run.slept).toBeGreaterThan(0);
  });

  it('compacts a disk of a VM that is off', async () => {
    const result = await ok(fleet(), 'hv-a', 'vhd.optimize', {
      path: 'D:\\Hyper-V\\off\\legacy.vhd',
      mode: 'Prezeroed',
    });
    expect(result.mode).toBe('Prezeroed');
    expect(result.fileSizeAfterBytes).toBeLessThan(result.fileSizeBeforeBytes);
  });

  it('refuses a disk attached read-write to a running VM', async () => {
    const error = await fail(fleet(), 'hv-a', 'vhd.optimize', { path: 'D:\\Hyper-V\\gen2\\boot.vhdx' });
    expect(error).toMatchObject({ category: 'ResourceBusy', errorId: `ObjectInUse,${OPTIMIZE}` });
    expect(error.message).toContain("attached read-write to virtual machine 'gen2'");
  });

  it('refuses fixed disks, missing files and paths outside the storage roots', async () => {
    const f = fleet();
    expect(await fail(f, 'hv-a', 'vhd.optimize', { path: 'D:\\Hyper-V\\Library\\fixed.vhdx' })).toMatchObject(
      { errorId: `NotSupported,${OPTIMIZE}` },
    );
    expect(await fail(f, 'hv-a', 'vhd.optimize', { path: 'D:\\Hyper-V\\none.vhdx' })).toMatchObject({
      category: 'ObjectNotFound',
      errorId: `ObjectNotFound,${OPTIMIZE}`,
    });
    expect(await fail(f, 'hv-a', 'vhd.optimize', { path: 'C:\\Windows\\Temp\\outside.vhdx' })).toMatchObject({
      category: 'PermissionDenied',
      errorId: `AccessDenied,${OPTIMIZE}`,
    });
    expect(await fail(f, 'hv-a', 'vhd.optimize', { path: 'relative\\x.vhdx' })).toMatchObject({
      errorId: `InvalidParameter,${OPTIMIZE}`,
    });
  });
});
