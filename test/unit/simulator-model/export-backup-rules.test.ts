import { fail, GiB, id, ok, recordingRun, singleHost, vm } from './sim-model-kit';

const RUNNING = id(1);
const OFF = id(2);
const V50 = id(3);

function fleet() {
  return singleHost(
    [
      {
        id: RUNNING,
        name: 'ウェブサーバー01',
        memory: { startupBytes: 4 * GiB },
        hardDisks: [{ path: 'D:\\Hyper-V\\web\\boot.vhdx', sizeBytes: 40 * GiB, fileSizeBytes: 10 * GiB }],
      },
      {
        id: OFF,
        name: 'off',
        state: 'Off',
        hardDisks: [{ path: 'D:\\Hyper-V\\off\\boot.vhdx', sizeBytes: 40 * GiB, fileSizeBytes: 8 * GiB }],
      },
      { id: V50, name: 'v50', version: '5.0' },
    ],
    {
      exportRoots: ['E:\\Exports', '\\\\fs01\\backups'],
      files: [{ kind: 'directory', path: 'E:\\Exports\\taken\\off' }],
    },
  );
}

const EXPORT = 'Microsoft.HyperV.PowerShell.Commands.ExportVM';

describe('vm.export', () => {
  it('exports a running VM to <destination>\\<vm name>, with progress, saved state included by default', async () => {
    const f = fleet();
    const run = recordingRun();
    const result = await ok(
      f,
      'hv-a',
      'vm.export',
      { vmId: RUNNING, destinationPath: 'E:\\Exports\\2025-06' },
      run,
    );
    expect(result).toEqual({
      vmId: RUNNING,
      exportPath: 'E:\\Exports\\2025-06\\ウェブサーバー01',
      captureLiveState: 'CaptureSavedState',
      bytesCopied: 10 * GiB + 1024 * 1024 + 4 * GiB,
    });
    const percents = run.steps.map((s) => s.percent);
    expect(percents[0]).toBe(0);
    expect(percents.at(-1)).toBe(100);
    expect([...percents].sort((a, b) => a - b)).toEqual(percents);
    // The published 30 s guest stall of a saved-state export is part of the time.
    expect(run.slept).toBeGreaterThanOrEqual(30_000);
    expect(vm(f, RUNNING).operationInProgress).toBeNull();
  });

  it('exports data-consistent without the saved-state stall or memory', async () => {
    const run = recordingRun();
    const result = await ok(
      fleet(),
      'hv-a',
      'vm.export',
      { vmId: RUNNING, destinationPath: '\\\\fs01\\backups', captureLiveState: 'capturedataconsistentstate' },
      run,
    );
    expect(result).toMatchObject({
      captureLiveState: 'CaptureDataConsistentState',
      bytesCopied: 10 * GiB + 1024 * 1024,
    });
    expect(run.slept).toBeLessThan(30_000);
  });

  it('refuses a destination outside the export roots', async () => {
    const f = fleet();
    for (const destinationPath of ['D:\\Hyper-V\\exports', 'E:\\Exports\\..\\Windows', 'E:\\']) {
      const error = await fail(f, 'hv-a', 'vm.export', { vmId: RUNNING, destinationPath });
      expect(error).toMatchObject({ category: 'PermissionDenied', errorId: `AccessDenied,${EXPORT}` });
    }
  });

  it('refuses a destination that already holds the export', async () => {
    const f = fleet();
    const error = await fail(f, 'hv-a', 'vm.export', { vmId: OFF, destinationPath: 'E:\\Exports\\taken' });
    expect(error).toMatchObject({ category: 'ResourceExists', errorId: `ObjectAlreadyExists,${EXPORT}` });
    expect(error.message).toContain('0x80070050');
    await ok(f, 'hv-a', 'vm.export', { vmId: RUNNING, destinationPath: 'E:\\Exports\\x' });
    const again = await fail(f, 'hv-a', 'vm.export', { vmId: RUNNING, destinationPath: 'e:\\exports\\X\\' });
    expect(again.errorId).toBe(`ObjectAlreadyExists,${EXPORT}`);
  });

  it('refuses a second change while an export holds the VM (ObjectInUse)', async () => {
    const f = fleet();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let sleeps = 0;
    const slowRun = {
      progress: () => undefined,
      sleep: () => (++sleeps === 1 ? gate : Promise.resolve()),
    };
    const exporting = f.apply(
      'hv-a',
      'vm.export',
      1,
      { vmId: RUNNING, destinationPath: 'E:\\Exports\\y' },
      null,
      slowRun,
    );
    await new Promise((r) => setImmediate(r));
    expect(vm(f, RUNNING).operationInProgress).toBe('vm.export');
    expect(vm(f, RUNNING).status).toMatch(/^Exporting \(\d+%\)$/);
    const error = await fail(f, 'hv-a', 'processor.set', { vmId: RUNNING, relativeWeight: 5 });
    expect(error).toMatchObject({
      category: 'ResourceBusy',
      errorId: 'ObjectInUse,Microsoft.HyperV.PowerShell.Commands.SetVMProcessor',
    });
    release();
    expect((await exporting).ok).toBe(true);
    await ok(f, 'hv-a', 'processor.set', { vmId: RUNNING, relativeWeight: 5 });
  });
});

describe('backup.create', () => {
  it('takes a production checkpoint, exports it, removes the checkpoint', async () => {
    const f = fleet();
    const seen: number[] = [];
    const run = recordingRun(() => seen.push(vm(f, RUNNING).checkpoints.length));
    const result = await ok(
      f,
      'hv-a',
      'backup.create',
      { vmId: RUNNING, destinationPath: '\\\\fs01\\backups\\nightly' },
      run,
    );
    expect(result).toMatchObject({
      vmId: RUNNING,
      exportPath: '\\\\fs01\\backups\\nightly\\ウェブサーバー01',
      bytesCopied: 10 * GiB + 1024 * 1024,
      checkpointRemoved: true,
    });
    expect(result.checkpointName).toMatch(/^hvgate-backup-/);
    expect(Math.max(...seen)).toBe(1); // the checkpoint existed during the export
    expect(vm(f, RUNNING).checkpoints).toHaveLength(0);
    expect(run.steps.at(-1)).toEqual({ percent: 100, text: 'Backup complete' });
  });

  it('removes the checkpoint also when the export fails', async () => {
    const f = fleet();
    const seen: number[] = [];
    const run = recordingRun(() => seen.push(vm(f, RUNNING).checkpoints.length));
    const error = await fail(f, 'hv-a', 'backup.create', { vmId: RUNNING, destinationPath: 'C:\\Temp' }, run);
    expect(error).toMatchObject({
      category: 'PermissionDenied',
      errorId: 'AccessDenied,Microsoft.HyperV.PowerShell.Commands.ExportVMSnapshot',
    });
    expect(seen).toContain(1);
    expect(vm(f, RUNNING).checkpoints).toHaveLength(0);
    expect(vm(f, RUNNING).operationInProgress).toBeNull();
  });

  it('refuses a VM that cannot take a production checkpoint', async () => {
    const error = await fail(fleet(), 'hv-a', 'backup.create', { vmId: V50, destinationPath: 'E:\\Exports' });
    expect(error).toMatchObject({
      category: 'InvalidOperation',
      errorId: 'InvalidState,Microsoft.HyperV.PowerShell.Commands.CheckpointVM',
    });
  });
});
