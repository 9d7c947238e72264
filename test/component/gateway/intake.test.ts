// Intake control and the cost of reads on the real gateway: a caller waiting (?wait=) for a slow
// change does not keep others out even with one intake place; the intake gauges are on /metrics;
// a read's `requested` and `started` records commit together once its script is on its way to the
// host, its outcome record alone before the answer, and its script travels packed in one Command.
import { startKit, findVm, type GatewayKit } from './gateway-kit';

describe('gateway intake and read audit', () => {
  let kit: GatewayKit;
  beforeAll(async () => {
    kit = await startKit({
      sim: { serviceTimeMs: { 'memory.set': 1500 } },
      server: { intakeConcurrency: 1, intakeMaxWaiting: 50 },
    });
  });
  afterAll(async () => {
    await kit.close();
  });

  it('a caller waiting for a slow change gives its intake place back: a read is answered meanwhile', async () => {
    const host = kit.sim.hosts[0]!.name;
    const vm = await findVm(
      kit,
      host,
      (v) =>
        v['state'] === 'Running' && (v['memory'] as { dynamicMemoryEnabled: boolean }).dynamicMemoryEnabled,
    );
    const priority = ((vm['memory'] as { priority: number }).priority + 7) % 101;
    const auth = `Bearer ${kit.token()}`;
    let changeDoneAt = 0;
    const change = kit.api
      .put(`/v1/hosts/${host}/vms/${String(vm['id'])}/memory?wait=30`)
      .set('Authorization', auth)
      .send({ priority })
      .then((res) => {
        changeDoneAt = Date.now();
        return res;
      });
    // Let the change be taken in and start waiting on the host.
    for (let i = 0; i < 100 && kit.sim.host(host).counters().commandsRunning === 0; i++)
      await new Promise((r) => setTimeout(r, 20));
    const read = await kit.api.get(`/v1/hosts/${host}`).set('Authorization', auth);
    const readDoneAt = Date.now();
    expect(read.status).toBe(200);
    const done = await change;
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ status: 'succeeded' });
    expect(readDoneAt).toBeLessThan(changeDoneAt);
  });

  it('reports intake on /metrics', async () => {
    const res = await kit.api.get('/metrics').expect(200);
    expect(res.text).toMatch(/hvgate_http_intake_requests\{state="in_flight"\} \d+/);
    expect(res.text).toMatch(/hvgate_http_intake_requests\{state="waiting"\} 0/);
    expect(res.text).toMatch(/hvgate_http_intake_refused 0/);
  });

  it('a read: one Command (packed script, no Send); requested+started commit while the host works, the outcome before the answer', async () => {
    const host = kit.sim.hosts[1]!.name;
    const store = kit.gateway.services.auditStore;
    await kit.gateway.services.audit.flush();
    const sim = kit.sim.host(host);
    const sent = (action: string): number => sim.counters().requests[action] ?? 0;
    // One read first, so the host has a pooled shell and the measured read starts with its Command.
    const auth = `Bearer ${kit.token()}`;
    expect((await kit.api.get(`/v1/hosts/${host}`).set('Authorization', auth)).status).toBe(200);
    await kit.gateway.services.audit.flush();
    const executor = kit.gateway.services.executors.get(host)!;
    const posted = executor.stats().httpRequests;
    const [commands, sends] = [sent('Command'), sent('Send')];
    const batches: { stages: string[]; requestsPosted: number }[] = [];
    const appendBatch = store.appendBatch.bind(store);
    const spy = jest.spyOn(store, 'appendBatch').mockImplementation(async (batch) => {
      batches.push({
        stages: batch.events.map((e) => (JSON.parse(e.body) as { stage: string }).stage),
        requestsPosted: executor.stats().httpRequests - posted,
      });
      return appendBatch(batch);
    });
    let res;
    try {
      res = await kit.api.get(`/v1/hosts/${host}`).set('Authorization', auth);
    } finally {
      spy.mockRestore();
    }
    expect(res.status).toBe(200);
    // host.get is too long for -EncodedCommand but goes packed in its one Command: no stdin Send.
    expect([sent('Command') - commands, sent('Send') - sends]).toEqual([1, 0]);
    // Nothing is committed before the script's Command is posted; then the two deferred records in
    // one commit, and the outcome in the commit the answer waits for.
    expect(batches.map((b) => b.stages)).toEqual([['requested', 'started'], ['succeeded']]);
    expect(batches[0]!.requestsPosted).toBeGreaterThanOrEqual(1);
    const id = (res.body as { id: string }).id;
    const trail = await kit.api
      .get(`/v1/audit?jobId=${id}&order=asc`)
      .set('Authorization', `Bearer ${kit.token({ scopes: ['audit:read'] })}`);
    expect(trail.status).toBe(200);
    expect((trail.body as { events: { stage: string }[] }).events.map((e) => e.stage)).toEqual([
      'requested',
      'started',
      'succeeded',
    ]);
  });
});
