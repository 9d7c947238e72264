import { ControlServer, startControlServer } from '../../../src/simulator/control-server';
import { InvalidFaultError } from '../../../src/simulator/fault-injector';
import { TestHost, abandonablePost, startTestHost, waitFor } from './host-harness';
import { faultOf, httpRequest, wsmanEnvelope } from './wsman-test-client';

const createXml = (): string =>
  wsmanEnvelope({
    action: 'Create',
    body: '<rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell>',
  });

describe('fault injection', () => {
  let t: TestHost;
  beforeAll(async () => {
    t = await startTestHost();
  });
  afterAll(() => t.close());
  afterEach(() => {
    t.host.faults.clear();
    t.host.resetCounters();
  });

  test('refuse resets connections on accept, for `count` connections', async () => {
    t.host.faults.inject({ kind: 'refuse', count: 1 });
    await expect(httpRequest(t.host.url, createXml())).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect((await httpRequest(t.host.url, createXml())).status).toBe(200);
    expect(t.host.counters()).toMatchObject({ connectionsRefused: 1, faultsInjected: { refuse: 1 } });
  });

  test('hang holds the request until the fault is cleared, then answers it', async () => {
    t.host.faults.inject({ kind: 'hang', actions: ['Create'] });
    let answered = false;
    const pending = httpRequest(t.host.url, createXml()).then((r) => {
      answered = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 150));
    expect(answered).toBe(false);
    t.host.faults.clear();
    expect((await pending).status).toBe(200);
  });

  test('hang: a client that gives up leaves nothing behind', async () => {
    t.host.faults.inject({ kind: 'hang' });
    const shellsBefore = t.host.counters().shellsOpen;
    const controller = new AbortController();
    const { req, gaveUp } = abandonablePost(t.host.url, controller.signal);
    req.end(createXml());
    await new Promise((r) => setTimeout(r, 100));
    controller.abort();
    await gaveUp;
    await new Promise((r) => setTimeout(r, 50));
    t.host.faults.clear();
    await new Promise((r) => setTimeout(r, 50));
    expect(t.host.counters().shellsOpen).toBe(shellsBefore);
  });

  test('slow delays the reply by delayMs', async () => {
    t.host.faults.inject({ kind: 'slow', delayMs: 250, count: 1 });
    const started = Date.now();
    expect((await httpRequest(t.host.url, createXml())).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(240);
    const again = Date.now();
    await httpRequest(t.host.url, createXml());
    expect(Date.now() - again).toBeLessThan(240);
  });

  test('http500 answers a plain HTTP 500 that is not SOAP', async () => {
    t.host.faults.inject({ kind: 'http500', count: 1 });
    const r = await httpRequest(t.host.url, createXml());
    expect(r.status).toBe(500);
    expect(r.headers['content-type']).toBe('text/plain');
    expect(faultOf(r.body)).toBeUndefined();
    expect(t.host.counters().requests['Create']).toBe(1);
    expect(t.host.counters().httpStatuses).toEqual({ '500': 1 });
  });

  test('soapFault answers a Windows-shaped InternalError fault', async () => {
    t.host.faults.inject({ kind: 'soapFault', count: 1 });
    t.host.faults.inject({
      kind: 'soapFault',
      count: 1,
      wsmanCode: 1726,
      message: 'The remote procedure call failed. ',
    });
    expect(faultOf((await httpRequest(t.host.url, createXml())).body)).toMatchObject({
      value: 's:Receiver',
      subcode: 'w:InternalError',
      code: '2147500037',
    });
    const custom = await httpRequest(t.host.url, createXml());
    expect(custom.status).toBe(500);
    expect(faultOf(custom.body)).toMatchObject({ code: '1726' });
    expect(custom.body).toContain('<s:Text xml:lang="en-US">The remote procedure call failed. </s:Text>');
    expect(t.host.counters().wsmanFaults).toMatchObject({ '2147500037': 1, '1726': 1 });
  });

  test('quota answers the MaxShellsPerUser fault on Create and MaxConcurrentOperationsPerUser otherwise', async () => {
    t.host.faults.inject({ kind: 'quota', count: 1 });
    expect(faultOf((await httpRequest(t.host.url, createXml())).body)?.code).toBe('2150859173');
    const shellId = await t.client.createShell();
    t.host.faults.inject({ kind: 'quota', actions: ['Command'], count: 1 });
    await expect(t.client.command(shellId, 'hostname')).rejects.toMatchObject({
      fault: { code: '2150859174' },
    });
    t.host.faults.inject({ kind: 'quota', quota: 'shells', actions: ['Command'], count: 1 });
    await expect(t.client.command(shellId, 'hostname')).rejects.toMatchObject({
      fault: { code: '2150859173' },
    });
    await t.client.deleteShell(shellId);
  });

  test('drop processes the request, writes part of the reply and cuts the connection', async () => {
    t.host.faults.inject({ kind: 'drop', actions: ['Create'], count: 1 });
    const before = t.host.counters().shellsOpen;
    await expect(httpRequest(t.host.url, createXml())).rejects.toThrow();
    // The shell was created even though the client never saw its id.
    expect(t.host.counters().shellsOpen).toBe(before + 1);
    expect(t.host.counters().faultsInjected).toEqual({ drop: 1 });
  });

  test('garbage answers 200 with a body that is not XML', async () => {
    t.host.faults.inject({ kind: 'garbage', count: 1 });
    const r = await httpRequest(t.host.url, createXml());
    expect(r.status).toBe(200);
    expect(() => {
      const { XMLValidator } = require('fast-xml-parser') as typeof import('fast-xml-parser');
      if (XMLValidator.validate(r.body) !== true) throw new Error('not xml');
    }).toThrow('not xml');
  });

  test('the actions filter and count decide which requests are hit', async () => {
    t.host.faults.inject({ kind: 'http500', actions: ['Receive'], count: 2 });
    const shellId = await t.client.createShell();
    const commandId = await t.client.command(shellId, 'hostname');
    expect((await t.client.receive(shellId, commandId)).reply.status).toBe(500);
    expect((await t.client.receive(shellId, commandId)).reply.status).toBe(500);
    const third = await t.client.receive(shellId, commandId);
    expect(third.state).toBe('Done');
    expect(t.host.counters().faultsInjected).toEqual({ http500: 2 });
    expect(t.host.faults.list()).toEqual([]);
    await t.client.deleteShell(shellId);
  });

  test('a fault without count lasts until cleared', async () => {
    t.host.faults.inject({ kind: 'http500' });
    for (let i = 0; i < 3; i++) expect((await httpRequest(t.host.url, createXml())).status).toBe(500);
    t.host.faults.clear();
    expect((await httpRequest(t.host.url, createXml())).status).toBe(200);
  });

  test('bad fault specs are refused with a typed error', () => {
    expect(() => t.host.faults.inject({ kind: 'explode' } as never)).toThrow(InvalidFaultError);
    expect(() => t.host.faults.inject({ kind: 'slow', count: 0 })).toThrow(InvalidFaultError);
    expect(() => t.host.faults.inject({ kind: 'slow', actions: ['Enumerate'] } as never)).toThrow(
      InvalidFaultError,
    );
  });
});

describe('control endpoint', () => {
  let t: TestHost;
  let control: ControlServer;
  beforeAll(async () => {
    t = await startTestHost();
    control = await startControlServer({
      hosts: () => [{ name: t.host.name, url: t.host.url, port: t.host.port }],
      host: (name) =>
        name === t.host.name
          ? {
              counters: t.host.counters,
              resetCounters: t.host.resetCounters,
              faults: t.host.faults,
              applied: () => [{ op: 'x' }],
            }
          : undefined,
    });
  });
  afterAll(async () => {
    await control.close();
    await t.close();
  });

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${control.url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, json: text ? (JSON.parse(text) as unknown) : undefined };
  };

  test('lists hosts and reads counters', async () => {
    expect(control.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await call('GET', '/hosts')).json).toEqual([
      { name: 'hv-test-01', url: t.host.url, port: t.host.port },
    ]);
    await t.client.run('hostname');
    const c = await call('GET', '/hosts/hv-test-01/counters');
    expect(c.status).toBe(200);
    expect(c.json).toMatchObject({ host: 'hv-test-01', requests: { Create: 1 } });
    expect((await call('POST', '/hosts/hv-test-01/counters/reset')).status).toBe(204);
    expect((await call('GET', '/hosts/hv-test-01/counters')).json).toMatchObject({ requests: {} });
    expect((await call('GET', '/hosts/hv-test-01/applied')).json).toEqual([{ op: 'x' }]);
  });

  test('injects and clears faults', async () => {
    const added = await call('POST', '/hosts/hv-test-01/faults', {
      kind: 'http500',
      actions: ['Create'],
      count: 1,
    });
    expect(added.status).toBe(201);
    expect(added.json).toMatchObject({ id: expect.any(Number) });
    expect((await call('GET', '/hosts/hv-test-01/faults')).json).toHaveLength(1);
    expect((await httpRequest(t.host.url, createXml())).status).toBe(500);
    await call('POST', '/hosts/hv-test-01/faults', { kind: 'http500' });
    expect((await call('DELETE', '/hosts/hv-test-01/faults')).status).toBe(204);
    expect((await httpRequest(t.host.url, createXml())).status).toBe(200);
  });

  test('rejects bad input and unknown hosts', async () => {
    expect((await call('POST', '/hosts/hv-test-01/faults', { kind: 'nope' })).status).toBe(400);
    expect((await call('POST', '/hosts/hv-test-01/faults', { kind: 'slow', extra: 1 })).status).toBe(400);
    expect((await call('GET', '/hosts/hv-nowhere/counters')).status).toBe(404);
    expect((await call('GET', '/nothing')).status).toBe(404);
    expect((await call('PUT', '/hosts/hv-test-01/faults')).status).toBe(405);
    await waitFor(() => true);
  });
});
