import { fail, GiB, id, MiB, ok, singleHost, vm } from './sim-model-kit';

const STATIC = id(1);
const DYNAMIC = id(2);
const V50 = id(3);
const OFF = id(4);
const SAVED = id(5);

function memoryFleet(hostMemory = 64 * GiB) {
  return singleHost(
    [
      { id: STATIC, name: 'static', memory: { startupBytes: 4 * GiB, demandBytes: 3 * GiB } },
      {
        id: DYNAMIC,
        name: 'dynamic',
        memory: {
          dynamicMemoryEnabled: true,
          startupBytes: 2 * GiB,
          minimumBytes: 1 * GiB,
          maximumBytes: 8 * GiB,
          bufferPercent: 20,
          demandBytes: 2 * GiB,
        },
      },
      { id: V50, name: 'v50', version: '5.0', memory: { startupBytes: 4 * GiB, demandBytes: 1 * GiB } },
      { id: OFF, name: 'off', state: 'Off', memory: { startupBytes: 4 * GiB } },
      { id: SAVED, name: 'saved', state: 'Saved', memory: { startupBytes: 4 * GiB } },
    ],
    { memoryCapacityBytes: hostMemory, memoryReservedBytes: 4 * GiB },
  );
}

const SET_VM_MEMORY = 'Microsoft.HyperV.PowerShell.Commands.SetVMMemory';

describe('memory.set on a running static-memory VM (runtime memory resize)', () => {
  it('grows and shrinks; host free memory follows the VM', async () => {
    const fleet = memoryFleet();
    const before = fleet.getHost('hv-a')!.memoryAvailableBytes;
    const grown = await ok(fleet, 'hv-a', 'memory.set', { vmId: STATIC, startupBytes: 6 * GiB });
    expect(grown).toMatchObject({
      vmId: STATIC,
      startupBytes: 6 * GiB,
      assignedBytes: 6 * GiB,
      dynamicMemoryEnabled: false,
    });
    expect(fleet.getHost('hv-a')!.memoryAvailableBytes).toBe(before - 2 * GiB);
    await ok(fleet, 'hv-a', 'memory.set', { vmId: STATIC, startupBytes: 3 * GiB });
    expect(fleet.getHost('hv-a')!.memoryAvailableBytes).toBe(before + 1 * GiB);
  });

  it('refuses a static resize while dynamic memory is on (startup change while running)', async () => {
    const fleet = memoryFleet();
    const error = await fail(fleet, 'hv-a', 'memory.set', { vmId: DYNAMIC, startupBytes: 4 * GiB });
    expect(error.category).toBe('InvalidOperation');
    expect(error.errorId).toBe(`InvalidState,${SET_VM_MEMORY}`);
    expect(error.message).toMatch(
      /^Failed to modify device 'Memory'\.\n'dynamic' failed to modify device 'Memory'\. \(Virtual machine ID 00000000-0000-4000-8000-000000000002\)/,
    );
    expect(vm(fleet, DYNAMIC).memory.startupBytes).toBe(2 * GiB);
  });

  it('refuses a runtime resize on configuration version < 6.2, allows it when the VM is off', async () => {
    const fleet = memoryFleet();
    const error = await fail(fleet, 'hv-a', 'memory.set', { vmId: V50, startupBytes: 6 * GiB });
    expect(error.errorId).toBe(`InvalidState,${SET_VM_MEMORY}`);
    expect(error.message).toContain('version 6.2 or later');
    fleet.setVmState(V50, 'Off');
    const result = await ok(fleet, 'hv-a', 'memory.set', { vmId: V50, startupBytes: 6 * GiB });
    expect(result.startupBytes).toBe(6 * GiB);
  });

  it('refuses to shrink below what the guest uses (demand)', async () => {
    const fleet = memoryFleet();
    const error = await fail(fleet, 'hv-a', 'memory.set', { vmId: STATIC, startupBytes: 2 * GiB });
    expect(error.category).toBe('InvalidOperation');
    expect(error.errorId).toBe(`InvalidState,${SET_VM_MEMORY}`);
    expect(error.message).toContain('could not release enough memory');
    fleet.setMemoryDemand(STATIC, 1 * GiB);
    await ok(fleet, 'hv-a', 'memory.set', { vmId: STATIC, startupBytes: 2 * GiB });
  });

  it('refuses to grow beyond host free memory (OutOfMemory, 32778)', async () => {
    const fleet = memoryFleet(20 * GiB);
    const available = fleet.getHost('hv-a')!.memoryAvailableBytes;
    const error = await fail(fleet, 'hv-a', 'memory.set', {
      vmId: STATIC,
      startupBytes: 4 * GiB + available + 2 * MiB,
    });
    expect(error.category).toBe('ResourceUnavailable');
    expect(error.errorId).toBe(`OutOfMemory,${SET_VM_MEMORY}`);
    expect(error.message).toContain('0x8007000E');
    await ok(fleet, 'hv-a', 'memory.set', { vmId: STATIC, startupBytes: 4 * GiB + available });
    expect(fleet.getHost('hv-a')!.memoryAvailableBytes).toBe(0);
  });

  it('refuses sizes that are not a multiple of 2 MB (InvalidParameter, 32773)', async () => {
    const fleet = memoryFleet();
    const error = await fail(fleet, 'hv-a', 'memory.set', { vmId: STATIC, startupBytes: 4 * GiB + MiB });
    expect(error.category).toBe('InvalidArgument');
    expect(error.errorId).toBe(`InvalidParameter,${SET_VM_MEMORY}`);
    expect(error.message).toContain('multiple of 2 MB');
    const offError = await fail(fleet, 'hv-a', 'memory.set', { vmId: OFF, startupBytes: 1000 * 1000 * 1000 });
    expect(offError.errorId).toBe(`InvalidParameter,${SET_VM_MEMORY}`);
  });

  it('refuses memory changes on a Saved VM', async () => {
    const fleet = memoryFleet();
    const error = await fail(fleet, 'hv-a', 'memory.set', { vmId: SAVED, startupBytes: 2 * GiB });
    expect(error.errorId).toBe(`InvalidState,${SET_VM_MEMORY}`);
  });
});

describe('memory.set dynamic memory rules', () => {
  it('refuses enabling or disabling dynamic memory while running; allows it when off', async () => {
    const fleet = memoryFleet();
    const disable = await fail(fleet, 'hv-a', 'memory.set', { vmId: DYNAMIC, dynamicMemoryEnabled: false });
    expect(disable.errorId).toBe(`InvalidState,${SET_VM_MEMORY}`);
    expect(disable.message).toContain('cannot be disabled while the virtual machine is running');
    const enable = await fail(fleet, 'hv-a', 'memory.set', {
      vmId: STATIC,
      dynamicMemoryEnabled: true,
      minimumBytes: 1 * GiB,
      maximumBytes: 8 * GiB,
    });
    expect(enable.errorId).toBe(`InvalidState,${SET_VM_MEMORY}`);
    const result = await ok(fleet, 'hv-a', 'memory.set', {
      vmId: OFF,
      dynamicMemoryEnabled: true,
      minimumBytes: 512 * MiB,
      maximumBytes: 16 * GiB,
    });
    expect(result).toMatchObject({
      dynamicMemoryEnabled: true,
      minimumBytes: 512 * MiB,
      maximumBytes: 16 * GiB,
      assignedBytes: 0,
    });
  });

  it('allows raising maximum and lowering minimum while running', async () => {
    const fleet = memoryFleet();
    const result = await ok(fleet, 'hv-a', 'memory.set', {
      vmId: DYNAMIC,
      maximumBytes: 16 * GiB,
      minimumBytes: 512 * MiB,
    });
    expect(result).toMatchObject({ maximumBytes: 16 * GiB, minimumBytes: 512 * MiB });
  });

  it('refuses raising minimum while running', async () => {
    const fleet = memoryFleet();
    const error = await fail(fleet, 'hv-a', 'memory.set', { vmId: DYNAMIC, minimumBytes: 2 * GiB });
    expect(error.errorId).toBe(`InvalidState,${SET_VM_MEMORY}`);
    expect(error.message).toContain('minimum memory can only be decreased');
  });

  it('refuses lowering maximum while running', async () => {
    const fleet = memoryFleet();
    const error = await fail(fleet, 'hv-a', 'memory.set', { vmId: DYNAMIC, maximumBytes: 4 * GiB });
    expect(error.errorId).toBe(`InvalidState,${SET_VM_MEMORY}`);
    expect(error.message).toContain('maximum memory can only be increased');
  });

  it('allows buffer and priority while running; refuses them outside 5–2000 % / 0–100', async () => {
    const fleet = memoryFleet();
    const result = await ok(fleet, 'hv-a', 'memory.set', { vmId: DYNAMIC, bufferPercent: 50, priority: 80 });
    expect(result).toMatchObject({ bufferPercent: 50, priority: 80 });
    const buffer = await fail(fleet, 'hv-a', 'memory.set', { vmId: DYNAMIC, bufferPercent: 4 });
    expect(buffer).toMatchObject({
      category: 'InvalidData',
      errorId: `ParameterArgumentValidationError,${SET_VM_MEMORY}`,
    });
    expect(buffer.message).toContain("parameter 'Buffer'");
    const priority = await fail(fleet, 'hv-a', 'memory.set', { vmId: DYNAMIC, priority: 101 });
    expect(priority.errorId).toBe(`ParameterArgumentValidationError,${SET_VM_MEMORY}`);
  });

  it('refuses minimum above startup or maximum below startup when off', async () => {
    const fleet = memoryFleet();
    await ok(fleet, 'hv-a', 'memory.set', {
      vmId: OFF,
      dynamicMemoryEnabled: true,
      minimumBytes: 1 * GiB,
      maximumBytes: 8 * GiB,
    });
    const min = await fail(fleet, 'hv-a', 'memory.set', { vmId: OFF, minimumBytes: 6 * GiB });
    expect(min.errorId).toBe(`InvalidParameter,${SET_VM_MEMORY}`);
    const max = await fail(fleet, 'hv-a', 'memory.set', { vmId: OFF, maximumBytes: 2 * GiB });
    expect(max.errorId).toBe(`InvalidParameter,${SET_VM_MEMORY}`);
  });

  it('grows and shrinks with demand, and host free memory follows', async () => {
    const fleet = memoryFleet();
    const free0 = fleet.getHost('hv-a')!.memoryAvailableBytes;
    const assigned0 = vm(fleet, DYNAMIC).memory.assignedBytes;
    fleet.setMemoryDemand(DYNAMIC, 5 * GiB);
    const grown = vm(fleet, DYNAMIC).memory;
    expect(grown.assignedBytes).toBe(6 * GiB); // demand + 20 % buffer
    expect(grown.memoryStatus).toBe('OK');
    expect(fleet.getHost('hv-a')!.memoryAvailableBytes).toBe(free0 - (6 * GiB - assigned0));
    fleet.setMemoryDemand(DYNAMIC, 100 * MiB);
    expect(vm(fleet, DYNAMIC).memory.assignedBytes).toBe(1 * GiB); // held at the minimum
    expect(fleet.getHost('hv-a')!.memoryAvailableBytes).toBe(free0 + (assigned0 - 1 * GiB));
  });

  it('never grows a dynamic VM past host free memory', async () => {
    const fleet = memoryFleet(16 * GiB);
    const free = fleet.getHost('hv-a')!.memoryAvailableBytes;
    const before = vm(fleet, DYNAMIC).memory.assignedBytes;
    fleet.setMemoryDemand(DYNAMIC, 8 * GiB);
    expect(vm(fleet, DYNAMIC).memory.assignedBytes).toBe(before + free);
    expect(fleet.getHost('hv-a')!.memoryAvailableBytes).toBe(0);
    expect(vm(fleet, DYNAMIC).memory.memoryStatus).not.toBe('OK');
  });
});
