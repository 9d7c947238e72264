import fs from 'node:fs';
import path from 'node:path';
import { runCli } from '../../../src/cli';
import { generateSigningKey, loadAuditSigner } from '../../../src/audit/audit-signer';
import { appendConcurrently, makeTempDir, openTestStore, testWriter } from './audit-test-kit';
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
    try {
      expect(await runCli(['audit', '--help'])).toBe(0);
    } finally {
      spy.mockRestore();
    }
    expect(out.join('')).toContain('hvgate audit verify');
  });
});
