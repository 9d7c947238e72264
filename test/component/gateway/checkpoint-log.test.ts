// Every signed audit checkpoint is also written to the gateway log, so a log pipeline can keep it
// out of the database owner's reach (hvgate audit verify --anchor reads those lines).
import { parseCheckpoint, verifyCheckpointSignature } from '../../../src/audit/audit-checkpoint';
import { createKeyRing } from '../../../src/audit/audit-signer';
import { startKit, type GatewayKit } from './gateway-kit';

let kit: GatewayKit;
beforeAll(async () => {
  kit = await startKit({ sim: { latencyScale: 0 }, checkpointEvery: 5 });
});
afterAll(async () => {
  await kit?.close();
});

test('each checkpoint lands in the log with its signature and matches the store', async () => {
  const token = `Bearer ${kit.token()}`;
  for (let i = 0; i < 3; i++)
    await kit.api.get('/v1/hosts/hv-tokyo-01').set('Authorization', token).expect(200);
  await kit.gateway.services.audit.flush();
  const logged = kit.lines.logs
    .map((l) => JSON.parse(l) as { msg: string; auditCheckpoint?: Record<string, unknown> })
    .filter((l) => l.msg === 'audit checkpoint')
    .map((l) => l.auditCheckpoint!);
  expect(logged.length).toBeGreaterThanOrEqual(1);
  const last = logged[logged.length - 1]!;
  expect(last).toEqual({
    seq: expect.any(Number),
    headHash: expect.stringMatching(/^[0-9a-f]{64}$/),
    prevCheckpointHash: expect.stringMatching(/^[0-9a-f]{64}$/),
    time: expect.any(String),
    keyId: expect.any(String),
    signature: expect.any(String),
  });
  const stored = await kit.gateway.services.auditStore.lastCheckpoint();
  expect(stored?.seq).toBe(last['seq']);
  const ring = createKeyRing(kit.gateway.services.audit.publicKeys().map((k) => k.publicKeyPem));
  expect(verifyCheckpointSignature(parseCheckpoint(last)!, ring)).toBe('ok');
  expect(parseCheckpoint(JSON.parse(stored!.body))).toEqual(last);
});
