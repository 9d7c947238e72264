// A migration's destination and a replica server receive the VM, so the caller must be granted
// those hosts too, not only the host in the URL. Refusals are audited and reach no host.
import type { AuditEvent } from '../../../src/audit/audit-event';
import { startKit, type GatewayKit } from './gateway-kit';

let kit: GatewayKit;
beforeAll(async () => {
  kit = await startKit();
});
afterAll(async () => {
  await kit?.close();
});

const SOURCE = 'hv-tokyo-01';
const PEER = 'hv-osaka-02';

function requestsSeen(): number {
  return kit.sim.hosts.reduce((n, h) => {
    const counters = kit.sim.host(h.name).counters();
    return n + (counters.requests['Command'] ?? 0);
  }, 0);
}

test.each([
  ['vm.migrate', 'post', 'migrate', { destinationHost: PEER }, 'vm:migrate'] as const,
  ['replication.enable', 'put', 'replication', { replicaHost: PEER }, 'vm:replicate'] as const,
])(
  '%s to a host the token is not granted → 403, audited, nothing sent',
  async (op, method, path, body, scope) => {
    const token = kit.token({ sub: 'svc-narrow', scopes: ['vm:read', scope], hosts: [SOURCE] });
    const before = requestsSeen();
    for (const dryRun of [true, false]) {
      const res = await kit.api[method](`/v1/hosts/${SOURCE}/vms/web-01/${path}?dryRun=${dryRun}`)
        .set('Authorization', `Bearer ${token}`)
        .set('X-Request-Id', `peer-${op}-${dryRun}`)
        .send(body);
      expect(res.status).toBe(403);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.body.code).toBe('HVG_ERR_FORBIDDEN');
      expect(res.body.detail).toContain(PEER);
      const denied = kit.lines.audit
        .map((l) => JSON.parse(l) as AuditEvent)
        .filter((e) => e.requestId === `peer-${op}-${dryRun}`);
      expect(denied.map((e) => e.stage)).toEqual(['denied']);
      expect(denied[0]!.operation).toBe(op);
    }
    // Not even the VM lookup went out.
    expect(requestsSeen()).toBe(before);
  },
);

test('the same migration with both hosts granted is accepted (dry run)', async () => {
  const token = kit.token({ scopes: ['vm:read', 'vm:migrate'], hosts: [SOURCE, PEER] });
  const res = await kit.api
    .post(`/v1/hosts/${SOURCE}/vms/web-01/migrate?dryRun=true`)
    .set('Authorization', `Bearer ${token}`)
    .send({ destinationHost: PEER });
  expect(res.status).toBe(200);
  expect(res.body.operation).toBe('vm.migrate');
});
