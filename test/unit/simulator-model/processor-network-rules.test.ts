import { fail, id, ok, singleHost, vm } from './sim-model-kit';

const GEN2 = id(1);
const GEN1 = id(2);
const GEN1_OFF = id(3);
const OFF = id(4);
const V80 = id(5);
const SAVED = id(6);

function fleet() {
  return singleHost(
    [
      { id: GEN2, name: 'gen2', networkAdapters: [{ switchName: 'External-LAN' }] },
      {
        id: GEN1,
        name: 'gen1',
        generation: 1,
        networkAdapters: [{ switchName: 'External-LAN', isLegacy: true }, { switchName: 'Internal' }],
      },
      { id: GEN1_OFF, name: 'gen1-off', generation: 1, state: 'Off' },
      { id: OFF, name: 'off', state: 'Off' },
      { id: V80, name: 'v80', version: '8.0', networkAdapters: [] },
      { id: SAVED, name: 'saved', state: 'Saved' },
    ],
    { logicalProcessorCount: 16 },
  );
}

const SET_VM_PROCESSOR = 'Microsoft.HyperV.PowerShell.Commands.SetVMProcessor';
const ADD_NIC = 'Microsoft.HyperV.PowerShell.Commands.AddVMNetworkAdapter';
const REMOVE_NIC = 'Microsoft.HyperV.PowerShell.Commands.RemoveVMNetworkAdapter';

describe('processor.set', () => {
  it('changes reserve, maximum and relative weight while running', async () => {
    const f = fleet();
    const result = await ok(f, 'hv-a', 'processor.set', {
      vmId: GEN2,
      reserve: 10,
      maximum: 75,
      relativeWeight: 200,
    });
    expect(result).toMatchObject({ vmId: GEN2, count: 2, reserve: 10, maximum: 75, relativeWeight: 200 });
    expect(vm(f, GEN2).processor.maximum).toBe(75);
  });

  it('refuses a processor count change while running; allows it when off', async () => {
    const f = fleet();
    const error = await fail(f, 'hv-a', 'processor.set', { vmId: GEN2, count: 4 });
    expect(error).toMatchObject({
      category: 'InvalidOperation',
      errorId: `InvalidState,${SET_VM_PROCESSOR}`,
    });
    expect(error.message).toMatch(/^Failed to modify device 'Processor'\./);
    expect(vm(f, GEN2).processor.count).toBe(2);
    const result = await ok(f, 'hv-a', 'processor.set', { vmId: OFF, count: 4 });
    expect(result.count).toBe(4);
    const tooMany = await fail(f, 'hv-a', 'processor.set', { vmId: OFF, count: 17 });
    expect(tooMany.errorId).toBe(`InvalidParameter,${SET_VM_PROCESSOR}`);
  });

  it.each([
    ['reserve', -1, 'Reserve'],
    ['reserve', 101, 'Reserve'],
    ['maximum', 101, 'Maximum'],
    ['relativeWeight', 0, 'RelativeWeight'],
    ['relativeWeight', 10001, 'RelativeWeight'],
  ])('refuses %s = %d (outside its range)', async (field, value, ps) => {
    const error = await fail(fleet(), 'hv-a', 'processor.set', { vmId: GEN2, [field]: value });
    expect(error).toMatchObject({
      category: 'InvalidData',
      errorId: `ParameterArgumentValidationError,${SET_VM_PROCESSOR}`,
    });
    expect(error.message).toContain(`parameter '${ps}'`);
  });

  it('accepts the range ends 0/100 and 1/10000', async () => {
    const f = fleet();
    await ok(f, 'hv-a', 'processor.set', { vmId: GEN2, reserve: 0, maximum: 100, relativeWeight: 1 });
    await ok(f, 'hv-a', 'processor.set', { vmId: GEN2, relativeWeight: 10000, reserve: 100 });
  });

  it('refuses a reserve above the limit', async () => {
    const error = await fail(fleet(), 'hv-a', 'processor.set', { vmId: GEN2, reserve: 60, maximum: 50 });
    expect(error.errorId).toBe(`InvalidParameter,${SET_VM_PROCESSOR}`);
  });
});

describe('network-adapter.add / remove', () => {
  it('hot-adds an adapter to a running Generation 2 VM with static MAC and VLAN', async () => {
    const f = fleet();
    const nic = await ok(f, 'hv-a', 'network-adapter.add', {
      vmId: GEN2,
      name: 'Backend',
      switchName: 'internal',
      staticMacAddress: '00-15-5D-AA-BB-CC',
      vlanId: 42,
    });
    expect(nic).toMatchObject({
      vmId: GEN2,
      name: 'Backend',
      switchName: 'Internal',
      macAddress: '00155DAABBCC',
      dynamicMacAddress: false,
      vlanId: 42,
      isLegacy: false,
    });
    expect(nic.id).toMatch(/^Microsoft:00000000-0000-4000-8000-000000000001\\[0-9A-F-]{36}$/);
    expect(vm(f, GEN2).networkAdapters).toHaveLength(2);
  });

  it('hot-removes an adapter from a running Generation 2 VM by id', async () => {
    const f = fleet();
    const adapterId = vm(f, GEN2).networkAdapters[0].id;
    const removed = await ok(f, 'hv-a', 'network-adapter.remove', {
      vmId: GEN2,
      adapterId: adapterId.toLowerCase(),
    });
    expect(removed.id).toBe(adapterId);
    expect(vm(f, GEN2).networkAdapters).toHaveLength(0);
  });

  it('refuses adding an adapter to a running Generation 1 VM; allows it when off', async () => {
    const f = fleet();
    const error = await fail(f, 'hv-a', 'network-adapter.add', { vmId: GEN1, switchName: 'External-LAN' });
    expect(error).toMatchObject({ category: 'InvalidOperation', errorId: `InvalidState,${ADD_NIC}` });
    expect(error.message).toMatch(/^Failed to add device 'Synthetic Ethernet Port'\./);
    expect(error.message).toContain('Generation 2');
    expect(vm(f, GEN1).networkAdapters).toHaveLength(2);
    await ok(f, 'hv-a', 'network-adapter.add', { vmId: GEN1_OFF, switchName: 'External-LAN' });
  });

  it('refuses removing an adapter from a running Generation 1 VM', async () => {
    const f = fleet();
    const legacy = vm(f, GEN1).networkAdapters[0];
    const error = await fail(f, 'hv-a', 'network-adapter.remove', { vmId: GEN1, adapterId: legacy.id });
    expect(error.errorId).toBe(`InvalidState,${REMOVE_NIC}`);
    expect(error.message).toMatch(/^Failed to remove device 'Emulated Ethernet Port'\./);
    expect(vm(f, GEN1).networkAdapters).toHaveLength(2);
  });

  it('refuses adapters on a Saved VM', async () => {
    const error = await fail(fleet(), 'hv-a', 'network-adapter.add', { vmId: SAVED });
    expect(error.errorId).toBe(`InvalidState,${ADD_NIC}`);
  });

  it('refuses an unknown switch (ObjectNotFound)', async () => {
    const error = await fail(fleet(), 'hv-a', 'network-adapter.add', { vmId: GEN2, switchName: 'Nope' });
    expect(error).toMatchObject({ category: 'ObjectNotFound', errorId: `ObjectNotFound,${ADD_NIC}` });
    expect(error.message).toBe('Hyper-V was unable to find a virtual switch with name "Nope".');
  });

  it('refuses multicast or malformed static MACs', async () => {
    const f = fleet();
    for (const mac of ['01155DAABBCC', '00155DAABB', 'zz155DAABBCC', '000000000000']) {
      const error = await fail(f, 'hv-a', 'network-adapter.add', { vmId: GEN2, staticMacAddress: mac });
      expect(error.errorId).toBe(`InvalidParameter,${ADD_NIC}`);
    }
  });

  it('caps synthetic adapters at 8 below configuration version 8.3', async () => {
    const f = fleet();
    for (let i = 0; i < 8; i++) await ok(f, 'hv-a', 'network-adapter.add', { vmId: V80 });
    const error = await fail(f, 'hv-a', 'network-adapter.add', { vmId: V80 });
    expect(error.errorId).toBe(`InvalidParameter,${ADD_NIC}`);
    expect(error.message).toContain('(8)');
  });

  it('refuses removing an unknown adapter id (ObjectNotFound)', async () => {
    const error = await fail(fleet(), 'hv-a', 'network-adapter.remove', {
      vmId: GEN2,
      adapterId: 'Microsoft:X\\Y',
    });
    expect(error).toMatchObject({
      category: 'ObjectNotFound',
      errorId: 'ObjectNotFound,Microsoft.HyperV.PowerShell.Commands.GetVMNetworkAdapter',
    });
  });
});
