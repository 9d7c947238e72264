// Golden audit events per endpoint and outcome, checked field by field: success, each refusal class
// (bad token, missing scope, ungranted host, invalid body, host busy), failure (precondition),
// timeout and cancel; plus the chain and signed checkpoints the reviewer API serves.
import type { AuditEvent } from '../../../src/audit/audit-event';
import { createOperationRunner } from '../../../src/operations/create-operation-runner';
import { createSimulator, type Simulator } from '../../../src/simulator/simulator';
import { startKit, type GatewayKit } from './gateway-kit';

const HOST = 'hv-tokyo-01';
const MEMORY = `/v1/hosts/${HOST}/vms/web-01/memory`;

let sim: Simulator;
let kit: GatewayKit;
let hangNextExecute = false;

beforeAll(async () => {
  sim = await createSimulator({ latencyScale: 0, controlPort: false });
  kit = await startKit({
    simulator: sim,
    maxConcurrent: 1,
    maxQueue: 1,
    overrides: {
      executeTimeoutMs: () => 800,
      // The real runner; the timeout case makes the host hang exactly when the change is sent.
      runner: ({ inventory, executors }) => {
        const real = createOperationRunner({ inventory, executorFor: (n) => executors.get(n)! });
        return {
          ...real,
          execute(prepared, options) {
            if (hangNextExecute) {
              hangNextExecute = false;
              sim.host(HOST).faults.inject({ kind: 'hang', actions: ['Receive'] });
            }
            return real.execute(prepared, options);
          },
        };
      },
    },
  });
});
afterAll(async () => {
  sim?.host(HOST).faults.clear();
  await kit?.close();
  await sim?.close();
});

const token = (o: Parameters<GatewayKit['token']>[0] = {}) => `Bearer ${kit.token({ sub: 'golden', ...o })}`;

function eventsFor(requestId: string): AuditEvent[] {
  return kit.lines.audit.map((l) => JSON.parse(l) as AuditEvent).filter((e) => e.requestId === requestId);
}

function expectCommon(e: AuditEvent, requestId: string): void {
  expect(e.schemaVersion).toBe('1.0');
  expect(e.eventId).toMatch(/^[0-9a-f-]{36}$/);
  expect(e.requestId).toBe(requestId);
  expect(e.service).toEqual({ version: '0.0.0-test', instance: 'test-gw' });
  expect(e.integrity.hash).toMatch(/^[0-9a-f]{64}$/);
  expect(e.integrity.prevHash).toMatch(/^[0-9a-f]{64}$/);
  expect(Date.parse(e.time)).not.toBeNaN();
  expect(e.source.ip).toMatch(/127\.0\.0\.1/);
}

test('success: requested → started → succeeded with actor, target, params, script and execution', async () => {
  const res = await kit.api
    .put(MEMORY)
    .set('Authorization', token({ clientId: 'billing' }))
    .set('User-Agent', 'golden/1.0')
    .send({ priority: 61 });
  expect(res.status).toBe(200);
  const rid = res.headers['x-request-id']!;
  const ev = eventsFor(rid);
  expect(ev.map((e) => e.stage)).toEqual(['requested', 'started', 'succeeded']);
  for (const e of ev) {
    expectCommon(e, rid);
    expect(e.jobId).toBe(res.body.id);
    expect(e.operation).toBe('memory.set');
    expect(e.actor).toMatchObject({ sub: 'golden', iss: 'https://idp.gateway.test/', clientId: 'billing' });
    expect(e.actor.tokenId).toEqual(expect.any(String));
    expect(e.actor.scopes).toContain('vm:hotplug');
    expect(e.source.userAgent).toBe('golden/1.0');
    expect(e.target.host).toBe(HOST);
  }
  const [requested, started, succeeded] = ev as [AuditEvent, AuditEvent, AuditEvent];
  expect(requested.params).toEqual({ priority: 61 });
  expect(requested.outcome).toEqual({ status: 'pending', httpStatus: null, errorCode: null, message: null });
  const vmId = res.body.vm.id as string;
  expect(started.target).toEqual({ host: HOST, vmId, vmName: 'web-01' });
  expect(started.params).toEqual({ priority: 61, vmId });
  expect(started.paramsSha256).toMatch(/^[0-9a-f]{64}$/);
  expect(started.script.id).toBe('memory.set@1');
  expect(started.script.sha256).toMatch(/^[0-9a-f]{64}$/);
  expect(started.outcome.status).toBe('running');
  expect(started.execution.queueWaitMs).toEqual(expect.any(Number));
  expect(succeeded.outcome).toEqual({ status: 'succeeded', httpStatus: 200, errorCode: null, message: null });
  expect(succeeded.script).toEqual(started.script);
  expect(succeeded.execution.exitCode).toBe(0);
  expect(succeeded.execution.durationMs).toEqual(expect.any(Number));
  // Consecutive in the chain: each event's prevHash is the previous event's hash.
  expect(started.seq).toBeGreaterThan(requested.seq);
  expect(succeeded.seq).toBeGreaterThan(started.seq);
});

test.each([
  ['a bad token', () => 'Bearer not.a-valid.token', 401, 'HVG_ERR_UNAUTHENTICATED', 'auth.token'],
  ['a missing scope', () => token({ scopes: ['vm:read'] }), 403, 'HVG_ERR_FORBIDDEN', 'memory.set'],
  ['an ungranted host', () => token({ hosts: ['hv-osaka-02'] }), 403, 'HVG_ERR_FORBIDDEN', 'memory.set'],
])(
  'refusal for %s: one `denied` event with the reason code',
  async (_name, auth, status, code, operation) => {
    const res = await kit.api.put(MEMORY).set('Authorization', auth()).send({ priority: 62 });
    expect(res.status).toBe(status);
    const rid = res.headers['x-request-id']!;
    const ev = eventsFor(rid);
    expect(ev).toHaveLength(1);
    const e = ev[0]!;
    expectCommon(e, rid);
    expect(e.stage).toBe('denied');
    expect(e.operation).toBe(operation);
    expect(e.outcome).toMatchObject({ status: 'denied', httpStatus: status, errorCode: code });
    expect(e.jobId).toBeNull();
    expect(e.script).toEqual({ id: null, sha256: null });
    if (status === 401) expect(e.actor.sub).toBeNull();
    else expect(e.actor.sub).toBe('golden');
  },
);

test('refusal for an invalid body: `denied` with HVG_ERR_VALIDATION and nothing sent', async () => {
  const res = await kit.api.put(MEMORY).set('Authorization', token()).send({ priority: 500 });
  expect(res.status).toBe(400);
  const [e] = eventsFor(res.headers['x-request-id']!);
  expect(e).toMatchObject({
    stage: 'denied',
    operation: 'memory.set',
    outcome: { httpStatus: 400, errorCode: 'HVG_ERR_VALIDATION' },
  });
});

test('refusal for a busy host: requested, then `denied` with HVG_ERR_HOST_BUSY and 429', async () => {
  sim.host(HOST).faults.inject({ kind: 'slow', delayMs: 300, actions: ['Command'] });
  const first = await kit.api.get(`/v1/hosts/${HOST}?wait=0`).set('Authorization', token());
  const second = await kit.api.get(`/v1/hosts/${HOST}?wait=0`).set('Authorization', token());
  const res = await kit.api.get(`/v1/hosts/${HOST}`).set('Authorization', token());
  sim.host(HOST).faults.clear();
  expect(first.status).toBe(202);
  expect(second.status).toBe(202);
  expect(res.status).toBe(429);
  expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  const ev = eventsFor(res.headers['x-request-id']!);
  expect(ev.map((e) => e.stage)).toEqual(['requested', 'denied']);
  expect(ev[1]!.outcome).toMatchObject({ status: 'denied', httpStatus: 429, errorCode: 'HVG_ERR_HOST_BUSY' });
  expect(ev[1]!.jobId).toBe(res.body.jobId);
  await waitIdle();
});

test('failure: a precondition refuses the change → requested, failed (409), no started', async () => {
  const res = await kit.api
    .put(`/v1/hosts/${HOST}/vms/app-2012r2/memory`)
    .set('Authorization', token())
    .send({ startupBytes: 4 * 1024 ** 3 + 2 * 1024 ** 2 });
  expect(res.status).toBe(409);
  const ev = eventsFor(res.headers['x-request-id']!);
  expect(ev.map((e) => e.stage)).toEqual(['requested', 'failed']);
  expect(ev[1]!.outcome).toMatchObject({ status: 'failed', httpStatus: 409, errorCode: res.body.code });
  expect(ev[1]!.target).toMatchObject({ host: HOST, vmName: 'app-2012r2' });
  expect(ev[1]!.outcome.message).toEqual(expect.any(String));
});

test('timeout: the host never answers → started, then failed with HVG_ERR_TIMEOUT (504)', async () => {
  hangNextExecute = true;
  const res = await kit.api.put(MEMORY).set('Authorization', token()).send({ priority: 63 });
  sim.host(HOST).faults.clear();
  expect(res.status).toBe(504);
  expect(res.body.code).toBe('HVG_ERR_TIMEOUT');
  const ev = eventsFor(res.headers['x-request-id']!);
  expect(ev.map((e) => e.stage)).toEqual(['requested', 'started', 'failed']);
  expect(ev[2]!.outcome).toMatchObject({ status: 'failed', httpStatus: 504, errorCode: 'HVG_ERR_TIMEOUT' });
  expect(ev[2]!.script.id).toBeNull();
  await waitIdle();
});

test('cancel: requested, then cancelled with the caller as actor; nothing started', async () => {
  sim.host(HOST).faults.inject({ kind: 'slow', delayMs: 300, actions: ['Command'] });
  const running = await kit.api.put(`${MEMORY}?wait=0`).set('Authorization', token()).send({ priority: 64 });
  const queued = await kit.api.put(`${MEMORY}?wait=0`).set('Authorization', token()).send({ priority: 65 });
  expect(running.status).toBe(202);
  expect(queued.status).toBe(202);
  const cancel = await kit.api.delete(`/v1/jobs/${queued.body.id}`).set('Authorization', token());
  sim.host(HOST).faults.clear();
  expect(cancel.status).toBe(200);
  const ev = eventsFor(queued.headers['x-request-id']!);
  expect(ev.map((e) => e.stage)).toEqual(['requested', 'cancelled']);
  expect(ev[1]).toMatchObject({
    jobId: queued.body.id,
    actor: { sub: 'golden' },
    outcome: { status: 'cancelled', errorCode: 'HVG_ERR_CANCELLED' },
  });
  await waitIdle();
});

test('the reviewer API: filters, signed keys, and the whole chain verifies', async () => {
  const reviewer = token({ scopes: ['audit:read'] });
  const denied = await kit.api
    .get('/v1/audit?stage=denied&order=asc&limit=2')
    .set('Authorization', reviewer)
    .expect(200);
  expect(denied.body.events).toHaveLength(2);
  expect(denied.body.events.every((e: AuditEvent) => e.stage === 'denied')).toBe(true);
  const next = await kit.api
    .get(`/v1/audit?stage=denied&order=asc&limit=2&cursor=${denied.body.nextCursor}`)
    .set('Authorization', reviewer)
    .expect(200);
  expect(next.body.events[0].seq).toBeGreaterThan(denied.body.events[1].seq);
  const keys = await kit.api.get('/v1/audit/keys').set('Authorization', reviewer).expect(200);
  expect(keys.body.keys[0]).toMatchObject({ alg: 'Ed25519' });
  const verify = await kit.api.get('/v1/audit/verify').set('Authorization', reviewer).expect(200);
  expect(verify.body).toMatchObject({ ok: true, problems: [] });
  expect(verify.body.eventsChecked).toBeGreaterThan(10);
  const exp = await kit.api.get('/v1/audit/export').set('Authorization', reviewer).expect(200);
  expect(exp.headers['content-type']).toMatch(/application\/x-ndjson/);
  const lines = exp.text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string });
  expect(lines[0]!.type).toBe('header');
  expect(lines.some((l) => l.type === 'event')).toBe(true);
  // Without audit:read the reviewer routes are 403, and the refusal is itself audited.
  const refused = await kit.api
    .get('/v1/audit')
    .set('Authorization', token({ scopes: ['vm:read'] }))
    .expect(403);
  expect(eventsFor(refused.headers['x-request-id']!)).toEqual([
    expect.objectContaining({
      stage: 'denied',
      operation: 'audit.query',
      actor: expect.objectContaining({ sub: 'golden', scopes: ['vm:read'] }),
      outcome: expect.objectContaining({ httpStatus: 403, errorCode: 'HVG_ERR_FORBIDDEN' }),
    }),
  ]);
  await kit.api.get('/v1/audit?bogus=1').set('Authorization', reviewer).expect(400);
});

async function waitIdle(): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const a = kit.gateway.services.jobs.activeCount();
    if (a.queued + a.running === 0) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('jobs did not settle');
}
