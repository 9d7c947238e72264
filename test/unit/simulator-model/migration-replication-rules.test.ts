import type { HostSpec } from '../../../src/simulator/hyperv-fleet';
import { fail, fleetOf, GiB, host, id, ok, recordingRun, vm } from './sim-model-kit';

const SHARED = id(1);
const LOCAL = id(2);
const V50 = id(3);
const COMPAT = id(4);
const OFF = id(5);
const ON_CREDSSP = id(6);

const BROADWELL = { vendor: 'GenuineIntel' as const, family: 'Broadwell' };
const CASCADE = { vendor: 'GenuineIntel' as const, family: 'Cascade Lake' };
const ROOTS = { storageRoots: ['D:\\Hyper-V', '\\\\fs\\vms'] };

function shared(name: string) {
  return {
    path: `\\\\fs\\vms\\${name}`,
    hardDisks: [{ path: `\\\\fs\\vms\\${name}\\boot.vhdx`, sizeBytes: 40 * GiB, fileSizeBytes: 8 * GiB }],
  };
}

function fleet(clock?: { now(): number }) {
  const peer = (name: string, os: HostSpec['os'], extra: Partial<HostSpec> = {}) =>
    host(name, os, [], { processor: BROADWELL, ...ROOTS, ...extra });
  return fleetOf(
    [
      host(
        'hv-src',
        '2016',
        [
          { id: SHARED, name: 'shared', memory: { startupBytes: 4 * GiB }, ...shared('shared') },
          {
            id: LOCAL,
            name: 'local',
            hardDisks: [
              { path: 'D:\\Hyper-V\\local\\boot.vhdx', sizeBytes: 40 * GiB, fileSizeBytes: 6 * GiB },
            ],
          },
          { id: V50, name: 'v50', version: '5.0', ...shared('v50') },
          {
            id: COMPAT,
            name: 'compat',
            processor: { compatibilityForMigrationEnabled: true },
            ...shared('compat'),
          },
          { id: OFF, name: 'off', state: 'Off', ...shared('off') },
        ],
        {
          processor: BROADWELL,
          ...ROOTS,
          migration: { kerberosDelegationTo: ['hv-dst', 'hv-new', 'hv-amd', 'hv-off', 'hv-noswitch'] },
        },
      ),
      peer('hv-dst', '2019', {
        migration: { maximumVirtualMachineMigrations: 1 },
        replicationServer: {
          replicationEnabled: true,
          allowedAuthenticationType: 'Kerberos',
          kerberosAuthenticationPort: 80,
        },
        files: [{ kind: 'vhd', path: 'D:\\Hyper-V\\taken\\boot.vhdx', sizeBytes: GiB }],
      }),
      peer('hv-new', '2022', { processor: CASCADE }),
      peer('hv-amd', '2019', { processor: { vendor: 'AuthenticAMD', family: 'EPYC' } }),
      peer('hv-off', '2019', { migration: { virtualMachineMigrationEnabled: false } }),
      peer('hv-nodeleg', '2019'),
      peer('hv-noswitch', '2019', { virtualSwitches: [{ name: 'Other', switchType: 'External' }] }),
      host('hv-credssp', '2019', [{ id: ON_CREDSSP, name: 'on-credssp', ...shared('on-credssp') }], {
        processor: BROADWELL,
        ...ROOTS,
        migration: { virtualMachineMigrationAuthenticationType: 'CredSSP', kerberosDelegationTo: ['hv-dst'] },
      }),
    ],
    clock ? { clock } : {},
  );
}

const MOVE = 'Microsoft.HyperV.PowerShell.Commands.MoveVM';

describe('vm.migrate', () => {
  it('live-migrates a VM on SMB storage; memory moves from source to destination', async () => {
    const f = fleet();
    const srcFree = f.getHost('hv-src')!.memoryAvailableBytes;
    const dstFree = f.getHost('hv-dst')!.memoryAvailableBytes;
    const run = recordingRun();
    const result = await ok(f, 'hv-src', 'vm.migrate', { vmId: SHARED, destinationHost: 'HV-DST' }, run);
    expect(result).toMatchObject({
      vmId: SHARED,
      sourceHost: 'hv-src',
      destinationHost: 'hv-dst',
      includeStorage: false,
      destinationStoragePath: null,
      finalState: 'Running',
    });
    expect(result.durationSec).toBeGreaterThan(0);
    expect(vm(f, SHARED).hostName).toBe('hv-dst');
    expect(f.listVms('hv-src').map((v) => v.id)).not.toContain(SHARED);
    expect(f.getHost('hv-src')!.memoryAvailableBytes).toBe(srcFree + 4 * GiB);
    expect(f.getHost('hv-dst')!.memoryAvailableBytes).toBe(dstFree - 4 * GiB);
    expect(run.steps.at(-1)).toEqual({ percent: 100, text: 'Migration complete' });
    expect(f.appliedOperations('hv-src').at(-1)).toMatchObject({ operation: 'vm.migrate', ok: true });
    const back = await fail(f, 'hv-src', 'vm.get', { vmId: SHARED });
    expect(back.errorId).toBe('InvalidParameter,Microsoft.HyperV.PowerShell.Commands.GetVM');
  });

  it('moves storage too with includeStorage (shared-nothing)', async () => {
    const f = fleet();
    const result = await ok(f, 'hv-src', 'vm.migrate', {
      vmId: LOCAL,
      destinationHost: 'hv-dst',
      includeStorage: true,
      destinationStoragePath: 'D:\\Hyper-V\\moved',
    });
    expect(result).toMatchObject({ includeStorage: true, destinationStoragePath: 'D:\\Hyper-V\\moved' });
    const moved = vm(f, LOCAL);
    expect(moved.hardDisks[0]).toMatchObject({
      path: 'D:\\Hyper-V\\moved\\boot.vhdx',
      fileSizeBytes: 6 * GiB,
      attached: true,
    });
    expect(moved.path).toBe('D:\\Hyper-V\\moved\\local');
    const again = await fail(f, 'hv-dst', 'vhd.optimize', { path: 'D:\\Hyper-V\\moved\\boot.vhdx' });
    expect(again.errorId).toBe('ObjectInUse,Microsoft.Vhd.PowerShell.Cmdlets.OptimizeVHD');
  });

  it('refuses local storage without includeStorage', async () => {
    const error = await fail(fleet(), 'hv-src', 'vm.migrate', { vmId: LOCAL, destinationHost: 'hv-dst' });
    expect(error).toMatchObject({ category: 'InvalidOperation', errorId: `InvalidState,${MOVE}` });
    expect(error.message).toContain('not on storage the destination host can reach');
  });

  it('refuses a storage destination outside the destination roots or already holding the files', async () => {
    const f = fleet();
    const outside = await fail(f, 'hv-src', 'vm.migrate', {
      vmId: LOCAL,
      destinationHost: 'hv-dst',
      includeStorage: true,
      destinationStoragePath: 'C:\\VMs',
    });
    expect(outside).toMatchObject({ category: 'PermissionDenied', errorId: `AccessDenied,${MOVE}` });
    const taken = await fail(f, 'hv-src', 'vm.migrate', {
      vmId: LOCAL,
      destinationHost: 'hv-dst',
      includeStorage: true,
      destinationStoragePath: 'D:\\Hyper-V\\taken',
    });
    expect(taken).toMatchObject({ category: 'ResourceExists', errorId: `ObjectAlreadyExists,${MOVE}` });
    const missing = await fail(f, 'hv-src', 'vm.migrate', {
      vmId: LOCAL,
      destinationHost: 'hv-dst',
      includeStorage: true,
    });
    expect(missing.errorId).toBe(`MissingMandatoryParameter,${MOVE}`);
  });

  it('refuses a destination that does not support the configuration version', async () => {
    const error = await fail(fleet(), 'hv-src', 'vm.migrate', { vmId: V50, destinationHost: 'hv-new' });
    expect(error).toMatchObject({ category: 'NotImplemented', errorId: `NotSupported,${MOVE}` });
    expect(error.message).toContain('configuration version 5.0 is not supported');
  });

  it('refuses when migration is disabled on the destination', async () => {
    const error = await fail(fleet(), 'hv-src', 'vm.migrate', { vmId: SHARED, destinationHost: 'hv-off' });
    expect(error).toMatchObject({ category: 'InvalidOperation', errorId: `InvalidState,${MOVE}` });
    expect(error.message).toContain('0x8007274D');
  });

  it('refuses processor incompatibility: another vendor always, another generation without compatibility mode', async () => {
    const f = fleet();
    const vendor = await fail(f, 'hv-src', 'vm.migrate', { vmId: COMPAT, destinationHost: 'hv-amd' });
    expect(vendor).toMatchObject({ errorId: `NotSupported,${MOVE}` });
    expect(vendor.message).toContain('hardware on the destination computer is not compatible');
    const generation = await fail(f, 'hv-src', 'vm.migrate', { vmId: SHARED, destinationHost: 'hv-new' });
    expect(generation.errorId).toBe(`NotSupported,${MOVE}`);
    expect(generation.message).toContain('CompatibilityForMigrationEnabled');
    await ok(f, 'hv-src', 'vm.migrate', { vmId: COMPAT, destinationHost: 'hv-new' });
    await ok(f, 'hv-src', 'vm.migrate', { vmId: OFF, destinationHost: 'hv-new' });
  });

  it('fails the Kerberos double hop without constrained delegation', async () => {
    const error = await fail(fleet(), 'hv-src', 'vm.migrate', {
      vmId: SHARED,
      destinationHost: 'hv-nodeleg',
    });
    expect(error).toMatchObject({ category: 'AuthenticationError', errorId: `OperationFailed,${MOVE}` });
    expect(error.message).toContain('No credentials are available in the security package (0x8009030E)');
    expect(error.message).toContain('constrained delegation');
  });

  it('fails CredSSP migration from a remote session (no delegable credentials)', async () => {
    const error = await fail(fleet(), 'hv-credssp', 'vm.migrate', {
      vmId: ON_CREDSSP,
      destinationHost: 'hv-dst',
    });
    expect(error.category).toBe('AuthenticationError');
    expect(error.message).toContain('CredSSP');
  });

  it('refuses a destination without the VM’s switch, an unknown host and the same host', async () => {
    const f = fleet();
    const noSwitch = await fail(f, 'hv-src', 'vm.migrate', { vmId: SHARED, destinationHost: 'hv-noswitch' });
    expect(noSwitch.message).toContain("Could not find Ethernet switch 'External-LAN'.");
    const unknown = await fail(f, 'hv-src', 'vm.migrate', { vmId: SHARED, destinationHost: 'hv-nowhere' });
    expect(unknown).toMatchObject({ category: 'ConnectionError', errorId: `OperationFailed,${MOVE}` });
    const same = await fail(f, 'hv-src', 'vm.migrate', { vmId: SHARED, destinationHost: 'hv-src' });
    expect(same.errorId).toBe(`InvalidParameter,${MOVE}`);
  });

  it('runs at most MaximumVirtualMachineMigrations moves per host; the next one waits for a slot', async () => {
    const f = fleet();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const first = f.apply('hv-src', 'vm.migrate', 1, { vmId: SHARED, destinationHost: 'hv-dst' }, null, {
      progress: () => undefined,
      sleep: () => gate,
    });
    const second = f.apply(
      'hv-src',
      'vm.migrate',
      1,
      { vmId: COMPAT, destinationHost: 'hv-dst' },
      null,
      recordingRun(),
    );
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(f.getHost('hv-dst')!.migrationsInProgress).toBe(1);
    expect(vm(f, COMPAT).hostName).toBe('hv-src');
    release();
    expect((await first).ok).toBe(true);
    expect((await second).ok).toBe(true);
    expect(f.peakMigrations('hv-dst')).toBe(1);
    expect(vm(f, COMPAT).hostName).toBe('hv-dst');
    expect(f.getHost('hv-dst')!.migrationsInProgress).toBe(0);
  });

  it('stops a move that waits for a slot when its run is aborted', async () => {
    const f = fleet();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const first = f.apply('hv-src', 'vm.migrate', 1, { vmId: SHARED, destinationHost: 'hv-dst' }, null, {
      progress: () => undefined,
      sleep: () => gate,
    });
    const controller = new AbortController();
    const second = f.apply('hv-src', 'vm.migrate', 1, { vmId: COMPAT, destinationHost: 'hv-dst' }, null, {
      ...recordingRun(),
      signal: controller.signal,
    });
    await new Promise((r) => setImmediate(r));
    controller.abort();
    await expect(second).rejects.toMatchObject({ name: 'AbortError' });
    expect(vm(f, COMPAT)).toMatchObject({ hostName: 'hv-src', operationInProgress: null });
    expect(f.appliedOperations('hv-src').at(-1)).toMatchObject({
      operation: 'vm.migrate',
      ok: false,
      errorId: 'PipelineStopped',
    });
    release();
    expect((await first).ok).toBe(true);
  });
});

const ENABLE = 'Microsoft.HyperV.PowerShell.Commands.EnableVMReplication';

describe('replication', () => {
  it('enables, starts, reports progress to Replicating over time, and removes', async () => {
    let now = Date.UTC(2025, 5, 1);
    const f = fleet({ now: () => now });
    const enabled = await ok(f, 'hv-src', 'replication.enable', {
      vmId: SHARED,
      replicaHost: 'hv-dst',
      replicationFrequencySec: 30,
    });
    expect(enabled).toMatchObject({
      vmId: SHARED,
      replicationState: 'ReadyForInitialReplication',
      replicationMode: 'Primary',
      replicationHealth: 'Warning',
      primaryServer: 'hv-src',
      replicaServer: 'hv-dst',
      replicaServerPort: 80,
      authenticationType: 'Kerberos',
      replicationFrequencySec: 30,
    });
    const started = await ok(f, 'hv-src', 'replication.start', { vmId: SHARED });
    expect(started.replicationState).toBe('InitialReplicationInProgress');
    now += 60 * 60 * 1000;
    const later = await ok(f, 'hv-src', 'replication.get', { vmId: SHARED });
    expect(later).toMatchObject({ replicationState: 'Replicating', replicationHealth: 'Normal' });
    expect(Date.parse(later.lastReplicationTime)).toBeLessThanOrEqual(now);
    const removed = await ok(f, 'hv-src', 'replication.remove', { vmId: SHARED });
    expect(removed).toMatchObject({ replicationState: 'Disabled', replicaServer: null });
  });

  it('reaches the replica by its FQDN or computer name in any case, keeps the name as given, and refuses other names', async () => {
    const f = fleet();
    const enabled = await ok(f, 'hv-src', 'replication.enable', {
      vmId: SHARED,
      replicaHost: 'HV-DST.hv.example.test',
    });
    expect(enabled).toMatchObject({ replicaServer: 'HV-DST.hv.example.test' });
    expect(f.getHost('hv-dst')!.fullyQualifiedDomainName).toBe('hv-dst.hv.example.test');
    const error = await fail(f, 'hv-src', 'replication.enable', {
      vmId: LOCAL,
      replicaHost: 'hv-dst.other.example',
    });
    expect(error.message).toContain(
      "The server name or address 'hv-dst.other.example' could not be resolved",
    );
  });

  it('refuses enabling replication twice', async () => {
    const f = fleet();
    await ok(f, 'hv-src', 'replication.enable', { vmId: SHARED, replicaHost: 'hv-dst' });
    const error = await fail(f, 'hv-src', 'replication.enable', { vmId: SHARED, replicaHost: 'hv-dst' });
    expect(error).toMatchObject({ category: 'InvalidOperation', errorId: `InvalidState,${ENABLE}` });
    expect(error.message).toContain('already enabled');
  });

  it('refuses starting before enabling, and starting twice', async () => {
    const f = fleet();
    const before = await fail(f, 'hv-src', 'replication.start', { vmId: SHARED });
    expect(before).toMatchObject({
      category: 'InvalidOperation',
      errorId: 'InvalidState,Microsoft.HyperV.PowerShell.Commands.StartVMInitialReplication',
    });
    expect(before.message).toContain('Replication is not enabled');
    await ok(f, 'hv-src', 'replication.enable', { vmId: SHARED, replicaHost: 'hv-dst' });
    await ok(f, 'hv-src', 'replication.start', { vmId: SHARED });
    const twice = await fail(f, 'hv-src', 'replication.start', { vmId: SHARED });
    expect(twice.message).toContain('already been started');
  });

  it('reports Disabled for a VM without replication and refuses removing it', async () => {
    const f = fleet();
    expect(await ok(f, 'hv-src', 'replication.get', { vmId: LOCAL })).toMatchObject({
      replicationState: 'Disabled',
      replicationMode: 'None',
    });
    const error = await fail(f, 'hv-src', 'replication.remove', { vmId: LOCAL });
    expect(error.errorId).toBe('InvalidState,Microsoft.HyperV.PowerShell.Commands.RemoveVMReplication');
  });

  it('refuses replica servers that are unknown, not replica servers, the primary, or mismatched in auth/port', async () => {
    const f = fleet();
    expect(
      await fail(f, 'hv-src', 'replication.enable', { vmId: SHARED, replicaHost: 'hv-nowhere' }),
    ).toMatchObject({ category: 'ConnectionError' });
    expect(
      await fail(f, 'hv-src', 'replication.enable', { vmId: SHARED, replicaHost: 'hv-new' }),
    ).toMatchObject({ errorId: `InvalidState,${ENABLE}` });
    expect(
      await fail(f, 'hv-src', 'replication.enable', { vmId: SHARED, replicaHost: 'hv-src' }),
    ).toMatchObject({ errorId: `InvalidParameter,${ENABLE}` });
    expect(
      await fail(f, 'hv-src', 'replication.enable', {
        vmId: SHARED,
        replicaHost: 'hv-dst',
        authenticationType: 'Certificate',
      }),
    ).toMatchObject({ errorId: `InvalidState,${ENABLE}` });
    expect(
      await fail(f, 'hv-src', 'replication.enable', {
        vmId: SHARED,
        replicaHost: 'hv-dst',
        replicaServerPort: 8080,
      }),
    ).toMatchObject({ category: 'ConnectionError' });
    expect(
      await fail(f, 'hv-src', 'replication.enable', {
        vmId: SHARED,
        replicaHost: 'hv-dst',
        replicationFrequencySec: 60,
      }),
    ).toMatchObject({ category: 'InvalidData' });
  });
});
