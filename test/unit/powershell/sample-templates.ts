// Template cores shaped like the operation catalog's (test-only; the real ones live in
// src/operations). They exercise the constructs operations use: GUID lookup, explicit
// hashtables, enum-to-string casts, loops, progress, typed refusals, here-strings.
import type { ScriptTemplate } from '../../../src/powershell/script-template';
import { defineScriptTemplate } from '../../../src/powershell/script-template';

export const vmListTemplate: ScriptTemplate = defineScriptTemplate({
  opId: 'vm.list',
  version: 1,
  core: `
$vms = @(Get-VM | Sort-Object -Property @('Name', 'Id'))
$result = @(foreach ($vm in $vms) {
    [ordered]@{
        id = [string]$vm.Id
        name = [string]$vm.Name
        state = [string]$vm.State
        generation = [int]$vm.Generation
        memoryAssignedBytes = [int64]$vm.MemoryAssigned
    }
})
`,
});

export const memorySetTemplate: ScriptTemplate = defineScriptTemplate({
  opId: 'memory.set',
  version: 2,
  core: `
$vmId = ConvertTo-HvgateGuid -Value $p.params.vmId -Name 'vmId'
$vm = Get-VM -Id $vmId
if ($null -eq $vm) {
    Stop-HvgateOperation -ErrorId 'HVG_VM_NOT_FOUND' -Message 'no VM with that id' -Category ObjectNotFound
}
Write-HvgateProgress -Percent 10 -Text 'resizing memory'
$arguments = @{ VM = $vm }
if ($p.params.dynamic -eq $true) {
    $arguments['DynamicMemoryEnabled'] = $true
    $arguments['MinimumBytes'] = [int64]$p.params.minimumBytes
    $arguments['MaximumBytes'] = [int64]$p.params.maximumBytes
} else {
    $arguments['StartupBytes'] = [int64]$p.params.startupBytes
}
Set-VMMemory @arguments
Write-HvgateProgress -Percent 100 -Text 'done'
$memory = Get-VMMemory -VM $vm
$result = [ordered]@{
    vmId = [string]$vm.Id
    dynamicMemoryEnabled = [bool]$memory.DynamicMemoryEnabled
    startupBytes = [int64]$memory.Startup
    note = @'
sizes are in bytes
'@
}
`,
});

export const checkpointCreateTemplate: ScriptTemplate = defineScriptTemplate({
  opId: 'checkpoint.create',
  version: 1,
  core: `
$vmId = ConvertTo-HvgateGuid -Value $p.params.vmId -Name 'vmId'
$vm = Get-VM -Id $vmId
$name = [string]$p.params.name
$before = @(Get-VMSnapshot -VM $vm | ForEach-Object { $_.Id })
Checkpoint-VM -VM $vm -SnapshotName $name
$created = Get-VMSnapshot -VM $vm | Where-Object { $before -notcontains $_.Id } | Select-Object -First 1
$result = [ordered]@{
    checkpointId = [string]$created.Id
    name = [string]$created.Name
    type = [string]$created.SnapshotType
    createdUtc = $created.CreationTime.ToUniversalTime().ToString('o')
}
`,
});

export const SAMPLE_TEMPLATES: ScriptTemplate[] = [
  vmListTemplate,
  memorySetTemplate,
  checkpointCreateTemplate,
];
