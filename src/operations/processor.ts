// processor.set: reserve, maximum (limit) and relative weight change while the VM runs; the
// processor count cannot change once the VM has started (reference §7, MASTERING p.104), so a
// count change on a running VM is refused, never applied by a restart.

import { z } from 'zod';
import { defineScriptTemplate } from '../powershell/script-template';
import { processorFactsSchema } from './facts-schemas';
import { defineOperation, PS_GET_VM, refuse, rule, vmIdleRule, withSection } from './operation-helpers';

export const processorSetInput = z
  .strictObject({
    count: z.number().int().min(1).max(2048).optional(),
    reserve: z.number().int().min(0).max(100).optional(),
    maximum: z.number().int().min(0).max(100).optional(),
    relativeWeight: z.number().int().min(1).max(10000).optional(),
  })
  .refine((p) => Object.keys(p).length > 0, 'name at least one processor setting to change');

export type ProcessorSetParams = z.infer<typeof processorSetInput>;

export const processorSet = defineOperation({
  id: 'processor.set',
  summary: 'Set processor reserve, maximum and relative weight (count only while the VM is off)',
  scope: 'vm:hotplug',
  method: 'PUT',
  route: '/v1/hosts/:host/vms/:vm/processor',
  target: 'vm',
  input: processorSetInput,
  mutates: true,
  longRunning: false,
  defaultWaitSec: 60,
  example: { reserve: 10, maximum: 75, relativeWeight: 200 },
  preconditions: [
    vmIdleRule<ProcessorSetParams>(),
    rule<ProcessorSetParams>(
      'count-needs-off',
      'The virtual processor count can change only while the VM is off (§7).',
      (p, { vm }) =>
        p.count === undefined || p.count === vm.processor.count || vm.state === 'Off'
          ? null
          : refuse(
              'HVG_ERR_VM_STATE',
              `the processor count of ${vm.name} cannot change while it is ${vm.state} (current ${vm.processor.count}, requested ${p.count})`,
              'Reserve, maximum and relative weight change live; a count change needs the VM off, and hvgate never power-cycles a VM.',
            ),
    ),
    rule<ProcessorSetParams>(
      'count-within-host',
      'A VM cannot have more virtual processors than the host has logical processors.',
      (p, { vm, host }) =>
        p.count === undefined || p.count === vm.processor.count || p.count <= host.logicalProcessorCount
          ? null
          : refuse(
              'HVG_ERR_INVALID_VALUE',
              `${host.name} has ${host.logicalProcessorCount} logical processors; ${vm.name} cannot have ${p.count}`,
            ),
    ),
    rule<ProcessorSetParams>('reserve-within-maximum', 'Reserve must not exceed maximum.', (p, { vm }) => {
      const reserve = p.reserve ?? vm.processor.reserve;
      const maximum = p.maximum ?? vm.processor.maximum;
      return reserve <= maximum
        ? null
        : refuse(
            'HVG_ERR_INVALID_VALUE',
            `processor reserve ${reserve}% must not exceed the maximum ${maximum}% for ${vm.name}`,
          );
    }),
  ],
  template: defineScriptTemplate({
    opId: 'processor.set',
    version: 1,
    core: String.raw`
${PS_GET_VM}
$setArgs = @{ VM = $vm }
if ($null -ne $p.params.count) { $setArgs['Count'] = [int64]$p.params.count }
if ($null -ne $p.params.reserve) { $setArgs['Reserve'] = [int64]$p.params.reserve }
if ($null -ne $p.params.maximum) { $setArgs['Maximum'] = [int64]$p.params.maximum }
if ($null -ne $p.params.relativeWeight) { $setArgs['RelativeWeight'] = [int]$p.params.relativeWeight }
Set-VMProcessor @setArgs
$cpu = Get-VMProcessor -VM $vm
$result = [ordered]@{
    vmId = ([string]$vm.Id).ToLowerInvariant()
    count = [int]$cpu.Count
    reserve = [int]$cpu.Reserve
    maximum = [int]$cpu.Maximum
    relativeWeight = [int]$cpu.RelativeWeight
    compatibilityForMigrationEnabled = [bool]$cpu.CompatibilityForMigrationEnabled
    exposeVirtualizationExtensions = [bool]$cpu.ExposeVirtualizationExtensions
}
`,
  }),
  result: processorFactsSchema.extend({ vmId: z.string() }),
  factsAfter: withSection('processor'),
});
