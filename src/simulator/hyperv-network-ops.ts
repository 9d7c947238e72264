// Network adapters: hot add/remove works on Generation 2 VMs only (reference §3, WSDOCS
// feature-compat); a Generation 1 VM must be off. Adapters are addressed by Id, never by name.

import { deviceError, HyperVError, WMI, wmiError } from './hyperv-errors';
import { LATENCY } from './hyperv-latency';
import { versionAtLeast, VirtualMachine } from './hyperv-model';
import { assertVmIdle, OpContext, requireVm, vmRef } from './hyperv-op-context';
import type { NetworkAdapterAddParams, NetworkAdapterRemoveParams } from './hyperv-params';
import { networkAdapterFacts, NetworkAdapterFacts } from './hyperv-views';

const SYNTHETIC = 'Synthetic Ethernet Port';
const LEGACY = 'Emulated Ethernet Port';

/** Config version 8.3 raises the per-VM device cap to 64 (§0.2); below it 8 synthetic NICs (§3). */
export function networkAdapterLimit(vm: VirtualMachine): number {
  return versionAtLeast(vm.version, '8.3') ? 64 : 8;
}

function assertHotPlugAllowed(vm: VirtualMachine, verb: 'add' | 'remove', device: string): void {
  if (vm.state === 'Saved' || vm.state === 'Paused') {
    throw deviceError(
      verb === 'add' ? 'AddVMNetworkAdapter' : 'RemoveVMNetworkAdapter',
      WMI.invalidState,
      verb,
      device,
      vmRef(vm),
      `Network adapters cannot be ${verb === 'add' ? 'added' : 'removed'} while the virtual machine is ${vm.state}.`,
    );
  }
  if (vm.generation === 1 && vm.state !== 'Off') {
    throw deviceError(
      verb === 'add' ? 'AddVMNetworkAdapter' : 'RemoveVMNetworkAdapter',
      WMI.invalidState,
      verb,
      device,
      vmRef(vm),
      `Network adapters can be ${verb === 'add' ? 'added to' : 'removed from'} a running virtual machine only if it is Generation 2; '${vm.name}' is Generation 1. Turn the virtual machine off first.`,
    );
  }
}

/** Accepts 12 hex digits with optional `-`/`:` separators; returns Hyper-V's form or null. */
export function normalizeMacAddress(raw: string): string | null {
  const hex = raw.replace(/[-:]/g, '').toUpperCase();
  if (!/^[0-9A-F]{12}$/.test(hex)) return null;
  // Multicast (low bit of the first octet) and all-zero addresses cannot be assigned to an adapter.
  if ((parseInt(hex.slice(0, 2), 16) & 1) === 1 || /^0+$/.test(hex)) return null;
  return hex;
}

export async function addNetworkAdapter(
  ctx: OpContext,
  p: NetworkAdapterAddParams,
): Promise<NetworkAdapterFacts & { vmId: string }> {
  await ctx.run.sleep(LATENCY.addNetworkAdapterMs);
  const vm = requireVm(ctx.host, p.vmId);
  assertVmIdle(vm, 'AddVMNetworkAdapter', `Failed to add device '${SYNTHETIC}'.`);
  assertHotPlugAllowed(vm, 'add', SYNTHETIC);
  const fail = (reason: string): HyperVError =>
    deviceError('AddVMNetworkAdapter', WMI.invalidParameter, 'add', SYNTHETIC, vmRef(vm), reason);

  const switchName = p.switchName ?? null;
  if (
    switchName !== null &&
    !ctx.host.virtualSwitches.some((s) => s.name.toLowerCase() === switchName.toLowerCase())
  ) {
    throw wmiError(
      'AddVMNetworkAdapter',
      WMI.fileNotFound,
      `Hyper-V was unable to find a virtual switch with name "${switchName}".`,
    );
  }
  const synthetic = vm.networkAdapters.filter((n) => !n.isLegacy).length;
  const limit = networkAdapterLimit(vm);
  if (synthetic >= limit) {
    throw fail(
      `'${vm.name}' already has ${synthetic} network adapters, the most a configuration version ${vm.version} virtual machine can have (${limit}).`,
    );
  }
  let macAddress: string;
  if (p.staticMacAddress !== undefined) {
    const mac = normalizeMacAddress(p.staticMacAddress);
    if (!mac)
      throw fail(
        `Invalid MAC address '${p.staticMacAddress}': a static MAC address is 12 hexadecimal digits of a unicast address.`,
      );
    macAddress = mac;
  } else {
    macAddress = ctx.fleet.ids.mac();
  }
  const canonicalSwitch =
    switchName === null
      ? null
      : ctx.host.virtualSwitches.find((s) => s.name.toLowerCase() === switchName.toLowerCase())!.name;
  const nic = {
    id: `Microsoft:${vm.id.toUpperCase()}\\${ctx.fleet.ids.guid().toUpperCase()}`,
    name: p.name ?? 'Network Adapter',
    switchName: canonicalSwitch,
    macAddress,
    dynamicMacAddress: p.staticMacAddress === undefined,
    vlanId: p.vlanId ?? null,
    isLegacy: false,
  };
  vm.networkAdapters.push(nic);
  return { vmId: vm.id, ...networkAdapterFacts(vm, nic) };
}

export async function removeNetworkAdapter(
  ctx: OpContext,
  p: NetworkAdapterRemoveParams,
): Promise<NetworkAdapterFacts & { vmId: string }> {
  await ctx.run.sleep(LATENCY.removeNetworkAdapterMs);
  const vm = requireVm(ctx.host, p.vmId);
  const index = vm.networkAdapters.findIndex((n) => n.id.toLowerCase() === p.adapterId.toLowerCase());
  const nic = vm.networkAdapters[index];
  if (!nic) {
    throw wmiError(
      'GetVMNetworkAdapter',
      WMI.fileNotFound,
      `Hyper-V was unable to find a network adapter with id "${p.adapterId}" on virtual machine '${vm.name}'.`,
    );
  }
  const device = nic.isLegacy ? LEGACY : SYNTHETIC;
  assertVmIdle(vm, 'RemoveVMNetworkAdapter', `Failed to remove device '${device}'.`);
  assertHotPlugAllowed(vm, 'remove', device);
  const facts = networkAdapterFacts(vm, nic);
  vm.networkAdapters.splice(index, 1);
  return { vmId: vm.id, ...facts };
}
