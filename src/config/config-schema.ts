import { isIP } from 'node:net';
import { z } from 'zod';

// Host and group names appear in URLs, grant claims (`group:<name>`) and audit records, so they are kept
// to a conservative alphabet; ':' and '*' are excluded because they have meaning in grants.
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const DNS_NAME_PATTERN =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export const JWT_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'HS256'] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

const name = z
  .string()
  .regex(NAME_PATTERN, 'expected 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit');
const filePath = z.string().min(1, 'expected a file path').max(4096);
const envName = z.string().regex(ENV_NAME_PATTERN, 'expected an environment variable name');

const address = z
  .string()
  .refine(
    (v) => isIP(v) !== 0 || DNS_NAME_PATTERN.test(v),
    'expected a DNS name or an IP address (no scheme, port or path)',
  );

/**
 * Allowed path prefixes on the Hyper-V host. Operators write them, callers' paths are later checked to be
 * under one of them, so device namespaces, traversal and stream syntax are refused here already.
 */
const windowsRoot = z
  .string()
  .refine(isSafeWindowsRoot, 'expected an absolute Windows path such as D:\\Hyper-V or \\\\server\\share');

export function isSafeWindowsRoot(value: string): boolean {
  if (value.length > 240 || /[*?"<>|]/.test(value) || hasControlChar(value)) return false;
  if (value.startsWith('\\\\?\\') || value.startsWith('\\\\.\\') || value.startsWith('//')) return false;
  let rest: string;
  if (/^[A-Za-z]:\\/.test(value)) rest = value.slice(3);
  else if (/^\\\\[^\\]+\\[^\\]+/.test(value)) rest = value.slice(2);
  else return false;
  if (rest.includes(':') || rest.includes('/')) return false;
  return rest.split('\\').every((seg) => seg !== '..' && seg !== '.' && !/[ .]$/.test(seg));
}

const tlsSchema = z.strictObject({ certFile: filePath, keyFile: filePath });

const serverSchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(8080),
  tls: tlsSchema.optional(),
  bodyLimitBytes: z
    .number()
    .int()
    .min(1024)
    .max(1024 * 1024)
    .default(64 * 1024),
  /** Requests taken in at once (parsed, authenticated, made into jobs); the rest wait their turn. */
  intakeConcurrency: z.number().int().min(1).max(1024).default(8),
  /** Requests allowed to wait for intake before 503 HVG_ERR_GATEWAY_BUSY. */
  intakeMaxWaiting: z.number().int().min(0).max(100_000).default(2048),
});

const publicKeyFileSchema = z.union([
  filePath,
  z.strictObject({ file: filePath, kid: z.string().min(1).max(128).optional() }),
]);

const authSchema = z.strictObject({
  algorithms: z.array(z.enum(JWT_ALGORITHMS)).min(1),
  issuer: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  publicKeyFiles: z.array(publicKeyFileSchema).min(1).optional(),
  jwksUrl: z.url({ protocol: /^https?$/ }).optional(),
  jwksCacheMaxAgeSec: z.number().int().min(0).max(86_400).default(600),
  jwksRequestsPerMinute: z.number().int().min(1).max(600).default(10),
  hmacSecretFile: filePath.optional(),
  hmacSecretEnv: envName.optional(),
  hmacSecret: z.string().min(1).optional(),
  clockToleranceSec: z.number().int().min(0).max(300).default(30),
  maxTokenAgeSec: z
    .number()
    .int()
    .min(1)
    .max(7 * 86_400)
    .optional(),
  maxTokenBytes: z.number().int().min(256).max(65_536).default(8192),
  hostsClaim: z.string().min(1).max(128).default('hosts'),
  scopesClaim: z.string().min(1).max(128).default('scope'),
  /** Verified tokens remembered so a repeated token skips its signature check; 0 = off. */
  tokenCacheSize: z.number().int().min(0).max(100_000).default(1024),
  tokenCacheTtlSec: z.number().int().min(1).max(3600).default(60),
});

const sqliteStoreSchema = z.strictObject({ kind: z.literal('sqlite'), path: filePath });
const postgresStoreSchema = z.strictObject({
  kind: z.literal('postgres'),
  url: z.string().min(1).optional(),
  urlFile: filePath.optional(),
  urlEnv: envName.optional(),
});
const storeSchema = z.discriminatedUnion('kind', [sqliteStoreSchema, postgresStoreSchema]);

const auditSchema = z.strictObject({
  signingKeyFile: filePath,
  checkpointEvery: z.number().int().min(1).max(1_000_000).default(1000),
  checkpointIntervalSec: z.number().int().min(1).max(86_400).default(60),
  stdout: z.boolean().default(true),
});

const hostSchema = z.strictObject({
  name,
  address,
  port: z.number().int().min(1).max(65535).optional(),
  transport: z.enum(['https', 'http']).default('https'),
  auth: z.enum(['basic', 'ntlm']).default('basic'),
  usernameFile: filePath.optional(),
  usernameEnv: envName.optional(),
  username: z.string().min(1).max(256).optional(),
  passwordFile: filePath.optional(),
  passwordEnv: envName.optional(),
  password: z.string().min(1).optional(),
  caFile: filePath.optional(),
  serverName: z
    .string()
    .refine((v) => DNS_NAME_PATTERN.test(v), 'expected a DNS name')
    .optional(),
  groups: z.array(name).default([]),
  // WinRM allows 30 shells per user by default; the limit stays well under that.
  maxConcurrent: z.number().int().min(1).max(25).default(4),
  maxQueue: z.number().int().min(0).max(100_000).default(100),
  queueTimeoutSec: z.number().int().min(1).max(86_400).default(300),
  storageRoots: z.array(windowsRoot).default([]),
  exportRoots: z.array(windowsRoot).default([]),
  /** Compress scripts into one Command when they would otherwise need stdin (one request less). */
  packScripts: z.boolean().default(true),
});

const groupSchema = z.strictObject({ name, description: z.string().max(500).optional() });

const baseConfigSchema = z.strictObject({
  allowInlineSecrets: z.boolean().default(false),
  server: serverSchema.prefault({}),
  auth: authSchema,
  store: storeSchema,
  audit: auditSchema,
  hosts: z.array(hostSchema).min(1),
  groups: z.array(groupSchema).optional(),
});

type RawConfig = z.output<typeof baseConfigSchema>;

const INLINE_HINT = 'set allowInlineSecrets: true only for demos and tests';

/** Cross-field rules that a per-field schema cannot express. */
function checkConfig(cfg: RawConfig, ctx: z.RefinementCtx): void {
  const issue = (path: PropertyKey[], message: string) => ctx.addIssue({ code: 'custom', path, message });
  const inline = cfg.allowInlineSecrets;

  const { auth } = cfg;
  const hasHs = auth.algorithms.includes('HS256');
  const hasAsym = auth.algorithms.some((a) => a !== 'HS256');
  const hmacSources = countDefined(auth.hmacSecretFile, auth.hmacSecretEnv, auth.hmacSecret);
  if (new Set(auth.algorithms).size !== auth.algorithms.length)
    issue(['auth', 'algorithms'], 'duplicate algorithm');
  if (hasHs && hasAsym) {
    issue(
      ['auth', 'algorithms'],
      'HS256 cannot be combined with asymmetric algorithms (HS/RS key confusion)',
    );
  }
  if (hasHs) {
    if (hmacSources !== 1)
      issue(
        ['auth', 'hmacSecretFile'],
        'HS256 requires exactly one of hmacSecretFile, hmacSecretEnv, hmacSecret',
      );
    if (auth.publicKeyFiles || auth.jwksUrl)
      issue(['auth', 'algorithms'], 'HS256 does not use publicKeyFiles or jwksUrl');
  }
  if (hasAsym) {
    if (countDefined(auth.publicKeyFiles, auth.jwksUrl) !== 1) {
      issue(
        ['auth', 'publicKeyFiles'],
        'asymmetric algorithms require exactly one of publicKeyFiles or jwksUrl',
      );
    }
    if (hmacSources > 0) issue(['auth', 'hmacSecretFile'], 'an HMAC secret is only used with HS256');
  }
  if (auth.hmacSecret !== undefined && !inline) {
    issue(
      ['auth', 'hmacSecret'],
      `inline secrets are refused; use hmacSecretFile or hmacSecretEnv (${INLINE_HINT})`,
    );
  }
  if (auth.jwksUrl !== undefined) {
    const u = new URL(auth.jwksUrl);
    if (u.protocol === 'http:' && !isLoopbackHost(u.hostname))
      issue(['auth', 'jwksUrl'], 'expected an https URL (http only on loopback)');
  }

  if (cfg.store.kind === 'postgres') {
    const s = cfg.store;
    if (countDefined(s.url, s.urlFile, s.urlEnv) !== 1)
      issue(['store', 'url'], 'postgres requires exactly one of url, urlFile, urlEnv');
    if (s.url !== undefined && !inline && urlHasPassword(s.url)) {
      issue(
        ['store', 'url'],
        `inline secrets are refused: the url carries a password; use urlFile or urlEnv (${INLINE_HINT})`,
      );
    }
  }

  const declaredGroups = cfg.groups ? new Set(cfg.groups.map((g) => g.name)) : undefined;
  if (cfg.groups) {
    const seen = new Set<string>();
    cfg.groups.forEach((g, i) => {
      if (seen.has(g.name)) issue(['groups', i, 'name'], `duplicate group name '${g.name}'`);
      seen.add(g.name);
    });
  }
  const seenHosts = new Set<string>();
  cfg.hosts.forEach((h, i) => {
    const at = (key: string) => ['hosts', i, key];
    if (seenHosts.has(h.name)) issue(at('name'), `duplicate host name '${h.name}'`);
    seenHosts.add(h.name);
    if (countDefined(h.usernameFile, h.usernameEnv, h.username) !== 1) {
      issue(at('usernameFile'), 'expected exactly one of usernameFile, usernameEnv, username');
    }
    if (countDefined(h.passwordFile, h.passwordEnv, h.password) !== 1) {
      issue(at('passwordFile'), 'expected exactly one of passwordFile, passwordEnv, password');
    }
    if (h.password !== undefined && !inline) {
      issue(at('password'), `inline secrets are refused; use passwordFile or passwordEnv (${INLINE_HINT})`);
    }
    if (h.transport === 'http' && (h.caFile !== undefined || h.serverName !== undefined)) {
      issue(at('transport'), 'caFile and serverName apply only to transport: https');
    }
    h.groups.forEach((g, j) => {
      if (declaredGroups && !declaredGroups.has(g))
        issue(['hosts', i, 'groups', j], `unknown group '${g}' (not listed under groups)`);
    });
  });
}

export const configSchema = baseConfigSchema.superRefine(checkConfig).transform((cfg) => ({
  ...cfg,
  // Ports default by transport so an `http` host does not silently talk to the HTTPS listener port.
  hosts: cfg.hosts.map((h) => ({ ...h, port: h.port ?? (h.transport === 'https' ? 5986 : 5985) })),
}));

export type HvgateConfig = z.output<typeof configSchema>;
export type HostConfig = HvgateConfig['hosts'][number];
export type AuthConfig = HvgateConfig['auth'];
export type StoreConfig = HvgateConfig['store'];
export type AuditConfig = HvgateConfig['audit'];
export type ServerConfig = HvgateConfig['server'];
export type GroupConfig = NonNullable<HvgateConfig['groups']>[number];

function hasControlChar(value: string): boolean {
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) < 0x20) return true;
  return false;
}

function countDefined(...values: unknown[]): number {
  return values.filter((v) => v !== undefined).length;
}

function urlHasPassword(url: string): boolean {
  try {
    return new URL(url).password !== '';
  } catch {
    // Unparseable connection strings may still embed a password in key=value form.
    return /password\s*=/i.test(url);
  }
}

export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}
