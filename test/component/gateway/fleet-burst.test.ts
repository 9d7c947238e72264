// 200 parallel requests against one host with limit 4 through the whole gateway: the simulated host
// never runs more than 4 commands at once, every request ends in success or 429 with Retry-After,
// and each one left its audit trace (nothing lost).
import type { AuditEvent } from '../../../src/audit/audit-event';
import { startKit, type GatewayKit } from './gateway-kit';

let kit: GatewayKit;
beforeAll(async () => {
  // Slow enough (scaled real latency) that the burst overflows the queue instead of draining it.
  kit = await startKit({ sim: { latencyScale: 0.3 }, maxConcurrent: 4, maxQueue: 8 });
});
afterAll(async () => {
  await kit?.close();
});

const bearer = (sub = 'svc-test') => `Bearer ${kit.token({ sub })}`;
const events = () => kit.lines.audit.map((l) => JSON.parse(l) as AuditEvent);

test('200 parallel requests against one host with limit 4: the host never sees more than 4, nothing is lost', async () => {
  const HOST = 'hv-tokyo-01';
  kit.sim.host(HOST).resetCounters();
  const auditBefore = kit.lines.audit.length;
  const token = bearer();
  const responses = await Promise.all(
    Array.from({ length: 200 }, () => kit.api.get(`/v1/hosts/${HOST}`).set('Authorization', token)),
  );
  const ok = responses.filter((r) => r.status === 200);
  const busy = responses.filter((r) => r.status === 429);
  expect(ok.length + busy.length).toBe(200);
  expect(busy.length).toBeGreaterThan(0);
  expect(ok.length).toBeGreaterThanOrEqual(12);
  for (const r of busy) {
    expect(r.body.code).toBe('HVG_ERR_HOST_BUSY');
    expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  }
  for (const r of ok) expect(r.body.status).toBe('succeeded');

  const counters = kit.sim.host(HOST).counters();
  expect(counters.maxCommandsRunning).toBeLessThanOrEqual(4);
  expect(counters.maxCommandsRunning).toBeGreaterThanOrEqual(2);

  // Every request left its trace: a success for each 200, a refusal for each 429.
  const mine = events()
    .slice(auditBefore)
    .filter((e) => e.operation === 'host.get');
  expect(mine.filter((e) => e.stage === 'succeeded')).toHaveLength(ok.length);
  const refused = mine.filter((e) => e.stage === 'denied');
  expect(refused).toHaveLength(busy.length);
  expect(
    refused.every((e) => e.outcome.errorCode === 'HVG_ERR_HOST_BUSY' && e.outcome.httpStatus === 429),
  ).toBe(true);
  expect(mine.filter((e) => e.stage === 'requested')).toHaveLength(200);
  const metrics = (await kit.api.get('/metrics')).text;
  expect(metrics).toContain(`hvgate_http_429_total{host="${HOST}"} ${busy.length}`);
  expect(metrics).toContain(
    `hvgate_jobs_total{operation="host.get",host="${HOST}",outcome="succeeded"} ${ok.length}`,
  );
});
