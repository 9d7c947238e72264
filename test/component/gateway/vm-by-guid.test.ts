// A change addressed by GUID costs the host exactly what it needs: no lookup before the job is
// queued, one fresh read of the VM inside its lock, host facts from their short cache, the change.
// A change right after a memory or processor change to the same VM starts from the facts that
// change re-read, without a read of its own. A GUID of a VM that is not there fails the job with
// 404 and sends no change.
import type { AuditEvent } from '../../../src/audit/audit-event';
import { findVm, startKit, type GatewayKit } from './gateway-kit';

const HOST = 'hv-tokyo-01';
let kit: GatewayKit;
beforeAll(async () => {
  kit = await startKit({ sim: { latencyScale: 0 }, maxConcurrent: 4, maxQueue: 50 });
});
afterAll(async () => {
  await kit?.close();
});

const ops = (): string[] => kit.sim.fleet.appliedOperations(HOST).map((r) => r.operation);
const events = () => kit.lines.audit.map((l) => JSON.parse(l) as AuditEvent);

test('a change by GUID: one VM read inside the lock, then the change; the job learns the VM name', async () => {
  const vm = await findVm(kit, HOST, (v) => v['name'] === 'web-01');
  const other = await findVm(kit, HOST, (v) => v['name'] === 'ウェブサーバー01');
  const id = String(vm['id']).toUpperCase();
  const token = `Bearer ${kit.token()}`;
  // Warm the host facts with a change to another VM, then count what one change costs.
  await kit.api
    .put(`/v1/hosts/${HOST}/vms/${String(other['id'])}/processor`)
    .set('Authorization', token)
    .send({ relativeWeight: 300 })
    .expect(200);
  const before = ops().length;
  const res = await kit.api
    .put(`/v1/hosts/${HOST}/vms/${id}/processor`)
    .set('Authorization', token)
    .send({ relativeWeight: 310 })
    .expect(200);
  expect(ops().slice(before)).toEqual(['vm.get', 'processor.set']);
  expect(res.body.vm).toMatchObject({ ref: id, id: String(vm['id']).toLowerCase(), name: 'web-01' });
  const started = events().find((e) => e.jobId === res.body.id && e.stage === 'started');
  expect(started?.target).toMatchObject({ vmId: String(vm['id']).toLowerCase(), vmName: 'web-01' });
});

test('a plan change (memory, then processor, then memory) costs one VM read: each change starts from what the one before re-read', async () => {
  const vm = await findVm(kit, HOST, (v) => v['name'] === '経理システム');
  const id = String(vm['id']);
  const token = `Bearer ${kit.token()}`;
  const put = (what: string, body: Record<string, unknown>) =>
    kit.api.put(`/v1/hosts/${HOST}/vms/${id}/${what}`).set('Authorization', token).send(body);
  const before = ops().length;
  await put('memory', { priority: 60 }).expect(200);
  await put('processor', { maximum: 40 }).expect(200);
  // The rules see the maximum the change before set: refused at the gateway, nothing sent.
  const refused = await put('processor', { reserve: 50 }).expect(422);
  expect(refused.body).toMatchObject({ code: 'HVG_ERR_INVALID_VALUE', rule: 'reserve-within-maximum' });
  expect(refused.body.detail).toContain('maximum 40%');
  await put('memory', { priority: 65 }).expect(200);
  expect(ops().slice(before)).toEqual(['vm.get', 'memory.set', 'processor.set', 'memory.set']);
  await put('processor', { maximum: 100 }).expect(200);
});

test('a GUID no VM has: the job fails with 404 HVG_ERR_VM_NOT_FOUND and no change is sent', async () => {
  const before = ops().length;
  const res = await kit.api
    .put(`/v1/hosts/${HOST}/vms/0badc0de-0000-4000-8000-000000000000/processor`)
    .set('Authorization', `Bearer ${kit.token()}`)
    .send({ relativeWeight: 320 })
    .expect(404);
  expect(res.body.code).toBe('HVG_ERR_VM_NOT_FOUND');
  expect(ops().slice(before)).toEqual(['vm.get']);
  const stages = events()
    .filter((e) => e.jobId === res.body.jobId)
    .map((e) => e.stage);
  expect(stages).toEqual(['requested', 'failed']);
});

test('many changes by GUID to different VMs at once: never more commands on the host than its limit', async () => {
  const res = await kit.api
    .get(`/v1/hosts/${HOST}/vms`)
    .set('Authorization', `Bearer ${kit.token()}`)
    .expect(200);
  const ids = (res.body.result as { id: string; generation: number }[]).map((v) => v.id);
  kit.sim.host(HOST).resetCounters();
  const token = `Bearer ${kit.token()}`;
  const all = await Promise.all(
    ids.flatMap((id, i) =>
      [0, 1, 2].map((k) =>
        kit.api
          .put(`/v1/hosts/${HOST}/vms/${id}/processor`)
          .set('Authorization', token)
          .send({ relativeWeight: 400 + i * 10 + k }),
      ),
    ),
  );
  for (const r of all) expect([200, 409, 422]).toContain(r.status);
  expect(all.filter((r) => r.status === 200).length).toBeGreaterThan(0);
  expect(kit.sim.host(HOST).counters().maxCommandsRunning).toBeLessThanOrEqual(4);
});
