// Jobs end to end: idempotent retries after a lost response, key reuse with another body, cancel of
// a queued job, fail-closed audit (nothing reaches the host), and graceful shutdown.
import http from 'node:http';
import type { AuditEvent } from '../../../src/audit/audit-event';
import type { AuditStore } from '../../../src/store/audit-store';
import { createSqliteAuditStore } from '../../../src/store/sqlite-audit-store';
import type { SqliteDatabase } from '../../../src/store/sqlite-database';
import { createSimulator, type Simulator } from '../../../src/simulator/simulator';
import { startKit, type GatewayKit } from './gateway-kit';

const HOST = 'hv-tokyo-01';
const MEMORY = `/v1/hosts/${HOST}/vms/web-01/memory`;

let sim: Simulator;
beforeAll(async () => {
  sim = await createSimulator({ latencyScale: 0, controlPort: false });
});
afterAll(async () => {
  await sim?.close();
});

function appliedMemorySets(priority: number): number {
  return sim
    .host(HOST)
    .counters()
    .operationsApplied.filter(
      (r) =>
        r.operation === 'memory.set' && r.ok && (r.params as { priority?: number }).priority === priority,
    ).length;
}

async function pollJob(
  kit: GatewayKit,
  id: string,
  until: (s: string) => boolean,
): Promise<Record<string, unknown>> {
  for (let i = 0; i < 500; i++) {
    const res = await kit.api.get(`/v1/jobs/${id}`).set('Authorization', `Bearer ${kit.token()}`);
    if (until(res.body.status as string)) return res.body as Record<string, unknown>;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`job ${id} never reached the state`);
}

describe('idempotency and cancel', () => {
  let kit: GatewayKit;
  beforeAll(async () => {
    kit = await startKit({ simulator: sim });
  });
  afterAll(async () => {
    sim.host(HOST).faults.clear();
    await kit?.close();
  });

  test('the response is lost, the client retries with the same key: the change is applied once', async () => {
    const token = kit.token();
    const body = JSON.stringify({ priority: 41 });
    // Slow host replies keep the job in flight while the client gives up on the response.
    sim.host(HOST).faults.inject({ kind: 'slow', delayMs: 300, actions: ['Command'], count: 1 });
    const url = new URL(MEMORY, kit.url);
    await new Promise<void>((resolve) => {
      const req = http.request(url, {
        method: 'PUT',
        headers: {
          Authorization: `Bearer ${token}`,
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(body),
          'Idempotency-Key': 'retry-key-1',
        },
      });
      req.on('error', () => resolve());
      req.end(body);
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 150);
    });
    const retry = await kit.api
      .put(MEMORY)
      .set('Authorization', `Bearer ${token}`)
      .set('Idempotency-Key', 'retry-key-1')
      .send({ priority: 41 });
    expect(retry.status).toBe(200);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.body.status).toBe('succeeded');
    const again = await kit.api
      .put(MEMORY)
      .set('Authorization', `Bearer ${token}`)
      .set('Idempotency-Key', 'retry-key-1')
      .send({ priority: 41 });
    expect(again.body.id).toBe(retry.body.id);
    expect(appliedMemorySets(41)).toBe(1);
  });

  test('the same key with a different body is 422; another caller may use the same key', async () => {
    const token = kit.token();
    const first = await kit.api
      .put(MEMORY)
      .set('Authorization', `Bearer ${token}`)
      .set('Idempotency-Key', 'k-422')
      .send({ priority: 42 });
    expect(first.status).toBe(200);
    const other = await kit.api
      .put(MEMORY)
      .set('Authorization', `Bearer ${token}`)
      .set('Idempotency-Key', 'k-422')
      .send({ priority: 43 });
    expect(other.status).toBe(422);
    expect(other.body).toMatchObject({ code: 'HVG_ERR_IDEMPOTENCY_MISMATCH', jobId: first.body.id });
    const someoneElse = await kit.api
      .put(MEMORY)
      .set('Authorization', `Bearer ${kit.token({ sub: 'another-service' })}`)
      .set('Idempotency-Key', 'k-422')
      .send({ priority: 43 });
    expect(someoneElse.status).toBe(200);
    expect(someoneElse.body.id).not.toBe(first.body.id);
    expect(appliedMemorySets(42)).toBe(1);
    expect(appliedMemorySets(43)).toBe(1);
  });

  test('DELETE cancels a queued job (audited, never applied); a running job is not cancellable', async () => {
    const token = kit.token();
    sim.host(HOST).faults.inject({ kind: 'slow', delayMs: 300, actions: ['Command'] });
    const running = await kit.api
      .put(`${MEMORY}?wait=0`)
      .set('Authorization', `Bearer ${token}`)
      .send({ priority: 44 });
    expect(running.status).toBe(202);
    const queued = await kit.api
      .put(`${MEMORY}?wait=0`)
      .set('Authorization', `Bearer ${token}`)
      .send({ priority: 45 });
    expect(queued.status).toBe(202);
    expect(queued.body.status).toBe('queued');
    await pollJob(kit, running.body.id as string, (s) => s === 'running');

    const notYours = await kit.api
      .delete(`/v1/jobs/${queued.body.id}`)
      .set('Authorization', `Bearer ${kit.token({ sub: 'intruder' })}`);
    expect(notYours.status).toBe(404);
    const cancel = await kit.api.delete(`/v1/jobs/${queued.body.id}`).set('Authorization', `Bearer ${token}`);
    expect(cancel.status).toBe(200);
    expect(cancel.body.status).toBe('cancelled');
    const busy = await kit.api.delete(`/v1/jobs/${running.body.id}`).set('Authorization', `Bearer ${token}`);
    expect(busy.status).toBe(409);
    expect(busy.body.code).toBe('HVG_ERR_JOB_NOT_CANCELLABLE');

    // Recovery run again while serving (HA adoption does this) leaves this process's own jobs alone.
    expect(await kit.gateway.services.jobs.recover()).toEqual({ interrupted: 0, resumed: 0 });
    const done = await pollJob(kit, running.body.id as string, (s) => s === 'succeeded' || s === 'failed');
    sim.host(HOST).faults.clear();
    expect(done['status']).toBe('succeeded');
    const cancelledJob = await kit.api
      .get(`/v1/jobs/${queued.body.id}`)
      .set('Authorization', `Bearer ${token}`);
    expect(cancelledJob.body.status).toBe('cancelled');
    expect(appliedMemorySets(45)).toBe(0);
    const events = kit.lines.audit
      .map((l) => JSON.parse(l) as AuditEvent)
      .filter((e) => e.jobId === queued.body.id);
    expect(events.map((e) => e.stage)).toEqual(['requested', 'cancelled']);
  });

  test('a request still waiting for a job that its caller cancels answers 409 HVG_ERR_CANCELLED', async () => {
    const token = `Bearer ${kit.token()}`;
    sim.host(HOST).faults.inject({ kind: 'slow', delayMs: 300, actions: ['Command'] });
    const running = await kit.api.put(`${MEMORY}?wait=0`).set('Authorization', token).send({ priority: 71 });
    expect(running.status).toBe(202);
    await pollJob(kit, running.body.id as string, (s) => s === 'running');
    // The waiting request and the cancel race; the waiter learns its job id from the job list.
    // then() sends the request now; it is awaited after the cancel.
    const waiter = kit.api
      .put(`${MEMORY}?wait=30`)
      .set('Authorization', token)
      .send({ priority: 72 })
      .then((r) => r);
    let queuedId: string | undefined;
    for (let i = 0; i < 100 && !queuedId; i++) {
      const list = await kit.api.get('/v1/jobs?status=queued').set('Authorization', token);
      queuedId = (list.body.jobs as { id: string }[])[0]?.id;
      if (!queuedId) await new Promise((r) => setTimeout(r, 10));
    }
    expect(queuedId).toBeDefined();
    const cancel = await kit.api.delete(`/v1/jobs/${queuedId}`).set('Authorization', token);
    expect(cancel.status).toBe(200);
    expect(cancel.body.error).toMatchObject({ code: 'HVG_ERR_CANCELLED' });
    const answer = await waiter;
    sim.host(HOST).faults.clear();
    expect(answer.status).toBe(409);
    expect(answer.body).toMatchObject({ code: 'HVG_ERR_CANCELLED', jobId: queuedId, jobStatus: 'cancelled' });
    expect(appliedMemorySets(72)).toBe(0);
    await pollJob(kit, running.body.id as string, (s) => s === 'succeeded' || s === 'failed');
  });
});

/** The real SQLite audit store, except that a batch whose event bodies match `failWhen()` fails. */
function failingAuditStore(failWhen: () => ((bodies: string[]) => boolean) | null) {
  return (db: SqliteDatabase): AuditStore => {
    const real = createSqliteAuditStore(db);
    return {
      ...real,
      async appendBatch(batch) {
        if (failWhen()?.(batch.events.map((e) => e.body))) throw new Error('disk I/O error');
        return real.appendBatch(batch);
      },
    };
  };
}

describe('fail closed', () => {
  let kit: GatewayKit;
  let failWhen: ((bodies: string[]) => boolean) | null = null;
  beforeAll(async () => {
    kit = await startKit({
      simulator: sim,
      overrides: { auditStore: failingAuditStore(() => failWhen) },
    });
  });
  afterAll(async () => {
    failWhen = null;
    await kit?.close();
  });

  test('the audit store throws: 503 HVG_ERR_AUDIT_UNAVAILABLE and the host receives nothing', async () => {
    const token = kit.token();
    sim.host(HOST).resetCounters();
    failWhen = () => true;
    const res = await kit.api.put(MEMORY).set('Authorization', `Bearer ${token}`).send({ priority: 46 });
    failWhen = null;
    expect(res.status).toBe(503);
    expect(res.body.code).toBe('HVG_ERR_AUDIT_UNAVAILABLE');
    const c = sim.host(HOST).counters();
    expect(Object.values(c.requests).reduce((a, b) => a + b, 0)).toBe(0);
    expect(c.commandsStarted).toBe(0);
    expect(appliedMemorySets(46)).toBe(0);
  });

  test('a read whose records cannot be written answers 503, never the data', async () => {
    const token = kit.token();
    failWhen = () => true;
    const res = await kit.api.get(`/v1/hosts/${HOST}`).set('Authorization', `Bearer ${token}`);
    failWhen = null;
    expect(res.status).toBe(503);
    expect(res.body.code).toBe('HVG_ERR_AUDIT_UNAVAILABLE');
    expect(res.body.result).toBeUndefined();
    expect(JSON.stringify(res.body)).not.toContain('memoryCapacityBytes');
    // Once the store works again, a read is answered with its three records on the trail.
    const ok = await kit.api.get(`/v1/hosts/${HOST}`).set('Authorization', `Bearer ${token}`).expect(200);
    const head = await kit.gateway.services.auditStore.head();
    expect(head).not.toBeNull();
    const mine = kit.lines.audit.map((l) => JSON.parse(l) as { jobId: string; stage: string });
    expect(mine.filter((e) => e.jobId === ok.body.id).map((e) => e.stage)).toEqual([
      'requested',
      'started',
      'succeeded',
    ]);
  });

  test('the `started` record cannot be written: 503 and the change never reaches the host', async () => {
    const token = kit.token();
    failWhen = (bodies) => bodies.some((b) => b.includes('"stage":"started"'));
    const res = await kit.api.put(MEMORY).set('Authorization', `Bearer ${token}`).send({ priority: 47 });
    failWhen = null;
    expect(res.status).toBe(503);
    expect(res.body.code).toBe('HVG_ERR_AUDIT_UNAVAILABLE');
    expect(res.body.jobId).toEqual(expect.any(String));
    expect(appliedMemorySets(47)).toBe(0);
    // And the gateway works again once the store does.
    const ok = await kit.api.put(MEMORY).set('Authorization', `Bearer ${token}`).send({ priority: 47 });
    expect(ok.status).toBe(200);
    expect(appliedMemorySets(47)).toBe(1);
  });
});

describe('an outcome record the trail refuses', () => {
  let kit: GatewayKit;
  let failures = 0;
  const failOutcome = (bodies: string[]): boolean => {
    if (failures === 0 || !bodies.some((b) => b.includes('"stage":"succeeded"'))) return false;
    failures -= 1;
    return true;
  };
  beforeAll(async () => {
    kit = await startKit({
      simulator: sim,
      overrides: { auditStore: failingAuditStore(() => failOutcome), auditSweepIntervalMs: 200 },
    });
  });
  afterAll(async () => {
    await kit?.close();
  });

  test('once is retried: the change answers 200 and its outcome is on the trail exactly once', async () => {
    const token = kit.token();
    failures = 1;
    const res = await kit.api.put(MEMORY).set('Authorization', `Bearer ${token}`).send({ priority: 44 });
    expect(failures).toBe(0);
    expect(res.status).toBe(200);
    const stages = kit.lines.audit
      .map((l) => JSON.parse(l) as AuditEvent)
      .filter((e) => e.jobId === res.body.id)
      .map((e) => e.stage);
    expect(stages).toEqual(['requested', 'started', 'succeeded']);
    expect(kit.lines.logs.some((l) => l.includes('audit of an outcome failed, retrying'))).toBe(true);
    const verify = await kit.api
      .get('/v1/audit/verify')
      .set('Authorization', `Bearer ${kit.token({ scopes: ['audit:read'] })}`);
    expect(verify.body.ok).toBe(true);
  });

  test('past the retries is held with the jobs and appended by the sweep once the trail takes records again', async () => {
    const token = kit.token();
    const stagesOf = (id: string): AuditEvent[] =>
      kit.lines.audit.map((l) => JSON.parse(l) as AuditEvent).filter((e) => e.jobId === id);
    // The first append and its three retries all fail.
    failures = 4;
    const res = await kit.api.put(MEMORY).set('Authorization', `Bearer ${token}`).send({ priority: 45 });
    expect(res.status).toBe(200);
    expect(failures).toBe(0);
    const id = (res.body as { id: string }).id;
    expect(stagesOf(id).map((e) => e.stage)).toEqual(['requested', 'started']);
    expect(kit.lines.logs.some((l) => l.includes('held for the audit sweep'))).toBe(true);
    const held = await kit.gateway.services.jobStore.listHeldAuditEvents(10);
    expect(held.map((h) => h.jobId)).toEqual([id]);
    // Operators see it on /metrics.
    expect((await kit.api.get('/metrics')).text).toMatch(/^hvgate_audit_held_records 1$/m);

    // The sweep runs 200 ms later and the trail takes the record now.
    const until = Date.now() + 10_000;
    while (stagesOf(id).length < 3 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    const trail = stagesOf(id);
    expect(trail.map((e) => e.stage)).toEqual(['requested', 'started', 'succeeded']);
    expect(trail[2]!.outcome.message).toMatch(
      /^recorded late: the audit trail refused this record when the job ended \(\d{4}-\d\d-\d\dT/,
    );
    // Everything but the message is the record as it was built when the job ended.
    expect(trail[2]!.execution).toMatchObject({ exitCode: 0, durationMs: expect.any(Number) });
    expect(trail[2]!.script).toEqual(trail[1]!.script);
    expect(trail[2]!.outcome.httpStatus).toBe(200);
    expect(await kit.gateway.services.jobStore.listHeldAuditEvents(10)).toEqual([]);
    expect((await kit.api.get('/metrics')).text).toMatch(/^hvgate_audit_held_records 0$/m);
    const verify = await kit.api
      .get('/v1/audit/verify')
      .set('Authorization', `Bearer ${kit.token({ scopes: ['audit:read'] })}`);
    expect(verify.body.ok).toBe(true);
  });
});

describe('graceful shutdown', () => {
  let kit: GatewayKit;
  beforeAll(async () => {
    kit = await startKit({ simulator: sim });
  });
  afterAll(async () => {
    sim.host(HOST).faults.clear();
    await kit?.close();
  });

  test('readyz fails, new jobs get 503, the running job finishes, the queued one stays queued', async () => {
    const token = kit.token();
    sim.host(HOST).faults.inject({ kind: 'slow', delayMs: 300, actions: ['Command'] });
    const running = await kit.api
      .put(`${MEMORY}?wait=0`)
      .set('Authorization', `Bearer ${token}`)
      .send({ priority: 48 });
    const queued = await kit.api
      .put(`${MEMORY}?wait=0`)
      .set('Authorization', `Bearer ${token}`)
      .send({ priority: 49 });
    await pollJob(kit, running.body.id as string, (s) => s === 'running');

    const stopping = kit.gateway.shutdown(5000);
    const ready = await kit.api.get('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.code).toBe('HVG_ERR_SHUTTING_DOWN');
    const refused = await kit.api.put(MEMORY).set('Authorization', `Bearer ${token}`).send({ priority: 50 });
    expect(refused.status).toBe(503);
    expect(refused.body.code).toBe('HVG_ERR_SHUTTING_DOWN');
    await stopping;
    sim.host(HOST).faults.clear();

    const store = kit.gateway.services.jobStore;
    expect((await store.get(running.body.id as string))?.state).toBe('succeeded');
    expect((await store.get(queued.body.id as string))?.state).toBe('queued');
    expect(appliedMemorySets(49)).toBe(0);
  });
});
