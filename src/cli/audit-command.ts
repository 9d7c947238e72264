// `hvgate audit verify | export | keygen`: the reviewer's tools, run against the SQLite file (read
// only) or an exported NDJSON file. Output follows `aws cloudtrail validate-logs`: one line per
// problem, a summary, exit 0 only if everything holds, 1 if anything does not, 2 on usage errors.
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import type { KeyObject } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { AnchorSet } from '../audit/audit-anchor';
import { exportAudit } from '../audit/audit-export';
import { generateSigningKey, loadPublicKeyFile } from '../audit/audit-signer';
import { AuditVerification, verifyAuditTrail, verifyExport } from '../audit/audit-verifier';
import type { AuditStore } from '../store/audit-store';
import { describePostgresUrl, openPostgresAuditReader, readPostgresUrl } from '../store/postgres-connection';
import { createSqliteAuditStore } from '../store/sqlite-audit-store';
import { openSqliteDatabase } from '../store/sqlite-database';
import { parseOptions, UsageError } from './cli-args';
import type { CliCommand } from './cli-command';

const USAGE = `usage:
  hvgate audit verify [--config FILE | --db PATH] [--public-key FILE]... [--anchor FILE]...
                      [--max-problems N]
  hvgate audit verify --export FILE|- --public-key FILE... [--anchor FILE]...
  hvgate audit export [--config FILE | --db PATH] [--from TIME] [--to TIME]
  hvgate audit keygen --dir DIR

verify   walks the hash chain and the signed checkpoints; prints one line per problem and a
         summary; exit 0 if the trail holds, 1 if not.
export   writes the events in [--from, --to) as NDJSON, widened to the nearest signed checkpoints,
         with the checkpoints needed to verify it offline (verify --export).
keygen   creates an Ed25519 checkpoint signing key in DIR (kept if it already exists).

--config reads the store (store.path for SQLite; store.url, urlFile or urlEnv for PostgreSQL)
and audit.signingKeyFile from the gateway's YAML configuration (relative paths are taken from
the configuration file's folder). --public-key accepts PEM
(public or private key), a JWK or JWK set, or the JSON of GET /v1/audit/keys; repeat it for
retired keys. --anchor reads signed checkpoints kept outside the database: the gateway's log
(its "audit checkpoint" lines) or one checkpoint JSON per line; each must still match the trail,
which catches a tail deleted together with its checkpoints. TIME is ISO-8601, e.g.
2025-06-01T00:00:00Z.
`;

export interface AuditCommandIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly stdin: NodeJS.ReadableStream;
}

interface Target {
  dbPath: string;
  /** Set for store.kind postgres; dbPath is then only a label without the password. */
  postgresUrl?: string;
  /** From the configuration, when verify was not given --public-key. */
  signingKeyFile?: string;
}

function resolveTarget(values: { config?: string; db?: string }): Target {
  if (values.config && values.db) throw new UsageError('give either --config or --db, not both');
  if (values.db) return { dbPath: values.db };
  if (!values.config) throw new UsageError('give --db PATH or --config FILE');
  let doc: unknown;
  try {
    doc = parseYaml(fs.readFileSync(values.config, 'utf8'));
  } catch (err) {
    throw new UsageError(
      `cannot read configuration ${values.config}: ${(err as Error).message.split('\n')[0]}`,
    );
  }
  const cfg = doc as {
    store?: { kind?: unknown; path?: unknown };
    audit?: { signingKeyFile?: unknown };
  } | null;
  const store = cfg?.store;
  const base = path.dirname(path.resolve(values.config));
  const signingKeyFile = cfg?.audit?.signingKeyFile;
  if (store?.kind === 'postgres') {
    let url: string;
    try {
      url = readPostgresUrl(store as Record<string, unknown>, base);
    } catch (err) {
      throw new UsageError(`${values.config}: ${(err as Error).message}`);
    }
    return {
      dbPath: describePostgresUrl(url),
      postgresUrl: url,
      signingKeyFile: typeof signingKeyFile === 'string' ? path.resolve(base, signingKeyFile) : undefined,
    };
  }
  if (store?.kind !== undefined && store.kind !== 'sqlite') {
    throw new UsageError(`store.kind is '${String(store.kind)}'; expected sqlite or postgres`);
  }
  if (typeof store?.path !== 'string' || store.path.length === 0) {
    throw new UsageError(`${values.config}: store.path is not set`);
  }
  return {
    dbPath: path.resolve(base, store.path),
    signingKeyFile: typeof signingKeyFile === 'string' ? path.resolve(base, signingKeyFile) : undefined,
  };
}

function loadKeys(files: readonly string[] | undefined, fallback: string | undefined): KeyObject[] {
  const list = files && files.length > 0 ? files : fallback ? [fallback] : [];
  if (list.length === 0) {
    throw new UsageError('no public key: give --public-key FILE (or --config with audit.signingKeyFile)');
  }
  return list.flatMap((f) => loadPublicKeyFile(f));
}

function parseTime(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  const d = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(d.getTime())) {
    throw new UsageError(`${flag} '${value}' is not an ISO-8601 time`);
  }
  return d.toISOString();
}

function report(io: AuditCommandIo, result: AuditVerification, what: string): number {
  for (const p of result.problems) io.stdout.write(`seq ${p.seq}\tINVALID: ${p.reason}: ${p.detail}\n`);
  if (result.problemsOmitted > 0) io.stdout.write(`... ${result.problemsOmitted} more problems not listed\n`);
  const range =
    result.lastSeq === null ? 'no events' : `${result.eventsChecked} events (last seq ${result.lastSeq})`;
  const signed =
    result.lastVerifiedCheckpointSeq === null
      ? 'no verified checkpoint'
      : `last verified checkpoint at seq ${result.lastVerifiedCheckpointSeq}`;
  io.stdout.write(`Results for ${what}: ${range}, ${result.checkpointsChecked} checkpoints; ${signed}\n`);
  const a = result.anchors;
  if (a) {
    const highest =
      a.highestVerifiedSeq === null ? '' : `; highest verified anchor at seq ${a.highestVerifiedSeq}`;
    io.stdout.write(`Anchors: ${a.checked} checked${highest}\n`);
    if (a.notCovered > 0) {
      io.stdout.write(`note: ${a.notCovered} anchors are outside the exported range and were not checked\n`);
    }
  }
  if (result.unanchoredEvents > 0) {
    io.stdout.write(
      `note: ${result.unanchoredEvents} events after the last checkpoint are chained but not yet signed\n`,
    );
  }
  const total = result.problems.length + result.problemsOmitted;
  io.stdout.write(
    result.ok ? 'Verification OK\n' : `Verification FAILED: ${total} problem${total === 1 ? '' : 's'}\n`,
  );
  return result.ok ? 0 : 1;
}

async function writeLine(out: NodeJS.WritableStream, line: string): Promise<void> {
  if (!out.write(`${line}\n`)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
}

function openStore(target: Target): AuditStore {
  if (target.postgresUrl !== undefined) return openPostgresAuditReader(target.postgresUrl);
  const dbPath = target.dbPath;
  if (!fs.existsSync(dbPath)) throw new Error(`no database at ${dbPath}`);
  const db = openSqliteDatabase({ path: dbPath, readonly: true });
  try {
    return createSqliteAuditStore(db, { migrate: false, ownsDatabase: true });
  } catch (err) {
    db.close();
    throw err;
  }
}

/** Reads every --anchor file; a file without a single checkpoint is refused, not passed over. */
async function loadAnchors(files: readonly string[] | undefined): Promise<AnchorSet | undefined> {
  if (!files || files.length === 0) return undefined;
  const set = new AnchorSet();
  for (const file of files) {
    const input = fs.createReadStream(file, { encoding: 'utf8' });
    const lines = readline.createInterface({ input, crlfDelay: Infinity });
    let found: number;
    try {
      found = await set.addLines(lines, file);
    } catch (err) {
      throw new Error(`cannot read anchor file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    } finally {
      lines.close();
    }
    if (found === 0) throw new Error(`no audit checkpoint found in anchor file ${file}`);
  }
  return set;
}

async function verify(args: string[], io: AuditCommandIo): Promise<number> {
  const values = parseOptions(args, {
    config: { type: 'string' },
    db: { type: 'string' },
    'public-key': { type: 'string', multiple: true },
    export: { type: 'string' },
    anchor: { type: 'string', multiple: true },
    'max-problems': { type: 'string' },
  });
  let maxProblems: number | undefined;
  if (values['max-problems'] !== undefined) {
    maxProblems = Number(values['max-problems']);
    if (!Number.isInteger(maxProblems) || maxProblems < 1)
      throw new UsageError('--max-problems must be a positive integer');
  }
  if (values.export !== undefined) {
    if (values.db || values.config)
      throw new UsageError('--export verifies a file; do not combine it with --db/--config');
    const keys = loadKeys(values['public-key'], undefined);
    const anchors = await loadAnchors(values.anchor);
    const input = values.export === '-' ? io.stdin : fs.createReadStream(values.export, { encoding: 'utf8' });
    const lines = readline.createInterface({ input, crlfDelay: Infinity });
    try {
      return report(
        io,
        await verifyExport(lines, keys, { maxProblems, anchors }),
        values.export === '-' ? 'stdin' : values.export,
      );
    } finally {
      lines.close();
    }
  }
  const target = resolveTarget(values);
  const keys = loadKeys(values['public-key'], target.signingKeyFile);
  const anchors = await loadAnchors(values.anchor);
  const store = openStore(target);
  try {
    return report(
      io,
      await verifyAuditTrail(store, { publicKeys: keys, maxProblems, anchors }),
      target.dbPath,
    );
  } finally {
    await store.close();
  }
}

async function exportCommand(args: string[], io: AuditCommandIo): Promise<number> {
  const values = parseOptions(args, {
    config: { type: 'string' },
    db: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
  });
  const from = parseTime(values.from, '--from');
  const to = parseTime(values.to, '--to');
  const target = resolveTarget(values);
  const store = openStore(target);
  try {
    for await (const line of exportAudit(store, { from, to })) await writeLine(io.stdout, line);
    return 0;
  } finally {
    await store.close();
  }
}

async function keygen(args: string[], io: AuditCommandIo): Promise<number> {
  const values = parseOptions(args, { dir: { type: 'string' } });
  if (!values.dir) throw new UsageError('give --dir DIR');
  const key = generateSigningKey(values.dir);
  io.stdout.write(
    `${key.created ? 'created' : 'kept existing'} key ${key.keyId}\nprivate: ${key.privateKeyPath}\npublic:  ${key.publicKeyPath}\n`,
  );
  return 0;
}

export function createAuditCommand(io: AuditCommandIo): CliCommand {
  return {
    async run(args: string[]): Promise<number> {
      const [sub, ...rest] = args;
      try {
        switch (sub) {
          case 'verify':
            return await verify(rest, io);
          case 'export':
            return await exportCommand(rest, io);
          case 'keygen':
            return await keygen(rest, io);
          case '--help':
          case '-h':
          case 'help':
            io.stdout.write(USAGE);
            return 0;
          default:
            throw new UsageError(sub ? `unknown subcommand '${sub}'` : 'missing subcommand');
        }
      } catch (err) {
        if (err instanceof UsageError) {
          io.stderr.write(`hvgate audit: ${err.message}\n\n${USAGE}`);
          return 2;
        }
        io.stderr.write(`hvgate audit: ${err instanceof Error ? err.message : String(err)}\n`);
        return 1;
      }
    },
  };
}

export const auditCommand: CliCommand = {
  run: (args) =>
    createAuditCommand({
      stdout: process.stdout,
      stderr: process.stderr,
      // Read only by `verify --export -`: touching process.stdin opens its handle, which a command that
      // never reads it would hold until exit.
      get stdin() {
        return process.stdin;
      },
    }).run(args),
};
