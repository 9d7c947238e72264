// The AuditStore contract, written once and run against every implementation (SQLite and
// PostgreSQL). Each test opens a fresh, empty store from the factory.
import { AuditHeadConflictError } from '../../../src/audit/audit-errors';
import type { StoredEvent } from '../../../src/audit/audit-event';
import { queryAudit } from '../../../src/audit/audit-query';
import { verifyAuditTrail } from '../../../src/audit/audit-verifier';
import type { AuditStore } from '../../../src/store/audit-store';
import { appendConcurrently, sampleInput, testPublicKeys, testWriter } from '../audit/audit-test-kit';

export interface OpenedAuditStore {
  store: AuditStore;
  /** A second handle on the same data (another connection / replica). */
  openPeer(): Promise<AuditStore>;
  close(): Promise<void>;
}

const rec = (seq: number, tag = 'x') => ({
  seq,
  hash: `${tag}${seq}`.padEnd(64, '0'),
  body: `{"n":${seq},"t":"${tag}"}`,
});

export function describeAuditStoreConformance(label: string, open: () => Promise<OpenedAuditStore>): void {
  describe(`AuditStore conformance: ${label}`, () => {
    let s: OpenedAuditStore;
    beforeEach(async () => {
      s = await open();
    });
    afterEach(async () => {
      await s.close();
    });

    it('starts empty', async () => {
      expect(await s.store.head()).toBeNull();
      expect(await s.store.lastCheckpoint()).toBeNull();
      expect(await s.store.bounds()).toEqual({ maxEventSeq: 0, maxCheckpointSeq: 0 });
      expect(await s.store.readEvents(0, 100, 10)).toEqual([]);
      expect(await s.store.seqRangeForTime()).toBeNull();
      expect(await s.store.checkpointBefore(10)).toBeNull();
    });

    it('appends events and checkpoints in one batch and reads them back in seq order', async () => {
      await s.store.appendBatch({
        expectedHeadSeq: 0,
        expectedCheckpointSeq: 0,
        events: [rec(1), rec(2), rec(3)],
        checkpoints: [{ seq: 2, body: '{"cp":2}' }],
      });
      expect(await s.store.head()).toEqual({ seq: 3, hash: rec(3).hash });
      expect(await s.store.bounds()).toEqual({ maxEventSeq: 3, maxCheckpointSeq: 2 });
      expect(await s.store.readEvents(0, 3, 10)).toEqual([rec(1), rec(2), rec(3)]);
      expect(await s.store.readEvents(1, 3, 1)).toEqual([rec(2)]);
      expect(await s.store.readEvents(0, 2, 10)).toEqual([rec(1), rec(2)]);
      expect(await s.store.lastCheckpoint()).toEqual({ seq: 2, body: '{"cp":2}' });
      expect(await s.store.readCheckpoints(0, 10, 10)).toEqual([{ seq: 2, body: '{"cp":2}' }]);
      expect(s.store.stats()).toMatchObject({ transactions: 1, eventsWritten: 3, checkpointsWritten: 1 });
    });

    it('ignores an empty batch', async () => {
      await s.store.appendBatch({
        expectedHeadSeq: 7,
        expectedCheckpointSeq: 7,
        events: [],
        checkpoints: [],
      });
      expect(await s.store.head()).toBeNull();
      expect(s.store.stats().transactions).toBe(0);
    });

    it('refuses a batch sealed against a stale head and writes none of it', async () => {
      await s.store.appendBatch({
        expectedHeadSeq: 0,
        expectedCheckpointSeq: 0,
        events: [rec(1)],
        checkpoints: [],
      });
      const stale = s.store.appendBatch({
        expectedHeadSeq: 0,
        expectedCheckpointSeq: 0,
        events: [rec(1, 'y'), rec(2, 'y')],
        checkpoints: [],
      });
      await expect(stale).rejects.toBeInstanceOf(AuditHeadConflictError);
      await expect(stale).rejects.toMatchObject({ expectedSeq: 0, actualSeq: 1, what: 'event' });
      expect(await s.store.readEvents(0, 10, 10)).toEqual([rec(1)]);
    });

    it('refuses a batch sealed against a stale checkpoint', async () => {
      await s.store.appendBatch({
        expectedHeadSeq: 0,
        expectedCheckpointSeq: 0,
        events: [rec(1)],
        checkpoints: [{ seq: 1, body: '{"cp":1}' }],
      });
      await expect(
        s.store.appendBatch({
          expectedHeadSeq: 1,
          expectedCheckpointSeq: 0,
          events: [rec(2)],
          checkpoints: [],
        }),
      ).rejects.toMatchObject({ what: 'checkpoint', expectedSeq: 0, actualSeq: 1 });
      expect((await s.store.head())?.seq).toBe(1);
    });

    it('finds the checkpoints around a seq', async () => {
      await s.store.appendBatch({
        expectedHeadSeq: 0,
        expectedCheckpointSeq: 0,
        events: [1, 2, 3, 4, 5, 6].map((n) => rec(n)),
        checkpoints: [
          { seq: 2, body: '{"cp":2}' },
          { seq: 5, body: '{"cp":5}' },
        ],
      });
      expect((await s.store.checkpointBefore(5))?.seq).toBe(2);
      expect((await s.store.checkpointBefore(6))?.seq).toBe(5);
      expect(await s.store.checkpointBefore(2)).toBeNull();
      expect((await s.store.checkpointAtOrAfter(3))?.seq).toBe(5);
      expect((await s.store.checkpointAtOrAfter(2))?.seq).toBe(2);
      expect(await s.store.checkpointAtOrAfter(6)).toBeNull();
      expect((await s.store.readCheckpoints(2, 5, 10)).map((c) => c.seq)).toEqual([5]);
    });

    describe('with events from the writer', () => {
      let all: StoredEvent[];
      beforeEach(async () => {
        const { writer } = testWriter(s.store, { checkpointEvery: 8 });
        all = await appendConcurrently(writer, 30);
        await writer.close();
      });

      it('holds a chain the verifier accepts', async () => {
        const result = await verifyAuditTrail(s.store, { publicKeys: testPublicKeys() });
        expect(result).toMatchObject({ ok: true, eventsChecked: 30, lastSeq: 30 });
        expect(result.checkpointsChecked).toBeGreaterThanOrEqual(4);
      });

      it('filters on every reviewer field, pages in both orders', async () => {
        const host = all[3]!.target.host!;
        const byHost = await s.store.queryEvents({ host }, { limit: 100, order: 'asc' });
        expect(byHost.map((r) => r.seq)).toEqual(all.filter((e) => e.target.host === host).map((e) => e.seq));
        const sub = all[5]!.actor.sub!;
        const combo = await s.store.queryEvents(
          { actorSub: sub, stage: 'succeeded', operation: 'network-adapter.add' },
          { limit: 100, order: 'desc' },
        );
        expect(combo.map((r) => r.seq)).toEqual(
          all
            .filter((e) => e.actor.sub === sub && e.stage === 'succeeded')
            .map((e) => e.seq)
            .reverse(),
        );
        const vm = await s.store.queryEvents(
          { vmId: all[2]!.target.vmId! },
          { limit: 3, order: 'asc', afterSeq: 2 },
        );
        expect(vm.every((r) => r.seq > 2)).toBe(true);
        expect(vm.length).toBeLessThanOrEqual(3);
        const job = await s.store.queryEvents(
          { jobId: 'job-4', requestId: 'req-4' },
          { limit: 10, order: 'asc' },
        );
        expect(job.map((r) => r.seq)).toEqual([13, 14, 15]);
        const status = await s.store.queryEvents(
          { status: 'pending' },
          { limit: 100, order: 'asc', beforeSeq: 10 },
        );
        expect(status.map((r) => r.seq)).toEqual([1, 4, 7]);
        const none = await s.store.queryEvents({ host: 'no-such-host' }, { limit: 10, order: 'asc' });
        expect(none).toEqual([]);
      });

      it('selects by time, [from, to), with the seq range of a time window', async () => {
        const from = all[10]!.time;
        const to = all[20]!.time;
        const rows = await s.store.queryEvents({ fromTime: from, toTime: to }, { limit: 100, order: 'asc' });
        expect(rows.map((r) => r.seq)).toEqual(all.slice(10, 20).map((e) => e.seq));
        expect(await s.store.seqRangeForTime(from, to)).toEqual({ minSeq: 11, maxSeq: 20 });
        expect(await s.store.seqRangeForTime(undefined, all[0]!.time)).toBeNull();
        expect(await s.store.seqRangeForTime()).toEqual({ minSeq: 1, maxSeq: 30 });
      });

      it('serves the reviewer query with cursor paging', async () => {
        const seqs: number[] = [];
        let cursor: string | null = null;
        do {
          const page = await queryAudit(s.store, { stage: 'requested' }, { limit: 4, cursor, order: 'asc' });
          seqs.push(...page.events.map((e) => e.seq));
          cursor = page.nextCursor;
        } while (cursor);
        expect(seqs).toEqual(all.filter((e) => e.stage === 'requested').map((e) => e.seq));
      });
    });

    it('keeps one chain when writers on two connections append at the same time', async () => {
      const peer = await s.openPeer();
      const a = testWriter(s.store, { checkpointEvery: 7, maxConflictRetries: 50 }).writer;
      const b = testWriter(peer, { checkpointEvery: 7, maxConflictRetries: 50 }).writer;
      const jobs: Promise<unknown>[] = [];
      for (let i = 0; i < 40; i++) {
        jobs.push((i % 2 ? a : b).append(sampleInput(i)));
        if (i % 5 === 0) await new Promise((r) => setImmediate(r));
      }
      await Promise.all(jobs);
      await a.close();
      await b.close();
      const result = await verifyAuditTrail(s.store, { publicKeys: testPublicKeys() });
      expect(result).toMatchObject({ ok: true, eventsChecked: 40, lastSeq: 40 });
      const seqs = (await s.store.readEvents(0, 100, 100)).map((r) => r.seq);
      expect(seqs).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      await peer.close();
    });
  });
}
