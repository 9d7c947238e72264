import type { AuditStore } from '../../../src/store/audit-store';
import { AuditUnavailableError, AuditEventInputError } from '../../../src/audit/audit-errors';
import { GENESIS_HASH, chainHash, eventBody } from '../../../src/audit/audit-chain';
import { parseCheckpoint, verifyCheckpointSignature } from '../../../src/audit/audit-checkpoint';
import { createKeyRing } from '../../../src/audit/audit-signer';
import { verifyAuditTrail } from '../../../src/audit/audit-verifier';
import { createStreamSink } from '../../../src/audit/audit-writer';
import {
  TestStore,
  appendConcurrently,
  appendSequentially,
  checkpointSeqs,
  flakyStore,
  makeTempDir,
  openTestStore,
  sampleInput,
  steppingClock,
  testPublicKeys,
  testWriter,
} from './audit-test-kit';

describe('audit writer', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let ts: TestStore;

  beforeEach(() => {
    tmp = makeTempDir();
    ts = openTestStore(tmp.dir);
  });
  afterEach(() => {
    ts.close();
    tmp.cleanup();
  });

  it('assigns seq from 1 without gaps and chains each event to the previous hash', async () => {
    const { writer } = testWriter(ts.store);
    const a = await writer.append(sampleInput(0));
    const b = await writer.append(sampleInput(1));
    expect(a.seq).toBe(1);
    expect(b.seq).toBe(2);
    expect(a.integrity.prevHash).toBe(GENESIS_HASH);
    expect(b.integrity.prevHash).toBe(a.integrity.hash);
    expect(a.integrity.hash).toBe(chainHash(GENESIS_HASH, eventBody(a)));
    expect(b.integrity.hash).toBe(chainHash(a.integrity.hash, eventBody(b)));
    await writer.close();
  });

  it('resolves an append only after its record is durable in the store', async () => {
    const { writer } = testWriter(ts.store);
    const e = await writer.append(sampleInput(0));
    const head = await ts.store.head();
    expect(head).toEqual({ seq: e.seq, hash: e.integrity.hash });
    await writer.close();
  });

  it('under concurrent load, appends arriving over the next few turns join one group; a lone caller never waits', async () => {
    const { writer } = testWriter(ts.store, { groupWindowMs: 40 });
    const tx = () => ts.store.stats().transactions;
    // Concurrent: three at once make a group of three, so the next group waits for its window.
    await Promise.all([0, 1, 2].map((i) => writer.append(sampleInput(i))));
    const before = tx();
    const spread = Array.from({ length: 5 }, (_, i) =>
      new Promise((resolve) => setTimeout(resolve, i * 3)).then(() => writer.append(sampleInput(10 + i))),
    );
    await Promise.all(spread);
    expect(tx() - before).toBe(1);
    // One caller: single appends, and reads (deferred requested + started, then the awaited
    // outcome) never wait for a window.
    const started = Date.now();
    await appendSequentially(writer, 5);
    for (let i = 0; i < 5; i++) {
      void writer.append(sampleInput(20 + i), { defer: true });
      void writer.append(sampleInput(30 + i), { defer: true });
      await writer.append(sampleInput(40 + i));
    }
    expect(Date.now() - started).toBeLessThan(40 * 4);
    await writer.close();
  });

  it('a deferred append rides with the next ordinary one: one transaction, seq in call order', async () => {
    const { writer } = testWriter(ts.store, { deferWindowMs: 60_000 });
    const tx = () => ts.store.stats().transactions;
    await writer.append(sampleInput(0));
    const before = tx();
    const requested = writer.append(sampleInput(1), { defer: true });
    const started = writer.append(sampleInput(2), { defer: true });
    // Nothing commits for deferred appends alone (the window here is a minute).
    await new Promise((r) => setTimeout(r, 30));
    expect(tx() - before).toBe(0);
    expect((await ts.store.head())?.seq).toBe(1);
    const outcome = await writer.append(sampleInput(3));
    expect(tx() - before).toBe(1);
    expect([(await requested).seq, (await started).seq, outcome.seq]).toEqual([2, 3, 4]);
    await writer.close();
    expect((await verifyAuditTrail(ts.store, { publicKeys: testPublicKeys() })).ok).toBe(true);
  });

  it('commitDeferred commits the deferred appends at once, in one transaction; idle it does nothing', async () => {
    const { writer } = testWriter(ts.store, { deferWindowMs: 60_000 });
    const tx = () => ts.store.stats().transactions;
    const before = tx();
    writer.commitDeferred();
    await new Promise((r) => setImmediate(r));
    expect(tx() - before).toBe(0);
    const requested = writer.append(sampleInput(0), { defer: true });
    const started = writer.append(sampleInput(1), { defer: true });
    const t0 = Date.now();
    writer.commitDeferred();
    expect([(await requested).seq, (await started).seq]).toEqual([1, 2]);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(tx() - before).toBe(1);
    // The outcome that follows commits on its own, after them.
    expect((await writer.append(sampleInput(2))).seq).toBe(3);
    expect(tx() - before).toBe(2);
    await writer.close();
    expect((await verifyAuditTrail(ts.store, { publicKeys: testPublicKeys() })).ok).toBe(true);
  });

  it('a deferred append with nothing to ride with commits on its own after deferWindowMs', async () => {
    const { writer } = testWriter(ts.store, { deferWindowMs: 40 });
    const t0 = Date.now();
    const e = await writer.append(sampleInput(0), { defer: true });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(35);
    expect((await ts.store.head())?.seq).toBe(e.seq);
    await writer.close();
  });

  it('flush commits deferred appends at once; a failed group rejects them too (fail closed)', async () => {
    const flaky = flakyStore(ts.store);
    const { writer } = testWriter(flaky, { deferWindowMs: 60_000 });
    const deferred = writer.append(sampleInput(0), { defer: true });
    const t0 = Date.now();
    await writer.flush();
    expect(Date.now() - t0).toBeLessThan(1000);
    expect((await deferred).seq).toBe(1);
    flaky.failAppends = true;
    const lost = writer.append(sampleInput(1), { defer: true }).catch((e: unknown) => e);
    const outcome = await writer.append(sampleInput(2)).catch((e: unknown) => e);
    expect(outcome).toBeInstanceOf(AuditUnavailableError);
    expect(await lost).toBeInstanceOf(AuditUnavailableError);
    flaky.failAppends = false;
    await writer.close();
  });

  it('group-commits 500 concurrent appends in far fewer transactions and keeps a valid chain', async () => {
    const { writer } = testWriter(ts.store, { checkpointEvery: 100 });
    const before = ts.store.stats().transactions;
    const events = await Promise.all(Array.from({ length: 500 }, (_, i) => writer.append(sampleInput(i))));
    const transactions = ts.store.stats().transactions - before;
    expect(transactions).toBeGreaterThanOrEqual(1);
    expect(transactions).toBeLessThanOrEqual(5);
    expect(events.map((e) => e.seq).sort((x, y) => x - y)).toEqual(
      Array.from({ length: 500 }, (_, i) => i + 1),
    );
    expect(checkpointSeqs(ts.db)).toEqual([100, 200, 300, 400, 500]);
    const result = await verifyAuditTrail(ts.store, { publicKeys: testPublicKeys() });
    expect(result).toMatchObject({ ok: true, eventsChecked: 500, checkpointsChecked: 5, problems: [] });
    await writer.close();
  });

  it('fails closed: a throwing store rejects the append with AuditUnavailableError and does not advance the head', async () => {
    const flaky = flakyStore(ts.store);
    const { writer } = testWriter(flaky);
    await appendSequentially(writer, 2);
    flaky.failAppends = true;
    const err = await writer.append(sampleInput(2)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuditUnavailableError);
    expect(err).toMatchObject({ code: 'HVG_ERR_AUDIT_UNAVAILABLE', httpStatus: 503 });
    // Every append of the failed group rejects, none resolves.
    const group = await Promise.allSettled([writer.append(sampleInput(3)), writer.append(sampleInput(4))]);
    expect(group.map((g) => g.status)).toEqual(['rejected', 'rejected']);
    expect((await ts.store.head())?.seq).toBe(2);

    flaky.failAppends = false;
    const next = await writer.append(sampleInput(5));
    expect(next.seq).toBe(3);
    expect(next.integrity.prevHash).toBe((await ts.store.readEvents(1, 2, 1))[0]!.hash);
    await writer.close();
    expect((await verifyAuditTrail(ts.store, { publicKeys: testPublicKeys() })).ok).toBe(true);
  });

  it('a commit that landed but reported an error resolves its appends, and the chain goes on from it', async () => {
    const flaky = flakyStore(ts.store);
    const { writer } = testWriter(flaky);
    await appendSequentially(writer, 3);
    flaky.failAfterCommit = true;
    // The store reports an error after committing: the writer finds seq 4 stored with its hash and
    // resolves the append instead of telling its caller the record is missing.
    const committed = await writer.append(sampleInput(3));
    expect(committed.seq).toBe(4);
    flaky.failAfterCommit = false;
    const next = await writer.append(sampleInput(4));
    expect(next.seq).toBe(5);
    expect(next.integrity.prevHash).toBe(committed.integrity.hash);
    await writer.close();
    const result = await verifyAuditTrail(ts.store, { publicKeys: testPublicKeys() });
    expect(result.problems).toEqual([]);
  });

  it('stays unavailable while the head cannot be re-read, then recovers', async () => {
    const flaky = flakyStore(ts.store);
    const { writer } = testWriter(flaky);
    await appendSequentially(writer, 1);
    flaky.failAppends = true;
    await expect(writer.append(sampleInput(1))).rejects.toBeInstanceOf(AuditUnavailableError);
    flaky.failAppends = false;
    flaky.failHead = true;
    const calls = flaky.appendCalls;
    await expect(writer.append(sampleInput(2))).rejects.toBeInstanceOf(AuditUnavailableError);
    expect(flaky.appendCalls).toBe(calls); // nothing written without a known head
    flaky.failHead = false;
    expect((await writer.append(sampleInput(3))).seq).toBe(2);
    await writer.close();
  });

  it('refuses to continue a chain whose tail was cut below its last checkpoint', async () => {
    const { writer } = testWriter(ts.store, { checkpointEvery: 3 });
    await appendSequentially(writer, 3);
    await writer.close();
    ts.db.prepare('DELETE FROM audit_events WHERE seq > 1').run();
    const { writer: second } = testWriter(ts.store, { checkpointEvery: 3 });
    await expect(second.append(sampleInput(9))).rejects.toThrow(/truncated/);
    await second.close().catch(() => undefined);
  });

  it('keeps seq and the chain intact when the clock runs backwards', async () => {
    const clock = steppingClock('2025-06-01T10:00:00.000Z', -60_000);
    const { writer } = testWriter(ts.store, { clock });
    const events = [];
    for (let i = 0; i < 6; i++) events.push(await writer.append(sampleInput(i)));
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    const times = events.map((e) => Date.parse(e.time));
    expect(times[5]!).toBeLessThan(times[0]!);
    for (let i = 1; i < events.length; i++)
      expect(events[i]!.integrity.prevHash).toBe(events[i - 1]!.integrity.hash);
    await writer.close();
    expect((await verifyAuditTrail(ts.store, { publicKeys: testPublicKeys() })).ok).toBe(true);
  });

  it('signs a checkpoint every N events covering seq, head hash and the previous checkpoint', async () => {
    const { writer, signer } = testWriter(ts.store, { checkpointEvery: 4 });
    await appendSequentially(writer, 9);
    expect(checkpointSeqs(ts.db)).toEqual([4, 8]);
    const cps = (await ts.store.readCheckpoints(0, 100, 10)).map((r) => parseCheckpoint(r.body)!);
    const ring = createKeyRing(signer.publicKeys());
    expect(cps.map((c) => verifyCheckpointSignature(c, ring))).toEqual(['ok', 'ok']);
    expect(cps[0]!.headHash).toBe((await ts.store.readEvents(3, 4, 1))[0]!.hash);
    expect(cps[0]!.prevCheckpointHash).toBe(GENESIS_HASH);
    expect(cps[1]!.prevCheckpointHash).not.toBe(GENESIS_HASH);
    expect(cps[0]!.keyId).toBe(signer.keyId);
    // close() signs the tail so nothing written is left unanchored.
    await writer.close();
    expect(checkpointSeqs(ts.db)).toEqual([4, 8, 9]);
  });

  it('hands every committed checkpoint to onCheckpoint (to anchor the head outside the store)', async () => {
    const seen: number[] = [];
    const { writer } = testWriter(ts.store, { checkpointEvery: 3, onCheckpoint: (cp) => seen.push(cp.seq) });
    await appendConcurrently(writer, 7);
    await writer.close();
    expect(seen).toEqual([3, 6, 7]);
    expect(seen).toEqual(checkpointSeqs(ts.db));
  });

  it('signs a checkpoint every T ms when events were written since the last one', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick'] });
    try {
      const { writer } = testWriter(ts.store, { checkpointEvery: 1000, checkpointIntervalMs: 5000 });
      await appendSequentially(writer, 3);
      expect(checkpointSeqs(ts.db)).toEqual([]);
      jest.advanceTimersByTime(5000);
      await writer.flush();
      expect(checkpointSeqs(ts.db)).toEqual([3]);
      jest.advanceTimersByTime(5000); // nothing new: no new checkpoint
      await writer.flush();
      expect(checkpointSeqs(ts.db)).toEqual([3]);
      await writer.close();
    } finally {
      jest.useRealTimers();
    }
  });

  it('writes each committed event as one JSON line to the sink, and a failing sink does not fail the append', async () => {
    const lines: string[] = [];
    const { writer } = testWriter(ts.store, {
      sink: createStreamSink({ write: (c: string) => lines.push(c) }),
    });
    const e = await writer.append(
      sampleInput(0, {
        target: { host: 'hv-01', vmId: null, vmName: 'evil\n{"stage":"denied"}\r\u2028x\u2029' },
      }),
    );
    expect(lines).toHaveLength(1);
    expect(lines[0]!.endsWith('\n')).toBe(true);
    const body = lines[0]!.slice(0, -1);
    expect(body.split(/\r\n|\r|\n|\u2028|\u2029/)).toHaveLength(1);
    expect(JSON.parse(body)).toEqual(e);
    const errors: unknown[] = [];
    const { writer: w2 } = testWriter(ts.store, {
      sink: {
        write: () => {
          throw new Error('EPIPE');
        },
      },
      onSinkError: (err) => errors.push(err),
    });
    await expect(w2.append(sampleInput(1))).resolves.toMatchObject({ seq: 2 });
    expect(errors).toHaveLength(1);
    await writer.close();
    await w2.close();
  });

  it('rejects invalid input with a typed error without consuming a seq', async () => {
    const { writer } = testWriter(ts.store);
    await expect(writer.append({ stage: 'exploded' } as never)).rejects.toBeInstanceOf(AuditEventInputError);
    await expect(writer.append({ stage: 'denied', operation: 'memory.set' })).rejects.toThrow(/reason code/);
    await expect(
      writer.append({ ...sampleInput(0), authorization: 'Bearer x' } as never),
    ).rejects.toBeInstanceOf(AuditEventInputError);
    expect((await writer.append(sampleInput(0))).seq).toBe(1);
    await writer.close();
  });

  it('rejects appends after close', async () => {
    const { writer } = testWriter(ts.store);
    await writer.close();
    await expect(writer.append(sampleInput(0))).rejects.toBeInstanceOf(AuditUnavailableError);
  });

  it('another writer committing between its head and checkpoint reads is a conflict, not a truncated trail', async () => {
    // checkpointEvery 5 (test kit): b's interleaved commit of events 6..10 carries the checkpoint at 10.
    const a = testWriter(ts.store).writer;
    const b = testWriter(ts.store).writer;
    await appendSequentially(a, 4);
    await b.append(sampleInput(100)); // b now knows the head
    // a's next append reloads its state (its head is stale); b commits between a's two reads.
    let interleaved = false;
    /** b commits five events (and the checkpoint at 10) right after c's first read returns. */
    const afterFirstRead = async <T>(read: Promise<T>): Promise<T> => {
      const value = await read;
      if (!interleaved) {
        interleaved = true;
        await Promise.all([1, 2, 3, 4, 5].map((i) => b.append(sampleInput(200 + i))));
      }
      return value;
    };
    const racing: AuditStore = {
      ...ts.store,
      lastCheckpoint: () => afterFirstRead(ts.store.lastCheckpoint()),
      head: () => afterFirstRead(ts.store.head()),
    };
    const c = testWriter(racing).writer;
    const e = await c.append(sampleInput(300));
    expect(interleaved).toBe(true);
    expect(e.seq).toBe(11);
    await Promise.all([a.close(), b.close(), c.close()]);
    const result = await verifyAuditTrail(ts.store, { publicKeys: testPublicKeys() });
    expect(result).toMatchObject({ ok: true, eventsChecked: 11 });
  });

  it('lets two writers share a store without forking the chain', async () => {
    const a = testWriter(ts.store).writer;
    const b = testWriter(ts.store).writer;
    await a.append(sampleInput(0));
    await b.append(sampleInput(1)); // b learns the head from the store
    await a.append(sampleInput(2)); // a's cached head is stale: conflict, reload, re-seal
    await Promise.all([a.append(sampleInput(3)), b.append(sampleInput(4))]);
    await a.close();
    await b.close();
    const result = await verifyAuditTrail(ts.store, { publicKeys: testPublicKeys() });
    expect(result).toMatchObject({ ok: true, eventsChecked: 5 });
  });
});
