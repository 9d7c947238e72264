// Frozen known-answer chain: fixed clock, ids, inputs and key give fixed bytes, hashes and
// signatures. If this fails, the stored format changed — old trails would stop verifying. Change
// the expected values only together with a schemaVersion / checkpoint prefix decision.
import crypto from 'node:crypto';
import { GENESIS_HASH } from '../../../src/audit/audit-chain';
import { checkpointHash, checkpointSigningInput, parseCheckpoint } from '../../../src/audit/audit-checkpoint';
import type { AuditEventInput } from '../../../src/audit/audit-event';
import { verifyAuditTrail } from '../../../src/audit/audit-verifier';
import { testPublicKeys, testWriter, useFreshTestStore } from './audit-test-kit';

const INPUTS: AuditEventInput[] = [
  {
    stage: 'requested',
    operation: 'memory.set',
    requestId: 'req-kat-1',
    jobId: 'job-kat-1',
    actor: {
      sub: 'svc-billing',
      iss: 'https://idp.example',
      clientId: 'billing',
      tokenId: 'jti-kat',
      scopes: ['vm:hotplug'],
    },
    source: { ip: '10.0.0.7', userAgent: 'kat/1.0' },
    target: { host: 'hv-tokyo-01', vmId: '6f1c2b8e-2f0a-4c56-9a3e-0d1f2e3a4b5c', vmName: 'web-01' },
    params: { startupBytes: 4294967296, password: 'hunter2' },
    redaction: { secrets: ['password'] },
  },
  {
    stage: 'started',
    operation: 'memory.set',
    requestId: 'req-kat-1',
    jobId: 'job-kat-1',
    target: { host: 'hv-tokyo-01', vmId: '6f1c2b8e-2f0a-4c56-9a3e-0d1f2e3a4b5c', vmName: 'web-01' },
    script: { id: 'memory.set@1', sha256: 'c'.repeat(64) },
    execution: { queueWaitMs: 12 },
  },
  {
    stage: 'succeeded',
    operation: 'memory.set',
    requestId: 'req-kat-1',
    jobId: 'job-kat-1',
    target: { host: 'hv-tokyo-01', vmId: '6f1c2b8e-2f0a-4c56-9a3e-0d1f2e3a4b5c', vmName: 'web-01' },
    script: { id: 'memory.set@1', sha256: 'c'.repeat(64) },
    outcome: { httpStatus: 200 },
    execution: { queueWaitMs: 12, durationMs: 2310, exitCode: 0 },
  },
];

const EXPECTED_KEY_ID = '252064e7e58ab587';
const EXPECTED_BODIES = [
  '{"actor":{"clientId":"billing","iss":"https://idp.example","scopes":["vm:hotplug"],"sub":"svc-billing","tokenId":"jti-kat"},"eventId":"00000000-0000-4000-8000-000000000001","execution":{"durationMs":null,"exitCode":null,"queueWaitMs":null},"integrity":{"prevHash":"0000000000000000000000000000000000000000000000000000000000000000"},"jobId":"job-kat-1","operation":"memory.set","outcome":{"errorCode":null,"httpStatus":null,"message":null,"status":"pending"},"params":{"password":"[REDACTED]","startupBytes":4294967296},"paramsSha256":"727e7ebe4579d7b4f0b8d9fdafab75a7e7a3702afab732617f267b6145f29904","requestId":"req-kat-1","schemaVersion":"1.0","script":{"id":null,"sha256":null},"seq":1,"service":{"instance":"test-1","version":"0.1.0"},"source":{"ip":"10.0.0.7","userAgent":"kat/1.0"},"stage":"requested","target":{"host":"hv-tokyo-01","vmId":"6f1c2b8e-2f0a-4c56-9a3e-0d1f2e3a4b5c","vmName":"web-01"},"time":"2025-06-01T10:00:00.000Z"}',
  '{"actor":{"clientId":null,"iss":null,"scopes":[],"sub":null,"tokenId":null},"eventId":"00000000-0000-4000-8000-000000000002","execution":{"durationMs":null,"exitCode":null,"queueWaitMs":12},"integrity":{"prevHash":"4e3dae4f96f4945159ae506901ee2023892f682c03d07301815512593651e179"},"jobId":"job-kat-1","operation":"memory.set","outcome":{"errorCode":null,"httpStatus":null,"message":null,"status":"running"},"params":null,"paramsSha256":null,"requestId":"req-kat-1","schemaVersion":"1.0","script":{"id":"memory.set@1","sha256":"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"},"seq":2,"service":{"instance":"test-1","version":"0.1.0"},"source":{"ip":null,"userAgent":null},"stage":"started","target":{"host":"hv-tokyo-01","vmId":"6f1c2b8e-2f0a-4c56-9a3e-0d1f2e3a4b5c","vmName":"web-01"},"time":"2025-06-01T10:00:01.000Z"}',
  '{"actor":{"clientId":null,"iss":null,"scopes":[],"sub":null,"tokenId":null},"eventId":"00000000-0000-4000-8000-000000000003","execution":{"durationMs":2310,"exitCode":0,"queueWaitMs":12},"integrity":{"prevHash":"d16305bf7f5554fb2ddf44a104d02fd3c2a80ce11b6cd479905d85133bd117d5"},"jobId":"job-kat-1","operation":"memory.set","outcome":{"errorCode":null,"httpStatus":200,"message":null,"status":"succeeded"},"params":null,"paramsSha256":null,"requestId":"req-kat-1","schemaVersion":"1.0","script":{"id":"memory.set@1","sha256":"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"},"seq":3,"service":{"instance":"test-1","version":"0.1.0"},"source":{"ip":null,"userAgent":null},"stage":"succeeded","target":{"host":"hv-tokyo-01","vmId":"6f1c2b8e-2f0a-4c56-9a3e-0d1f2e3a4b5c","vmName":"web-01"},"time":"2025-06-01T10:00:02.000Z"}',
];
const EXPECTED_BODY_1 = EXPECTED_BODIES[0]!;
const EXPECTED_HASHES = [
  '4e3dae4f96f4945159ae506901ee2023892f682c03d07301815512593651e179',
  'd16305bf7f5554fb2ddf44a104d02fd3c2a80ce11b6cd479905d85133bd117d5',
  'b37c5fa3e1b0923ef8825c33d470caba92e1c399383d303c862f0826f0b9ba12',
];
const EXPECTED_CHECKPOINT =
  '{"headHash":"b37c5fa3e1b0923ef8825c33d470caba92e1c399383d303c862f0826f0b9ba12","keyId":"252064e7e58ab587","prevCheckpointHash":"0000000000000000000000000000000000000000000000000000000000000000","seq":3,"signature":"Zab8TVCcMEGk-l0fkFkghE4TRcrhRZMqSbvfuAZlYlCZsgMAz3oH4InUzovMRnyzOEb03K6Aei0XSJt3UMKkCw","time":"2025-06-01T10:00:03.000Z"}';
const EXPECTED_CHECKPOINT_HASH = 'd230aae19340f851d881d19ed8b460de2263d3c5c9f102db09ee08b1fbe99a56';

describe('audit chain known answer', () => {
  const testStore = useFreshTestStore('kat');

  it('produces the frozen bytes, hashes and checkpoint signature', async () => {
    const { writer, signer } = testWriter(testStore().store, { checkpointEvery: 3 });
    for (const input of INPUTS) await writer.append(input);
    await writer.close();
    const rows = await testStore().store.readEvents(0, 10, 10);
    const cps = await testStore().store.readCheckpoints(0, 10, 10);
    expect(signer.keyId).toBe(EXPECTED_KEY_ID);
    expect(rows.map((r) => r.body)).toEqual(EXPECTED_BODIES);
    expect(rows.map((r) => r.hash)).toEqual(EXPECTED_HASHES);
    expect(cps.map((c) => c.body)).toEqual([EXPECTED_CHECKPOINT]);
    expect(checkpointHash(parseCheckpoint(cps[0]!.body)!)).toBe(EXPECTED_CHECKPOINT_HASH);
  });

  it('the frozen values follow the documented construction, checked with plain node:crypto', () => {
    // hash = SHA-256(prevHash hex ‖ canonical JSON without integrity.hash)
    expect(
      crypto
        .createHash('sha256')
        .update(GENESIS_HASH + EXPECTED_BODY_1)
        .digest('hex'),
    ).toBe(EXPECTED_HASHES[0]);
    // key id = first 16 hex of SHA-256 over the raw public key
    const raw = Buffer.from(testPublicKeys()[0]!.jwk.x, 'base64url');
    expect(crypto.createHash('sha256').update(raw).digest('hex').slice(0, 16)).toBe(EXPECTED_KEY_ID);
    // checkpoint = Ed25519 over "hvgate-audit-checkpoint/v1\n" + JCS of the signed fields
    const cp = JSON.parse(EXPECTED_CHECKPOINT) as ReturnType<typeof parseCheckpoint> & object;
    expect(cp.headHash).toBe(EXPECTED_HASHES[2]);
    const signed = checkpointSigningInput(cp);
    expect(signed).toBe(
      `hvgate-audit-checkpoint/v1\n{"headHash":"${EXPECTED_HASHES[2]}","keyId":"${EXPECTED_KEY_ID}","prevCheckpointHash":"${GENESIS_HASH}","seq":3,"time":"${cp.time}"}`,
    );
    const publicKey = crypto.createPublicKey(testPublicKeys()[0]!.publicKeyPem);
    expect(crypto.verify(null, Buffer.from(signed), publicKey, Buffer.from(cp.signature, 'base64url'))).toBe(
      true,
    );
    expect(crypto.createHash('sha256').update(EXPECTED_CHECKPOINT).digest('hex')).toBe(
      EXPECTED_CHECKPOINT_HASH,
    );
  });

  it('the frozen record never contains the redacted secret', () => {
    expect(EXPECTED_BODY_1).not.toContain('hunter2');
    expect(EXPECTED_BODY_1).toContain('"password":"[REDACTED]"');
  });

  it('a store holding exactly the frozen records verifies, and the writer continues that chain', async () => {
    const ins = testStore().db.prepare('INSERT INTO audit_events (seq, hash, body) VALUES (?, ?, ?)');
    EXPECTED_BODIES.forEach((body, i) => ins.run(i + 1, EXPECTED_HASHES[i], body));
    testStore()
      .db.prepare('INSERT INTO audit_checkpoints (seq, body) VALUES (3, ?)')
      .run(EXPECTED_CHECKPOINT);
    expect(await verifyAuditTrail(testStore().store, { publicKeys: testPublicKeys() })).toMatchObject({
      ok: true,
      eventsChecked: 3,
      lastVerifiedCheckpointSeq: 3,
    });
    const { writer } = testWriter(testStore().store, { checkpointEvery: 3 });
    const next = await writer.append(INPUTS[0]!);
    expect(next.seq).toBe(4);
    expect(next.integrity.prevHash).toBe(EXPECTED_HASHES[2]);
    await writer.close();
    const cp4 = parseCheckpoint((await testStore().store.lastCheckpoint())!.body)!;
    expect(cp4.prevCheckpointHash).toBe(EXPECTED_CHECKPOINT_HASH);
    expect((await verifyAuditTrail(testStore().store, { publicKeys: testPublicKeys() })).ok).toBe(true);
  });
});
