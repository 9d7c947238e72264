// vm.export (job): Export-VM of a started or stopped VM into `<destinationPath>\<vm name>` under
// the host's export roots (reference §11). CaptureDataConsistentState avoids the guest stall the
// default CaptureSavedState causes on running VMs.

import { z } from 'zod';
import { defineScriptTemplate } from '../powershell/script-template';
import { defineOperation, pathText, PS_GET_VM, psAwaitJob, vmIdleRule } from './operation-helpers';

export const vmExportInput = z.strictObject({
  destinationPath: pathText(),
  captureLiveState: z
    .enum(['CaptureSavedState', 'CaptureDataConsistentState', 'CaptureCrashConsistentState'])
    .optional(),
});
export type VmExportParams = z.infer<typeof vmExportInput>;

export const vmExport = defineOperation({
  id: 'vm.export',
  summary: 'Export the VM (running or not) to a folder under the host’s export roots',
  scope: 'vm:backup',
  method: 'POST',
  route: '/v1/hosts/:host/vms/:vm/export',
  target: 'vm',
  input: vmExportInput,
  mutates: true,
  longRunning: true,
  defaultWaitSec: 5,
  example: { destinationPath: '\\\\hv-fs01\\backups\\web-01' },
  pathFields: [{ field: 'destinationPath', roots: 'export' }],
  preconditions: [vmIdleRule<VmExportParams>()],
  template: defineScriptTemplate({
    opId: 'vm.export',
    version: 1,
    core: String.raw`
${PS_GET_VM}
$destination = [string]$p.params.destinationPath
$capture = 'CaptureSavedState'
if ($null -ne $p.params.captureLiveState) { $capture = [string]$p.params.captureLiveState }
$target = Join-Path -Path $destination -ChildPath $vm.Name
if (Test-Path -LiteralPath $target) {
    Stop-HvgateOperation -ErrorId 'ObjectAlreadyExists,Microsoft.HyperV.PowerShell.Commands.ExportVM' -Message ('The system failed to create ' + $target + ': The file exists. (0x80070050)') -Category ResourceExists
}
Write-HvgateProgress -Percent 0 -Text 'Exporting virtual machine'
$job = Export-VM -VM $vm -Path $destination -CaptureLiveState $capture -AsJob
${psAwaitJob('$job', 'Exporting virtual machine', '$null')}
$bytes = [int64]0
foreach ($file in @(Get-ChildItem -LiteralPath $target -Recurse -File)) { $bytes += [int64]$file.Length }
Write-HvgateProgress -Percent 100 -Text 'Export complete'
$result = [ordered]@{ vmId = ([string]$vm.Id).ToLowerInvariant(); exportPath = $target; captureLiveState = $capture; bytesCopied = $bytes }
`,
  }),
  result: z.object({
    vmId: z.string(),
    exportPath: z.string(),
    captureLiveState: z.string(),
    bytesCopied: z.number().int().min(0),
  }),
});
