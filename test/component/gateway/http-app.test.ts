// The HTTP surface on the real app: request ids, body and media-type limits, problem+json, 404/405,
// health, metrics, jobs API, dry run, validation; against the simulator with latency scale 0.
import net from 'node:net';
import { toOpenApiPath } from '../../../src/http/openapi';
import { OPERATIONS } from '../../../src/operations/operation-registry';
import type { FaultSpec } from '../../../src/simulator/fault-injector';
import { startKit, type GatewayKit } from './gateway-kit';

let kit: GatewayKit;
beforeAll(async () => {
  kit = await startKit();
});
afterAll(async () => {
  await kit?.close();
});

const auth = () => `Bearer ${kit.token()}`;
const HOST = 'hv-tokyo-01';
const MEMORY = `/v1/hosts/${HOST}/vms/web-01/memory`;
const MiB2 = 2 * 1024 * 1024;

function expectProblem(
  res: { status: number; headers: Record<string, string>; body: Record<string, unknown> },
  status: number,
  code: string,
) {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status, code, type: `urn:hvgate:problem:${code}` });
  expect(typeof res.body['title']).toBe('string');
  expect(res.body['requestId']).toBe(res.headers['x-request-id']);
  const text = JSON.stringify(res.body);
  expect(text).not.toMatch(/\bat [^ ]+ \(|node_modules|Error:/);
}

describe('request plumbing', () => {
  test('echoes a safe X-Request-Id, replaces an unsafe one, never sends X-Powered-By', async () => {
    const ok = await kit.api.get('/healthz').set('X-Request-Id', 'abc-123.req');
    expect(ok.status).toBe(200);
    expect(ok.headers['x-request-id']).toBe('abc-123.req');
    expect(ok.headers['x-powered-by']).toBeUndefined();
    expect(ok.headers['x-content-type-options']).toBe('nosniff');
    const bad = await kit.api.get('/healthz').set('X-Request-Id', 'a b<script>"x'.repeat(3));
    expect(bad.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  test('a body over 64 KiB is 413, before authentication', async () => {
    const res = await kit.api
      .put(MEMORY)
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ pad: 'x'.repeat(70 * 1024) }));
    expectProblem(res, 413, 'HVG_ERR_PAYLOAD_TOO_LARGE');
  });

  test('a body that is not application/json is 415; malformed JSON is 400', async () => {
    const text = await kit.api
      .put(MEMORY)
      .set('Authorization', auth())
      .set('Content-Type', 'text/plain')
      .send('startupBytes=1');
    expectProblem(text, 415, 'HVG_ERR_UNSUPPORTED_MEDIA_TYPE');
    const form = await kit.api.put(MEMORY).set('Authorization', auth()).type('form').send({ a: 1 });
    expectProblem(form, 415, 'HVG_ERR_UNSUPPORTED_MEDIA_TYPE');
    const broken = await kit.api
      .put(MEMORY)
      .set('Authorization', auth())
      .set('Content-Type', 'application/json')
      .send('{"a":');
    expectProblem(broken, 400, 'HVG_ERR_BAD_REQUEST');
  });

  test('unknown routes are 404 and known routes with another method 405 with Allow', async () => {
    expectProblem(await kit.api.get('/nope'), 404, 'HVG_ERR_NOT_FOUND');
    expectProblem(await kit.api.get('/v1/nope').set('Authorization', auth()), 404, 'HVG_ERR_NOT_FOUND');
    const res = await kit.api.delete(MEMORY).set('Authorization', auth());
    expectProblem(res, 405, 'HVG_ERR_METHOD_NOT_ALLOWED');
    expect(res.headers['allow']).toBe('PUT');
    const jobs = await kit.api.put('/v1/jobs').set('Authorization', auth());
    expect(jobs.status).toBe(405);
    expect(jobs.headers['allow']).toBe('GET, HEAD');
  });

  test('broken percent-encoding in a path parameter is 400, and nothing reaches the host', async () => {
    const sim = kit.sim.host(HOST);
    const commandsBefore = sim.counters().requests['Command'] ?? 0;
    const paths = [
      ['GET', '/v1/hosts/%ZZ'],
      ['GET', `/v1/hosts/${HOST}/vms/web-01%`],
      ['GET', `/v1/hosts/${HOST}/vms/%C0%AF`],
      ['PUT', `/v1/hosts/${HOST}/vms/%E0%A4%A/memory`],
      ['GET', '/v1/jobs/%ZZ'],
      ['DELETE', `/v1/hosts/${HOST}/vms/%ZZ/memory`],
    ] as const;
    for (const [method, path] of paths) {
      const res = await kit.api[method === 'GET' ? 'get' : method === 'PUT' ? 'put' : 'delete'](path)
        .set('Authorization', auth())
        .set('Content-Type', 'application/json')
        .send(method === 'PUT' ? '{"startupBytes":2147483648}' : undefined);
      expectProblem(res, 400, 'HVG_ERR_BAD_REQUEST');
      expect(res.body['detail']).toMatch(/percent-encoded/);
    }
    expect(sim.counters().requests['Command'] ?? 0).toBe(commandsBefore);
  });

  test("what Node's HTTP parser refuses is problem+json too: 431 for headers over 16 KiB, 400 for non-HTTP", async () => {
    const raw = async (bytes: string): Promise<string> => {
      const { port } = new URL(kit.url);
      const socket = net.connect(Number(port), '127.0.0.1');
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.write(bytes);
      await new Promise((resolve) => socket.on('close', resolve));
      return Buffer.concat(chunks).toString('utf8');
    };
    const parse = (answer: string) => {
      const [head, body] = answer.split('\r\n\r\n') as [string, string];
      return { status: Number(head.split(' ')[1]), head, body: JSON.parse(body) as Record<string, unknown> };
    };
    const big = parse(
      await raw(`GET /v1/hosts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${'a'.repeat(20_000)}\r\n\r\n`),
    );
    expect(big.status).toBe(431);
    expect(big.head).toMatch(/\r\nContent-Type: application\/problem\+json/);
    expect(big.body).toMatchObject({ status: 431, code: 'HVG_ERR_HEADERS_TOO_LARGE' });
    expect(big.head).toContain(`X-Request-Id: ${String(big.body['requestId'])}`);
    const junk = parse(await raw('HELLO hvgate\r\n\r\n'));
    expect(junk.status).toBe(400);
    expect(junk.body).toMatchObject({ status: 400, code: 'HVG_ERR_BAD_REQUEST' });
    // The server goes on serving.
    expect((await kit.api.get('/healthz')).status).toBe(200);
  });

  test('/v1 without a token is 401 with WWW-Authenticate', async () => {
    const res = await kit.api.get('/v1/hosts');
    expectProblem(res, 401, 'HVG_ERR_UNAUTHENTICATED');
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
  });
});

describe('health, readiness, metrics, OpenAPI', () => {
  test('healthz and readyz answer 200 with the store writable', async () => {
    expect((await kit.api.get('/healthz')).body).toEqual({ status: 'ok' });
    const ready = await kit.api.get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.checks).toEqual({ config: 'ok', shutdown: 'ok', store: 'ok' });
  });

  test('metrics expose per-host slots, queue, circuit state and operation durations', async () => {
    await kit.api.get(`/v1/hosts/${HOST}`).set('Authorization', auth()).expect(200);
    const res = await kit.api.get('/metrics');
    expect(res.status).toBe(200);
    expect(res.text).toContain(`hvgate_host_jobs_running{host="${HOST}"} 0`);
    expect(res.text).toContain(`hvgate_host_jobs_queued{host="${HOST}"} 0`);
    expect(res.text).toContain(`hvgate_host_circuit_state{host="${HOST}"} 0`);
    expect(res.text).toMatch(
      /hvgate_operation_duration_seconds_count\{operation="host.get",host="hv-tokyo-01",outcome="succeeded"\} [1-9]/,
    );
    expect(res.text).toMatch(/hvgate_winrm_http_requests\{host="hv-tokyo-01"\} [1-9]/);
  });

  test('metrics count WinRM requests by host, action and HTTP status, as the host saw them', async () => {
    const OTHER = 'hv-osaka-02';
    const count = async (host: string, action: string, status: string): Promise<number> => {
      const text = (await kit.api.get('/metrics')).text;
      const line = new RegExp(
        `^hvgate_winrm_requests_total\\{host="${host}",action="${action}",status="${status}"\\} (\\d+)$`,
        'm',
      ).exec(text);
      return line ? Number(line[1]) : 0;
    };
    const sim = kit.sim.host(OTHER);
    await kit.api.get(`/v1/hosts/${OTHER}`).set('Authorization', auth()).expect(200);
    const seen = sim.counters().requests;
    const [command, receive] = [await count(OTHER, 'command', '200'), await count(OTHER, 'receive', '200')];
    expect(command).toBeGreaterThan(0);
    expect(command).toBe(seen['Command']);
    expect(receive).toBe(seen['Receive']);
    // A host answering HTTP 500, then cutting the connection before any answer: each request is
    // counted under its status ('none' for no answer), and every Command the host saw is counted.
    for (const fault of [
      { kind: 'http500', actions: ['Command'], count: 1 },
      { kind: 'drop', actions: ['Command'], count: 1, bytes: 0 },
    ] satisfies FaultSpec[]) {
      sim.faults.inject(fault);
      const failed = await kit.api.get(`/v1/hosts/${OTHER}`).set('Authorization', auth());
      expect([502, 503]).toContain(failed.status);
      sim.faults.clear();
    }
    expect(await count(OTHER, 'command', '500')).toBe(1);
    expect(await count(OTHER, 'command', 'none')).toBe(1);
    const commands = sim.counters().requests['Command'];
    expect(
      (await count(OTHER, 'command', '200')) +
        (await count(OTHER, 'command', '500')) +
        (await count(OTHER, 'command', 'none')),
    ).toBe(commands);
  });

  test("every body example /openapi.json shows passes the gateway's validation and path rules", async () => {
    const doc = (await kit.api.get('/openapi.json').expect(200)).body as {
      paths: Record<
        string,
        Record<string, { requestBody?: { content: Record<string, { example?: object }> } }>
      >;
    };
    const withBody = OPERATIONS.filter((spec) => spec.method === 'PUT' || spec.method === 'POST');
    for (const spec of withBody) {
      const { path } = toOpenApiPath(spec.route);
      const shown =
        doc.paths[path]![spec.method.toLowerCase()]!.requestBody!.content['application/json']!.example;
      if (spec.id === 'replication.start') {
        expect(shown).toBeUndefined(); // no body fields at all
        continue;
      }
      expect(spec.example).toBeDefined();
      expect(shown).toEqual(spec.example);
      // web-01 has its system disk at SCSI 0:0 and its DVD drive at 0:1.
      const url = path
        .replace('{host}', HOST)
        .replace('{vm}', 'web-01')
        .replace('{disk}', '0:0')
        .replace('{drive}', '0:1');
      const dry = await kit.api[spec.method === 'PUT' ? 'put' : 'post'](`${url}?dryRun=true`)
        .set('Authorization', auth())
        .send(spec.example!);
      expect({ op: spec.id, status: dry.status, code: dry.body.code }).toEqual({
        op: spec.id,
        status: 200,
        code: undefined,
      });
      expect(dry.body.operation).toBe(spec.id);
    }
  });

  test('/openapi.json lists every catalog route with security and problem responses', async () => {
    const res = await kit.api.get('/openapi.json').expect(200);
    expect(res.body.openapi).toBe('3.1.0');
    const put = res.body.paths['/v1/hosts/{host}/vms/{vm}/memory'].put;
    expect(put.security).toEqual([{ bearerAuth: [] }]);
    expect(put.responses['429'].content['application/problem+json']).toBeDefined();
    expect(put.requestBody.content['application/json'].schema.properties.startupBytes).toBeDefined();
  });
});

describe('hosts and operations', () => {
  test('GET /v1/hosts lists only granted hosts with slots and circuit', async () => {
    const res = await kit.api
      .get('/v1/hosts')
      .set('Authorization', `Bearer ${kit.token({ hosts: ['group:east'] })}`)
      .expect(200);
    expect(res.body.hosts.map((h: { name: string }) => h.name)).toEqual([HOST]);
    expect(res.body.hosts[0]).toMatchObject({
      circuit: 'closed',
      slots: { max: 4, inUse: 0, queued: 0, maxQueue: 100 },
    });
  });

  test('a short change answers 200 with the finished job; the job is readable afterwards', async () => {
    const vm = await kit.api.get(`/v1/hosts/${HOST}/vms/web-01`).set('Authorization', auth()).expect(200);
    const before = vm.body.result.memory.startupBytes as number;
    const res = await kit.api
      .put(MEMORY)
      .set('Authorization', auth())
      .send({ startupBytes: before + MiB2 });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      status: 'succeeded',
      operation: 'memory.set',
      host: HOST,
      vm: { name: 'web-01' },
    });
    expect(res.body.result.startupBytes).toBe(before + MiB2);
    const job = await kit.api.get(`/v1/jobs/${res.body.id}`).set('Authorization', auth()).expect(200);
    expect(job.body.status).toBe('succeeded');
    // Another caller cannot see it.
    await kit.api
      .get(`/v1/jobs/${res.body.id}`)
      .set('Authorization', `Bearer ${kit.token({ sub: 'someone-else' })}`)
      .expect(404);
  });

  test('?wait=0 answers 202 with Location; the job finishes', async () => {
    const res = await kit.api.get(`/v1/hosts/${HOST}?wait=0`).set('Authorization', auth());
    expect(res.status).toBe(202);
    expect(res.headers['location']).toBe(`/v1/jobs/${res.body.id}`);
    let status = res.body.status as string;
    for (let i = 0; i < 100 && (status === 'queued' || status === 'running'); i++) {
      await new Promise((r) => setTimeout(r, 20));
      status = (await kit.api.get(res.headers['location']!).set('Authorization', auth())).body.status;
    }
    expect(status).toBe('succeeded');
  });

  test('unknown body fields are 400 with the field named; a body repeating the VM is refused', async () => {
    const res = await kit.api
      .put(MEMORY)
      .set('Authorization', auth())
      .send({ startupBytes: 4 * 1024 ** 3, bogus: 1 });
    expectProblem(res, 400, 'HVG_ERR_VALIDATION');
    expect(JSON.stringify(res.body.errors)).toContain('bogus');
    const vmId = await kit.api
      .put(MEMORY)
      .set('Authorization', auth())
      .send({ vmId: 'x', startupBytes: 4 * 1024 ** 3 });
    expectProblem(vmId, 400, 'HVG_ERR_VALIDATION');
  });

  test('a disk or drive slot in the URL is controller:location; other forms are 400 naming the form', async () => {
    const VM = `/v1/hosts/${HOST}/vms/web-01`;
    const dry = async (path: string) =>
      kit.api.delete(`${VM}/${path}?dryRun=true`).set('Authorization', auth());
    // web-01 (Generation 2) has its DVD drive at SCSI 0:1 and its system disk at SCSI 0:0.
    for (const [path, params] of [
      ['hard-disks/SCSI:0:0', { controllerType: 'SCSI', controllerNumber: 0, controllerLocation: 0 }],
      ['hard-disks/scsi:0:0', { controllerType: 'SCSI', controllerNumber: 0, controllerLocation: 0 }],
      ['hard-disks/0:0', { controllerNumber: 0, controllerLocation: 0 }],
      ['dvd-drives/0:1', { controllerNumber: 0, controllerLocation: 1 }],
    ] as const) {
      const res = await dry(path);
      expect(res.status).toBe(200);
      expect(res.body.params).toMatchObject(params);
    }
    for (const [path, param] of [
      ['hard-disks/x', 'disk'],
      ['hard-disks/0', 'disk'],
      ['hard-disks/FC:0:0', 'disk'],
      ['hard-disks/0:1:2', 'disk'],
      ['hard-disks/0:-1', 'disk'],
      ['dvd-drives/IDE:0:1', 'drive'],
      ['dvd-drives/0:1x', 'drive'],
    ] as const) {
      const res = await dry(path);
      expectProblem(res, 400, 'HVG_ERR_VALIDATION');
      expect(res.body.detail).toMatch(
        new RegExp(`^the ${param} in the URL must be written controller:location`),
      );
      expect(res.body.errors).toEqual([{ path: param, message: expect.stringMatching(/^must be written/) }]);
    }
    // The URL names the slot; the body names the rest (as /openapi.json documents it) and may not
    // name the slot again, not even the controller type.
    const qos = `${VM}/hard-disks/0:0/qos?dryRun=true`;
    const ok = await kit.api.put(qos).set('Authorization', auth()).send({ maximumIops: 500 });
    expect(ok.status).toBe(200);
    expect(ok.body.params).toMatchObject({ controllerNumber: 0, controllerLocation: 0, maximumIops: 500 });
    const repeated = await kit.api
      .put(qos)
      .set('Authorization', auth())
      .send({ controllerType: 'SCSI', maximumIops: 500 });
    expectProblem(repeated, 400, 'HVG_ERR_VALIDATION');
    expect(repeated.body.errors).toEqual([
      { path: 'controllerType', message: 'comes from the URL and may not be repeated in the body' },
    ]);
    // Well formed but out of range is the schema's field error.
    const range = await dry('dvd-drives/0:99');
    expectProblem(range, 400, 'HVG_ERR_VALIDATION');
    expect((range.body.errors as { path: string }[]).map((e) => e.path)).toEqual(['controllerLocation']);
  });

  test('a failed precondition is 409 with the job id; ambiguous VM names are 409', async () => {
    // app-2012r2 is configuration version 5.0: static memory cannot be resized while it runs.
    const res = await kit.api
      .put(`/v1/hosts/${HOST}/vms/app-2012r2/memory`)
      .set('Authorization', auth())
      .send({ startupBytes: 4 * 1024 ** 3 + MiB2 });
    expectProblem(res, 409, res.body.code);
    expect(res.body.jobId).toEqual(expect.any(String));
    const amb = await kit.api
      .put(`/v1/hosts/${HOST}/vms/batch-worker/memory`)
      .set('Authorization', auth())
      .send({ priority: 60 });
    expectProblem(amb, 409, 'HVG_ERR_AMBIGUOUS_VM_NAME');
  });

  test('dry run reports the rules and the script and runs nothing', async () => {
    const applied = kit.sim.host(HOST).counters().operationsApplied.length;
    const res = await kit.api
      .put(`${MEMORY}?dryRun=true`)
      .set('Authorization', auth())
      .send({ priority: 70 });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ operation: 'memory.set', wouldRun: true });
    expect(res.body.script.id).toBe('memory.set@1');
    expect(kit.sim.host(HOST).counters().operationsApplied.length).toBe(applied);
  });

  test('403 for a missing scope and for an ungranted host; unknown host 404 only when granted', async () => {
    const noScope = await kit.api
      .put(MEMORY)
      .set('Authorization', `Bearer ${kit.token({ scopes: ['vm:read'] })}`)
      .send({ priority: 60 });
    expectProblem(noScope, 403, 'HVG_ERR_FORBIDDEN');
    const noHost = await kit.api
      .put(MEMORY)
      .set('Authorization', `Bearer ${kit.token({ hosts: ['hv-osaka-02'] })}`)
      .send({ priority: 60 });
    expectProblem(noHost, 403, 'HVG_ERR_FORBIDDEN');
    expectProblem(
      await kit.api.get('/v1/hosts/hv-nowhere').set('Authorization', auth()),
      404,
      'HVG_ERR_UNKNOWN_HOST',
    );
  });

  test('GET /v1/jobs lists own jobs newest first with cursor paging and filters', async () => {
    const t = kit.token({ sub: 'lister' });
    for (let i = 0; i < 3; i++)
      await kit.api.get(`/v1/hosts/${HOST}`).set('Authorization', `Bearer ${t}`).expect(200);
    const p1 = await kit.api.get('/v1/jobs?limit=2').set('Authorization', `Bearer ${t}`).expect(200);
    expect(p1.body.jobs).toHaveLength(2);
    expect(p1.body.nextCursor).toEqual(expect.any(String));
    const p2 = await kit.api
      .get(`/v1/jobs?limit=2&cursor=${p1.body.nextCursor}`)
      .set('Authorization', `Bearer ${t}`)
      .expect(200);
    expect(p2.body.jobs).toHaveLength(1);
    expect(p2.body.nextCursor).toBeNull();
    const ids = [...p1.body.jobs, ...p2.body.jobs].map((j: { id: string }) => j.id);
    expect(new Set(ids).size).toBe(3);
    const filtered = await kit.api
      .get('/v1/jobs?status=failed')
      .set('Authorization', `Bearer ${t}`)
      .expect(200);
    expect(filtered.body.jobs).toEqual([]);
    await kit.api.get('/v1/jobs?status=bogus').set('Authorization', `Bearer ${t}`).expect(400);
  });
});
