// Audit trail benchmark: write throughput with durable commits (SQLite WAL, synchronous=FULL, on
// disk) with and without group commit, and verification speed over a 1,000,000-event chain
// against raw SHA-256 of the same bytes. Every ratio compares figures measured in this run.
//
//   npx tsc -p bench/tsconfig.json && node dist-bench/bench/audit-bench.js [--events N] [--keep]
//        [--chain-db PATH]   build the long chain (and its key) there once, reuse it on later runs
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GENESIS_HASH, chainHash, sealEvent } from '../src/audit/audit-chain';
import {
  GENESIS_CHECKPOINT_HASH,
  checkpointBody,
  checkpointHash,
  createCheckpoint,
} from '../src/audit/audit-checkpoint';
import { AuditEventInput, UnsealedEvent, buildUnsealedEvent } from '../src/audit/audit-event';
import { createAuditSigner, generateSigningKey, loadAuditSigner } from '../src/audit/audit-signer';
import { defaultVerifyWorkers, verifyAuditTrail } from '../src/audit/audit-verifier';
import { createAuditWriter } from '../src/audit/audit-writer';
import type { AuditStore } from '../src/store/audit-store';
import { createSqliteAuditStore } from '../src/store/sqlite-audit-store';
import { openSqliteDatabase } from '../src/store/sqlite-database';

const args = process.argv.slice(2);
const VERIFY_EVENTS = Number(args[args.indexOf('--events') + 1] ?? NaN) || 1_000_000;
const KEEP = args.includes('--keep');
const CHAIN_DB = args.includes('--chain-db') ? args[args.indexOf('--chain-db') + 1] : undefined;
const CLIENTS = 64;
const GROUP_EVENTS = 20_000;
const SINGLE_EVENTS = 2_000;
const CHECKPOINT_EVERY = 1000;

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const seconds = (startNs: bigint) => Number(process.hrtime.bigint() - startNs) / 1e9;

function sampleInput(i: number): AuditEventInput {
  const stages = ['requested', 'started', 'succeeded'] as const;
  const stage = stages[i % 3]!;
  return {
    stage,
    operation: 'network-adapter.add',
    requestId: crypto.randomUUID(),
    jobId: crypto.randomUUID(),
    actor: {
      sub: `svc-${i % 7}`,
      iss: 'https://idp.example.internal',
      clientId: 'billing',
      tokenId: crypto.randomUUID(),
      scopes: ['vm:hotplug', 'vm:read'],
    },
    source: { ip: '10.2.3.4', userAgent: 'billing-svc/2.1 (node 20)' },
    target: { host: `hv-tokyo-0${i % 8}`, vmId: crypto.randomUUID(), vmName: `web-${i % 100}` },
    params: { switchName: 'External', name: `nic-${i % 4}`, dynamicMacAddress: true, vlanId: 120 },
    ...(stage === 'requested' ? {} : { script: { id: 'network-adapter.add@1', sha256: 'c'.repeat(64) } }),
    ...(stage === 'succeeded'
      ? { outcome: { httpStatus: 201 }, execution: { queueWaitMs: 12, durationMs: 2310, exitCode: 0 } }
      : {}),
  };
}

function tempDb(dir: string, name: string): { store: AuditStore; close(): void; file: string } {
  const file = path.join(dir, name);
  const db = openSqliteDatabase({ path: file });
  return { store: createSqliteAuditStore(db), close: () => db.close(), file };
}

// A reused chain needs the key that signed it, so it is kept next to the chain database.
const signer = CHAIN_DB
  ? loadAuditSigner(generateSigningKey(path.dirname(path.resolve(CHAIN_DB))).privateKeyPath)
  : createAuditSigner({ privateKey: crypto.generateKeyPairSync('ed25519').privateKey });

/** CLIENTS concurrent callers, each appending one event at a time until `total` are written. */
async function writeThroughput(store: AuditStore, total: number, maxBatchSize: number) {
  const writer = createAuditWriter({
    store,
    signer,
    checkpointEvery: CHECKPOINT_EVERY,
    checkpointIntervalMs: 0,
    maxBatchSize,
    service: { version: 'bench', instance: 'bench-1' },
  });
  let next = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < total) await writer.append(sampleInput(next++));
    }),
  );
  const elapsed = seconds(start);
  await writer.close();
  return { rate: total / elapsed, elapsed, transactions: store.stats().transactions };
}

/** Builds a long chain quickly: the writer's sealing and signing, bulk transactions, no zod per event. */
async function buildChain(store: AuditStore, total: number): Promise<void> {
  const templates: UnsealedEvent[] = Array.from({ length: 300 }, (_, i) =>
    buildUnsealedEvent(sampleInput(i), {
      eventId: crypto.randomUUID(),
      time: new Date().toISOString(),
      service: { version: 'bench', instance: 'bench-1' },
    }),
  );
  let hash = GENESIS_HASH;
  let cpHash = GENESIS_CHECKPOINT_HASH;
  let cpSeq = 0;
  let committedCpSeq = 0;
  const t0 = Date.parse('2025-06-01T00:00:00Z');
  const BATCH = 10_000;
  for (let from = 1; from <= total; from += BATCH) {
    const events = [];
    const checkpoints = [];
    for (let seq = from; seq < Math.min(from + BATCH, total + 1); seq++) {
      const t = templates[seq % templates.length]!;
      const s = sealEvent(
        { ...t, eventId: crypto.randomUUID(), time: new Date(t0 + seq * 50).toISOString() },
        seq,
        hash,
      );
      hash = s.hash;
      events.push({ seq, hash: s.hash, body: s.body });
      if (seq % CHECKPOINT_EVERY === 0 || seq === total) {
        const cp = createCheckpoint(signer, {
          seq,
          headHash: hash,
          prevCheckpointHash: cpHash,
          time: new Date(t0 + seq * 50).toISOString(),
        });
        checkpoints.push({ seq, body: checkpointBody(cp) });
        cpHash = checkpointHash(cp);
        cpSeq = seq;
      }
    }
    await store.appendBatch({
      expectedHeadSeq: from - 1,
      expectedCheckpointSeq: committedCpSeq,
      events,
      checkpoints,
    });
    committedCpSeq = cpSeq;
  }
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hvgate-audit-bench-'));
  console.log(
    `hvgate audit bench — node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'})`,
  );
  console.log(`temp dir ${dir} (SQLite WAL, synchronous=FULL)`);
  console.log(
    `load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} (other processes share these CPUs)\n`,
  );
  try {
    console.log(`1. durable appends, ${CLIENTS} concurrent callers`);
    const single = tempDb(dir, 'single.db');
    const base = await writeThroughput(single.store, SINGLE_EVENTS, 1);
    single.close();
    console.log(
      `   baseline, one transaction per event: ${fmt(base.rate)} events/s  (${fmt(SINGLE_EVENTS)} events, ${fmt(base.transactions)} transactions)`,
    );
    const group = tempDb(dir, 'group.db');
    const gc = await writeThroughput(group.store, GROUP_EVENTS, 1000);
    const groupCheck = await verifyAuditTrail(group.store, { publicKeys: signer.publicKeys() });
    group.close();
    console.log(
      `   group commit:                        ${fmt(gc.rate)} events/s  (${fmt(GROUP_EVENTS)} events, ${fmt(gc.transactions)} transactions, ${(GROUP_EVENTS / gc.transactions).toFixed(1)} events/transaction)`,
    );
    console.log(
      `   ratio group / baseline:              ${(gc.rate / base.rate).toFixed(1)}x   (chain valid: ${groupCheck.ok})\n`,
    );

    console.log(
      `2. verification of a ${fmt(VERIFY_EVENTS)}-event chain (checkpoint every ${CHECKPOINT_EVERY})`,
    );
    const big = CHAIN_DB
      ? tempDb(path.dirname(path.resolve(CHAIN_DB)), path.basename(CHAIN_DB))
      : tempDb(dir, 'big.db');
    const t = process.hrtime.bigint();
    const existing = (await big.store.head())?.seq ?? 0;
    if (existing === 0) {
      await buildChain(big.store, VERIFY_EVENTS);
      console.log(`   built in ${seconds(t).toFixed(1)} s`);
    } else if (existing !== VERIFY_EVENTS) {
      throw new Error(`${CHAIN_DB} holds ${existing} events, not ${VERIFY_EVENTS}`);
    } else {
      console.log(`   reusing the chain in ${CHAIN_DB}`);
    }
    const size =
      fs.statSync(big.file).size +
      (fs.existsSync(`${big.file}-wal`) ? fs.statSync(`${big.file}-wal`).size : 0);
    console.log(`   ${(size / 1e6).toFixed(0)} MB on disk`);

    // Raw SHA-256 of exactly the bytes the verifier hashes (prevHash ‖ body), reading excluded.
    let hashNs = 0n;
    let readNs = 0n;
    let hashCpuUs = 0;
    let bytes = 0;
    let prev = GENESIS_HASH;
    for (let after = 0; after < VERIFY_EVENTS;) {
      const r0 = process.hrtime.bigint();
      const rows = await big.store.readEvents(after, VERIFY_EVENTS, 5000);
      const h0 = process.hrtime.bigint();
      const c0 = process.cpuUsage();
      for (const r of rows) {
        prev = chainHash(prev, r.body);
        bytes += r.body.length + 64;
      }
      const c1 = process.cpuUsage(c0);
      hashCpuUs += c1.user + c1.system;
      const h1 = process.hrtime.bigint();
      readNs += h0 - r0;
      hashNs += h1 - h0;
      after = rows[rows.length - 1]!.seq;
    }
    const rawRate = VERIFY_EVENTS / (Number(hashNs) / 1e9);
    const readRate = VERIFY_EVENTS / (Number(readNs) / 1e9);
    console.log(`   mean record ${(bytes / VERIFY_EVENTS).toFixed(0)} bytes hashed per event`);
    const rawCpuRate = VERIFY_EVENTS / (hashCpuUs / 1e6);
    console.log(
      `   raw SHA-256 of the same bytes:       ${fmt(rawRate)} events/s  (${(bytes / (Number(hashNs) / 1e9) / 1e6).toFixed(0)} MB/s; ${fmt(rawCpuRate)} events per CPU-second)`,
    );
    console.log(`   reading the rows alone:              ${fmt(readRate)} events/s`);

    const timed = async (workers: number) => {
      const cpu0 = process.cpuUsage();
      const w0 = process.hrtime.bigint();
      const res = await verifyAuditTrail(big.store, { publicKeys: signer.publicKeys(), workers });
      const wall = seconds(w0);
      const cpu = process.cpuUsage(cpu0);
      return {
        res,
        rate: VERIFY_EVENTS / wall,
        wall,
        cpuRate: VERIFY_EVENTS / ((cpu.user + cpu.system) / 1e6),
      };
    };
    const inline = await timed(0);
    console.log(
      `   verifyAuditTrail, hashing inline:    ${fmt(inline.rate)} events/s  (${inline.wall.toFixed(2)} s; ${fmt(inline.cpuRate)} events per CPU-second; ok=${inline.res.ok})`,
    );
    const pooled = await timed(1);
    console.log(
      `   verifyAuditTrail, 1 hashing worker:  ${fmt(pooled.rate)} events/s  (${pooled.wall.toFixed(2)} s; ${fmt(pooled.cpuRate)} events per CPU-second, both threads; ok=${pooled.res.ok})`,
    );
    const best = inline.rate >= pooled.rate ? inline : pooled;
    const result = best.res;
    const verifyRate = best.rate;
    console.log(
      `   checked ${fmt(result.eventsChecked)} events, ${fmt(result.checkpointsChecked)} checkpoints, ${result.problems.length} problems; default workers right now: ${defaultVerifyWorkers(VERIFY_EVENTS)}`,
    );
    console.log(`   ratio best verify / raw SHA-256:     ${(verifyRate / rawRate).toFixed(2)}`);
    console.log(
      `   ratio per CPU-second, inline verify / raw SHA-256: ${(inline.cpuRate / rawCpuRate).toFixed(2)}`,
    );
    console.log(`   ratio best verify / read-only pass:  ${(verifyRate / readRate).toFixed(2)}`);
    console.log(`   target ≥ 100,000 events/s:           ${verifyRate >= 100_000 ? 'met' : 'NOT met'}`);
    big.close();
    if (!inline.res.ok || !pooled.res.ok) process.exitCode = 1;
  } finally {
    if (KEEP) console.log(`\nkept ${dir}`);
    else fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
