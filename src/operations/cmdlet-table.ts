// Every cmdlet the catalog's script templates call, with each parameter they pass and the
// documentation it follows. A test extracts commands and parameters from the parsed templates
// and fails on anything missing here, so a template cannot quietly use an unreviewed cmdlet.

export interface CmdletEntry {
  module:
    | 'Hyper-V'
    | 'Microsoft.PowerShell.Core'
    | 'Microsoft.PowerShell.Utility'
    | 'Microsoft.PowerShell.Management'
    | 'CimCmdlets';
  /** Reference page of the cmdlet (Windows Server 2022 docset for Hyper-V, 5.1 for the rest). */
  doc: string;
  /** Parameter names the templates pass (named, switch or splatted). */
  parameters: readonly string[];
}

const hv = (name: string, parameters: string[]): CmdletEntry => ({
  module: 'Hyper-V',
  doc: `https://learn.microsoft.com/powershell/module/hyper-v/${name.toLowerCase()}?view=windowsserver2022-ps`,
  parameters,
});
const ps = (module: CmdletEntry['module'], name: string, parameters: string[]): CmdletEntry => ({
  module,
  doc: `https://learn.microsoft.com/powershell/module/${module.toLowerCase()}/${name.toLowerCase()}?view=powershell-5.1`,
  parameters,
});

export const CMDLET_TABLE: Readonly<Record<string, CmdletEntry>> = {
  // Hyper-V module: VMs and host
  'Get-VM': hv('Get-VM', ['Id']),
  'Set-VM': hv('Set-VM', ['VM', 'CheckpointType']),
  'Get-VMHost': hv('Get-VMHost', []),
  'Get-VMHostSupportedVersion': hv('Get-VMHostSupportedVersion', []),
  'Get-VMSwitch': hv('Get-VMSwitch', []),
  'Get-VMIntegrationService': hv('Get-VMIntegrationService', ['VM', 'Name']),
  // Memory and processor (§1, §2, §7)
  'Get-VMMemory': hv('Get-VMMemory', ['VM']),
  'Set-VMMemory': hv('Set-VMMemory', [
    'VM',
    'DynamicMemoryEnabled',
    'StartupBytes',
    'MinimumBytes',
    'MaximumBytes',
    'Buffer',
    'Priority',
  ]),
  'Get-VMProcessor': hv('Get-VMProcessor', ['VM']),
  'Set-VMProcessor': hv('Set-VMProcessor', ['VM', 'Count', 'Reserve', 'Maximum', 'RelativeWeight']),
  // Network adapters (§3)
  'Get-VMNetworkAdapter': hv('Get-VMNetworkAdapter', ['VM']),
  'Add-VMNetworkAdapter': hv('Add-VMNetworkAdapter', [
    'VM',
    'Name',
    'SwitchName',
    'StaticMacAddress',
    'Passthru',
  ]),
  'Remove-VMNetworkAdapter': hv('Remove-VMNetworkAdapter', ['VMNetworkAdapter']),
  'Get-VMNetworkAdapterVlan': hv('Get-VMNetworkAdapterVlan', ['VMNetworkAdapter']),
  'Set-VMNetworkAdapterVlan': hv('Set-VMNetworkAdapterVlan', ['VMNetworkAdapter', 'Access', 'VlanId']),
  // Controllers, disks, VHD files (§4, §6, §8, §9)
  'Get-VMIdeController': hv('Get-VMIdeController', ['VM', 'ControllerNumber']),
  'Get-VMScsiController': hv('Get-VMScsiController', ['VM', 'ControllerNumber']),
  'Get-VMHardDiskDrive': hv('Get-VMHardDiskDrive', [
    'VM',
    'ControllerType',
    'ControllerNumber',
    'ControllerLocation',
  ]),
  'Add-VMHardDiskDrive': hv('Add-VMHardDiskDrive', [
    'VM',
    'ControllerType',
    'ControllerNumber',
    'ControllerLocation',
    'Path',
    'MinimumIOPS',
    'MaximumIOPS',
    'Passthru',
  ]),
  'Set-VMHardDiskDrive': hv('Set-VMHardDiskDrive', [
    'VMHardDiskDrive',
    'MinimumIOPS',
    'MaximumIOPS',
    'Passthru',
  ]),
  'Remove-VMHardDiskDrive': hv('Remove-VMHardDiskDrive', ['VMHardDiskDrive']),
  'Get-VHD': hv('Get-VHD', ['Path']),
  'New-VHD': hv('New-VHD', ['Path', 'SizeBytes', 'Fixed', 'Dynamic']),
  'Resize-VHD': hv('Resize-VHD', ['Path', 'SizeBytes', 'AsJob']),
  'Optimize-VHD': hv('Optimize-VHD', ['Path', 'Mode', 'AsJob']),
  'Mount-VHD': hv('Mount-VHD', ['Path', 'ReadOnly']),
  'Dismount-VHD': hv('Dismount-VHD', ['Path']),
  // DVD drives (§5)
  'Get-VMDvdDrive': hv('Get-VMDvdDrive', ['VM', 'ControllerNumber', 'ControllerLocation']),
  'Add-VMDvdDrive': hv('Add-VMDvdDrive', ['VMDriveController', 'ControllerLocation', 'Path', 'Passthru']),
  'Set-VMDvdDrive': hv('Set-VMDvdDrive', ['VMDvdDrive', 'Path']),
  'Remove-VMDvdDrive': hv('Remove-VMDvdDrive', ['VMDvdDrive']),
  // Checkpoints, export, backup (§10, §11, §14)
  'Get-VMSnapshot': hv('Get-VMSnapshot', ['VM', 'Name', 'ChildOf']),
  'Checkpoint-VM': hv('Checkpoint-VM', ['VM', 'SnapshotName', 'AsJob']),
  'Remove-VMSnapshot': hv('Remove-VMSnapshot', ['VMSnapshot', 'IncludeAllChildSnapshots', 'AsJob']),
  'Export-VM': hv('Export-VM', ['VM', 'Path', 'CaptureLiveState', 'AsJob']),
  'Export-VMSnapshot': hv('Export-VMSnapshot', ['VMSnapshot', 'Path', 'AsJob']),
  // Migration and replication (§12, §13)
  'Move-VM': hv('Move-VM', [
    'VM',
    'DestinationHost',
    'IncludeStorage',
    'DestinationStoragePath',
    'Passthru',
    'AsJob',
  ]),
  'Get-VMReplicationServer': hv('Get-VMReplicationServer', []),
  'Enable-VMReplication': hv('Enable-VMReplication', [
    'VM',
    'ReplicaServerName',
    'ReplicaServerPort',
    'AuthenticationType',
    'ReplicationFrequencySec',
    'RecoveryHistory',
    'CompressionEnabled',
  ]),
  'Start-VMInitialReplication': hv('Start-VMInitialReplication', ['VM']),
  'Get-VMReplication': hv('Get-VMReplication', ['VM']),
  'Remove-VMReplication': hv('Remove-VMReplication', ['VM']),
  // Windows PowerShell 5.1 built-ins the envelope and templates use
  'ConvertFrom-Json': ps('Microsoft.PowerShell.Utility', 'ConvertFrom-Json', []),
  'ConvertTo-Json': ps('Microsoft.PowerShell.Utility', 'ConvertTo-Json', [
    'InputObject',
    'Depth',
    'Compress',
  ]),
  'New-Object': ps('Microsoft.PowerShell.Utility', 'New-Object', ['TypeName', 'ArgumentList']),
  'Select-Object': ps('Microsoft.PowerShell.Utility', 'Select-Object', ['First', 'Last']),
  'Get-Date': ps('Microsoft.PowerShell.Utility', 'Get-Date', []),
  'Where-Object': ps('Microsoft.PowerShell.Core', 'Where-Object', []),
  'ForEach-Object': ps('Microsoft.PowerShell.Core', 'ForEach-Object', []),
  'Get-Module': ps('Microsoft.PowerShell.Core', 'Get-Module', ['Name']),
  'Wait-Job': ps('Microsoft.PowerShell.Core', 'Wait-Job', ['Job', 'Timeout']),
  // ErrorAction is a common parameter (about_CommonParameters).
  'Receive-Job': ps('Microsoft.PowerShell.Core', 'Receive-Job', [
    'Job',
    'Wait',
    'AutoRemoveJob',
    'ErrorAction',
  ]),
  'Join-Path': ps('Microsoft.PowerShell.Management', 'Join-Path', ['Path', 'ChildPath']),
  'Test-Path': ps('Microsoft.PowerShell.Management', 'Test-Path', ['LiteralPath']),
  'Get-ChildItem': ps('Microsoft.PowerShell.Management', 'Get-ChildItem', ['LiteralPath', 'Recurse', 'File']),
  'Get-CimInstance': ps('CimCmdlets', 'Get-CimInstance', ['ClassName']),
};

/**
 * Functions hvgate's scripts define themselves (envelope prologue in src/powershell/script-template.ts,
 * facts helpers in host-facts.ts), with their parameters.
 */
export const HVGATE_FUNCTIONS: Readonly<Record<string, readonly string[]>> = {
  'Write-HvgateProgress': ['Percent', 'Text'],
  'Stop-HvgateOperation': ['ErrorId', 'Message', 'Category'],
  'ConvertTo-HvgateGuid': ['Value', 'Name'],
  'Get-HvgateVhdFacts': ['Path'],
  'ConvertTo-HvgateVmFacts': ['VmObject'],
};
