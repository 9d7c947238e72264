// External anchors: checkpoint lines shipped out of the database owner's reach must catch what the
// stored trail alone cannot — a tail deleted together with its checkpoints — and forged anchors
// must never vouch for anything. Trail: 20 events, a checkpoint every 5 (5, 10, 15, 20).
import { AnchorSet, AuditAnchor } from '../../../src/audit/audit-anchor';
import { AuditCheckpoint, checkpointBody, createCheckpoint } from '../../../src/audit/audit-checkpoint';
import { exportAudit } from '../../../src/audit/audit-export';
import { verifyAuditTrail, verifyExport } from '../../../src/audit/audit-verifier';
import {
  TestStore,
  appendConcurrently,
  attackerSigner,
  deleteEvent,
  readBody,
  testPublicKeys,
  testSigner,
  testWriter,
  truncateEventsAfter,
  useFreshTestStore,
} from './audit-test-kit';

function anchorSet(lines: string[], file = 'anchors.log'): AnchorSet {
  const set = new AnchorSet();
  lines.forEach((l, i) => set.addLine(l, `${file}:${i + 1}`));
  return set;
}

const pinoLine = (cp: AuditCheckpoint) =>
  JSON.stringify({
    level: 30,
    time: 1748772000000,
    pid: 7,
    hostname: 'gw-1',
    msg: 'audit checkpoint',
    auditCheckpoint: cp,
  });

describe('AnchorSet: reading anchor files', () => {
  const cp = createCheckpoint(testSigner(), {
    seq: 5,
    headHash: 'a'.repeat(64),
    prevCheckpointHash: '0'.repeat(64),
    time: '2025-06-01T10:00:05.000Z',
  });
  const cp2 = { ...cp, seq: 10 };

  it('takes bare checkpoints, gateway log lines, prefixed and wrapped log lines, export lines', () => {
    const set = anchorSet([
      JSON.stringify(cp),
      pinoLine(cp2),
      `2025-06-01T10:00:05.123Z stdout F ${pinoLine({ ...cp, seq: 15 })}`,
      JSON.stringify({ log: `${pinoLine({ ...cp, seq: 20 })}\n`, stream: 'stdout' }),
      JSON.stringify({ type: 'checkpoint', checkpoint: { ...cp, seq: 25 } }),
    ]);
    expect(set.malformed).toEqual([]);
    expect(set.anchors.map((a) => [a.checkpoint.seq, a.source])).toEqual([
      [5, 'anchors.log:1'],
      [10, 'anchors.log:2'],
      [15, 'anchors.log:3'],
      [20, 'anchors.log:4'],
      [25, 'anchors.log:5'],
    ]);
    expect(set.anchors[1]!.checkpoint).toEqual(cp2);
  });

  it('ignores other log lines and counts a repeated checkpoint once', async () => {
    const set = new AnchorSet();
    const found = await set.addLines(
      [
        '',
        'plain text: gateway starting',
        JSON.stringify({ level: 30, msg: 'listening', port: 8443 }),
        JSON.stringify({ level: 30, msg: 'request', headHash: 'not a checkpoint' }),
        pinoLine(cp),
        pinoLine(cp),
        '{"level":50,"msg":"half a line',
      ],
      'gw.log',
    );
    expect(found).toBe(2);
    expect(set.anchors).toEqual([{ checkpoint: cp, source: 'gw.log:5' }]);
    expect(set.malformed).toEqual([]);
  });

  it('reports a line that carries an unreadable checkpoint as anchor-malformed', () => {
    const set = anchorSet([
      pinoLine({ ...cp, headHash: 'xyz' }),
      pinoLine(cp).slice(0, 120),
      JSON.stringify({ ...cp, extra: 1 }),
    ]);
    expect(set.anchors).toEqual([]);
    expect(set.malformed.map((p) => [p.seq, p.reason, p.detail])).toEqual([
      [5, 'anchor-malformed', 'anchors.log:1: line carries a checkpoint that is not readable'],
      [0, 'anchor-malformed', 'anchors.log:2: line carries a checkpoint that is not readable'],
      [5, 'anchor-malformed', 'anchors.log:3: line carries a checkpoint that is not readable'],
    ]);
  });
});

describe('anchors checked against the stored trail', () => {
  const current = useFreshTestStore('anchor');
  let ts: TestStore;
  let logged: AuditCheckpoint[];

  beforeEach(async () => {
    ts = current();
    logged = [];
    const { writer } = testWriter(ts.store, { checkpointEvery: 5, onCheckpoint: (cp) => logged.push(cp) });
    await appendConcurrently(writer, 20);
    await writer.close();
  });

  const anchorsOf = (cps: AuditCheckpoint[] = logged) => anchorSet(cps.map(pinoLine));

  async function verify(anchors = anchorsOf(), pooled = true) {
    const result = await verifyAuditTrail(ts.store, { publicKeys: testPublicKeys(), workers: 0, anchors });
    if (pooled) {
      const viaPool = await verifyAuditTrail(ts.store, {
        publicKeys: testPublicKeys(),
        workers: 2,
        batchSize: 3,
        anchors,
      });
      expect(viaPool).toEqual(result);
    }
    return result;
  }

  const problemsOf = (r: Awaited<ReturnType<typeof verify>>) =>
    r.problems.map((p) => [p.seq, p.reason] as const);

  it('an untouched trail matches every logged checkpoint', async () => {
    expect(logged.map((c) => c.seq)).toEqual([5, 10, 15, 20]);
    const result = await verify();
    expect(result.ok).toBe(true);
    expect(result.anchors).toEqual({ given: 4, checked: 4, notCovered: 0, highestVerifiedSeq: 20 });
  });

  it('without anchors the result carries no anchor summary (the API answer is unchanged)', async () => {
    const result = await verifyAuditTrail(ts.store, { publicKeys: testPublicKeys() });
    expect(result).not.toHaveProperty('anchors');
  });

  it('a tail cut together with its checkpoints passes alone but not against the anchors', async () => {
    truncateEventsAfter(ts.db, 12);
    ts.db.prepare('DELETE FROM audit_checkpoints WHERE seq > 12').run();
    const alone = await verifyAuditTrail(ts.store, { publicKeys: testPublicKeys() });
    expect(alone.ok).toBe(true);
    const result = await verify();
    expect(result.ok).toBe(false);
    expect(problemsOf(result)).toEqual([[13, 'anchor-event-missing']]);
    expect(result.problems[0]!.detail).toBe(
      'events 13..20 are missing but 2 external anchors signed them (seq 20: anchors.log:4); the trail was cut below the anchor',
    );
    expect(result.anchors).toMatchObject({ checked: 4, highestVerifiedSeq: 10 });
  });

  it('a trail cut and written on again holds other events where the anchors were signed', async () => {
    truncateEventsAfter(ts.db, 12);
    ts.db.prepare('DELETE FROM audit_checkpoints WHERE seq > 12').run();
    const { writer } = testWriter(ts.store, { checkpointEvery: 4 });
    await appendConcurrently(writer, 8, 100);
    await writer.close();
    expect((await verifyAuditTrail(ts.store, { publicKeys: testPublicKeys() })).ok).toBe(true);
    const result = await verify();
    expect(problemsOf(result)).toEqual([
      [15, 'anchor-hash-mismatch'],
      [20, 'anchor-hash-mismatch'],
    ]);
    expect(result.problems[0]!.detail).toBe('event at seq 15 is not the one anchor anchors.log:3 signed');
  });

  it('an event deleted at an anchored seq is anchor-event-missing there (besides the gap)', async () => {
    deleteEvent(ts.db, 10);
    expect(problemsOf(await verify())).toEqual([
      [10, 'anchor-event-missing'],
      [10, 'gap'],
    ]);
  });

  it('a stored checkpoint replaced by another genuine one is anchor-checkpoint-mismatch', async () => {
    const cp10 = logged[1]!;
    const other = createCheckpoint(testSigner(), { ...cp10, time: '2030-01-01T00:00:00.000Z' });
    ts.db.prepare('UPDATE audit_checkpoints SET body = ? WHERE seq = 10').run(checkpointBody(other));
    const problems = problemsOf(await verify());
    expect(problems).toContainEqual([10, 'anchor-checkpoint-mismatch']);
  });

  it('forged anchors vouch for nothing: bad signature and unknown key', async () => {
    const [cp5, cp10] = logged as [AuditCheckpoint, AuditCheckpoint];
    const flipped = { ...cp5, signature: `${cp5.signature[0] === 'A' ? 'B' : 'A'}${cp5.signature.slice(1)}` };
    const edited = { ...cp10, headHash: 'f'.repeat(64) };
    const foreign = createCheckpoint(attackerSigner(), { ...cp10, seq: 40 });
    const result = await verify(anchorsOf([flipped, edited, foreign]));
    expect(problemsOf(result)).toEqual([
      [5, 'anchor-bad-signature'],
      [10, 'anchor-bad-signature'],
      [40, 'anchor-unknown-key'],
    ]);
    expect(result.anchors).toMatchObject({ given: 3, highestVerifiedSeq: null });
  });

  it('malformed anchor lines are problems of the result', async () => {
    const set = anchorSet([
      ...logged.map(pinoLine),
      '{"msg":"audit checkpoint","auditCheckpoint":{"seq":25}}',
    ]);
    const result = await verify(set, false);
    expect(problemsOf(result)).toEqual([[25, 'anchor-malformed']]);
  });

  describe('offline, against an export', () => {
    async function exported(range: { from?: string; to?: string } = {}): Promise<string[]> {
      const lines: string[] = [];
      for await (const line of exportAudit(ts.store, range)) lines.push(line);
      return lines;
    }
    const timeOf = (seq: number) => (JSON.parse(readBody(ts.db, seq)) as { time: string }).time;

    it('checks anchors inside the exported range and counts the others as not covered', async () => {
      // Events 7..12 widen to the checkpoints at 5 and 15: the export holds 6..15 and cp 5.
      const lines = await exported({ from: timeOf(7), to: timeOf(13) });
      const result = await verifyExport(lines, testPublicKeys(), { anchors: anchorsOf() });
      expect(result.ok).toBe(true);
      expect(result.anchors).toEqual({ given: 4, checked: 3, notCovered: 1, highestVerifiedSeq: 15 });
    });

    it('an export cut below an anchor fails; an anchor whose event differs fails', async () => {
      const lines = await exported();
      const cut = lines.filter((l) => !/"seq":(1[3-9]|20)[,}]/.test(l));
      const cutResult = await verifyExport(cut, testPublicKeys(), { anchors: anchorsOf() });
      expect(problemsOf(cutResult)).toContainEqual([13, 'anchor-event-missing']);

      const stranger: AuditAnchor[] = [
        {
          checkpoint: createCheckpoint(testSigner(), { ...logged[2]!, headHash: 'e'.repeat(64) }),
          source: 'x:1',
        },
      ];
      const mismatch = await verifyExport(lines, testPublicKeys(), { anchors: { anchors: stranger } });
      expect(problemsOf(mismatch)).toEqual([[15, 'anchor-hash-mismatch']]);
    });
  });
});
