// `{vm}` in a URL is a GUID or an exact name. Names are resolved to a GUID first (scripts always
// act by GUID): wildcard characters are refused (Hyper-V's -Name treats them as patterns), and
// two VMs with one name are a 409 listing both GUIDs.

import { HvgError } from '../errors/hvg-error';
import type { VmFacts } from './facts-schemas';
import { isGuid } from './operation-helpers';

const WILDCARD = /[*?[\]]/;

export interface ResolvedVm {
  vmId: string;
  vmName: string;
}

export function assertNoWildcard(vmRef: string): void {
  if (WILDCARD.test(vmRef)) {
    throw new HvgError('HVG_ERR_WILDCARD_NAME', {
      detail: `"${vmRef}" contains wildcard characters (* ? [ ]); VMs are addressed by GUID or exact name`,
      extensions: { vm: vmRef },
    });
  }
}

/** Resolves a name or GUID against a host's VM list. */
export function resolveVmRef(hostName: string, vmRef: string, vms: readonly VmFacts[]): ResolvedVm {
  if (vmRef.length === 0 || vmRef.length > 256) {
    throw new HvgError('HVG_ERR_VM_NOT_FOUND', { detail: `no VM "${vmRef.slice(0, 64)}" on ${hostName}` });
  }
  if (isGuid(vmRef)) {
    const id = vmRef.toLowerCase();
    const vm = vms.find((v) => v.id.toLowerCase() === id);
    if (vm) return { vmId: vm.id, vmName: vm.name };
  }
  assertNoWildcard(vmRef);
  const matches = vms.filter((v) => v.name === vmRef);
  if (matches.length === 1) return { vmId: matches[0]!.id, vmName: matches[0]!.name };
  if (matches.length > 1) {
    const candidates = matches.map((v) => v.id);
    throw new HvgError('HVG_ERR_AMBIGUOUS_VM_NAME', {
      detail: `${matches.length} VMs on ${hostName} are named "${vmRef}": ${candidates.join(', ')}`,
      extensions: { candidates },
    });
  }
  throw new HvgError('HVG_ERR_VM_NOT_FOUND', {
    detail: `no VM with ${isGuid(vmRef) ? 'id' : 'name'} "${vmRef}" on ${hostName}`,
    extensions: { vm: vmRef },
  });
}
