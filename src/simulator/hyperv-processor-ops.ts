// Processor: reserve, limit and weight change at runtime; the count cannot change once the VM
// has started (reference §7, MASTERING p.104). Ranges are checked at parameter binding.

import { deviceError, WMI } from './hyperv-errors';
import { LATENCY } from './hyperv-latency';
import { assertVmIdle, OpContext, requireVm, vmRef } from './hyperv-op-context';
import type { ProcessorSetParams } from './hyperv-params';
import { processorFacts, ProcessorFacts } from './hyperv-views';

export async function setProcessor(
  ctx: OpContext,
  p: ProcessorSetParams,
): Promise<ProcessorFacts & { vmId: string }> {
  await ctx.run.sleep(LATENCY.setProcessorMs);
  const vm = requireVm(ctx.host, p.vmId);
  assertVmIdle(vm, 'SetVMProcessor', "Failed to modify device 'Processor'.");
  const fail = (code: 32773 | 32775, reason: string) =>
    deviceError('SetVMProcessor', code, 'modify', 'Processor', vmRef(vm), reason);
  const cpu = vm.processor;

  if (p.count !== undefined && p.count !== cpu.count) {
    if (vm.state !== 'Off') {
      throw fail(
        WMI.invalidState,
        `The number of virtual processors cannot be changed while the virtual machine is ${vm.state}; it can be changed only when the virtual machine is off.`,
      );
    }
    if (p.count > ctx.host.logicalProcessorCount) {
      throw fail(
        WMI.invalidParameter,
        `The virtual machine cannot have ${p.count} virtual processors: the host has ${ctx.host.logicalProcessorCount} logical processors.`,
      );
    }
  }
  const reserve = p.reserve ?? cpu.reserve;
  const maximum = p.maximum ?? cpu.maximum;
  if (reserve > maximum) {
    throw fail(
      WMI.invalidParameter,
      `The virtual machine reserve (${reserve}%) must be less than or equal to the virtual machine limit (${maximum}%).`,
    );
  }

  if (p.count !== undefined) cpu.count = p.count;
  cpu.reserve = reserve;
  cpu.maximum = maximum;
  if (p.relativeWeight !== undefined) cpu.relativeWeight = p.relativeWeight;
  return { vmId: vm.id, ...processorFacts(vm) };
}
