// Memory: static resize (runtime memory resize, reference §1) and Dynamic Memory changes (§2),
// plus the host-side accounting that makes host free memory follow running VMs.

import { deviceError, HyperVError, WMI } from './hyperv-errors';
import { LATENCY } from './hyperv-latency';
import { GiB, HyperVHost, MiB, TiB, versionAtLeast, VirtualMachine } from './hyperv-model';
import { assertVmIdle, hostAvailableMemory, OpContext, requireVm, vmRef } from './hyperv-op-context';
import type { MemorySetParams } from './hyperv-params';
import { memoryFacts, MemoryFacts } from './hyperv-views';

/** Memory sizes are allocated in 2 MiB units. */
export const MEMORY_UNIT = 2 * MiB;
/** Valid range of Minimum is 32 MB … Startup (WSDOCS dynamic-memory.md, reference §2). */
export const MEMORY_MINIMUM = 32 * MiB;

/**
 * Largest memory a VM may have: 1 TB per the dynamic-memory doc (§2); large-memory VMs need
 * configuration version 8.0 (§0.2), where Generation 2 goes to the WS2016 maximum of 12 TB.
 */
export function maximumMemoryFor(vm: VirtualMachine): number {
  return vm.generation === 2 && versionAtLeast(vm.version, '8.0') ? 12 * TiB : 1 * TiB;
}

const roundUpToUnit = (bytes: number): number => Math.ceil(bytes / MEMORY_UNIT) * MEMORY_UNIT;

/**
 * Recomputes what a VM holds. Static: its startup size while running. Dynamic: demand plus buffer,
 * kept within minimum/maximum, growing only as far as the host has free memory (the balancer never
 * over-commits a running VM; Smart Paging applies only at restart, §2).
 */
export function rebalanceMemory(host: HyperVHost, vm: VirtualMachine): void {
  const m = vm.memory;
  if (vm.state === 'Off' || vm.state === 'Saved') {
    m.assignedBytes = 0;
    return;
  }
  if (vm.state === 'Paused') return;
  if (!m.dynamicMemoryEnabled) {
    m.assignedBytes = m.startupBytes;
    return;
  }
  const target = Math.min(
    m.maximumBytes,
    Math.max(m.minimumBytes, roundUpToUnit(m.demandBytes * (1 + m.bufferPercent / 100))),
  );
  if (target <= m.assignedBytes) {
    m.assignedBytes = target;
    return;
  }
  const grow = Math.min(target - m.assignedBytes, hostAvailableMemory(host));
  m.assignedBytes += Math.floor(grow / MEMORY_UNIT) * MEMORY_UNIT;
}

/** Sets what the guest uses; a static guest cannot use more than it has, a dynamic one more than its maximum. */
export function setMemoryDemand(host: HyperVHost, vm: VirtualMachine, demandBytes: number): void {
  if (!Number.isFinite(demandBytes) || demandBytes < 0) throw new RangeError('demandBytes must be ≥ 0');
  const m = vm.memory;
  const cap = m.dynamicMemoryEnabled ? m.maximumBytes : m.startupBytes;
  m.demandBytes = Math.min(Math.round(demandBytes), cap);
  rebalanceMemory(host, vm);
}

const mb = (bytes: number): string => `${Math.round(bytes / MiB)} MB`;

export async function setMemory(ctx: OpContext, p: MemorySetParams): Promise<MemoryFacts & { vmId: string }> {
  await ctx.run.sleep(LATENCY.setMemoryMs);
  const vm = requireVm(ctx.host, p.vmId);
  assertVmIdle(vm, 'SetVMMemory', "Failed to modify device 'Memory'.");
  const fail = (code: 32768 | 32773 | 32775 | 32778, reason: string): HyperVError =>
    deviceError('SetVMMemory', code, 'modify', 'Memory', vmRef(vm), reason);
  const m = vm.memory;

  for (const [field, value] of [
    ['startup', p.startupBytes],
    ['minimum', p.minimumBytes],
    ['maximum', p.maximumBytes],
  ] as const) {
    if (value !== undefined && value % MEMORY_UNIT !== 0) {
      throw fail(
        WMI.invalidParameter,
        `Invalid ${field} memory amount assigned for '${vm.name}': ${value} bytes. Memory values must be a multiple of 2 MB.`,
      );
    }
  }

  const changesSize =
    p.startupBytes !== undefined ||
    p.minimumBytes !== undefined ||
    p.maximumBytes !== undefined ||
    p.dynamicMemoryEnabled !== undefined;
  if ((vm.state === 'Saved' || vm.state === 'Paused') && changesSize) {
    throw fail(
      WMI.invalidState,
      `The virtual machine is ${vm.state}; memory sizes can be changed only while it is Off or Running.`,
    );
  }

  const running = vm.state === 'Running';
  const dynamic = p.dynamicMemoryEnabled ?? m.dynamicMemoryEnabled;
  const next = {
    startupBytes: p.startupBytes ?? m.startupBytes,
    minimumBytes: p.minimumBytes ?? m.minimumBytes,
    maximumBytes: p.maximumBytes ?? m.maximumBytes,
  };

  // Toggling Dynamic Memory needs the VM off (§2: only raising Maximum and lowering Minimum are runtime changes).
  if (running && p.dynamicMemoryEnabled !== undefined && p.dynamicMemoryEnabled !== m.dynamicMemoryEnabled) {
    throw fail(
      WMI.invalidState,
      `Dynamic memory cannot be ${p.dynamicMemoryEnabled ? 'enabled' : 'disabled'} while the virtual machine is running.`,
    );
  }

  const limit = maximumMemoryFor(vm);
  if (next.startupBytes < MEMORY_MINIMUM) {
    throw fail(
      WMI.invalidParameter,
      `Invalid startup memory amount assigned for '${vm.name}'. The minimum amount of memory you can assign to this virtual machine is '32' MB.`,
    );
  }
  if (next.startupBytes > limit) {
    throw fail(
      WMI.invalidParameter,
      `Invalid startup memory amount assigned for '${vm.name}'. The maximum amount of memory you can assign to this virtual machine is '${mb(limit)}'.`,
    );
  }
  if (dynamic) {
    if (next.minimumBytes < MEMORY_MINIMUM || next.minimumBytes > next.startupBytes) {
      throw fail(
        WMI.invalidParameter,
        `Invalid minimum memory amount specified for '${vm.name}': the minimum memory must be between 32 MB and the startup memory (${mb(next.startupBytes)}).`,
      );
    }
    if (next.maximumBytes < next.startupBytes || next.maximumBytes > limit) {
      throw fail(
        WMI.invalidParameter,
        `Invalid maximum memory amount specified for '${vm.name}': the maximum memory must be between the startup memory (${mb(next.startupBytes)}) and ${mb(limit)}.`,
      );
    }
  }

  if (running && dynamic) {
    if (p.startupBytes !== undefined && p.startupBytes !== m.startupBytes) {
      throw fail(
        WMI.invalidState,
        'The startup memory of a virtual machine with dynamic memory enabled cannot be changed while it is running.',
      );
    }
    if (next.minimumBytes > m.minimumBytes) {
      throw fail(
        WMI.invalidState,
        `The minimum memory can only be decreased while the virtual machine is running (current ${mb(m.minimumBytes)}, requested ${mb(next.minimumBytes)}).`,
      );
    }
    if (next.maximumBytes < m.maximumBytes) {
      throw fail(
        WMI.invalidState,
        `The maximum memory can only be increased while the virtual machine is running (current ${mb(m.maximumBytes)}, requested ${mb(next.maximumBytes)}).`,
      );
    }
  }

  if (running && !dynamic && next.startupBytes !== m.startupBytes) {
    // Runtime memory resize: config version 6.2+ (§0.2), never below what the guest uses, never past host free memory (§1).
    if (!versionAtLeast(vm.version, '6.2')) {
      throw fail(
        WMI.invalidState,
        `Changing the memory of a running virtual machine requires configuration version 6.2 or later; '${vm.name}' is version ${vm.version}.`,
      );
    }
    if (next.startupBytes < m.demandBytes) {
      throw fail(
        WMI.invalidState,
        `The guest operating system could not release enough memory: it is using ${mb(m.demandBytes)} and the requested size is ${mb(next.startupBytes)}.`,
      );
    }
    const growth = next.startupBytes - m.assignedBytes;
    const available = hostAvailableMemory(ctx.host);
    if (growth > available) {
      throw fail(
        WMI.outOfMemory,
        `Not enough memory in the system to grow '${vm.name}' to ${mb(next.startupBytes)}: ${mb(growth)} more is needed and ${mb(available)} is available on the host. (0x8007000E)`,
      );
    }
  }

  m.dynamicMemoryEnabled = dynamic;
  m.startupBytes = next.startupBytes;
  m.minimumBytes = next.minimumBytes;
  m.maximumBytes = next.maximumBytes;
  if (p.bufferPercent !== undefined) m.bufferPercent = p.bufferPercent;
  if (p.priority !== undefined) m.priority = p.priority;
  if (!dynamic) m.demandBytes = Math.min(m.demandBytes, m.startupBytes);
  rebalanceMemory(ctx.host, vm);
  return { vmId: vm.id, ...memoryFacts(vm) };
}

/** Demo-friendly default demand: a share of startup memory, at least 256 MB. */
export function initialDemand(startupBytes: number, share: number): number {
  return Math.max(256 * MiB, Math.min(startupBytes, roundUpToUnit(startupBytes * share)));
}

export const DEFAULT_HOST_RESERVE = 4 * GiB;
