// What a replica does when another one took over its work (HA: it missed heartbeats for a whole
// lease while alive). Another replica is played by writing to the shared job store directly:
// - a queued job adopted and started elsewhere is left alone here: no second execution, no audit
//   event, no state change;
// - a job this replica ran that was meanwhile marked `interrupted` elsewhere is settled with the
//   outcome this replica saw, and the outcome goes on the trail.
import type { AuditEvent } from '../../../src/audit/audit-event';
import type { JobPatch, JobStore } from '../../../src/store/job-store';
import { createSqliteJobStore } from '../../../src/store/sqlite-job-store';
import type { JobState } from '../../../src/jobs/job-model';
import { findVm, startKit, type GatewayKit } from './gateway-kit';

const HOST = 'hv-tokyo-01';
type Hook = (store: JobStore, id: string, patch: JobPatch) => Promise<boolean | undefined>;
let hook: Hook | null = null;
let kit: GatewayKit;

beforeAll(async () => {
  kit = await startKit({
    sim: { latencyScale: 0 },
    overrides: {
      jobStore: (db) => {
        const inner = createSqliteJobStore(db);
        return {
          ...inner,
          async update(id: string, patch: JobPatch, from?: readonly JobState[]) {
            const h = hook;
            if (h && patch.state === 'running') {
              hook = null;
              const taken = await h(inner, id, patch);
              if (taken !== undefined) return taken;
            }
            return inner.update(id, patch, from);
          },
        };
      },
    },
  });
});
afterAll(async () => {
  await kit?.close();
});

const events = (jobId: string) =>
  kit.lines.audit.map((l) => JSON.parse(l) as AuditEvent).filter((e) => e.jobId === jobId);
const changes = () => kit.sim.fleet.appliedOperations(HOST).filter((r) => r.operation === 'processor.set');

test('a queued job another replica adopted and started is not run here', async () => {
  const vm = await findVm(kit, HOST, (v) => v['name'] === 'web-01');
  hook = async (store, id) => {
    // The other replica wins the queued → running step.
    await store.update(id, { state: 'running', startedAt: 1 }, ['queued']);
    return false;
  };
  const before = changes().length;
  const res = await kit.api
    .put(`/v1/hosts/${HOST}/vms/${String(vm['id'])}/processor?wait=1`)
    .set('Authorization', `Bearer ${kit.token()}`)
    .send({ relativeWeight: 210 })
    .expect(202);
  expect(res.body.status).toBe('running');
  expect(changes().length).toBe(before);
  expect(events(res.body.id).map((e) => e.stage)).toEqual(['requested']);
  const job = await kit.gateway.services.jobStore.get(res.body.id);
  expect(job).toMatchObject({ state: 'running', startedAt: 1, error: null });
});

test('an outcome seen here settles a job another replica marked interrupted meanwhile', async () => {
  const vm = await findVm(kit, HOST, (v) => v['name'] === 'web-01');
  hook = async (store, id, patch) => {
    const moved = await store.update(id, patch, ['queued']);
    // The reaper of another replica marks it interrupted while the command runs here.
    setImmediate(() => void store.update(id, { state: 'interrupted' }, ['running']));
    return moved;
  };
  const before = changes().length;
  const res = await kit.api
    .put(`/v1/hosts/${HOST}/vms/${String(vm['id'])}/processor`)
    .set('Authorization', `Bearer ${kit.token()}`)
    .send({ relativeWeight: 220 })
    .expect(200);
  expect(res.body.status).toBe('succeeded');
  expect(changes().length).toBe(before + 1);
  expect(events(res.body.id).map((e) => e.stage)).toEqual(['requested', 'started', 'succeeded']);
});
