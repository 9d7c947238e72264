import { OPERATION_IDS, OPERATIONS } from '../../../src/simulator/hyperv-operations';
import { fail, fleetOf, GiB, host, id, Json, ok, vm } from './sim-model-kit';

const WEB = id(1);
const OFF = id(2);
const DYN = id(3);

function fleet() {
  return fleetOf([
    host(
      'hv-a',
      '2019',
      [
        {
          id: WEB,
          name: 'web',
          path: '\\\\fs\\vms\\web',
          hardDisks: [{ path: '\\\\fs\\vms\\web\\boot.vhdx', sizeBytes: 40 * GiB, dataBytes: 8 * GiB }],
          dvdDrives: [{ path: null }],
        },
        { id: OFF, name: 'off', state: 'Off' },
        {
          id: DYN,
          name: 'dyn',
          memory: {
            dynamicMemoryEnabled: true,
            startupBytes: 2 * GiB,
            minimumBytes: GiB,
            maximumBytes: 8 * GiB,
          },
        },
      ],
      {
        storageRoots: ['D:\\Hyper-V', '\\\\fs\\vms'],
        migration: { kerberosDelegationTo: ['hv-b'] },
        files: [
          { kind: 'vhd', path: 'D:\\Hyper-V\\spare.vhdx', sizeBytes: 10 * GiB },
          { kind: 'iso', path: 'D:\\Hyper-V\\tools.iso' },
        ],
      },
    ),
    host('hv-b', '2022', [], {
      storageRoots: ['D:\\Hyper-V', '\\\\fs\\vms'],
      replicationServer: { replicationEnabled: true },
    }),
  ]);
}

describe('operation dispatch table', () => {
  it('has exactly the catalog operations, each at template version 1, with long-running ones marked', () => {
    expect([...OPERATION_IDS].sort()).toEqual(
      [
        'host.get',
        'vm.list',
        'vm.get',
        'memory.set',
        'processor.set',
        'network-adapter.add',
        'network-adapter.remove',
        'hard-disk.add',
        'hard-disk.remove',
        'hard-disk.set-qos',
        'vhd.resize',
        'vhd.optimize',
        'dvd-drive.add',
        'dvd-drive.remove',
        'dvd-drive.set-media',
        'checkpoint.create',
        'checkpoint.remove',
        'vm.export',
        'vm.migrate',
        'replication.enable',
        'replication.start',
        'replication.get',
        'replication.remove',
        'backup.create',
      ].sort(),
    );
    for (const op of Object.values(OPERATIONS)) expect(op.versions).toEqual([1]);
    const long = OPERATION_IDS.filter((k) => OPERATIONS[k].longRunning).sort();
    expect(long).toEqual(['backup.create', 'vhd.optimize', 'vhd.resize', 'vm.export', 'vm.migrate']);
    const hostLevel = OPERATION_IDS.filter((k) => OPERATIONS[k].hostLevel).sort();
    expect(hostLevel).toEqual(['host.get', 'vhd.optimize', 'vm.list']);
    for (const k of OPERATION_IDS) {
      const fields = Object.keys(OPERATIONS[k].spec.fields);
      expect(fields.includes('vmId')).toBe(!OPERATIONS[k].hostLevel);
    }
  });

  it('runs every operation’s success path, in an order that leaves each one something to act on', async () => {
    const f = fleet();
    const steps: [string, unknown | (() => unknown), (r: Json) => void][] = [
      [
        'host.get',
        {},
        (r) =>
          expect(r).toMatchObject({
            name: 'hv-a',
            osVersion: '2019',
            supportedVmVersions: expect.arrayContaining(['5.0', '9.0']),
          }),
      ],
      ['vm.list', {}, (r) => expect(r.map((v: Json) => v.id)).toEqual([WEB, OFF, DYN])],
      [
        'vm.get',
        { vmId: WEB },
        (r) =>
          expect(r).toMatchObject({
            id: WEB,
            name: 'web',
            hostName: 'hv-a',
            generation: 2,
            version: '9.0',
            state: 'Running',
          }),
      ],
      ['memory.set', { vmId: WEB, startupBytes: 6 * GiB }, (r) => expect(r.startupBytes).toBe(6 * GiB)],
      ['processor.set', { vmId: WEB, maximum: 80 }, (r) => expect(r.maximum).toBe(80)],
      [
        'network-adapter.add',
        { vmId: WEB, switchName: 'Internal' },
        (r) => expect(r.switchName).toBe('Internal'),
      ],
      [
        'network-adapter.remove',
        () => ({ vmId: WEB, adapterId: vm(f, WEB).networkAdapters.at(-1).id }),
        (r) => expect(r.switchName).toBe('Internal'),
      ],
      [
        'hard-disk.add',
        { vmId: WEB, controllerNumber: 0, controllerLocation: 5, path: 'D:\\Hyper-V\\spare.vhdx' },
        (r) => expect(r.created).toBe(false),
      ],
      [
        'hard-disk.set-qos',
        { vmId: WEB, controllerNumber: 0, controllerLocation: 5, maximumIops: 300 },
        (r) => expect(r.maximumIops).toBe(300),
      ],
      [
        'vhd.resize',
        { vmId: WEB, controllerNumber: 0, controllerLocation: 5, sizeBytes: 20 * GiB },
        (r) => expect(r.sizeBytes).toBe(20 * GiB),
      ],
      [
        'hard-disk.remove',
        { vmId: WEB, controllerNumber: 0, controllerLocation: 5 },
        (r) => expect(r.attached).toBe(false),
      ],
      ['vhd.optimize', { path: 'D:\\Hyper-V\\spare.vhdx', mode: 'Full' }, (r) => expect(r.mode).toBe('Full')],
      [
        'dvd-drive.set-media',
        { vmId: WEB, controllerNumber: 0, controllerLocation: 1, path: 'D:\\Hyper-V\\tools.iso' },
        (r) => expect(r.dvdMediaType).toBe('ISO'),
      ],
      ['dvd-drive.add', { vmId: WEB }, (r) => expect(r.controllerLocation).toBe(2)],
      [
        'dvd-drive.remove',
        { vmId: WEB, controllerNumber: 0, controllerLocation: 2 },
        (r) => expect(r.controllerLocation).toBe(2),
      ],
      ['checkpoint.create', { vmId: WEB, name: 'before' }, (r) => expect(r.name).toBe('before')],
      [
        'checkpoint.remove',
        () => ({ vmId: WEB, checkpointId: vm(f, WEB).checkpoints[0].id }),
        (r) => expect(r.removedCheckpointIds).toHaveLength(1),
      ],
      [
        'vm.export',
        { vmId: OFF, destinationPath: 'E:\\Exports' },
        (r) => expect(r.exportPath).toBe('E:\\Exports\\off'),
      ],
      [
        'backup.create',
        { vmId: DYN, destinationPath: 'E:\\Exports\\backups' },
        (r) => expect(r.checkpointRemoved).toBe(true),
      ],
      [
        'replication.enable',
        { vmId: WEB, replicaHost: 'hv-b' },
        (r) => expect(r.replicationState).toBe('ReadyForInitialReplication'),
      ],
      [
        'replication.start',
        { vmId: WEB },
        (r) => expect(r.replicationState).toBe('InitialReplicationInProgress'),
      ],
      ['replication.get', { vmId: WEB }, (r) => expect(r.replicaServer).toBe('hv-b')],
      ['replication.remove', { vmId: WEB }, (r) => expect(r.replicationState).toBe('Disabled')],
      ['vm.migrate', { vmId: WEB, destinationHost: 'hv-b' }, (r) => expect(r.destinationHost).toBe('hv-b')],
    ];
    expect(new Set(steps.map(([op]) => op))).toEqual(new Set(OPERATION_IDS));
    for (const [operation, params, check] of steps) {
      const resolved = typeof params === 'function' ? (params as () => unknown)() : params;
      const result = await ok(f, 'hv-a', operation, resolved);
      // Results are plain JSON: no undefined, no class instances.
      expect(JSON.parse(JSON.stringify(result))).toEqual(result);
      check(result);
    }
    const records = f.appliedOperations();
    expect(records.map((r) => r.operation)).toEqual(steps.map(([op]) => op));
    expect(records.every((r) => r.ok && r.host === 'hv-a' && r.version === 1)).toBe(true);
    expect(records.map((r) => r.seq)).toEqual(steps.map((_, i) => i + 1));
  });
});

describe('appliedOperations', () => {
  it('records successes and failures with params exactly as received, per host', async () => {
    const f = fleet();
    const params = { vmId: WEB.toUpperCase(), relativeWeight: 300 };
    const meta = { jobId: 'job-1', requestId: 'req-1' };
    await f.apply('hv-a', 'processor.set', 1, params, meta);
    await f.apply('hv-a', 'processor.set', 1, { vmId: WEB, count: 8 }, meta);
    await f.apply('hv-b', 'vm.list', 1, {}, null);
    const a = f.appliedOperations('hv-a');
    expect(a).toHaveLength(2);
    expect(a[0]).toMatchObject({
      seq: 1,
      host: 'hv-a',
      operation: 'processor.set',
      version: 1,
      params,
      meta,
      ok: true,
    });
    expect(a[0]).not.toHaveProperty('errorId');
    expect(Number.isNaN(Date.parse(a[0]!.time))).toBe(false);
    expect(a[1]).toMatchObject({
      seq: 2,
      ok: false,
      errorId: 'InvalidState,Microsoft.HyperV.PowerShell.Commands.SetVMProcessor',
    });
    expect(f.appliedOperations('HV-B')).toHaveLength(1);
    expect(f.appliedOperations()).toHaveLength(3);
    expect(f.appliedOperations('hv-zzz')).toEqual([]);
    // Callers get copies: changing one does not change the log.
    (a[0]!.params as Json).relativeWeight = 1;
    expect(f.appliedOperations('hv-a')[0]!.params).toEqual(params);
  });

  it('does not record unknown operations or versions', async () => {
    const f = fleet();
    expect(await f.apply('hv-a', 'vm.reboot', 1, {})).toMatchObject({
      ok: false,
      error: { category: 'InvalidArgument', errorId: 'HvgateUnknownOperation' },
    });
    expect(await f.apply('hv-a', 'vm.get', 2, { vmId: WEB })).toMatchObject({
      ok: false,
      error: { category: 'InvalidArgument', errorId: 'HvgateUnsupportedTemplateVersion' },
    });
    expect(f.appliedOperations()).toEqual([]);
  });
});

describe('lookups and parameter binding', () => {
  it('an unknown VM GUID fails like Get-VM -Id', async () => {
    const error = await fail(fleet(), 'hv-a', 'memory.set', { vmId: id(404), startupBytes: GiB });
    expect(error).toEqual({
      category: 'InvalidArgument',
      errorId: 'InvalidParameter,Microsoft.HyperV.PowerShell.Commands.GetVM',
      message: `Hyper-V was unable to find a virtual machine with id "${id(404)}".`,
    });
  });

  it('a VM is found only on its own host', async () => {
    const error = await fail(fleet(), 'hv-b', 'vm.get', { vmId: WEB });
    expect(error.errorId).toBe('InvalidParameter,Microsoft.HyperV.PowerShell.Commands.GetVM');
  });

  it('an unknown host is ObjectNotFound', async () => {
    const outcome = await fleet().apply('hv-zzz', 'vm.list', 1, {});
    expect(outcome).toMatchObject({ ok: false, error: { category: 'ObjectNotFound' } });
  });

  it.each([
    [{ vmId: 'web' }, 'CannotConvertArgumentNoMessage', 'InvalidArgument', 'System.Guid'],
    [
      { vmId: WEB, startupBytes: '4096' },
      'CannotConvertArgumentNoMessage',
      'InvalidArgument',
      'System.Int64',
    ],
    [{ vmId: WEB, startupBytes: 1.5 }, 'CannotConvertArgumentNoMessage', 'InvalidArgument', 'System.Int64'],
    [
      { vmId: WEB, dynamicMemoryEnabled: 'yes' },
      'CannotConvertArgumentNoMessage',
      'InvalidArgument',
      'System.Boolean',
    ],
    [{ vmId: WEB, memoryMb: 4096 }, 'NamedParameterNotFound', 'InvalidArgument', "'memoryMb'"],
    [{ startupBytes: GiB }, 'MissingMandatoryParameter', 'InvalidArgument', 'Id'],
    [
      { vmId: WEB, startupBytes: null },
      'ParameterArgumentValidationErrorNullNotAllowed',
      'InvalidData',
      'StartupBytes',
    ],
    [
      { vmId: WEB, startupBytes: -2 },
      'ParameterArgumentValidationError',
      'InvalidData',
      'minimum allowed range',
    ],
  ])('binds params like PowerShell: %j → %s', async (params, errorId, category, text) => {
    const error = await fail(fleet(), 'hv-a', 'memory.set', params);
    expect(error.errorId).toBe(`${errorId},Microsoft.HyperV.PowerShell.Commands.SetVMMemory`);
    expect(error.category).toBe(category);
    expect(error.message).toContain(text);
  });

  it('refuses a params document that is not an object, and enum values outside the set', async () => {
    const f = fleet();
    expect((await fail(f, 'hv-a', 'vm.list', [])).errorId).toBe(
      'CannotConvertArgumentNoMessage,Microsoft.HyperV.PowerShell.Commands.GetVM',
    );
    const capture = await fail(f, 'hv-a', 'vm.export', {
      vmId: WEB,
      destinationPath: 'E:\\Exports',
      captureLiveState: 'Hot',
    });
    expect(capture.message).toContain(
      'CaptureSavedState, CaptureDataConsistentState, CaptureCrashConsistentState',
    );
  });

  it('accepts GUIDs in any case and hostile text as plain data', async () => {
    const f = fleet();
    const name = `x'; Remove-VM -Force; $(whoami) \`"‘’\r\n`;
    const nic = await ok(f, 'hv-a', 'network-adapter.add', { vmId: WEB.toUpperCase(), name });
    expect(nic.name).toBe(name);
  });
});
