// How to reach one Hyper-V host's WinRM listener. Built by the fleet inventory from the config;
// never from caller input.

import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { z } from 'zod';
import { InvalidHostConfigError } from './winrm-errors';

export interface HostConnection {
  /** Inventory name, used in messages and metrics. */
  name: string;
  address: string;
  port: number;
  /** Plain HTTP only when the inventory entry says so explicitly (labs, the simulator). */
  transport: 'https' | 'http';
  auth: 'basic' | 'ntlm';
  username: string;
  password: string;
  /** PEM CA bundle file trusted for this host's listener certificate. */
  caFile?: string;
  /** PEM CA bundle given inline (takes precedence over caFile). */
  ca?: string | Buffer;
  /** Name checked against the certificate when `address` is an IP or differs from the cert name. */
  serverName?: string;
}

const hostSchema = z.object({
  name: z.string().min(1).max(253),
  address: z
    .string()
    .min(1)
    .max(253)
    .refine(
      (a) => isIP(a) !== 0 || /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(a),
      'not a host name or IP',
    ),
  port: z.number().int().min(1).max(65535),
  transport: z.enum(['https', 'http']),
  auth: z.enum(['basic', 'ntlm']),
  username: z.string().min(1),
  password: z.string(),
  caFile: z.string().min(1).optional(),
  ca: z.union([z.string(), z.instanceof(Buffer)]).optional(),
  serverName: z.string().min(1).max(253).optional(),
});

/** Checks the shape; throws InvalidHostConfigError naming the bad field (never its value). */
export function validateHostConnection(conn: HostConnection): HostConnection {
  const parsed = hostSchema.safeParse(conn);
  if (!parsed.success) {
    const fields = [...new Set(parsed.error.issues.map((i) => i.path.join('.') || '(root)'))].join(', ');
    const hostName = typeof conn?.name === 'string' ? conn.name : undefined;
    throw new InvalidHostConfigError(`invalid WinRM host entry: ${fields}`, { host: hostName });
  }
  return conn;
}

export function endpointUrl(conn: Pick<HostConnection, 'transport' | 'address' | 'port'>): string {
  const host = isIP(conn.address) === 6 ? `[${conn.address}]` : conn.address;
  return `${conn.transport}://${host}:${conn.port}/wsman`;
}

/** CA material for TLS: inline `ca`, else the file, else undefined (system store). */
export function loadCa(conn: HostConnection): string | Buffer | undefined {
  if (conn.ca !== undefined) return conn.ca;
  if (conn.caFile === undefined) return undefined;
  try {
    return readFileSync(conn.caFile);
  } catch (err) {
    throw new InvalidHostConfigError(`cannot read the CA file configured for host ${conn.name}`, {
      host: conn.name,
      cause: err,
    });
  }
}
