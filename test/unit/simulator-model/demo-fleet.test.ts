import { createDemoFleet } from '../../../src/simulator/demo-fleet';
import type { HyperVFleet } from '../../../src/simulator/hyperv-fleet';
import { FleetLookupError, FleetSpecError, createFleet } from '../../../src/simulator/hyperv-fleet';
import { fail, GiB, Json, ok } from './sim-model-kit';

const fixedClock = { now: () => Date.UTC(2025, 5, 1, 12) };

function snapshot(fleet: HyperVFleet): Json {
  return fleet.hostNames.map((h) => ({ host: fleet.getHost(h), vms: fleet.listVms(h) }));
}

function allVms(fleet: HyperVFleet): Json[] {
  return fleet.hostNames.flatMap((h) => fleet.listVms(h));
}

describe('createDemoFleet', () => {
  it('is deterministic: the same seed gives the same fleet, another seed other GUIDs', () => {
    const a = createDemoFleet({ seed: 42, clock: fixedClock });
    const b = createDemoFleet({ seed: 42, clock: fixedClock });
    expect(snapshot(a)).toEqual(snapshot(b));
    const c = createDemoFleet({ seed: 43, clock: fixedClock });
    const idsA = allVms(a).map((v) => v.id);
    const idsC = allVms(c).map((v) => v.id);
    expect(idsA).toHaveLength(idsC.length);
    expect(idsA.filter((x) => idsC.includes(x))).toEqual([]);
    expect(allVms(a).map((v) => v.name)).toEqual(allVms(c).map((v) => v.name));
  });

  it('stays deterministic after the same operations', async () => {
    const run = async () => {
      const fleet = createDemoFleet({ seed: 9, clock: fixedClock });
      const web = allVms(fleet).find((v) => v.name === 'web-01')!;
      await ok(fleet, 'hv-tokyo-01', 'network-adapter.add', { vmId: web.id });
      await ok(fleet, 'hv-tokyo-01', 'checkpoint.create', { vmId: web.id });
      return snapshot(fleet);
    };
    expect(await run()).toEqual(await run());
  });

  it('has three hosts on different Windows Server versions by default', () => {
    const fleet = createDemoFleet();
    expect(fleet.hostNames).toEqual(['hv-tokyo-01', 'hv-osaka-02', 'hv-nagoya-03']);
    const hosts = fleet.hostNames.map((h) => fleet.getHost(h)!);
    expect(hosts.map((h) => h.osVersion)).toEqual(['2016', '2019', '2022']);
    expect(hosts[0]!.supportedVmVersions).toEqual(['5.0', '6.2', '7.0', '7.1', '8.0']);
    expect(hosts[2]!.supportedVmVersions).not.toContain('5.0');
    for (const h of hosts) {
      expect(h.maximumVirtualMachineMigrations).toBeGreaterThan(0);
      expect(h.virtualMachineMigrationAuthenticationType).toBe('Kerberos');
      expect(h.storageRoots.length).toBeGreaterThan(0);
      expect(h.exportRoots.length).toBeGreaterThan(0);
      expect(h.memoryAvailableBytes).toBeGreaterThan(0);
      expect(h.memoryAvailableBytes).toBeLessThan(h.memoryCapacityBytes);
      expect(h.vmCount).toBeGreaterThanOrEqual(7);
      expect(h.vmCount).toBeLessThanOrEqual(10);
    }
  });

  it('holds the VMs an operator meets: Gen 1, version 5.0, dynamic memory, Off, Japanese names, a shared name', () => {
    const fleet = createDemoFleet();
    const vms = allVms(fleet);
    expect(vms.some((v) => v.generation === 1 && v.state === 'Running')).toBe(true);
    expect(vms.some((v) => v.version === '5.0')).toBe(true);
    expect(vms.some((v) => v.memory.dynamicMemoryEnabled)).toBe(true);
    expect(vms.some((v) => v.state === 'Off')).toBe(true);
    expect(vms.some((v) => v.state === 'Saved')).toBe(true);
    expect(vms.map((v) => v.name)).toContain('ウェブサーバー01');
    expect(vms.filter((v) => /[\u3040-\u30ff\u4e00-\u9fff]/.test(v.name)).length).toBeGreaterThanOrEqual(3);
    const tokyo = fleet.listVms('hv-tokyo-01');
    const dupes = tokyo.filter((v) => v.name === 'batch-worker');
    expect(dupes).toHaveLength(2);
    expect(dupes[0]!.id).not.toBe(dupes[1]!.id);
    expect(new Set(vms.map((v) => v.id)).size).toBe(vms.length);
    for (const v of vms)
      expect(v.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('numbers hosts beyond the third and can have fewer', () => {
    const five = createDemoFleet({ hosts: 5 });
    expect(five.hostNames).toEqual(['hv-tokyo-01', 'hv-osaka-02', 'hv-nagoya-03', 'hv-sim-04', 'hv-sim-05']);
    expect(five.getHost('hv-sim-04')!.osVersion).toBe('2025');
    expect(five.listVms('hv-sim-05')).toHaveLength(8);
    expect(createDemoFleet({ hosts: 1 }).hostNames).toEqual(['hv-tokyo-01']);
    expect(() => createDemoFleet({ hosts: 0 })).toThrow(RangeError);
  });

  it('lets the demo show the rules: Gen 1 NIC refusal, Kerberos double hop, shared-storage migration', async () => {
    const fleet = createDemoFleet();
    const tokyo = fleet.listVms('hv-tokyo-01');
    const erp = tokyo.find((v) => v.name === 'legacy-erp')!;
    expect((await fail(fleet, 'hv-tokyo-01', 'network-adapter.add', { vmId: erp.id })).errorId).toMatch(
      /^InvalidState,/,
    );
    const web = tokyo.find((v) => v.name === 'web-01')!;
    await ok(fleet, 'hv-tokyo-01', 'vm.migrate', { vmId: web.id, destinationHost: 'hv-nagoya-03' });
    const back = await fail(fleet, 'hv-nagoya-03', 'vm.migrate', {
      vmId: web.id,
      destinationHost: 'hv-tokyo-01',
    });
    expect(back.message).toContain('0x8009030E');
  });
});

describe('createFleet spec checks', () => {
  it('refuses inconsistent specs with a typed error', () => {
    expect(() =>
      createFleet({
        hosts: [
          { name: 'a', os: '2016' },
          { name: 'A', os: '2019' },
        ],
      }),
    ).toThrow(FleetSpecError);
    expect(() =>
      createFleet({ hosts: [{ name: 'a', os: '2022', vms: [{ name: 'x', version: '5.0' }] }] }),
    ).toThrow(/not supported/);
    expect(() =>
      createFleet({
        hosts: [{ name: 'a', os: '2022', vms: [{ name: 'x', networkAdapters: [{ switchName: 'nope' }] }] }],
      }),
    ).toThrow(FleetSpecError);
    expect(() => createFleet({ hosts: [{ name: 'a', os: '2022', storageRoots: ['relative'] }] })).toThrow(
      FleetSpecError,
    );
    expect(() =>
      createFleet({
        hosts: [
          {
            name: 'a',
            os: '2022',
            vms: [
              { name: 'x', hardDisks: [{ path: 'D:\\a.vhdx' }] },
              { name: 'y', hardDisks: [{ path: 'D:\\A.VHDX' }] },
            ],
          },
        ],
      }),
    ).toThrow(/already attached/);
  });

  it('fills sensible defaults for a minimal VM', () => {
    const fleet = createFleet({ hosts: [{ name: 'hv-x', os: '2025', vms: [{ name: 'min' }] }] });
    const [v] = fleet.listVms('hv-x');
    expect(v).toMatchObject({
      generation: 2,
      version: '12.0',
      state: 'Running',
      checkpointType: 'Production',
      memory: { dynamicMemoryEnabled: false, startupBytes: 4 * GiB, assignedBytes: 4 * GiB },
      processor: { count: 2, reserve: 0, maximum: 100, relativeWeight: 100 },
      controllers: [{ controllerType: 'SCSI', controllerNumber: 0 }],
      hardDisks: [
        {
          controllerType: 'SCSI',
          controllerNumber: 0,
          controllerLocation: 0,
          path: 'D:\\Hyper-V\\min\\min.vhdx',
          vhdFormat: 'VHDX',
        },
      ],
    });
    expect(v!.networkAdapters).toHaveLength(1);
    expect(v!.networkAdapters[0]!.macAddress).toMatch(/^00155D[0-9A-F]{6}$/);
  });
});

describe('fleet helpers for tests and the simulator', () => {
  const fleet = () =>
    createFleet({
      hosts: [
        {
          name: 'hv-x',
          os: '2019',
          memoryCapacityBytes: 16 * GiB,
          memoryReservedBytes: 4 * GiB,
          vms: [
            {
              id: '00000000-0000-4000-8000-000000000001',
              name: 'big',
              state: 'Off',
              memory: { startupBytes: 14 * GiB },
            },
            {
              id: '00000000-0000-4000-8000-000000000002',
              name: 'small',
              state: 'Off',
              memory: { startupBytes: 2 * GiB },
            },
          ],
        },
      ],
    });

  it('starts and stops VMs, holding host memory only while started', () => {
    const f = fleet();
    expect(f.getHost('hv-x')!.memoryAvailableBytes).toBe(12 * GiB);
    f.setVmState('00000000-0000-4000-8000-000000000002', 'Running');
    expect(f.getHost('hv-x')!.memoryAvailableBytes).toBe(10 * GiB);
    expect(() => f.setVmState('00000000-0000-4000-8000-000000000001', 'Running')).toThrow(FleetLookupError);
    f.setVmState('00000000-0000-4000-8000-000000000002', 'Saved');
    expect(f.getHost('hv-x')!.memoryAvailableBytes).toBe(12 * GiB);
  });

  it('refuses unknown VMs, states and demands with a typed error', () => {
    const f = fleet();
    expect(f.getVm('00000000-0000-4000-8000-000000000009')).toBeUndefined();
    expect(() => f.setMemoryDemand('00000000-0000-4000-8000-000000000009', GiB)).toThrow(FleetLookupError);
    expect(() => f.setMemoryDemand('00000000-0000-4000-8000-000000000001', -1)).toThrow(FleetLookupError);
    expect(() => f.setVmState('00000000-0000-4000-8000-000000000001', 'Exploded' as never)).toThrow(
      FleetLookupError,
    );
    expect(() => f.listVms('hv-nope')).toThrow(FleetLookupError);
    expect(f.getHost('hv-nope')).toBeUndefined();
    expect(f.hasHost('HV-X')).toBe(true);
    expect(f.supports('vm.get', 1)).toBe(true);
    expect(f.supports('vm.get', 2)).toBe(false);
  });
});
