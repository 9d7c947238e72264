import type { GroupConfig, HostConfig } from '../config/config-schema';
import { UnknownHostError } from './fleet-errors';

/** A host as the fleet sees it: where and how to reach it, and its limits. Credentials live elsewhere. */
export interface HostEntry {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly transport: 'https' | 'http';
  readonly auth: 'basic' | 'ntlm';
  readonly caFile?: string | undefined;
  readonly serverName?: string | undefined;
  readonly groups: readonly string[];
  readonly maxConcurrent: number;
  readonly maxQueue: number;
  readonly queueTimeoutSec: number;
  readonly storageRoots: readonly string[];
  readonly exportRoots: readonly string[];
  /** Send scripts too long for -EncodedCommand compressed in one Command (else through stdin). */
  readonly packScripts: boolean;
}

export interface HostInventory {
  get(name: string): HostEntry | undefined;
  /** Throws UnknownHostError. */
  require(name: string): HostEntry;
  has(name: string): boolean;
  list(): HostEntry[];
  /** Declared groups plus any group a host names, sorted. */
  groups(): string[];
  hostsInGroup(group: string): HostEntry[];
}

export type HostInput = Pick<HostConfig, 'name' | 'address'> & Partial<Omit<HostConfig, 'name' | 'address'>>;

/** Builds the inventory from config host entries; missing limits take the documented defaults. */
export function createHostInventory(
  hosts: readonly HostInput[],
  declaredGroups: readonly GroupConfig[] = [],
): HostInventory {
  const byName = new Map<string, HostEntry>();
  for (const h of hosts) {
    if (byName.has(h.name)) throw new Error(`duplicate host name '${h.name}'`);
    const transport = h.transport ?? 'https';
    const entry: HostEntry = Object.freeze({
      name: h.name,
      address: h.address,
      port: h.port ?? (transport === 'https' ? 5986 : 5985),
      transport,
      auth: h.auth ?? 'basic',
      caFile: h.caFile,
      serverName: h.serverName,
      groups: Object.freeze([...(h.groups ?? [])]),
      maxConcurrent: h.maxConcurrent ?? 4,
      maxQueue: h.maxQueue ?? 100,
      queueTimeoutSec: h.queueTimeoutSec ?? 300,
      storageRoots: Object.freeze([...(h.storageRoots ?? [])]),
      exportRoots: Object.freeze([...(h.exportRoots ?? [])]),
      packScripts: h.packScripts ?? true,
    });
    byName.set(h.name, entry);
  }
  const groupNames = new Set(declaredGroups.map((g) => g.name));
  for (const h of byName.values()) for (const g of h.groups) groupNames.add(g);

  return {
    get: (name) => byName.get(name),
    require(name) {
      const h = byName.get(name);
      if (!h) throw new UnknownHostError(name);
      return h;
    },
    has: (name) => byName.has(name),
    list: () => [...byName.values()],
    groups: () => [...groupNames].sort(),
    hostsInGroup: (group) => [...byName.values()].filter((h) => h.groups.includes(group)),
  };
}
