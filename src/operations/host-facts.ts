// host.get, vm.list, vm.get: the facts every precondition is checked against (reference §0.1),
// built from explicit hashtables with enums as strings and sizes in bytes (§0.5).

import { z } from 'zod';
import { defineScriptTemplate } from '../powershell/script-template';
import { hostFactsSchema, vmFactsSchema, vmListSchema } from './facts-schemas';
import { defineOperation, PS_GET_VM } from './operation-helpers';

const noParams = z.strictObject({});

/** PowerShell that turns one VirtualMachine object into the VmFacts hashtable. */
export const PS_VM_FACTS_FUNCTIONS = String.raw`
function Get-HvgateVhdFacts {
    param([string]$Path)
    $facts = [ordered]@{ path = $Path; vhdFormat = 'Unknown'; vhdType = 'Unknown'; sizeBytes = [int64]0; fileSizeBytes = [int64]0; minimumSizeBytes = [int64]0; parentPath = $null; attached = $true }
    if ([string]::IsNullOrEmpty($Path)) { return $facts }
    try {
        $vhd = Get-VHD -Path $Path
        $facts.vhdFormat = [string]$vhd.VhdFormat
        $facts.vhdType = [string]$vhd.VhdType
        $facts.sizeBytes = [int64]$vhd.Size
        $facts.fileSizeBytes = [int64]$vhd.FileSize
        if ($null -ne $vhd.MinimumSize) { $facts.minimumSizeBytes = [int64]$vhd.MinimumSize }
        if (-not [string]::IsNullOrEmpty($vhd.ParentPath)) { $facts.parentPath = [string]$vhd.ParentPath }
        $facts.attached = [bool]$vhd.Attached
    } catch {
        $facts.vhdFormat = 'Unknown'
    }
    return $facts
}
function ConvertTo-HvgateVmFacts {
    param($VmObject)
    $memory = Get-VMMemory -VM $VmObject
    $cpu = Get-VMProcessor -VM $VmObject
    $nicList = @()
    foreach ($nic in @(Get-VMNetworkAdapter -VM $VmObject)) {
        $vlan = Get-VMNetworkAdapterVlan -VMNetworkAdapter $nic
        $vlanId = $null
        if ([string]$vlan.OperationMode -eq 'Access' -and [int]$vlan.AccessVlanId -gt 0) { $vlanId = [int]$vlan.AccessVlanId }
        $switchName = $null
        if (-not [string]::IsNullOrEmpty($nic.SwitchName)) { $switchName = [string]$nic.SwitchName }
        $addresses = @()
        foreach ($address in @($nic.IPAddresses)) { if ($null -ne $address) { $addresses += [string]$address } }
        $nicList += ,([ordered]@{
            id = [string]$nic.Id
            name = [string]$nic.Name
            switchName = $switchName
            macAddress = [string]$nic.MacAddress
            dynamicMacAddress = [bool]$nic.DynamicMacAddressEnabled
            vlanId = $vlanId
            isLegacy = [bool]$nic.IsLegacy
            status = [string]$nic.Status
            ipAddresses = $addresses
        })
    }
    $controllerList = @()
    foreach ($c in @(Get-VMIdeController -VM $VmObject)) { $controllerList += ,([ordered]@{ controllerType = 'IDE'; controllerNumber = [int]$c.ControllerNumber }) }
    foreach ($c in @(Get-VMScsiController -VM $VmObject)) { $controllerList += ,([ordered]@{ controllerType = 'SCSI'; controllerNumber = [int]$c.ControllerNumber }) }
    $diskList = @()
    foreach ($d in @(Get-VMHardDiskDrive -VM $VmObject)) {
        $disk = Get-HvgateVhdFacts -Path ([string]$d.Path)
        $disk.controllerType = [string]$d.ControllerType
        $disk.controllerNumber = [int]$d.ControllerNumber
        $disk.controllerLocation = [int]$d.ControllerLocation
        $disk.minimumIops = [int64]$d.MinimumIOPS
        $disk.maximumIops = [int64]$d.MaximumIOPS
        $diskList += ,$disk
    }
    $dvdList = @()
    foreach ($d in @(Get-VMDvdDrive -VM $VmObject)) {
        $isoPath = $null
        if (-not [string]::IsNullOrEmpty($d.Path)) { $isoPath = [string]$d.Path }
        $dvdList += ,([ordered]@{ controllerType = [string]$d.ControllerType; controllerNumber = [int]$d.ControllerNumber; controllerLocation = [int]$d.ControllerLocation; path = $isoPath; dvdMediaType = [string]$d.DvdMediaType })
    }
    $checkpointList = @()
    foreach ($s in @(Get-VMSnapshot -VM $VmObject)) {
        $parentId = $null
        if ($null -ne $s.ParentSnapshotId) { $parentId = ([string]$s.ParentSnapshotId).ToLowerInvariant() }
        $parentName = $null
        if (-not [string]::IsNullOrEmpty($s.ParentSnapshotName)) { $parentName = [string]$s.ParentSnapshotName }
        $checkpointList += ,([ordered]@{ id = ([string]$s.Id).ToLowerInvariant(); name = [string]$s.Name; vmName = [string]$s.VMName; snapshotType = [string]$s.SnapshotType; parentCheckpointId = $parentId; parentCheckpointName = $parentName; creationTime = $s.CreationTime.ToUniversalTime().ToString('o') })
    }
    $replication = [ordered]@{ replicationState = [string]$VmObject.ReplicationState; replicationMode = [string]$VmObject.ReplicationMode; replicationHealth = [string]$VmObject.ReplicationHealth; primaryServer = $null; replicaServer = $null; replicaServerPort = $null; authenticationType = $null; replicationFrequencySec = $null; recoveryHistory = $null; compressionEnabled = $null; lastReplicationTime = $null }
    if ([string]$VmObject.ReplicationState -ne 'Disabled') {
        $r = Get-VMReplication -VM $VmObject
        $replication.primaryServer = [string]$r.PrimaryServer
        $replication.replicaServer = [string]$r.ReplicaServer
        $replication.replicaServerPort = [int]$r.ReplicaServerPort
        $replication.authenticationType = [string]$r.AuthenticationType
        $replication.replicationFrequencySec = [int]$r.ReplicationFrequencySec
        $replication.recoveryHistory = [int]$r.RecoveryHistory
        $replication.compressionEnabled = [bool]$r.CompressionEnabled
        if ($null -ne $r.LastReplicationTime) { $replication.lastReplicationTime = $r.LastReplicationTime.ToUniversalTime().ToString('o') }
    }
    $backupService = $false
    try {
        $service = Get-VMIntegrationService -VM $VmObject -Name 'Backup (volume shadow copy)'
        $backupService = [bool]$service.Enabled
    } catch {
        $backupService = $false
    }
    $busy = @($VmObject.OperationalStatus | ForEach-Object { [string]$_ } | Where-Object { $_ -ne 'Ok' -and $_ -ne 'InService' })
    $operation = $null
    if ($busy.Count -gt 0) { $operation = $busy -join ', ' }
    $currentCheckpoint = $null
    if ($null -ne $VmObject.ParentSnapshotId) { $currentCheckpoint = ([string]$VmObject.ParentSnapshotId).ToLowerInvariant() }
    return [ordered]@{
        id = ([string]$VmObject.Id).ToLowerInvariant()
        name = [string]$VmObject.Name
        hostName = [string]$VmObject.ComputerName
        generation = [int]$VmObject.Generation
        version = [string]$VmObject.Version
        state = [string]$VmObject.State
        status = [string]$VmObject.Status
        path = [string]$VmObject.Path
        checkpointType = [string]$VmObject.CheckpointType
        guestBackupServiceEnabled = $backupService
        memory = [ordered]@{
            dynamicMemoryEnabled = [bool]$memory.DynamicMemoryEnabled
            startupBytes = [int64]$memory.Startup
            minimumBytes = [int64]$memory.Minimum
            maximumBytes = [int64]$memory.Maximum
            bufferPercent = [int]$memory.Buffer
            priority = [int]$memory.Priority
            assignedBytes = [int64]$VmObject.MemoryAssigned
            demandBytes = [int64]$VmObject.MemoryDemand
            memoryStatus = [string]$VmObject.MemoryStatus
        }
        processor = [ordered]@{
            count = [int]$cpu.Count
            reserve = [int]$cpu.Reserve
            maximum = [int]$cpu.Maximum
            relativeWeight = [int]$cpu.RelativeWeight
            compatibilityForMigrationEnabled = [bool]$cpu.CompatibilityForMigrationEnabled
            exposeVirtualizationExtensions = [bool]$cpu.ExposeVirtualizationExtensions
        }
        networkAdapters = $nicList
        controllers = $controllerList
        hardDisks = $diskList
        dvdDrives = $dvdList
        checkpoints = $checkpointList
        currentCheckpointId = $currentCheckpoint
        replication = $replication
        operationInProgress = $operation
    }
}
`;

export const hostGet = defineOperation({
  id: 'host.get',
  summary: 'Host facts: OS, supported VM versions, memory, switches, migration and replica settings',
  scope: 'vm:read',
  method: 'GET',
  route: '/v1/hosts/:host',
  target: 'host',
  input: noParams,
  mutates: false,
  longRunning: false,
  defaultWaitSec: 30,
  preconditions: [],
  template: defineScriptTemplate({
    opId: 'host.get',
    version: 1,
    core: String.raw`
$vmHost = Get-VMHost
$os = Get-CimInstance -ClassName Win32_OperatingSystem
$cpu = @(Get-CimInstance -ClassName Win32_Processor) | Select-Object -First 1
$versions = @(Get-VMHostSupportedVersion)
$supported = @()
foreach ($v in $versions) { $supported += [string]$v.Version }
$defaultVersion = [string](@($versions | Where-Object { $_.IsDefault }) | Select-Object -First 1).Version
$switches = @()
foreach ($s in @(Get-VMSwitch)) { $switches += ,([ordered]@{ name = [string]$s.Name; switchType = [string]$s.SwitchType }) }
$replica = Get-VMReplicationServer
$delegation = $null
try {
    $searcher = New-Object -TypeName System.DirectoryServices.DirectorySearcher -ArgumentList ('(&(objectCategory=computer)(name=' + $env:COMPUTERNAME + '))')
    $entry = $searcher.FindOne()
    if ($null -ne $entry) {
        $delegation = @()
        foreach ($spn in @($entry.Properties['msds-allowedtodelegateto'])) {
            $text = [string]$spn
            if ($text -like 'Microsoft Virtual System Migration Service/*') { $delegation += ($text.Split('/')[1]).Split('.')[0] }
        }
    }
} catch {
    $delegation = $null
}
$hyperv = Get-Module -Name Hyper-V
$hypervVersion = ''
if ($null -ne $hyperv) { $hypervVersion = [string]$hyperv.Version }
$result = [ordered]@{
    name = [string]$vmHost.ComputerName
    fullyQualifiedDomainName = [string]$vmHost.FullyQualifiedDomainName
    osName = [string]$os.Caption
    osVersion = [string]$os.Version
    osBuild = [string]$os.BuildNumber
    supportedVmVersions = $supported
    defaultVmVersion = $defaultVersion
    logicalProcessorCount = [int]$vmHost.LogicalProcessorCount
    processorVendor = [string]$cpu.Manufacturer
    processorFamily = [string]$cpu.Name
    memoryCapacityBytes = [int64]$vmHost.MemoryCapacity
    memoryAvailableBytes = [int64]$os.FreePhysicalMemory * 1024
    numaSpanningEnabled = [bool]$vmHost.NumaSpanningEnabled
    virtualSwitches = $switches
    virtualHardDiskPath = [string]$vmHost.VirtualHardDiskPath
    virtualMachinePath = [string]$vmHost.VirtualMachinePath
    virtualMachineMigrationEnabled = [bool]$vmHost.VirtualMachineMigrationEnabled
    virtualMachineMigrationAuthenticationType = [string]$vmHost.VirtualMachineMigrationAuthenticationType
    virtualMachineMigrationPerformanceOption = [string]$vmHost.VirtualMachineMigrationPerformanceOption
    maximumVirtualMachineMigrations = [int]$vmHost.MaximumVirtualMachineMigrations
    maximumStorageMigrations = [int]$vmHost.MaximumStorageMigrations
    useAnyNetworkForMigration = [bool]$vmHost.UseAnyNetworkForMigration
    replicationServer = [ordered]@{
        replicationEnabled = [bool]$replica.RepEnabled
        allowedAuthenticationType = [string]$replica.AllowedAuthenticationType
        kerberosAuthenticationPort = [int]$replica.KerberosAuthenticationPort
        certificateAuthenticationPort = [int]$replica.CertificateAuthenticationPort
        replicationAllowedFromAnyServer = [bool]$replica.ReplicationAllowedFromAnyServer
        defaultStorageLocation = [string]$replica.DefaultStorageLocation
    }
    vmCount = @(Get-VM).Count
    powershellVersion = [string]$PSVersionTable.PSVersion
    hypervModuleVersion = $hypervVersion
}
if ($null -ne $delegation) { $result.kerberosDelegationTo = $delegation }
`,
  }),
  result: hostFactsSchema,
});

export const vmList = defineOperation({
  id: 'vm.list',
  summary: 'The VMs on a host with the facts of each',
  scope: 'vm:read',
  method: 'GET',
  route: '/v1/hosts/:host/vms',
  target: 'host',
  input: noParams,
  mutates: false,
  longRunning: false,
  defaultWaitSec: 30,
  preconditions: [],
  template: defineScriptTemplate({
    opId: 'vm.list',
    version: 1,
    core: `${PS_VM_FACTS_FUNCTIONS}
$list = @()
foreach ($item in @(Get-VM)) { $list += ,(ConvertTo-HvgateVmFacts -VmObject $item) }
$result = $list
`,
  }),
  result: vmListSchema,
});

export const vmGet = defineOperation({
  id: 'vm.get',
  summary: 'VM facts: generation, version, state, memory, CPU, NICs, disks, DVDs, checkpoints, replication',
  scope: 'vm:read',
  method: 'GET',
  route: '/v1/hosts/:host/vms/:vm',
  target: 'vm',
  input: noParams,
  mutates: false,
  longRunning: false,
  defaultWaitSec: 30,
  preconditions: [],
  template: defineScriptTemplate({
    opId: 'vm.get',
    version: 1,
    core: `${PS_VM_FACTS_FUNCTIONS}
${PS_GET_VM}
$result = ConvertTo-HvgateVmFacts -VmObject $vm
`,
  }),
  result: vmFactsSchema,
});

export const hostFactsOperations = [hostGet, vmList, vmGet] as const;
