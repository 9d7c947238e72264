export const SCOPES = [
  'vm:read',
  'vm:hotplug',
  'vm:storage',
  'vm:checkpoint',
  'vm:backup',
  'vm:migrate',
  'vm:replicate',
  'audit:read',
] as const;
export type Scope = (typeof SCOPES)[number];

const SCOPE_SET: ReadonlySet<string> = new Set(SCOPES);

export function isScope(value: string): value is Scope {
  return SCOPE_SET.has(value);
}

/** The caller as the rest of the service sees it; raw claims never travel further than the verifier. */
export interface Principal {
  sub: string;
  iss: string;
  /** `client_id` (RFC 9068) or `azp`; null when the issuer sets neither. */
  clientId: string | null;
  /** `jti`; null when absent. */
  tokenId: string | null;
  scopes: ReadonlySet<Scope>;
  /** Host names, `group:<name>` or `*`, as granted by the token. */
  hostGrants: readonly string[];
}
