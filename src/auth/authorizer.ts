import type { HostEntry, HostInventory } from '../fleet/host-inventory';
import { UnknownHostError } from '../fleet/fleet-errors';
import { NAME_PATTERN } from '../config/config-schema';
import { ForbiddenError } from './auth-errors';
import type { Principal, Scope } from './principal';

export interface Authorizer {
  /** Throws ForbiddenError("token lacks scope …") unless the principal holds `scope`. */
  requireScope(principal: Principal, scope: Scope): void;
  /**
   * Throws ForbiddenError("token is not granted host …") unless granted, then resolves the host.
   * The grant is checked first, so a caller cannot tell unknown hosts from hosts it may not see;
   * only a caller who could see the host gets UnknownHostError (404).
   */
  requireHost(principal: Principal, hostName: string): HostEntry;
  /** Scope and host together, scope first (a missing scope is the more useful message). */
  authorize(principal: Principal, request: { scope: Scope; host: string }): HostEntry;
  hasScope(principal: Principal, scope: Scope): boolean;
  isHostGranted(principal: Principal, hostName: string): boolean;
  /** Inventory hosts the principal may see, in inventory order. */
  visibleHosts(principal: Principal): HostEntry[];
}

export function createAuthorizer(deps: { inventory: HostInventory }): Authorizer {
  const { inventory } = deps;

  function isHostGranted(principal: Principal, hostName: string): boolean {
    // A name that could never be in the inventory is granted to nobody, not even `*`.
    if (!NAME_PATTERN.test(hostName)) return false;
    for (const grant of principal.hostGrants) {
      if (grant === '*' || grant === hostName) return true;
      if (grant.startsWith('group:')) {
        const host = inventory.get(hostName);
        if (host && host.groups.includes(grant.slice('group:'.length))) return true;
      }
    }
    return false;
  }

  function hasScope(principal: Principal, scope: Scope): boolean {
    return principal.scopes.has(scope);
  }

  function requireScope(principal: Principal, scope: Scope): void {
    if (!hasScope(principal, scope)) throw new ForbiddenError(`token lacks scope ${scope}`);
  }

  function requireHost(principal: Principal, hostName: string): HostEntry {
    if (!isHostGranted(principal, hostName)) {
      const shown = NAME_PATTERN.test(hostName) ? hostName : '(invalid host name)';
      throw new ForbiddenError(`token is not granted host ${shown}`);
    }
    const host = inventory.get(hostName);
    if (!host) throw new UnknownHostError(hostName);
    return host;
  }

  return {
    requireScope,
    requireHost,
    hasScope,
    isHostGranted,
    authorize(principal, request) {
      requireScope(principal, request.scope);
      return requireHost(principal, request.host);
    },
    visibleHosts(principal) {
      return inventory.list().filter((h) => isHostGranted(principal, h.name));
    },
  };
}
