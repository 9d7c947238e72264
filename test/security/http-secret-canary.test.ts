// Secret canary: a recognisable WinRM password and bearer token go through successes, refusals,
// failures and bad requests; afterwards neither appears in any audit line, log line, response, or
// the SQLite file. Also log injection: caller text with line breaks stays inside one JSON line.
import fs from 'node:fs';
import path from 'node:path';
import { createSimulator, type Simulator } from '../../src/simulator/simulator';
import { startKit, type GatewayKit } from '../component/gateway/gateway-kit';

const PASSWORD = 'CANARY-winrm-Pa55-7f3a91';
const HOST = 'hv-tokyo-01';

let sim: Simulator;
let kit: GatewayKit;
const responses: string[] = [];

beforeAll(async () => {
  sim = await createSimulator({ latencyScale: 0, controlPort: false, password: PASSWORD });
  kit = await startKit({ simulator: sim, password: PASSWORD });
});
afterAll(async () => {
  await kit?.close();
  await sim?.close();
});

function keep(res: { status: number; headers: Record<string, unknown>; text: string }): void {
  responses.push(`${res.status} ${JSON.stringify(res.headers)} ${res.text}`);
}

test('the canary token and WinRM password leak nowhere', async () => {
  const token = kit.token({ sub: 'canary-caller' });
  const signature = token.split('.')[2]!;
  const auth = `Bearer ${token}`;
  const calls = [
    kit.api.get('/v1/hosts').set('Authorization', auth),
    kit.api.get(`/v1/hosts/${HOST}/vms/web-01`).set('Authorization', auth),
    kit.api.put(`/v1/hosts/${HOST}/vms/web-01/memory`).set('Authorization', auth).send({ priority: 33 }),
    kit.api
      .put(`/v1/hosts/${HOST}/vms/web-01/memory?dryRun=true`)
      .set('Authorization', auth)
      .send({ priority: 34 }),
    kit.api
      .put(`/v1/hosts/${HOST}/vms/app-2012r2/memory`)
      .set('Authorization', auth)
      .send({ startupBytes: 4 * 1024 ** 3 + 2 * 1024 ** 2 }),
    kit.api.put(`/v1/hosts/${HOST}/vms/web-01/memory`).set('Authorization', auth).send({ priority: 'high' }),
    kit.api.put(`/v1/hosts/${HOST}/vms/web-01/memory?access_token=${token}`).send({ priority: 35 }),
    kit.api.get(`/v1/hosts/${HOST}`).set('Authorization', `Bearer ${token}x`),
    kit.api.get('/v1/jobs').set('Authorization', auth),
    kit.api.get('/v1/audit?limit=1000').set('Authorization', auth),
    kit.api.get('/v1/audit/export').set('Authorization', auth),
    kit.api.get('/metrics'),
    kit.api.get('/openapi.json'),
  ];
  for (const c of calls) keep(await c);

  // A host whose credentials are wrong: the failure must not quote them either.
  sim.host('hv-osaka-02').faults.inject({ kind: 'http500' });
  keep(await kit.api.get('/v1/hosts/hv-osaka-02').set('Authorization', auth));
  sim.host('hv-osaka-02').faults.clear();

  await kit.gateway.services.audit.flush();
  const db = fs.readFileSync(path.join(kit.dir, 'hvgate.db'));
  const wal = path.join(kit.dir, 'hvgate.db-wal');
  const walBytes = fs.existsSync(wal) ? fs.readFileSync(wal) : Buffer.alloc(0);
  const haystacks: [string, string][] = [
    ['audit', kit.lines.audit.join('\n')],
    ['logs', kit.lines.logs.join('\n')],
    ['responses', responses.join('\n')],
    ['database', db.toString('latin1') + walBytes.toString('latin1')],
  ];
  expect(kit.lines.audit.length).toBeGreaterThan(10);
  expect(kit.lines.logs.length).toBeGreaterThan(5);
  for (const [where, text] of haystacks) {
    expect({ where, password: text.includes(PASSWORD) }).toEqual({ where, password: false });
    expect({ where, token: text.includes(signature) }).toEqual({ where, token: false });
    expect({ where, base64Password: text.includes(Buffer.from(PASSWORD).toString('base64')) }).toEqual({
      where,
      base64Password: false,
    });
  }
});

test('caller text with \\n, \\r and U+2028 stays inside one audit and log line', async () => {
  const token = kit.token({ sub: 'injector' });
  const evil = encodeURIComponent('web-01\n{"stage":"succeeded"}\r\u2028x');
  const before = kit.lines.audit.length;
  const res = await kit.api
    .put(`/v1/hosts/${HOST}/vms/${evil}/memory`)
    .set('Authorization', `Bearer ${token}`)
    .set('User-Agent', 'ua\t{"forged":true}')
    .send({ priority: 36 });
  expect(res.status).toBeGreaterThanOrEqual(400);
  const added = kit.lines.audit.slice(before);
  expect(added.length).toBeGreaterThanOrEqual(1);
  for (const line of [...added, ...kit.lines.logs]) {
    expect(line).not.toMatch(/[\n\r\u2028\u2029]/);
    expect(() => JSON.parse(line)).not.toThrow();
  }
  const parsed = added.map((l) => JSON.parse(l) as { target: { vmName: string | null } });
  expect(parsed.some((e) => e.target.vmName?.includes('\n{"stage":"succeeded"}'))).toBe(true);
});
