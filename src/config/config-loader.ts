import { readFile as fsReadFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { core } from 'zod';
import { ConfigError, formatConfigPath } from './config-errors';
import { configSchema, type HvgateConfig } from './config-schema';
import { SecretValue, stripTrailingNewline } from './secret-value';

export const CONFIG_ENV_VAR = 'HVGATE_CONFIG';
const MAX_CONFIG_BYTES = 1024 * 1024;
const MIN_HMAC_SECRET_BYTES = 32;

export interface HostCredentials {
  username: string;
  password: SecretValue;
}

export interface PublicKeyMaterial {
  pem: string;
  kid?: string;
  file: string;
}

/** Values read from files and env vars at start, kept apart from the printable config. */
export interface ResolvedSecrets {
  hmacSecret?: SecretValue;
  storeUrl?: SecretValue;
  hostCredentials: ReadonlyMap<string, HostCredentials>;
}

export interface LoadedConfig {
  source: string;
  config: HvgateConfig;
  secrets: ResolvedSecrets;
  publicKeys: readonly PublicKeyMaterial[];
}

export interface ConfigIo {
  env?: NodeJS.ProcessEnv;
  readFile?: (path: string) => Promise<Buffer>;
  /** Relative file paths in the config are resolved against this directory (default: the config's). */
  baseDir?: string;
  /** Check that referenced non-secret files (TLS, CA, audit key) are readable; default true. */
  checkFiles?: boolean;
}

/** `--config <path>` / `--config=<path>` wins over HVGATE_CONFIG; undefined when neither is given. */
export function resolveConfigPath(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--config') {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--'))
        throw new ConfigError('command line', ['--config: expected a file path']);
      return next;
    }
    if (arg.startsWith('--config=')) {
      const value = arg.slice('--config='.length);
      if (value === '') throw new ConfigError('command line', ['--config: expected a file path']);
      return value;
    }
  }
  const fromEnv = env[CONFIG_ENV_VAR];
  return fromEnv && fromEnv.trim() !== '' ? fromEnv : undefined;
}

/** YAML text → validated config. Pure: touches no files or env vars. */
export function parseConfig(text: string, source = '<config>'): HvgateConfig {
  if (Buffer.byteLength(text, 'utf8') > MAX_CONFIG_BYTES)
    throw new ConfigError(source, [`(root): file larger than ${MAX_CONFIG_BYTES} bytes`]);
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      source,
      doc.errors.map((e) => `yaml: ${e.message.split('\n')[0]}`),
    );
  }
  return validateConfig(doc.toJS({ maxAliasCount: 50 }), source);
}

/** Already-parsed value (YAML, JSON or an object built in code) → validated config. */
export function validateConfig(value: unknown, source = '<config>'): HvgateConfig {
  const result = configSchema.safeParse(value ?? {});
  if (!result.success) throw new ConfigError(source, result.error.issues.flatMap(describeIssue));
  return result.data;
}

function describeIssue(issue: core.$ZodIssue): string[] {
  const at = formatConfigPath(issue.path);
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((k) => `${formatConfigPath([...issue.path, k])}: unknown key`);
    case 'invalid_type':
      if (issue.message.endsWith('received undefined'))
        return [`${at}: required (expected ${issue.expected})`];
      return [`${at}: ${issue.message.replace(/^Invalid input: /, '')}`];
    case 'invalid_value':
      return [`${at}: expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`];
    case 'invalid_union':
      if ('discriminator' in issue && Array.isArray((issue as { options?: unknown }).options)) {
        const options = (issue as { options: unknown[] }).options;
        return [`${at}: expected one of ${options.map((v) => JSON.stringify(v)).join(', ')}`];
      }
      return [`${at}: ${issue.message}`];
    default:
      return [`${at}: ${issue.message.replace(/^Invalid input: /, '')}`];
  }
}

/** Reads, validates and resolves the config file at `path`, including every secret it names. */
export async function loadConfig(path: string, io: ConfigIo = {}): Promise<LoadedConfig> {
  const readFile = io.readFile ?? ((p: string) => fsReadFile(p));
  let raw: Buffer;
  try {
    raw = await readFile(path);
  } catch (err) {
    throw new ConfigError(path, [`(root): cannot read config file (${errorCode(err)})`]);
  }
  const config = parseConfig(raw.toString('utf8'), path);
  return resolveConfig(config, { ...io, baseDir: io.baseDir ?? dirname(resolve(path)) }, path);
}

/**
 * Reads every secret and key file the config names. All problems are collected so an operator fixes a
 * broken deployment in one round; messages name the key and the file or variable, never a secret value.
 */
export async function resolveConfig(
  config: HvgateConfig,
  io: ConfigIo = {},
  source = '<config>',
): Promise<LoadedConfig> {
  const env = io.env ?? process.env;
  const readFile = io.readFile ?? ((p: string) => fsReadFile(p));
  const baseDir = io.baseDir ?? process.cwd();
  const problems: string[] = [];
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));

  const fromFile = async (key: string, file: string): Promise<Buffer | undefined> => {
    try {
      const data = stripTrailingNewline(await readFile(abs(file)));
      if (data.length === 0) {
        problems.push(`${key}: file ${abs(file)} is empty`);
        return undefined;
      }
      return data;
    } catch (err) {
      problems.push(`${key}: cannot read ${abs(file)} (${errorCode(err)})`);
      return undefined;
    }
  };
  const fromEnv = (key: string, variable: string): Buffer | undefined => {
    const value = env[variable];
    if (value === undefined || value === '') {
      problems.push(`${key}: environment variable ${variable} is not set or empty`);
      return undefined;
    }
    return Buffer.from(value, 'utf8');
  };
  const pick = async (
    key: string,
    sources: { file?: string | undefined; env?: string | undefined; inline?: string | undefined },
  ): Promise<Buffer | undefined> => {
    if (sources.file !== undefined) return fromFile(`${key}File`, sources.file);
    if (sources.env !== undefined) return fromEnv(`${key}Env`, sources.env);
    if (sources.inline !== undefined) return Buffer.from(sources.inline, 'utf8');
    return undefined;
  };

  const secrets: {
    hmacSecret?: SecretValue;
    storeUrl?: SecretValue;
    hostCredentials: Map<string, HostCredentials>;
  } = {
    hostCredentials: new Map(),
  };

  const { auth } = config;
  const hmac = await pick('auth.hmacSecret', {
    file: auth.hmacSecretFile,
    env: auth.hmacSecretEnv,
    inline: auth.hmacSecret,
  });
  if (hmac !== undefined) {
    // RFC 8725 §3.5: an HS256 key must carry at least as much entropy as the hash output.
    if (hmac.length < MIN_HMAC_SECRET_BYTES)
      problems.push(`auth.hmacSecret: secret must be at least ${MIN_HMAC_SECRET_BYTES} bytes`);
    else secrets.hmacSecret = new SecretValue(hmac);
  }

  const publicKeys: PublicKeyMaterial[] = [];
  for (const [i, entry] of (auth.publicKeyFiles ?? []).entries()) {
    const file = typeof entry === 'string' ? entry : entry.file;
    const kid = typeof entry === 'string' ? undefined : entry.kid;
    const data = await fromFile(`auth.publicKeyFiles[${i}]`, file);
    if (data === undefined) continue;
    const pem = data.toString('utf8');
    if (!/-----BEGIN (PUBLIC KEY|CERTIFICATE|RSA PUBLIC KEY)-----/.test(pem)) {
      problems.push(`auth.publicKeyFiles[${i}]: ${abs(file)} is not a PEM public key or certificate`);
      continue;
    }
    publicKeys.push({ pem, file: abs(file), ...(kid !== undefined ? { kid } : {}) });
  }

  if (config.store.kind === 'postgres') {
    const s = config.store;
    const url = await pick('store.url', { file: s.urlFile, env: s.urlEnv, inline: s.url });
    if (url !== undefined) secrets.storeUrl = new SecretValue(url);
  }

  for (const [i, h] of config.hosts.entries()) {
    const username = await pick(`hosts[${i}].username`, {
      file: h.usernameFile,
      env: h.usernameEnv,
      inline: h.username,
    });
    const password = await pick(`hosts[${i}].password`, {
      file: h.passwordFile,
      env: h.passwordEnv,
      inline: h.password,
    });
    if (username !== undefined && password !== undefined) {
      secrets.hostCredentials.set(h.name, {
        username: username.toString('utf8'),
        password: new SecretValue(password),
      });
    }
  }

  // Files other modules read later are checked now, so a typo fails the start rather than the first job.
  const mustExist: Array<[string, string | undefined]> = [
    ['server.tls.certFile', config.server.tls?.certFile],
    ['server.tls.keyFile', config.server.tls?.keyFile],
    ['audit.signingKeyFile', config.audit.signingKeyFile],
    ...config.hosts.map((h, i): [string, string | undefined] => [`hosts[${i}].caFile`, h.caFile]),
  ];
  if (io.checkFiles !== false) {
    for (const [key, file] of mustExist) if (file !== undefined) await fromFile(key, file);
  }

  if (problems.length > 0) throw new ConfigError(source, problems);
  return { source, config: withAbsolutePaths(config, abs), secrets, publicKeys };
}

/** Later readers (audit, store, WinRM, TLS) must not depend on the process's working directory. */
function withAbsolutePaths(config: HvgateConfig, abs: (p: string) => string): HvgateConfig {
  const opt = (p: string | undefined) => (p === undefined ? undefined : abs(p));
  const auth = config.auth;
  return {
    ...config,
    server: config.server.tls
      ? {
          ...config.server,
          tls: { certFile: abs(config.server.tls.certFile), keyFile: abs(config.server.tls.keyFile) },
        }
      : config.server,
    auth: {
      ...auth,
      hmacSecretFile: opt(auth.hmacSecretFile),
      publicKeyFiles: auth.publicKeyFiles?.map((e) =>
        typeof e === 'string' ? abs(e) : { ...e, file: abs(e.file) },
      ),
    },
    store:
      config.store.kind === 'sqlite'
        ? { ...config.store, path: abs(config.store.path) }
        : { ...config.store, urlFile: opt(config.store.urlFile) },
    audit: { ...config.audit, signingKeyFile: abs(config.audit.signingKeyFile) },
    hosts: config.hosts.map((h) => ({
      ...h,
      caFile: opt(h.caFile),
      usernameFile: opt(h.usernameFile),
      passwordFile: opt(h.passwordFile),
    })),
  };
}

function errorCode(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code;
  return 'unreadable';
}
