import fs from 'node:fs';
import path from 'node:path';
import { AuditQueryError } from '../../../src/audit/audit-errors';
import type { StoredEvent } from '../../../src/audit/audit-event';
import { exportAudit } from '../../../src/audit/audit-export';
import { AuditQueryFilters, queryAudit } from '../../../src/audit/audit-query';
import { verifyAuditTrail, verifyExport } from '../../../src/audit/audit-verifier';
import {
  TestStore,
  appendConcurrently,
  attackerSigner,
  makeTempDir,
  openTestStore,
  readBody,
  sampleInput,
  setBody,
  testPublicKeys,
  testWriter,
} from './audit-test-kit';
import { runAuditCli } from './cli-harness';

const N = 30;

describe('reviewer queries and export', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let ts: TestStore;
  let all: StoredEvent[];
  let publicKeyFile: string;

  beforeAll(() => {
    tmp = makeTempDir();
    publicKeyFile = path.join(tmp.dir, 'audit.pub.pem');
    fs.writeFileSync(publicKeyFile, testPublicKeys()[0]!.publicKeyPem);
  });
  afterAll(() => tmp.cleanup());

  beforeEach(async () => {
    ts = openTestStore(tmp.dir, `q-${Math.random().toString(36).slice(2)}.db`);
    // 30 events one second apart from 10:00:00, checkpoints at 8, 16, 24 and (on close) 30.
    const { writer } = testWriter(ts.store, { checkpointEvery: 8 });
    all = await appendConcurrently(writer, N);
    await writer.close();
  });
  afterEach(() => ts.close());

  async function collect(filters: AuditQueryFilters, order?: 'asc' | 'desc', limit = 4): Promise<number[]> {
    const seqs: number[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 100; pages++) {
      const res = await queryAudit(ts.store, filters, { limit, cursor, order });
      expect(res.events.length).toBeLessThanOrEqual(limit);
      expect(res.unreadable).toEqual([]);
      seqs.push(...res.events.map((e) => e.seq));
      cursor = res.nextCursor;
      if (!cursor) return seqs;
    }
    throw new Error('paging did not terminate');
  }

  const expectSeqs = (pred: (e: StoredEvent) => boolean) => all.filter(pred).map((e) => e.seq);

  it.each<[string, AuditQueryFilters, (e: StoredEvent) => boolean]>([
    ['actor', { actorSub: 'svc-1' }, (e) => e.actor.sub === 'svc-1'],
    ['host', { host: 'hv-01' }, (e) => e.target.host === 'hv-01'],
    ['vmId', { vmId: all0VmId(2) }, (e) => e.target.vmId === all0VmId(2)],
    ['operation', { operation: 'network-adapter.add' }, () => true],
    ['stage', { stage: 'started' }, (e) => e.stage === 'started'],
    ['outcome status', { status: 'succeeded' }, (e) => e.outcome.status === 'succeeded'],
    ['request id', { requestId: 'req-4' }, (e) => e.requestId === 'req-4'],
    ['job id', { jobId: 'job-7' }, (e) => e.jobId === 'job-7'],
    [
      'combined',
      { host: 'hv-00', stage: 'requested', actorSub: 'svc-0' },
      (e) => e.target.host === 'hv-00' && e.stage === 'requested' && e.actor.sub === 'svc-0',
    ],
    [
      'time range [from, to)',
      { from: '2025-06-01T10:00:05Z', to: '2025-06-01T12:00:12+02:00' },
      (e) => e.time >= '2025-06-01T10:00:05.000Z' && e.time < '2025-06-01T10:00:12.000Z',
    ],
    ['no match', { host: 'hv-99' }, () => false],
  ])('filters by %s, paging newest first and oldest first', async (_name, filters, pred) => {
    const expected = expectSeqs(pred);
    expect(await collect(filters)).toEqual([...expected].reverse());
    expect(await collect(filters, 'asc', 3)).toEqual(expected);
  });

  it('returns complete stored events including their hash', async () => {
    const res = await queryAudit(ts.store, { requestId: 'req-0' }, { order: 'asc' });
    expect(res.events).toEqual(all.slice(0, 3));
    expect(res.nextCursor).toBeNull();
  });

  it('rejects bad filters, limits and cursors with AuditQueryError', async () => {
    await expect(queryAudit(ts.store, { from: 'yesterday' })).rejects.toBeInstanceOf(AuditQueryError);
    await expect(queryAudit(ts.store, { stage: 'exploded' } as never)).rejects.toBeInstanceOf(
      AuditQueryError,
    );
    await expect(queryAudit(ts.store, { hostname: 'x' } as never)).rejects.toBeInstanceOf(AuditQueryError);
    await expect(queryAudit(ts.store, {}, { limit: 0 })).rejects.toBeInstanceOf(AuditQueryError);
    await expect(queryAudit(ts.store, {}, { limit: 1001 })).rejects.toBeInstanceOf(AuditQueryError);
    await expect(queryAudit(ts.store, {}, { cursor: 'not a cursor!' })).rejects.toThrow('invalid cursor');
    await expect(
      queryAudit(ts.store, {}, { cursor: Buffer.from('{"v":1}').toString('base64url') }),
    ).rejects.toThrow('invalid cursor');
    const first = await queryAudit(ts.store, { host: 'hv-00' }, { limit: 2 });
    await expect(queryAudit(ts.store, { host: 'hv-01' }, { cursor: first.nextCursor })).rejects.toThrow(
      'different query',
    );
    await expect(
      queryAudit(ts.store, { host: 'hv-00' }, { cursor: first.nextCursor, order: 'asc' }),
    ).rejects.toThrow('different query');
  });

  it('filters on columns derived from the hashed record, so they cannot disagree with it', async () => {
    const body = readBody(ts.db, 5);
    setBody(ts.db, 5, body.replace('"host":"hv-00"', '"host":"hv-77"'));
    expect((await queryAudit(ts.store, { host: 'hv-77' })).events.map((e) => e.seq)).toEqual([5]);
    expect((await verifyAuditTrail(ts.store, { publicKeys: testPublicKeys() })).problems).toEqual([
      { seq: 5, reason: 'hash-mismatch', detail: 'record content does not match its hash' },
    ]);
  });

  async function exportLines(range = {}): Promise<string[]> {
    const lines: string[] = [];
    for await (const line of exportAudit(ts.store, range)) lines.push(line);
    return lines;
  }

  const parsed = (lines: string[]) => lines.map((l) => JSON.parse(l) as Record<string, unknown>);

  it('exports everything with its checkpoints and verifies offline', async () => {
    const lines = await exportLines();
    const recs = parsed(lines);
    expect(recs[0]).toMatchObject({ type: 'header', format: 'hvgate-audit-export', fromSeq: 1, toSeq: 30 });
    expect(recs.filter((r) => r.type === 'event').map((r) => (r.event as StoredEvent).seq)).toEqual(
      all.map((e) => e.seq),
    );
    expect(recs.filter((r) => r.type === 'event').map((r) => r.event)).toEqual(all);
    expect(
      recs.filter((r) => r.type === 'checkpoint').map((r) => (r.checkpoint as { seq: number }).seq),
    ).toEqual([8, 16, 24, 30]);
    // Each checkpoint follows the event it signs.
    const i16 = recs.findIndex(
      (r) => r.type === 'checkpoint' && (r.checkpoint as { seq: number }).seq === 16,
    );
    expect((recs[i16 - 1]!.event as StoredEvent).seq).toBe(16);
    const result = await verifyExport(lines, testPublicKeys());
    expect(result).toMatchObject({
      ok: true,
      eventsChecked: 30,
      checkpointsChecked: 4,
      lastVerifiedCheckpointSeq: 30,
    });
  });

  it('widens a time range to the surrounding checkpoints so it verifies on its own', async () => {
    const selected = expectSeqs(
      (e) => e.time >= '2025-06-01T10:00:10.000Z' && e.time < '2025-06-01T10:00:14.000Z',
    );
    expect(selected.length).toBe(4);
    expect(selected[0]).toBeGreaterThan(8);
    expect(selected[3]).toBeLessThan(16);
    // Checkpoints at 8 and 16 anchor the selection.
    const lines = await exportLines({ from: '2025-06-01T10:00:10Z', to: '2025-06-01T10:00:14Z' });
    const recs = parsed(lines);
    expect(recs[0]).toMatchObject({
      selectedFromSeq: selected[0],
      selectedToSeq: selected[3],
      fromSeq: 9,
      toSeq: 16,
    });
    expect(recs.filter((r) => r.type === 'event').map((r) => (r.event as StoredEvent).seq)).toEqual([
      9, 10, 11, 12, 13, 14, 15, 16,
    ]);
    expect(await verifyExport(lines, testPublicKeys())).toMatchObject({
      ok: true,
      eventsChecked: 8,
      problems: [],
    });
  });

  it('exports an empty selection as a header only', async () => {
    const lines = await exportLines({ from: '2030-01-01T00:00:00Z' });
    expect(parsed(lines)).toEqual([expect.objectContaining({ type: 'header', fromSeq: null, toSeq: null })]);
  });

  describe('detects tampering with an exported file', () => {
    let lines: string[];
    const idx = (seq: number) =>
      lines.findIndex((l) => {
        const r = JSON.parse(l) as { type: string; event?: { seq: number } };
        return r.type === 'event' && r.event!.seq === seq;
      });
    beforeEach(async () => {
      lines = await exportLines({ from: '2025-06-01T10:00:10Z', to: '2025-06-01T10:00:14Z' });
    });
    const problemsOf = async (l: string[], keys = testPublicKeys()) =>
      (await verifyExport(l, keys)).problems.map((p) => [p.seq, p.reason]);

    it('an edited field', async () => {
      const l = [...lines];
      l[idx(12)] = l[idx(12)]!.replace('"stage":"succeeded"', '"stage":"failed"');
      expect(await problemsOf(l)).toEqual([[12, 'hash-mismatch']]);
    });
    it('a removed event', async () => {
      expect(await problemsOf(lines.filter((_, i) => i !== idx(12)))).toEqual([[12, 'gap']]);
    });
    it('swapped events', async () => {
      const l = [...lines];
      [l[idx(12)], l[idx(13)]] = [l[idx(13)]!, l[idx(12)]!];
      expect(await problemsOf(l)).toEqual([[12, 'reorder']]);
    });
    it('a cut-off tail (events and its checkpoint)', async () => {
      expect(await problemsOf(lines.slice(0, idx(15)))).toEqual([[15, 'gap']]);
    });
    it('a cut-off tail that keeps the signed checkpoint', async () => {
      const l = lines.filter((_, i) => i < idx(14) || i > idx(16));
      expect(await problemsOf(l)).toEqual([[14, 'truncated-after-checkpoint']]);
    });
    it('a missing anchor checkpoint before the range', async () => {
      const l = lines.filter((line) => !line.includes('"type":"checkpoint"') || !line.includes('"seq":8,'));
      expect(l.length).toBe(lines.length - 1);
      // The range loses its anchor, and the checkpoint chain its link from 8 to 16.
      expect(await problemsOf(l)).toEqual([
        [9, 'checkpoint-mismatch'],
        [16, 'checkpoint-mismatch'],
      ]);
    });
    it('checkpoints checked against a key that did not sign them', async () => {
      const found = await problemsOf(lines, attackerSigner().publicKeys());
      expect(found).toEqual([
        [8, 'unknown-key'],
        [9, 'checkpoint-mismatch'],
        [16, 'unknown-key'],
      ]);
    });
    it('a file that is not an export', async () => {
      expect(await problemsOf(['{"hello":1}'])).toEqual([
        [1, 'malformed'],
        [1, 'malformed'],
      ]);
      expect(await problemsOf([])).toEqual([[1, 'malformed']]);
    });
  });

  it('keeps hostile text on one line in the export', async () => {
    const { writer } = testWriter(ts.store);
    await writer.append(
      sampleInput(0, { target: { host: 'hv-00', vmId: null, vmName: 'x\n{"type":"event"}\r\u2028\u2029' } }),
    );
    await writer.close();
    const lines = await exportLines();
    for (const l of lines) expect(l.split(/\r\n|\r|\n|\u2028|\u2029/)).toHaveLength(1);
    expect(lines.join('\n')).toContain('\\u2028');
    expect((await verifyExport(lines, testPublicKeys())).ok).toBe(true);
  });

  it('`hvgate audit export` writes NDJSON that `hvgate audit verify --export` accepts (and rejects once edited)', async () => {
    const out = await runAuditCli([
      'export',
      '--db',
      ts.dbPath,
      '--from',
      '2025-06-01T10:00:10Z',
      '--to',
      '2025-06-01T10:00:14Z',
    ]);
    expect(out).toMatchObject({ code: 0, stderr: '' });
    const lines = out.stdout.trimEnd().split('\n');
    expect(JSON.parse(lines[0]!)).toMatchObject({ type: 'header', fromSeq: 9, toSeq: 16 });
    const file = path.join(tmp.dir, 'export.ndjson');
    fs.writeFileSync(file, out.stdout);
    const ok = await runAuditCli(['verify', '--export', file, '--public-key', publicKeyFile]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('Verification OK');
    const viaStdin = await runAuditCli(
      ['verify', '--export', '-', '--public-key', publicKeyFile],
      out.stdout,
    );
    expect(viaStdin.code).toBe(0);
    fs.writeFileSync(file, out.stdout.replace('"vmName":"web-01"', '"vmName":"web-02"'));
    const bad = await runAuditCli(['verify', '--export', file, '--public-key', publicKeyFile]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/seq 9\tINVALID: hash-mismatch/);
  });
});

function all0VmId(i: number): string {
  return `3f2e0000-0000-4000-8000-${String(i).padStart(12, '0')}`;
}
