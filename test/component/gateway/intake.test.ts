// Intake control and the cost of reads on the real gateway: a caller waiting (?wait=) for a slow
// change does not keep others out even with one intake place; the intake gauges are on /metrics;
// a read is answered after ONE audit commit that holds all three of its records, and its script
// travels packed in one Command.
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

  it('a read: one Command (packed script, no Send), answered after one audit commit holding its requested, started and succeeded records', async () => {
    const host = kit.sim.hosts[1]!.name;
    const store = kit.gateway.services.auditStore;
    await kit.gateway.services.audit.flush();
    const before = store.stats().transactions;
    const head = (await store.head())?.seq ?? 0;
    const sim = kit.sim.host(host);
    const sent = (action: string): number => sim.counters().requests[action] ?? 0;
    const [commands, sends] = [sent('Command'), sent('Send')];
    const res = await kit.api.get(`/v1/hosts/${host}`).set('Authorization', `Bearer ${kit.token()}`);
    expect(res.status).toBe(200);
    // host.get is too long for -EncodedCommand but goes packed in its one Command: no stdin Send.
    expect([sent('Command') - commands, sent('Send') - sends]).toEqual([1, 0]);
    // Durable when answered, all three at once.
    expect(store.stats().transactions - before).toBe(1);
    const events = (await store.readEvents(head, head + 10, 10)).map(
      (e) => JSON.parse(e.body) as { stage: string; jobId: string },
    );
    expect(events.map((e) => e.stage)).toEqual(['requested', 'started', 'succeeded']);
    expect(new Set(events.map((e) => e.jobId))).toEqual(new Set([(res.body as { id: string }).id]));
  });
});
