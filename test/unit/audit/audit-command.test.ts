import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { runCli } from '../../../src/cli';
import type { AuditCheckpoint } from '../../../src/audit/audit-checkpoint';
import { generateSigningKey, loadAuditSigner } from '../../../src/audit/audit-signer';
import {
  appendConcurrently,
  makeTempDir,
  openTestStore,
  testWriter,
  truncateEventsAfter,
} from './audit-test-kit';
import { runAuditCli } from './cli-harness';

describe('hvgate audit', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let dbPath: string;
  let keyDir: string;

  beforeAll(async () => {
    tmp = makeTempDir('hvgate-audit-cli-');
    keyDir = path.join(tmp.dir, 'keys');
    const key = generateSigningKey(keyDir);
    const ts = openTestStore(path.join(tmp.dir, 'state'), 'hvgate.db');
    dbPath = ts.dbPath;
    const { writer } = testWriter(ts.store, {
      signer: loadAuditSigner(key.privateKeyPath),
      checkpointEvery: 4,
    });
    await appendConcurrently(writer, 10);
    await writer.close();
    ts.close();
  });
  afterAll(() => tmp.cleanup());

  it('keygen creates a 0600 private key once and keeps it afterwards', async () => {
    const dir = path.join(tmp.dir, 'k2');
    const first = await runAuditCli(['keygen', '--dir', dir]);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^created key [0-9a-f]{16}\n/);
    expect(fs.statSync(path.join(dir, 'audit-signing-key.pem')).mode & 0o777).toBe(0o600);
    const second = await runAuditCli(['keygen', '--dir', dir]);
    expect(second.stdout).toContain(`kept existing key ${first.stdout.slice(12, 28)}`);
  });

  it('verify --db with the public key file exits 0 and prints a summary', async () => {
    const res = await runAuditCli([
      'verify',
      '--db',
      dbPath,
      '--public-key',
      path.join(keyDir, 'audit-signing-key.pub.pem'),
    ]);
    expect(res).toMatchObject({ code: 0, stderr: '' });
    expect(res.stdout).toBe(
      `Results for ${dbPath}: 10 events (last seq 10), 3 checkpoints; last verified checkpoint at seq 10\nVerification OK\n`,
    );
  });

  it('verify --config reads store.path and audit.signingKeyFile relative to the config file', async () => {
    const cfg = path.join(tmp.dir, 'hvgate.yaml');
    fs.writeFileSync(
      cfg,
      [
        'store:',
        '  kind: sqlite',
        '  path: state/hvgate.db',
        'audit:',
        '  signingKeyFile: keys/audit-signing-key.pem',
        'hosts: []',
        '',
      ].join('\n'),
    );
    const res = await runAuditCli(['verify', '--config', cfg]);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('Verification OK');
  });

  it('exits 2 on usage errors', async () => {
    const pg = path.join(tmp.dir, 'pg.yaml');
    fs.writeFileSync(pg, 'store:\n  kind: postgres\n  urlEnv: DATABASE_URL\n');
    const cases: string[][] = [
      [],
      ['explode'],
      ['verify'],
      ['verify', '--db', dbPath],
      ['verify', '--db', dbPath, '--config', pg, '--public-key', 'x'],
      ['verify', '--config', pg, '--public-key', 'x'],
      ['verify', '--db', dbPath, '--bogus'],
      ['verify', '--db', dbPath, '--max-problems', '0', '--public-key', 'x'],
      ['export', '--db', dbPath, '--from', 'last tuesday'],
      ['keygen'],
    ];
    for (const args of cases) {
      const res = await runAuditCli(args);
      expect({ args, code: res.code }).toEqual({ args, code: 2 });
      expect(res.stderr).toMatch(/^hvgate audit: .*\n\nusage:/);
    }
  });

  it('exits 1 when the database or key cannot be read', async () => {
    const pub = path.join(keyDir, 'audit-signing-key.pub.pem');
    const missing = await runAuditCli(['verify', '--db', path.join(tmp.dir, 'nope.db'), '--public-key', pub]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no database at');
    const notAudit = path.join(tmp.dir, 'other.db');
    fs.writeFileSync(notAudit, '');
    expect((await runAuditCli(['verify', '--db', notAudit, '--public-key', pub])).code).toBe(1);
    const badKey = path.join(tmp.dir, 'bad.pem');
    fs.writeFileSync(badKey, 'not a key');
    const res = await runAuditCli(['verify', '--db', dbPath, '--public-key', badKey]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('no public key found');
  });

  it('is registered in the hvgate entry point', async () => {
    const out: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    // Only `verify --export -` reads stdin; opening it for any other command held a pipe open.
    const stdin = jest.spyOn(process, 'stdin', 'get');
    try {
      expect(await runCli(['audit', '--help'])).toBe(0);
      expect(stdin).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
      stdin.mockRestore();
    }
    expect(out.join('')).toContain('hvgate audit verify');
  });
});

describe('hvgate audit verify --anchor', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let pub: string;
  let anchorLog: string;
  let checkpoints: AuditCheckpoint[];

  /** A trail of `n` events; its checkpoints go to a gateway-style pino log as main.ts writes them. */
  async function writeTrail(name: string, n: number) {
    const ts = openTestStore(tmp.dir, `${name}.db`);
    const logFile = path.join(tmp.dir, `${name}.log`);
    const logger = pino(pino.destination({ dest: logFile, sync: true }));
    const logged: AuditCheckpoint[] = [];
    logger.info({ port: 8443 }, 'listening');
    const { writer } = testWriter(ts.store, {
      signer: loadAuditSigner(path.join(tmp.dir, 'keys', 'audit-signing-key.pem')),
      checkpointEvery: 4,
      onCheckpoint: (checkpoint) => {
        logged.push(checkpoint);
        logger.info({ auditCheckpoint: checkpoint }, 'audit checkpoint');
      },
    });
    await appendConcurrently(writer, n);
    await writer.close();
    logger.info('shutting down');
    return { ts, logFile, logged };
  }

  beforeAll(async () => {
    tmp = makeTempDir('hvgate-anchor-cli-');
    pub = generateSigningKey(path.join(tmp.dir, 'keys')).publicKeyPath;
    const trail = await writeTrail('pristine', 10);
    trail.ts.close();
    anchorLog = trail.logFile;
    checkpoints = trail.logged;
  });
  afterAll(() => tmp.cleanup());

  /** `hvgate audit verify` of the untouched trail against these anchor files. */
  const verifyPristine = (...anchors: string[]) =>
    runAuditCli([
      'verify',
      '--db',
      path.join(tmp.dir, 'pristine.db'),
      '--public-key',
      pub,
      ...anchors.flatMap((a) => ['--anchor', a]),
    ]);

  it('the gateway log holds one audit checkpoint line per signed checkpoint', () => {
    const lines = fs.readFileSync(anchorLog, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(2 + checkpoints.length);
    expect(JSON.parse(lines[1]!)).toMatchObject({
      level: 30,
      msg: 'audit checkpoint',
      auditCheckpoint: checkpoints[0],
    });
  });

  it('verifies the untouched trail against the log and reports how many anchors it checked', async () => {
    const res = await verifyPristine(anchorLog);
    expect(res).toMatchObject({ code: 0, stderr: '' });
    expect(res.stdout).toContain(
      '\nAnchors: 3 checked; highest verified anchor at seq 10\nVerification OK\n',
    );
  });

  it('a tail deleted with its checkpoints verifies alone (by design) but fails against the anchors', async () => {
    const { ts, logFile } = await writeTrail('cut', 10);
    // SQLite has no append-only trigger (PostgreSQL's would be dropped first): the owner just deletes.
    truncateEventsAfter(ts.db, 5);
    ts.db.prepare('DELETE FROM audit_checkpoints WHERE seq > 5').run();
    ts.close();
    const dbPath = path.join(tmp.dir, 'cut.db');
    const alone = await runAuditCli(['verify', '--db', dbPath, '--public-key', pub]);
    expect(alone.code).toBe(0);
    expect(alone.stdout).toContain('5 events (last seq 5), 1 checkpoints');
    expect(alone.stdout).toContain('Verification OK');

    const anchored = await runAuditCli(['verify', '--db', dbPath, '--public-key', pub, '--anchor', logFile]);
    expect(anchored.code).toBe(1);
    expect(anchored.stdout).toContain(
      `seq 6\tINVALID: anchor-event-missing: events 6..10 are missing but 2 external anchors signed them (seq 10: ${logFile}:4); the trail was cut below the anchor\n`,
    );
    expect(anchored.stdout).toContain('Anchors: 3 checked; highest verified anchor at seq 4\n');
    expect(anchored.stdout).toMatch(/Verification FAILED: 1 problem\n$/);
  });

  it('a forged anchor signature fails verification', async () => {
    const forged = path.join(tmp.dir, 'forged.ndjson');
    const cp = checkpoints[1]!;
    const signature = `${cp.signature.startsWith('A') ? 'B' : 'A'}${cp.signature.slice(1)}`;
    fs.writeFileSync(forged, `${JSON.stringify({ ...cp, signature })}\n`);
    const res = await verifyPristine(anchorLog, forged);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain(
      `seq 8\tINVALID: anchor-bad-signature: anchor ${forged}:1: signature does not verify\n`,
    );
  });

  it('checks an export against the anchors it covers', async () => {
    const exported = await runAuditCli(['export', '--db', path.join(tmp.dir, 'pristine.db')]);
    const file = path.join(tmp.dir, 'pristine.ndjson');
    // Only events 1..4 and their checkpoint: the later anchors are outside this export.
    const lines = exported.stdout.trim().split('\n');
    const header = { ...JSON.parse(lines[0]!), toSeq: 4 };
    fs.writeFileSync(file, `${[JSON.stringify(header), ...lines.slice(1, 6)].join('\n')}\n`);
    const res = await runAuditCli(['verify', '--export', file, '--public-key', pub, '--anchor', anchorLog]);
    expect(res.stdout).toContain('Anchors: 1 checked; highest verified anchor at seq 4\n');
    expect(res.stdout).toContain('note: 2 anchors are outside the exported range and were not checked\n');
    expect(res.code).toBe(0);
  });

  it('an anchor file without checkpoints, or a missing one, is an error rather than a pass', async () => {
    const empty = path.join(tmp.dir, 'empty.log');
    fs.writeFileSync(empty, '{"level":30,"msg":"listening"}\n');
    const none = await verifyPristine(empty);
    expect(none).toMatchObject({ code: 1, stdout: '' });
    expect(none.stderr).toContain(`no audit checkpoint found in anchor file ${empty}`);
    const missing = await verifyPristine(path.join(tmp.dir, 'nope'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('ENOENT');
  });
});
