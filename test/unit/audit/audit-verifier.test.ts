// Tamper probes (transparency-dev style): each manipulation an attacker with write access to the
// database could make must be reported with the right seq and reason, and `hvgate audit verify`
// must exit 1. Pristine chain: 20 events, a signed checkpoint every 5 (5, 10, 15, 20).
import fs from 'node:fs';
import path from 'node:path';
import { GENESIS_HASH, chainHash, sealEvent } from '../../../src/audit/audit-chain';
import { buildUnsealedEvent } from '../../../src/audit/audit-event';
import { createKeyRing } from '../../../src/audit/audit-signer';
import { ChainVerifier } from '../../../src/audit/chain-verifier';
import { checkpointBody, createCheckpoint, parseCheckpoint } from '../../../src/audit/audit-checkpoint';
import { AuditProblemReason, verifyAuditTrail } from '../../../src/audit/audit-verifier';
import { canonicalJson } from '../../../src/audit/canonical-json';
import {
  ATTACKER_PRIVATE_KEY_PEM,
  TEST_PRIVATE_KEY_PEM,
  TestStore,
  appendConcurrently,
  attackerSigner,
  deleteEvent,
  duplicateEvent,
  makeTempDir,
  openTestStore,
  readBody,
  readCheckpointBody,
  sampleInput,
  setBody,
  setCheckpointBody,
  setHash,
  swapEvents,
  testPublicKeys,
  testSigner,
  testWriter,
  truncateEventsAfter,
} from './audit-test-kit';
import { runAuditCli } from './cli-harness';

type Probe = [seq: number, reason: AuditProblemReason][];

describe('audit trail verification: tamper probes', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let ts: TestStore;
  let publicKeyFile: string;
  let attackerKeyFile: string;

  beforeAll(() => {
    tmp = makeTempDir();
    publicKeyFile = path.join(tmp.dir, 'audit.pub.pem');
    fs.writeFileSync(publicKeyFile, testPublicKeys()[0]!.publicKeyPem);
    attackerKeyFile = path.join(tmp.dir, 'attacker.pub.pem');
    fs.writeFileSync(attackerKeyFile, attackerSigner().publicKeys()[0]!.publicKeyPem);
  });
  afterAll(() => tmp.cleanup());

  beforeEach(async () => {
    ts = openTestStore(tmp.dir, `probe-${Math.random().toString(36).slice(2)}.db`);
    const { writer } = testWriter(ts.store, { checkpointEvery: 5 });
    await appendConcurrently(writer, 20);
    await writer.close();
  });
  afterEach(() => ts.close());

  async function problems(publicKeys = testPublicKeys(), pooled = false): Promise<Probe> {
    const result = await verifyAuditTrail(ts.store, { publicKeys, workers: 0 });
    expect(result.ok).toBe(result.problems.length === 0);
    if (pooled) {
      // The worker-thread path (used for long trails) must reach exactly the same verdict.
      const viaPool = await verifyAuditTrail(ts.store, { publicKeys, workers: 2, batchSize: 3 });
      expect(viaPool).toEqual(result);
    }
    return result.problems.map((p) => [p.seq, p.reason]);
  }

  async function expectDetected(expected: Probe, keyFile = publicKeyFile): Promise<void> {
    const keys = keyFile === publicKeyFile ? testPublicKeys() : attackerSigner().publicKeys();
    expect(await problems(keys, true)).toEqual(expected);
    const cli = await runAuditCli(['verify', '--db', ts.dbPath, '--public-key', keyFile]);
    expect(cli.code).toBe(1);
    for (const [seq, reason] of expected) expect(cli.stdout).toContain(`seq ${seq}\tINVALID: ${reason}`);
    expect(cli.stdout).toMatch(/Verification FAILED/);
  }

  it('accepts the untouched chain (and the CLI exits 0)', async () => {
    const result = await verifyAuditTrail(ts.store, { publicKeys: testPublicKeys() });
    expect(result).toEqual({
      ok: true,
      eventsChecked: 20,
      checkpointsChecked: 4,
      lastSeq: 20,
      lastVerifiedCheckpointSeq: 20,
      unanchoredEvents: 0,
      problems: [],
      problemsOmitted: 0,
    });
    const cli = await runAuditCli(['verify', '--db', ts.dbPath, '--public-key', publicKeyFile]);
    expect(cli).toMatchObject({ code: 0, stderr: '' });
    expect(cli.stdout).toContain('Verification OK');
  });

  describe('a flipped byte in any field of a record is a hash-mismatch at that seq', () => {
    function leaves(value: unknown, prefix: string[] = []): string[][] {
      if (value !== null && typeof value === 'object') {
        return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) =>
          leaves(v, [...prefix, k]),
        );
      }
      return [prefix];
    }
    // Two flips per field: the lowest bit of the first character, bit 5 of the last one.
    function flip(v: unknown, variant: number): unknown {
      if (typeof v === 'string') {
        if (v.length === 0) return 'x';
        const i = variant === 0 ? 0 : v.length - 1;
        return (
          v.slice(0, i) + String.fromCharCode(v.charCodeAt(i) ^ (variant === 0 ? 1 : 0x20)) + v.slice(i + 1)
        );
      }
      if (typeof v === 'number') return variant === 0 ? v ^ 1 : v + 32;
      if (typeof v === 'boolean') return !v;
      return variant === 0 ? 0 : ''; // null
    }

    it.each([9, 10])('record %i: every field, the body and the stored hash', async (seq) => {
      const original = readBody(ts.db, seq);
      const originalHash = (await ts.store.readEvents(seq - 1, seq, 1))[0]!.hash;
      const event = JSON.parse(original) as Record<string, unknown>;
      const paths = leaves({ ...event, integrity: { ...(event.integrity as object), hash: originalHash } });
      // Every block of the schema is covered, not just a few fields.
      expect(paths.map((p) => p[0])).toEqual(
        expect.arrayContaining([
          'actor',
          'eventId',
          'execution',
          'integrity',
          'jobId',
          'operation',
          'outcome',
          'params',
        ]),
      );
      expect(paths.length).toBeGreaterThan(30);
      for (const p of paths) {
        for (const variant of [0, 1]) {
          const field = `${p.join('.')}#${variant}`;
          if (p.join('.') === 'integrity.hash') {
            setHash(ts.db, seq, flip(originalHash, variant) as string);
          } else {
            const copy = JSON.parse(original) as Record<string, unknown>;
            let node = copy;
            for (const k of p.slice(0, -1)) node = node[k] as Record<string, unknown>;
            const last = p[p.length - 1]!;
            node[last] = flip(node[last], variant);
            setBody(ts.db, seq, canonicalJson(copy));
          }
          const found = await problems();
          expect({ field, found }).toEqual({ field, found: [[seq, 'hash-mismatch']] });
          if (p.join('.') === 'actor.sub') await expectDetected([[seq, 'hash-mismatch']]);
          setBody(ts.db, seq, original);
          setHash(ts.db, seq, originalHash);
        }
      }
      expect(await problems()).toEqual([]);
    });

    it('a single flipped byte anywhere in the stored text (CLI exits 1)', async () => {
      const original = readBody(ts.db, 7);
      const i = original.indexOf('web-01');
      setBody(ts.db, 7, `${original.slice(0, i)}wec-01${original.slice(i + 6)}`);
      await expectDetected([[7, 'hash-mismatch']]);
    });
  });

  it('a deleted record is a gap', async () => {
    deleteEvent(ts.db, 7);
    await expectDetected([[7, 'gap']]);
  });

  it('deleted records at a checkpoint are a gap', async () => {
    deleteEvent(ts.db, 10);
    deleteEvent(ts.db, 11);
    await expectDetected([[10, 'gap']]);
  });

  it('two swapped records are a reorder', async () => {
    swapEvents(ts.db, 7, 8);
    await expectDetected([[7, 'reorder']]);
  });

  it('a duplicated record is a duplicate', async () => {
    duplicateEvent(ts.db, 7);
    await expectDetected([[7, 'duplicate']]);
  });

  it('a tail truncated below a signed checkpoint is truncated-after-checkpoint', async () => {
    truncateEventsAfter(ts.db, 12);
    await expectDetected([[13, 'truncated-after-checkpoint']]);
  });

  it('a tail truncated exactly at a checkpoint is still caught by the later one', async () => {
    truncateEventsAfter(ts.db, 15);
    await expectDetected([[16, 'truncated-after-checkpoint']]);
  });

  it('a forged record inserted with a recomputed chain is caught by the checkpoint signatures', async () => {
    const rows = await ts.store.readEvents(0, 100, 100);
    const forged = { ...(JSON.parse(rows[6]!.body) as Record<string, unknown>), stage: 'denied' };
    const bodies = [
      ...rows.slice(0, 6).map((r) => JSON.parse(r.body)),
      forged,
      ...rows.slice(6).map((r) => JSON.parse(r.body)),
    ];
    ts.db.prepare('DELETE FROM audit_events WHERE seq >= 7').run();
    let prev = rows[5]!.hash;
    for (let i = 6; i < bodies.length; i++) {
      const body = canonicalJson({ ...bodies[i], seq: i + 1, integrity: { prevHash: prev } });
      const hash = chainHash(prev, body);
      ts.db.prepare('INSERT INTO audit_events (seq, hash, body) VALUES (?, ?, ?)').run(i + 1, hash, body);
      prev = hash;
    }
    // The chain itself is consistent again; only the signed heads disagree.
    await expectDetected([
      [10, 'checkpoint-mismatch'],
      [15, 'checkpoint-mismatch'],
      [20, 'checkpoint-mismatch'],
    ]);
  });

  it('checkpoints re-signed by the forger with their own key are unknown-key', async () => {
    const attacker = attackerSigner();
    let prevCp = '0'.repeat(64);
    for (const seq of [5, 10, 15, 20]) {
      const cp = parseCheckpoint(readCheckpointBody(ts.db, seq))!;
      const forged = createCheckpoint(attacker, {
        seq,
        headHash: cp.headHash,
        prevCheckpointHash: prevCp,
        time: cp.time,
      });
      setCheckpointBody(ts.db, seq, checkpointBody(forged));
      prevCp = '1'.repeat(64);
    }
    await expectDetected([
      [5, 'unknown-key'],
      [10, 'unknown-key'],
      [15, 'unknown-key'],
      [20, 'unknown-key'],
    ]);
  });

  it('a checkpoint whose signed fields were edited is bad-signature', async () => {
    const cp = parseCheckpoint(readCheckpointBody(ts.db, 10))!;
    setCheckpointBody(ts.db, 10, checkpointBody({ ...cp, headHash: 'f'.repeat(64) }));
    await expectDetected([[10, 'bad-signature']]);
  });

  it('a checkpoint replaced by another genuine checkpoint is checkpoint-mismatch', async () => {
    setCheckpointBody(ts.db, 10, readCheckpointBody(ts.db, 5));
    await expectDetected([[10, 'checkpoint-mismatch']]);
  });

  it('a deleted checkpoint breaks the checkpoint chain', async () => {
    ts.db.prepare('DELETE FROM audit_checkpoints WHERE seq = 10').run();
    await expectDetected([[15, 'checkpoint-mismatch']]);
  });

  it('verifying with a key that did not sign the checkpoints reports unknown-key for each', async () => {
    await expectDetected(
      [
        [5, 'unknown-key'],
        [10, 'unknown-key'],
        [15, 'unknown-key'],
        [20, 'unknown-key'],
      ],
      attackerKeyFile,
    );
  });

  it('an unreadable record or checkpoint is malformed', async () => {
    setBody(ts.db, 7, '{"note":"overwritten"}');
    setCheckpointBody(ts.db, 15, '{"seq":15}');
    await expectDetected([
      [7, 'malformed'],
      [15, 'malformed'],
    ]);
  });

  it('keeps retired keys usable: a trail signed by an old key verifies with it in the key list', async () => {
    const result = await verifyAuditTrail(ts.store, {
      publicKeys: [ATTACKER_PRIVATE_KEY_PEM, TEST_PRIVATE_KEY_PEM].map((pem) => pem),
    });
    expect(result.ok).toBe(true);
  });

  it('reports several independent problems in seq order', async () => {
    deleteEvent(ts.db, 3);
    swapEvents(ts.db, 12, 13);
    setHash(ts.db, 18, 'e'.repeat(64));
    expect(await problems()).toEqual([
      [3, 'gap'],
      [12, 'reorder'],
      [18, 'hash-mismatch'],
    ]);
  });

  it('caps the problem list and counts the rest', async () => {
    for (let s = 2; s <= 20; s += 2) deleteEvent(ts.db, s);
    const result = await verifyAuditTrail(ts.store, { publicKeys: testPublicKeys(), maxProblems: 3 });
    expect(result.ok).toBe(false);
    expect(result.problems).toHaveLength(3);
    expect(result.problemsOmitted).toBeGreaterThan(0);
  });
});

describe('ChainVerifier window', () => {
  it('a record displaced further back than the window is a reorder and does not hide later checkpoints', () => {
    const ctx = { time: '2025-06-01T00:00:00.000Z', service: { version: 'v', instance: 'i' } };
    const records: { seq: number; hash: string; body: string }[] = [];
    let prev = GENESIS_HASH;
    for (let seq = 1; seq <= 40; seq++) {
      const s = sealEvent(buildUnsealedEvent(sampleInput(seq), { ...ctx, eventId: `e-${seq}` }), seq, prev);
      records.push({ seq, hash: s.hash, body: s.body });
      prev = s.hash;
    }
    const signer = testSigner();
    const cp = createCheckpoint(signer, {
      seq: 37,
      headHash: 'f'.repeat(64), // does not match seq 37: must still be reported
      prevCheckpointHash: GENESIS_HASH,
      time: ctx.time,
    });
    const order = [...records.slice(0, 4), ...records.slice(5), records[4]!];
    const v = new ChainVerifier({ keyRing: createKeyRing(signer.publicKeys()), window: 16 });
    order.forEach((r, i) => v.addEvent({ position: i + 1, hash: r.hash, body: r.body }));
    // Compared at the end, after seq 5 (same slot as 37 in a 16-wide ring) came back.
    v.addCheckpoint(checkpointBody(cp));
    expect(v.finish().problems.map((p) => [p.seq, p.reason])).toEqual([
      [5, 'reorder'],
      [37, 'checkpoint-mismatch'],
    ]);
  });
});
