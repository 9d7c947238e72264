// backup.create (job): production checkpoint → export of that checkpoint → checkpoint removed,
// also when the export fails (reference §14, option 3 with the checkpoint made explicit). A backup
// needs an application-consistent checkpoint, so there is no fallback to a standard one.

import { z } from 'zod';
import { defineScriptTemplate } from '../powershell/script-template';
import { productionUnavailable } from './checkpoint';
import { versionAtLeast } from './facts-schemas';
import {
  defineOperation,
  pathText,
  PS_GET_VM,
  psAwaitJob,
  refuse,
  rule,
  vmIdleRule,
} from './operation-helpers';

export const backupCreateInput = z.strictObject({ destinationPath: pathText() });
export type BackupCreateParams = z.infer<typeof backupCreateInput>;

export const backupCreate = defineOperation({
  id: 'backup.create',
  summary: 'Back up the VM: production checkpoint, export of the checkpoint, checkpoint removed',
  scope: 'vm:backup',
  method: 'POST',
  route: '/v1/hosts/:host/vms/:vm/backups',
  target: 'vm',
  input: backupCreateInput,
  mutates: true,
  longRunning: true,
  defaultWaitSec: 5,
  example: { destinationPath: '\\\\hv-fs01\\backups\\web-01' },
  successStatus: 201,
  pathFields: [{ field: 'destinationPath', roots: 'export' }],
  preconditions: [
    vmIdleRule<BackupCreateParams>(),
    rule<BackupCreateParams>(
      'production-checkpoint-possible',
      'A production (application-consistent) checkpoint can be taken now.',
      (_p, { vm }) => {
        const why = productionUnavailable(vm);
        return why === null
          ? null
          : refuse(
              versionAtLeast(vm.version, '6.2') ? 'HVG_ERR_PRECONDITION' : 'HVG_ERR_VM_VERSION',
              `a backup needs a production checkpoint: ${why}`,
              'Enable the guest’s Backup (volume shadow copy) integration service, or use vm.export with captureLiveState.',
            );
      },
    ),
  ],
  template: defineScriptTemplate({
    opId: 'backup.create',
    version: 1,
    core: String.raw`
${PS_GET_VM}
$destination = [string]$p.params.destinationPath
$stamp = (Get-Date).ToUniversalTime().ToString('yyyy-MM-ddTHH-mm-ssZ')
$name = 'hvgate-backup-' + $stamp
$previousType = [string]$vm.CheckpointType
if ($previousType -ne 'ProductionOnly') { Set-VM -VM $vm -CheckpointType ProductionOnly }
Write-HvgateProgress -Percent 0 -Text 'Creating production checkpoint'
try {
    $job = Checkpoint-VM -VM $vm -SnapshotName $name -AsJob
    ${psAwaitJob('$job', 'Creating production checkpoint', '$null')}
} finally {
    if ($previousType -ne 'ProductionOnly') { Set-VM -VM $vm -CheckpointType $previousType }
}
$snapshot = Get-VMSnapshot -VM $vm -Name $name
$target = Join-Path -Path $destination -ChildPath $vm.Name
$bytes = [int64]0
try {
    if (Test-Path -LiteralPath $target) {
        Stop-HvgateOperation -ErrorId 'ObjectAlreadyExists,Microsoft.HyperV.PowerShell.Commands.ExportVMSnapshot' -Message ('The system failed to create ' + $target + ': The file exists. (0x80070050)') -Category ResourceExists
    }
    Write-HvgateProgress -Percent 10 -Text 'Exporting checkpoint'
    $job = Export-VMSnapshot -VMSnapshot $snapshot -Path $destination -AsJob
    ${psAwaitJob('$job', 'Exporting checkpoint', '$null')}
    foreach ($file in @(Get-ChildItem -LiteralPath $target -Recurse -File)) { $bytes += [int64]$file.Length }
} finally {
    Write-HvgateProgress -Percent 95 -Text 'Removing backup checkpoint'
    Remove-VMSnapshot -VMSnapshot $snapshot
}
Write-HvgateProgress -Percent 100 -Text 'Backup complete'
$result = [ordered]@{
    vmId = ([string]$vm.Id).ToLowerInvariant()
    checkpointId = ([string]$snapshot.Id).ToLowerInvariant()
    checkpointName = $name
    exportPath = $target
    bytesCopied = $bytes
    checkpointRemoved = $true
}
`,
  }),
  result: z.object({
    vmId: z.string(),
    checkpointId: z.string(),
    checkpointName: z.string(),
    exportPath: z.string(),
    bytesCopied: z.number().int().min(0),
    checkpointRemoved: z.boolean(),
  }),
});
