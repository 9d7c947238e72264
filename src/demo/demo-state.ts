// Layout of the demo's state directory (`.hvgate/` by default) and the `demo.json` hand-off file
// that the tour, the fresh-clone check and people with curl read. Everything secret in it is
// written owner-only: the tokens in demo.json are as good as the HMAC key for an hour or a day.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const DEFAULT_STATE_DIR = '.hvgate';
export const DEMO_FILE = 'demo.json';

export interface DemoStatePaths {
  dir: string;
  demoFile: string;
  configFile: string;
  database: string;
  hmacSecretFile: string;
  winrmPasswordFile: string;
  signingKeyFile: string;
  publicKeyFile: string;
  logFile: string;
}

export function demoStatePaths(dir: string): DemoStatePaths {
  const abs = path.resolve(dir);
  return {
    dir: abs,
    demoFile: path.join(abs, DEMO_FILE),
    configFile: path.join(abs, 'hvgate.yaml'),
    database: path.join(abs, 'hvgate.db'),
    hmacSecretFile: path.join(abs, 'hmac-secret'),
    winrmPasswordFile: path.join(abs, 'winrm-password'),
    signingKeyFile: path.join(abs, 'audit-signing-key.pem'),
    publicKeyFile: path.join(abs, 'audit-signing-key.pub.pem'),
    logFile: path.join(abs, 'gateway.log'),
  };
}

export interface DemoExample {
  title: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Path and query, appended to `url`. */
  path: string;
  body?: Record<string, unknown>;
}

/** Contents of demo.json. */
export interface DemoInfo {
  url: string;
  pid: number;
  startedAt: string;
  stateDir: string;
  configFile: string;
  latencyScale: number;
  issuer: string;
  audience: string;
  hosts: { name: string; groups: string[]; maxConcurrent: number; maxQueue: number }[];
  tokens: { operator: string; auditor: string; reader: string };
  /** What each token may do, for people reading the file. */
  tokenGrants: Record<'operator' | 'auditor' | 'reader', { sub: string; scopes: string[]; hosts: string[] }>;
  examples: DemoExample[];
}

export class DemoStateError extends Error {
  override readonly name = 'DemoStateError';
}

/**
 * Starts a run with a clean slate: the simulated fleet is re-seeded on every start, so job history,
 * audit records and keys of an earlier run would describe VMs and tokens that no longer exist.
 * Only the files this module names are removed, so a --state-dir pointing at a shared folder
 * loses nothing else.
 */
export function resetDemoState(paths: DemoStatePaths): void {
  fs.mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(paths.dir, 0o700);
  const owned = [
    paths.demoFile,
    paths.configFile,
    paths.database,
    `${paths.database}-wal`,
    `${paths.database}-shm`,
    paths.hmacSecretFile,
    paths.winrmPasswordFile,
    paths.signingKeyFile,
    paths.publicKeyFile,
    paths.logFile,
  ];
  for (const f of owned) fs.rmSync(f, { force: true });
}

/** Writes a fresh random secret (base64url of `bytes` random bytes), owner read/write only. */
export function writeRandomSecret(file: string, bytes: number): string {
  const value = crypto.randomBytes(bytes).toString('base64url');
  writePrivateFile(file, `${value}\n`);
  return value;
}

export function writePrivateFile(file: string, content: string): void {
  // Written under a temporary name and renamed, so a reader never sees a half-written file.
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, content, { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}

export function readDemoInfo(stateDir: string): DemoInfo {
  const file = demoStatePaths(stateDir).demoFile;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DemoStateError(
      code === 'ENOENT'
        ? `no ${file}: start the demo first (npm start)`
        : `cannot read ${file} (${code ?? 'error'})`,
    );
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new DemoStateError(`${file} is not JSON`);
  }
  const info = doc as Partial<DemoInfo> | null;
  if (
    !info ||
    typeof info.url !== 'string' ||
    !info.tokens ||
    typeof info.tokens.operator !== 'string' ||
    typeof info.tokens.auditor !== 'string' ||
    typeof info.tokens.reader !== 'string' ||
    !Array.isArray(info.hosts)
  ) {
    throw new DemoStateError(`${file} lacks url, hosts or tokens; restart the demo`);
  }
  return info as DemoInfo;
}
