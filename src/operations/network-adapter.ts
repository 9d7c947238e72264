// network-adapter.add / .remove: hot add and remove on Generation 2 VMs only (reference §3;
// WSDOCS feature compatibility); a Generation 1 VM must be off. Adapters are removed by Id,
// never by name (names are not unique).

import { z } from 'zod';
import { defineScriptTemplate } from '../powershell/script-template';
import { networkAdapterFactsSchema, versionAtLeast } from './facts-schemas';
import type { VmFacts } from './facts-schemas';
import {
  defineOperation,
  fieldRouteParam,
  nameText,
  offOrRunningRule,
  PS_GET_VM,
  refuse,
  rule,
  vmIdleRule,
} from './operation-helpers';
import type { PreconditionRule } from './operation-spec';

/** 12 hex digits with optional separators, unicast and not all zero (Hyper-V refuses the others). */
const macAddress = z
  .string()
  .max(17)
  .refine((raw) => {
    const hex = raw.replace(/[-:]/g, '');
    return /^[0-9A-Fa-f]{12}$/.test(hex) && (parseInt(hex.slice(0, 2), 16) & 1) === 0 && !/^0+$/.test(hex);
  }, 'expected a unicast MAC address of 12 hex digits (separators - or : allowed)');

export const networkAdapterAddInput = z.strictObject({
  name: nameText().optional(),
  switchName: nameText().nullable().optional(),
  staticMacAddress: macAddress.optional(),
  vlanId: z.number().int().min(1).max(4094).nullable().optional(),
});
export type NetworkAdapterAddParams = z.infer<typeof networkAdapterAddInput>;

export const networkAdapterRemoveInput = z.strictObject({ adapterId: nameText(512) });
export type NetworkAdapterRemoveParams = z.infer<typeof networkAdapterRemoveInput>;

function gen2Rule<P>(verb: 'added to' | 'removed from'): PreconditionRule<P> {
  return rule<P>(
    'gen2-required',
    `Network adapters can be ${verb} a running VM only on Generation 2 (§3).`,
    (_p, { vm }) =>
      vm.generation === 2 || vm.state === 'Off'
        ? null
        : refuse(
            'HVG_ERR_REQUIRES_GEN2',
            `network adapters can be hot-${verb === 'added to' ? 'added' : 'removed'} only ${verb === 'added to' ? 'to' : 'from'} Generation 2 VMs; ${vm.name} is Generation ${vm.generation}`,
            'Generation cannot be changed; make the change while the VM is off, or use a Generation 2 VM.',
          ),
  );
}

/** Config version 8.3 raises the per-VM device cap to 64; below it 8 synthetic NICs (§0.2, §3). */
export function networkAdapterLimit(vm: VmFacts): number {
  return versionAtLeast(vm.version, '8.3') ? 64 : 8;
}

const PS_NIC_RESULT = String.raw`
$vlan = Get-VMNetworkAdapterVlan -VMNetworkAdapter $nic
$vlanId = $null
if ([string]$vlan.OperationMode -eq 'Access' -and [int]$vlan.AccessVlanId -gt 0) { $vlanId = [int]$vlan.AccessVlanId }
$switchName = $null
if (-not [string]::IsNullOrEmpty($nic.SwitchName)) { $switchName = [string]$nic.SwitchName }
$addresses = @()
foreach ($address in @($nic.IPAddresses)) { if ($null -ne $address) { $addresses += [string]$address } }
$result = [ordered]@{
    vmId = ([string]$vm.Id).ToLowerInvariant()
    id = [string]$nic.Id
    name = [string]$nic.Name
    switchName = $switchName
    macAddress = [string]$nic.MacAddress
    dynamicMacAddress = [bool]$nic.DynamicMacAddressEnabled
    vlanId = $vlanId
    isLegacy = [bool]$nic.IsLegacy
    status = [string]$nic.Status
    ipAddresses = $addresses
}
`;

export const networkAdapterAdd = defineOperation({
  id: 'network-adapter.add',
  summary: 'Hot-add a network adapter (Generation 2), optionally connected, with static MAC and VLAN',
  scope: 'vm:hotplug',
  method: 'POST',
  route: '/v1/hosts/:host/vms/:vm/network-adapters',
  target: 'vm',
  input: networkAdapterAddInput,
  mutates: true,
  longRunning: false,
  defaultWaitSec: 60,
  example: { switchName: 'External-LAN', vlanId: 20 },
  successStatus: 201,
  preconditions: [
    vmIdleRule<NetworkAdapterAddParams>(),
    offOrRunningRule<NetworkAdapterAddParams>('Network adapters can be added'),
    gen2Rule<NetworkAdapterAddParams>('added to'),
    rule<NetworkAdapterAddParams>(
      'switch-exists',
      'The virtual switch exists on the host.',
      (p, { host }) => {
        const name = p.switchName;
        if (name === undefined || name === null) return null;
        if (host.virtualSwitches.some((s) => s.name.toLowerCase() === name.toLowerCase())) return null;
        return refuse(
          'HVG_ERR_NOT_FOUND',
          `${host.name} has no virtual switch named "${name}"; it has ${host.virtualSwitches.map((s) => s.name).join(', ') || 'none'}`,
          'GET /v1/hosts/{host} lists the virtual switches.',
          { switches: host.virtualSwitches.map((s) => s.name) },
        );
      },
    ),
    rule<NetworkAdapterAddParams>(
      'adapter-limit',
      'At most 8 synthetic adapters below version 8.3, 64 from 8.3 (§0.2).',
      (_p, { vm }) => {
        const count = vm.networkAdapters.filter((n) => !n.isLegacy).length;
        const limit = networkAdapterLimit(vm);
        return count < limit
          ? null
          : refuse(
              'HVG_ERR_INVALID_VALUE',
              `${vm.name} already has ${count} network adapters, the most a version ${vm.version} VM can have (${limit})`,
            );
      },
    ),
  ],
  template: defineScriptTemplate({
    opId: 'network-adapter.add',
    version: 1,
    core: String.raw`
${PS_GET_VM}
$addArgs = @{ VM = $vm; Passthru = $true }
if ($null -ne $p.params.name) { $addArgs['Name'] = [string]$p.params.name }
if ($null -ne $p.params.switchName) { $addArgs['SwitchName'] = [string]$p.params.switchName }
if ($null -ne $p.params.staticMacAddress) { $addArgs['StaticMacAddress'] = ([string]$p.params.staticMacAddress) -replace '[-:]', '' }
$nic = Add-VMNetworkAdapter @addArgs
if ($null -ne $p.params.vlanId) {
    Set-VMNetworkAdapterVlan -VMNetworkAdapter $nic -Access -VlanId ([int]$p.params.vlanId)
}
$nic = Get-VMNetworkAdapter -VM $vm | Where-Object { $_.Id -eq $nic.Id }
${PS_NIC_RESULT}
`,
  }),
  result: networkAdapterFactsSchema.extend({ vmId: z.string() }),
});

export const networkAdapterRemove = defineOperation({
  id: 'network-adapter.remove',
  summary: 'Hot-remove a network adapter by its Id (Generation 2)',
  scope: 'vm:hotplug',
  method: 'DELETE',
  route: '/v1/hosts/:host/vms/:vm/network-adapters/:adapterId',
  target: 'vm',
  input: networkAdapterRemoveInput,
  routeParams: fieldRouteParam('adapterId', "The adapter's Id, from GET …/vms/{vm} (networkAdapters[].id)"),
  mutates: true,
  longRunning: false,
  defaultWaitSec: 60,
  preconditions: [
    rule<NetworkAdapterRemoveParams>(
      'adapter-exists',
      'The adapter Id is one of the VM’s adapters.',
      (p, { vm }) =>
        vm.networkAdapters.some((n) => n.id.toLowerCase() === p.adapterId.toLowerCase())
          ? null
          : refuse(
              'HVG_ERR_DEVICE_NOT_FOUND',
              `${vm.name} has no network adapter with Id "${p.adapterId}"`,
              'GET /v1/hosts/{host}/vms/{vm} lists networkAdapters[].id.',
            ),
    ),
    vmIdleRule<NetworkAdapterRemoveParams>(),
    offOrRunningRule<NetworkAdapterRemoveParams>('Network adapters can be removed'),
    gen2Rule<NetworkAdapterRemoveParams>('removed from'),
  ],
  template: defineScriptTemplate({
    opId: 'network-adapter.remove',
    version: 1,
    core: String.raw`
${PS_GET_VM}
$wanted = [string]$p.params.adapterId
$nic = @(Get-VMNetworkAdapter -VM $vm | Where-Object { [string]$_.Id -eq $wanted }) | Select-Object -First 1
if ($null -eq $nic) {
    Stop-HvgateOperation -ErrorId 'ObjectNotFound,Microsoft.HyperV.PowerShell.Commands.GetVMNetworkAdapter' -Message ('Hyper-V was unable to find a network adapter with id "' + $wanted + '" on virtual machine ' + $vm.Name + '.') -Category ObjectNotFound
}
${PS_NIC_RESULT}
Remove-VMNetworkAdapter -VMNetworkAdapter $nic
`,
  }),
  result: networkAdapterFactsSchema.extend({ vmId: z.string() }),
});
