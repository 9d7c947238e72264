// checkpoint.create / .remove (reference §10). Production checkpoints need version 6.2 and, on a
// started VM, the guest's backup integration service; ProductionOnly fails instead of falling back
// to Standard. Removal merges the .avhdx into its parent while the VM keeps running.
// Both are jobs: a standard checkpoint of a running VM saves its memory, and a merge copies the
// differencing disk, so either can take minutes on a large VM.

import { z } from 'zod';
import { defineScriptTemplate } from '../powershell/script-template';
import { checkpointFactsSchema, versionAtLeast } from './facts-schemas';
import type { VmFacts } from './facts-schemas';
import {
  defineOperation,
  guidText,
  fieldRouteParam,
  nameText,
  PS_GET_VM,
  psAwaitJob,
  refuse,
  rule,
  vmIdleRule,
} from './operation-helpers';

export const checkpointCreateInput = z.strictObject({
  name: nameText().optional(),
  checkpointType: z.enum(['Production', 'ProductionOnly', 'Standard']).optional(),
});
export type CheckpointCreateParams = z.infer<typeof checkpointCreateInput>;

export const checkpointRemoveInput = z.strictObject({
  checkpointId: guidText(),
  includeChildren: z.boolean().optional(),
});
export type CheckpointRemoveParams = z.infer<typeof checkpointRemoveInput>;

/** Why a production (VSS / filesystem-flush) checkpoint cannot be taken now, or null. */
export function productionUnavailable(vm: VmFacts): string | null {
  if (!versionAtLeast(vm.version, '6.2')) {
    return `production checkpoints need configuration version 6.2; ${vm.name} is version ${vm.version}`;
  }
  if (vm.state === 'Off') return null;
  if (vm.state !== 'Running')
    return `${vm.name} is ${vm.state}, so its guest cannot prepare a production checkpoint`;
  if (!vm.guestBackupServiceEnabled) {
    return `the guest Backup (volume shadow copy) integration service of ${vm.name} is not enabled or not responding`;
  }
  return null;
}

export const checkpointCreate = defineOperation({
  id: 'checkpoint.create',
  summary: 'Create a production or standard checkpoint',
  scope: 'vm:checkpoint',
  method: 'POST',
  route: '/v1/hosts/:host/vms/:vm/checkpoints',
  target: 'vm',
  input: checkpointCreateInput,
  mutates: true,
  longRunning: true,
  defaultWaitSec: 30,
  example: { name: 'before-plan-change', checkpointType: 'Production' },
  successStatus: 201,
  preconditions: [
    vmIdleRule<CheckpointCreateParams>(),
    rule<CheckpointCreateParams>(
      'checkpoints-enabled',
      'Checkpoints are not disabled on the VM.',
      (_p, { vm }) =>
        vm.checkpointType === 'Disabled'
          ? refuse(
              'HVG_ERR_PRECONDITION',
              `checkpoints are disabled for ${vm.name} (CheckpointType Disabled)`,
              'An operator must enable checkpoints (Set-VM -CheckpointType Production) first.',
            )
          : null,
    ),
    rule<CheckpointCreateParams>(
      'production-only-available',
      'With ProductionOnly (requested or the VM’s setting), a production checkpoint must be possible (§10).',
      (p, { vm }) => {
        const setting = p.checkpointType ?? vm.checkpointType;
        if (setting !== 'ProductionOnly') return null;
        const why = productionUnavailable(vm);
        return why === null
          ? null
          : refuse(
              versionAtLeast(vm.version, '6.2') ? 'HVG_ERR_PRECONDITION' : 'HVG_ERR_VM_VERSION',
              `a production checkpoint cannot be created and the checkpoint type is ProductionOnly: ${why}`,
              'Fix the guest’s backup integration service, or request checkpointType Production (falls back to Standard).',
            );
      },
    ),
  ],
  template: defineScriptTemplate({
    opId: 'checkpoint.create',
    version: 1,
    core: String.raw`
${PS_GET_VM}
$previousType = [string]$vm.CheckpointType
$setting = $previousType
if ($null -ne $p.params.checkpointType) { $setting = [string]$p.params.checkpointType }
$name = $null
if ($null -ne $p.params.name) { $name = [string]$p.params.name }
$changedType = $false
if ($setting -ne $previousType) {
    Set-VM -VM $vm -CheckpointType $setting
    $changedType = $true
}
try {
    Write-HvgateProgress -Percent 0 -Text 'Creating checkpoint'
    if ($null -eq $name) {
        $job = Checkpoint-VM -VM $vm -AsJob
    } else {
        $job = Checkpoint-VM -VM $vm -SnapshotName $name -AsJob
    }
    ${psAwaitJob('$job', 'Creating checkpoint', '$null')}
} finally {
    if ($changedType) { Set-VM -VM $vm -CheckpointType $previousType }
}
$vm = Get-VM -Id $vm.Id
$snapshot = Get-VMSnapshot -VM $vm | Where-Object { $_.Id -eq $vm.ParentSnapshotId }
$parentId = $null
if ($null -ne $snapshot.ParentSnapshotId) { $parentId = ([string]$snapshot.ParentSnapshotId).ToLowerInvariant() }
$parentName = $null
if (-not [string]::IsNullOrEmpty($snapshot.ParentSnapshotName)) { $parentName = [string]$snapshot.ParentSnapshotName }
Write-HvgateProgress -Percent 100 -Text 'Checkpoint created'
$result = [ordered]@{
    vmId = ([string]$vm.Id).ToLowerInvariant()
    id = ([string]$snapshot.Id).ToLowerInvariant()
    name = [string]$snapshot.Name
    vmName = [string]$snapshot.VMName
    snapshotType = [string]$snapshot.SnapshotType
    parentCheckpointId = $parentId
    parentCheckpointName = $parentName
    creationTime = $snapshot.CreationTime.ToUniversalTime().ToString('o')
    checkpointType = $setting
    fellBackToStandard = ($setting -eq 'Production' -and [string]$snapshot.SnapshotType -eq 'Standard')
}
`,
  }),
  result: checkpointFactsSchema.extend({
    vmId: z.string(),
    checkpointType: z.string(),
    fellBackToStandard: z.boolean(),
  }),
});

export const checkpointRemove = defineOperation({
  id: 'checkpoint.remove',
  summary: 'Delete a checkpoint (merges its differencing disk while the VM runs)',
  scope: 'vm:checkpoint',
  method: 'DELETE',
  route: '/v1/hosts/:host/vms/:vm/checkpoints/:checkpointId',
  target: 'vm',
  input: checkpointRemoveInput,
  routeParams: fieldRouteParam(
    'checkpointId',
    "The checkpoint's GUID, from GET …/vms/{vm} (checkpoints[].id)",
  ),
  mutates: true,
  longRunning: true,
  defaultWaitSec: 30,
  preconditions: [
    rule<CheckpointRemoveParams>('checkpoint-exists', 'The checkpoint belongs to this VM.', (p, { vm }) =>
      vm.checkpoints.some((c) => c.id.toLowerCase() === p.checkpointId.toLowerCase())
        ? null
        : refuse(
            'HVG_ERR_DEVICE_NOT_FOUND',
            `${vm.name} has no checkpoint with id ${p.checkpointId}`,
            'GET /v1/hosts/{host}/vms/{vm} lists checkpoints[].id.',
          ),
    ),
    vmIdleRule<CheckpointRemoveParams>(),
  ],
  template: defineScriptTemplate({
    opId: 'checkpoint.remove',
    version: 1,
    core: String.raw`
${PS_GET_VM}
$wanted = ConvertTo-HvgateGuid -Value $p.params.checkpointId -Name 'checkpointId'
$snapshot = Get-VMSnapshot -VM $vm | Where-Object { $_.Id -eq $wanted }
if ($null -eq $snapshot) {
    Stop-HvgateOperation -ErrorId 'ObjectNotFound,Microsoft.HyperV.PowerShell.Commands.GetVMSnapshot' -Message ('Hyper-V was unable to find a checkpoint with id "' + $wanted + '" for virtual machine ' + $vm.Name + '.') -Category ObjectNotFound
}
$removed = @(([string]$snapshot.Id).ToLowerInvariant())
Write-HvgateProgress -Percent 0 -Text 'Merging disks'
if ($true -eq $p.params.includeChildren) {
    foreach ($child in @(Get-VMSnapshot -VM $vm -ChildOf $snapshot)) { $removed += ([string]$child.Id).ToLowerInvariant() }
    $job = Remove-VMSnapshot -VMSnapshot $snapshot -IncludeAllChildSnapshots -AsJob
} else {
    $job = Remove-VMSnapshot -VMSnapshot $snapshot -AsJob
}
${psAwaitJob('$job', 'Merging disks', '$null')}
$vm = Get-VM -Id $vm.Id
$current = $null
if ($null -ne $vm.ParentSnapshotId) { $current = ([string]$vm.ParentSnapshotId).ToLowerInvariant() }
Write-HvgateProgress -Percent 100 -Text 'Checkpoint removed'
$result = [ordered]@{ vmId = ([string]$vm.Id).ToLowerInvariant(); removedCheckpointIds = $removed; currentCheckpointId = $current }
`,
  }),
  result: z.object({
    vmId: z.string(),
    removedCheckpointIds: z.array(z.string()),
    currentCheckpointId: z.string().nullable(),
  }),
});
