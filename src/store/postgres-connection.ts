// Where the PostgreSQL URL comes from (config `store: {kind: postgres, url | urlFile | urlEnv}`) and a
// read-only style opener for the reviewer tools. The URL may carry a password: it is only ever
// handed to the driver, never printed.
import fs from 'node:fs';
import path from 'node:path';
import type { AuditStore } from './audit-store';
import { createPostgresAuditStore } from './postgres-audit-store';
import { PostgresStoreError, createPostgresPool } from './postgres-pool';

export interface PostgresUrlSource {
  readonly url?: unknown;
  readonly urlFile?: unknown;
  readonly urlEnv?: unknown;
}

/** Resolves exactly one of url / urlFile (relative to baseDir) / urlEnv; typed error otherwise. */
export function readPostgresUrl(
  source: PostgresUrlSource,
  baseDir: string,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const given = [source.url, source.urlFile, source.urlEnv].filter((v) => v !== undefined);
  if (given.length !== 1) throw new PostgresStoreError('store: give exactly one of url, urlFile, urlEnv');
  if (typeof source.url === 'string' && source.url.length > 0) return source.url;
  if (typeof source.urlFile === 'string' && source.urlFile.length > 0) {
    const file = path.resolve(baseDir, source.urlFile);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      throw new PostgresStoreError(`store.urlFile: cannot read ${file}`);
    }
    const url = text.trim();
    if (url.length === 0) throw new PostgresStoreError(`store.urlFile: ${file} is empty`);
    return url;
  }
  if (typeof source.urlEnv === 'string' && source.urlEnv.length > 0) {
    const url = env[source.urlEnv]?.trim();
    if (!url) throw new PostgresStoreError(`store.urlEnv: environment variable ${source.urlEnv} is not set`);
    return url;
  }
  throw new PostgresStoreError('store: url, urlFile or urlEnv must be a non-empty string');
}

/** The URL without its password, for messages. */
export function describePostgresUrl(url: string): string {
  try {
    const u = new URL(url);
    return `postgresql://${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname}`;
  } catch {
    return 'postgresql (unparseable url)';
  }
}

/** An audit store for `hvgate audit verify|export`: migrates nothing, refuses a non-hvgate database. */
export function openPostgresAuditReader(url: string): AuditStore {
  const pool = createPostgresPool({ url, max: 2, applicationName: 'hvgate-audit' });
  return createPostgresAuditStore(pool, { requireExisting: true, ownsPool: true });
}
