// memory.set: runtime resize of static memory (reference §1) and Dynamic Memory changes (§2).
// While running: static resize needs version 6.2, dynamic memory off, not below what the guest
// uses and within host free memory; with dynamic memory only Maximum up and Minimum down.

import { z } from 'zod';
import { defineScriptTemplate } from '../powershell/script-template';
import { memoryFactsSchema, versionAtLeast } from './facts-schemas';
import type { VmFacts } from './facts-schemas';
import {
  defineOperation,
  GiB,
  mb,
  MiB,
  offOrRunningRule,
  PS_GET_VM,
  refuse,
  rule,
  TiB,
  vmIdleRule,
  withSection,
} from './operation-helpers';

const UNIT = 2 * MiB;
const MINIMUM = 32 * MiB;
const memoryBytes = z
  .number()
  .int()
  .min(MINIMUM)
  .max(12 * TiB)
  .refine((n) => n % UNIT === 0, 'memory sizes are multiples of 2 MiB (2097152 bytes)');

export const memorySetInput = z
  .strictObject({
    startupBytes: memoryBytes.optional(),
    dynamicMemoryEnabled: z.boolean().optional(),
    minimumBytes: memoryBytes.optional(),
    maximumBytes: memoryBytes.optional(),
    bufferPercent: z.number().int().min(5).max(2000).optional(),
    priority: z.number().int().min(0).max(100).optional(),
  })
  .refine((p) => Object.keys(p).length > 0, 'name at least one memory setting to change');

export type MemorySetParams = z.infer<typeof memorySetInput>;

/** Largest memory: 1 TB, or 12 TB on Generation 2 with configuration version 8.0 (§0.2, §2). */
export function memoryLimit(vm: VmFacts): number {
  return vm.generation === 2 && versionAtLeast(vm.version, '8.0') ? 12 * TiB : 1 * TiB;
}

function next(p: MemorySetParams, vm: VmFacts) {
  const m = vm.memory;
  return {
    dynamic: p.dynamicMemoryEnabled ?? m.dynamicMemoryEnabled,
    startup: p.startupBytes ?? m.startupBytes,
    minimum: p.minimumBytes ?? m.minimumBytes,
    maximum: p.maximumBytes ?? m.maximumBytes,
  };
}

const changesSize = (p: MemorySetParams): boolean =>
  p.startupBytes !== undefined ||
  p.minimumBytes !== undefined ||
  p.maximumBytes !== undefined ||
  p.dynamicMemoryEnabled !== undefined;

const running = (vm: VmFacts): boolean => vm.state === 'Running';

export const memorySet = defineOperation({
  id: 'memory.set',
  summary: 'Resize static memory or change dynamic memory (minimum, maximum, buffer, priority)',
  scope: 'vm:hotplug',
  method: 'PUT',
  route: '/v1/hosts/:host/vms/:vm/memory',
  target: 'vm',
  input: memorySetInput,
  mutates: true,
  longRunning: false,
  defaultWaitSec: 60,
  example: { startupBytes: 8 * GiB },
  preconditions: [
    vmIdleRule<MemorySetParams>(),
    offOrRunningRule<MemorySetParams>('Memory sizes can be changed', changesSize),
    rule<MemorySetParams>(
      'dynamic-toggle-needs-off',
      'Dynamic memory can be turned on or off only while the VM is off (§2).',
      (p, { vm }) =>
        running(vm) &&
        p.dynamicMemoryEnabled !== undefined &&
        p.dynamicMemoryEnabled !== vm.memory.dynamicMemoryEnabled
          ? refuse(
              'HVG_ERR_VM_STATE',
              `dynamic memory can be ${p.dynamicMemoryEnabled ? 'enabled' : 'disabled'} only while the VM is off; ${vm.name} is Running`,
              'Change the memory size within the current mode, or turn the VM off first (hvgate never power-cycles a VM).',
            )
          : null,
    ),
    rule<MemorySetParams>(
      'memory-range',
      'Startup within 32 MB and the VM maximum; with dynamic memory Minimum ≤ Startup ≤ Maximum.',
      (p, { vm }) => {
        const n = next(p, vm);
        const limit = memoryLimit(vm);
        if (n.startup > limit) {
          return refuse(
            'HVG_ERR_INVALID_VALUE',
            `startup memory ${mb(n.startup)} is above the most ${vm.name} can have (${mb(limit)}; generation ${vm.generation}, version ${vm.version})`,
          );
        }
        if (!n.dynamic) return null;
        if (n.minimum > n.startup) {
          return refuse(
            'HVG_ERR_INVALID_VALUE',
            `minimum memory ${mb(n.minimum)} must not exceed startup memory ${mb(n.startup)}`,
          );
        }
        if (n.maximum < n.startup || n.maximum > limit) {
          return refuse(
            'HVG_ERR_INVALID_VALUE',
            `maximum memory ${mb(n.maximum)} must be between startup memory ${mb(n.startup)} and ${mb(limit)}`,
          );
        }
        return null;
      },
    ),
    rule<MemorySetParams>(
      'dynamic-runtime-changes',
      'With dynamic memory on a running VM: Startup cannot change, Minimum only down, Maximum only up (§2).',
      (p, { vm }) => {
        const n = next(p, vm);
        const m = vm.memory;
        if (!running(vm) || !n.dynamic || !m.dynamicMemoryEnabled) return null;
        const hint =
          'Hyper-V applies only "raise Maximum" and "lower Minimum" to a running VM; other changes need the VM off.';
        if (p.startupBytes !== undefined && p.startupBytes !== m.startupBytes) {
          return refuse(
            'HVG_ERR_VM_STATE',
            `the startup memory of ${vm.name} cannot change while it runs with dynamic memory`,
            hint,
          );
        }
        if (n.minimum > m.minimumBytes) {
          return refuse(
            'HVG_ERR_VM_STATE',
            `minimum memory of running ${vm.name} can only be lowered (current ${mb(m.minimumBytes)}, requested ${mb(n.minimum)})`,
            hint,
          );
        }
        if (n.maximum < m.maximumBytes) {
          return refuse(
            'HVG_ERR_VM_STATE',
            `maximum memory of running ${vm.name} can only be raised (current ${mb(m.maximumBytes)}, requested ${mb(n.maximum)})`,
            hint,
          );
        }
        return null;
      },
    ),
    rule<MemorySetParams>(
      'static-resize-version',
      'Runtime resize of static memory needs configuration version 6.2 or later (§0.2).',
      (p, { vm }) => {
        const n = next(p, vm);
        if (!running(vm) || n.dynamic || n.startup === vm.memory.startupBytes) return null;
        return versionAtLeast(vm.version, '6.2')
          ? null
          : refuse(
              'HVG_ERR_VM_VERSION',
              `memory of a running VM can be resized only from configuration version 6.2; ${vm.name} is version ${vm.version}`,
            );
      },
    ),
    rule<MemorySetParams>(
      'static-resize-above-demand',
      'A running VM cannot shrink below the memory its guest is using (§1).',
      (p, { vm }) => {
        const n = next(p, vm);
        if (!running(vm) || n.dynamic || n.startup >= vm.memory.startupBytes) return null;
        return n.startup >= vm.memory.demandBytes
          ? null
          : refuse(
              'HVG_ERR_CAPACITY',
              `${vm.name} uses ${mb(vm.memory.demandBytes)}; its memory cannot be reduced to ${mb(n.startup)} while it runs`,
              'Choose a size at or above the current demand (memory.demandBytes in GET /v1/hosts/{host}/vms/{vm}).',
            );
      },
    ),
    rule<MemorySetParams>(
      'static-resize-host-capacity',
      'Growing a running VM cannot take more than the host has free (§1).',
      (p, { vm, host }) => {
        const n = next(p, vm);
        if (!running(vm) || n.dynamic) return null;
        const growth = n.startup - vm.memory.assignedBytes;
        if (growth <= 0 || growth <= host.memoryAvailableBytes) return null;
        return refuse(
          'HVG_ERR_CAPACITY',
          `growing ${vm.name} to ${mb(n.startup)} needs ${mb(growth)} more and ${host.name} has ${mb(host.memoryAvailableBytes)} free`,
          `Choose a size at most ${mb(vm.memory.assignedBytes + host.memoryAvailableBytes)}, or free memory on the host first.`,
          {
            hostAvailableBytes: host.memoryAvailableBytes,
            hostCapacityBytes: host.memoryCapacityBytes,
            maxStartupBytes:
              Math.floor((vm.memory.assignedBytes + host.memoryAvailableBytes) / (2 * MiB)) * 2 * MiB,
          },
        );
      },
    ),
  ],
  template: defineScriptTemplate({
    opId: 'memory.set',
    version: 1,
    core: String.raw`
${PS_GET_VM}
$setArgs = @{ VM = $vm }
if ($null -ne $p.params.dynamicMemoryEnabled) { $setArgs['DynamicMemoryEnabled'] = [bool]$p.params.dynamicMemoryEnabled }
if ($null -ne $p.params.startupBytes) { $setArgs['StartupBytes'] = [int64]$p.params.startupBytes }
if ($null -ne $p.params.minimumBytes) { $setArgs['MinimumBytes'] = [int64]$p.params.minimumBytes }
if ($null -ne $p.params.maximumBytes) { $setArgs['MaximumBytes'] = [int64]$p.params.maximumBytes }
if ($null -ne $p.params.bufferPercent) { $setArgs['Buffer'] = [int]$p.params.bufferPercent }
if ($null -ne $p.params.priority) { $setArgs['Priority'] = [int]$p.params.priority }
Set-VMMemory @setArgs
$vm = Get-VM -Id $vm.Id
$memory = Get-VMMemory -VM $vm
$result = [ordered]@{
    vmId = ([string]$vm.Id).ToLowerInvariant()
    dynamicMemoryEnabled = [bool]$memory.DynamicMemoryEnabled
    startupBytes = [int64]$memory.Startup
    minimumBytes = [int64]$memory.Minimum
    maximumBytes = [int64]$memory.Maximum
    bufferPercent = [int]$memory.Buffer
    priority = [int]$memory.Priority
    assignedBytes = [int64]$vm.MemoryAssigned
    demandBytes = [int64]$vm.MemoryDemand
    memoryStatus = [string]$vm.MemoryStatus
}
`,
  }),
  result: memoryFactsSchema.extend({ vmId: z.string() }),
  factsAfter: withSection('memory'),
});
