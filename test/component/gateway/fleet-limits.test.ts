// Per-host limits through the whole gateway: per-VM order, fairness between callers, and the circuit
// breaker opening on a failing host (simulator fault injection) while another host keeps working,
// then recovering. The 200-request burst is in fleet-burst.test.ts.
import { startKit, type GatewayKit } from './gateway-kit';

let kit: GatewayKit;
beforeAll(async () => {
  kit = await startKit({
    // Real (scaled) per-operation latency so jobs overlap and queue.
    sim: { latencyScale: 0.05 },
    maxConcurrent: 4,
    maxQueue: 8,
    overrides: { breaker: { failureThreshold: 3, probeIntervalMs: 1000 } },
  });
});
afterAll(async () => {
  await kit?.close();
});

const bearer = (sub = 'svc-test') => `Bearer ${kit.token({ sub })}`;

async function waitForJobs(ids: string[], sub = 'svc-test'): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const id of ids) {
    for (let i = 0; ; i++) {
      const res = await kit.api.get(`/v1/jobs/${id}`).set('Authorization', bearer(sub));
      if (!['queued', 'running'].includes(res.body.status as string)) {
        out.push(res.body as Record<string, unknown>);
        break;
      }
      if (i > 500) throw new Error(`job ${id} did not finish`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  return out;
}

test('changes to one VM run one at a time in arrival order', async () => {
  const HOST = 'hv-tokyo-01';
  const token = bearer();
  const ids: string[] = [];
  const priorities = [11, 12, 13, 14, 15, 16, 17, 18];
  for (const priority of priorities) {
    const res = await kit.api
      .put(`/v1/hosts/${HOST}/vms/web-01/memory?wait=0`)
      .set('Authorization', token)
      .send({ priority });
    expect([200, 202]).toContain(res.status);
    ids.push(res.body.id as string);
  }
  const jobs = await waitForJobs(ids);
  expect(jobs.map((j) => j['status'])).toEqual(priorities.map(() => 'succeeded'));
  const vmId = (jobs[0]!['vm'] as { id: string }).id;
  const applied = kit.sim
    .host(HOST)
    .counters()
    .operationsApplied.filter((r) => r.operation === 'memory.set' && JSON.stringify(r.params).includes(vmId))
    .map((r) => (r.params as { priority?: number }).priority)
    .filter((p): p is number => p !== undefined && p >= 11 && p <= 18);
  expect(applied).toEqual(priorities);
  // Slots were granted in arrival order too.
  const starts = jobs.map((j) => Date.parse(j['startedAt'] as string));
  expect([...starts].sort((a, b) => a - b)).toEqual(starts);
});

test('one caller cannot starve another: a later caller is served round-robin, not behind the whole queue', async () => {
  const HOST = 'hv-osaka-02';
  const greedy = bearer('greedy');
  const polite = bearer('polite');
  // Commands hang until the fault is cleared, so the queue's order is fixed before anything finishes,
  // whatever the machine's load: 4 greedy jobs hold the slots, 5 greedy and then 2 polite ones queue.
  kit.sim.host(HOST).faults.inject({ kind: 'hang', actions: ['Command'] });
  const flood: Array<{ status: number; body: { id: string } }> = [];
  for (let i = 0; i < 9; i++) {
    flood.push(await kit.api.get(`/v1/hosts/${HOST}?wait=0`).set('Authorization', greedy));
  }
  expect(flood.every((r) => r.status === 202)).toBe(true);
  const late: Array<{ status: number; body: { id: string } }> = [];
  for (let i = 0; i < 2; i++) {
    late.push(await kit.api.get(`/v1/hosts/${HOST}?wait=0`).set('Authorization', polite));
  }
  expect(late.every((r) => r.status === 202)).toBe(true);
  kit.sim.host(HOST).faults.clear();
  const greedyJobs = await waitForJobs(
    flood.map((r) => r.body.id),
    'greedy',
  );
  const politeJobs = await waitForJobs(
    late.map((r) => r.body.id),
    'polite',
  );
  expect([...greedyJobs, ...politeJobs].every((j) => j['status'] === 'succeeded')).toBe(true);
  const politeLastStart = Math.max(...politeJobs.map((j) => Date.parse(j['startedAt'] as string)));
  const greedyAfter = greedyJobs.filter((j) => Date.parse(j['startedAt'] as string) > politeLastStart).length;
  // FIFO would start all 9 greedy jobs before either polite one (greedyAfter = 0); round-robin between
  // callers starts both polite jobs while at least 3 of the 5 queued greedy jobs still wait.
  expect(greedyAfter).toBeGreaterThanOrEqual(3);
});

test('the circuit opens on a failing host while another host keeps working, and recovers after a probe', async () => {
  const BAD = 'hv-nagoya-03';
  const GOOD = 'hv-tokyo-01';
  const token = bearer();
  const faultId = kit.sim.host(BAD).faults.inject({ kind: 'refuse' });
  expect(faultId).toBeGreaterThan(0);
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) {
    const res = await kit.api.get(`/v1/hosts/${BAD}`).set('Authorization', token);
    statuses.push(res.status);
    expect(res.status).toBeGreaterThanOrEqual(500);
    const good = await kit.api.get(`/v1/hosts/${GOOD}`).set('Authorization', token);
    expect(good.status).toBe(200);
  }
  const open = await kit.api.get(`/v1/hosts/${BAD}`).set('Authorization', token);
  expect(open.status).toBe(503);
  expect(open.body.code).toBe('HVG_ERR_HOST_UNAVAILABLE');
  expect(Number(open.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  const hosts = await kit.api.get('/v1/hosts').set('Authorization', token).expect(200);
  expect(hosts.body.hosts.find((h: { name: string }) => h.name === BAD).circuit).toBe('open');
  expect((await kit.api.get('/metrics')).text).toContain(`hvgate_host_circuit_state{host="${BAD}"} 2`);
  // While open, requests fail fast without touching the host.
  const before = kit.sim.host(BAD).counters().connectionsRefused;
  await kit.api.get(`/v1/hosts/${BAD}`).set('Authorization', token).expect(503);
  expect(kit.sim.host(BAD).counters().connectionsRefused).toBe(before);

  kit.sim.host(BAD).faults.clear();
  const probe = await kit.gateway.services.health.probeNow(BAD);
  expect(probe.status).toBe('up');
  const recovered = await kit.api.get(`/v1/hosts/${BAD}`).set('Authorization', token);
  expect(recovered.status).toBe(200);
  expect(kit.gateway.services.breakers.forHost(BAD).state()).toBe('closed');
});
