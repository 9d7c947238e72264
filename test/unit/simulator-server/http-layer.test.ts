import { TestHost, startTestHost } from './host-harness';
import { faultOf, httpRequest, wsmanEnvelope } from './wsman-test-client';

const SOAP_TYPE = 'application/soap+xml;charset=UTF-8';

function headerValues(raw: string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i]?.toLowerCase() === name) out.push(raw[i + 1] as string);
  return out;
}

describe('WinRM HTTP layer', () => {
  let t: TestHost;
  beforeAll(async () => {
    t = await startTestHost();
  });
  afterAll(() => t.close());

  const create = (): string =>
    wsmanEnvelope({
      action: 'Create',
      body: '<rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell>',
    });

  test('listens on 127.0.0.1 /wsman with the http.sys banner', () => {
    expect(t.host.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/wsman$/);
    expect(t.host.port).toBeGreaterThan(0);
  });

  test('GET /wsman → 405 Allow: POST', async () => {
    const r = await httpRequest(t.host.url, '', { method: 'GET', auth: null, contentType: null });
    expect(r.status).toBe(405);
    expect(r.headers['allow']).toBe('POST');
    expect(r.headers['server']).toBe('Microsoft-HTTPAPI/2.0');
  });

  test('other paths → 404', async () => {
    const r = await httpRequest(t.host.url, create(), { path: '/other' });
    expect(r.status).toBe(404);
  });

  test.each([
    ['no credentials', null],
    ['a wrong password', ['Administrator', 'nope'] as [string, string]],
    ['an unknown user', ['Guest', 'hvgate-sim'] as [string, string]],
  ])('%s → 401 offering Negotiate and Basic, empty body', async (_label, auth) => {
    const r = await httpRequest(t.host.url, create(), { auth });
    expect(r.status).toBe(401);
    expect(headerValues(r.rawHeaders, 'www-authenticate')).toEqual(['Negotiate', 'Basic realm="WSMAN"']);
    expect(r.body).toBe('');
    expect(r.headers['content-length']).toBe('0');
  });

  test('a Negotiate (NTLM) attempt is challenged, not accepted', async () => {
    const r = await httpRequest(t.host.url, create(), {
      auth: null,
      headers: { Authorization: 'Negotiate TlRMTVNTUAABAAAA' },
    });
    expect(r.status).toBe(401);
  });

  test('local account spellings are accepted: name, .\\name, HOST\\name, any case', async () => {
    for (const user of ['administrator', '.\\Administrator', 'HV-TEST-01\\ADMINISTRATOR']) {
      const r = await httpRequest(t.host.url, create(), { auth: [user, 'hvgate-sim'] });
      expect(r.status).toBe(200);
    }
  });

  test('an empty authenticated POST (encryption warm-up) → 200 with an empty body', async () => {
    const r = await httpRequest(t.host.url, '', { contentType: null });
    expect(r.status).toBe(200);
    expect(r.body).toBe('');
    expect(t.host.counters().requests['Empty']).toBeGreaterThanOrEqual(1);
  });

  test('wrong or missing content type → 415', async () => {
    expect((await httpRequest(t.host.url, 'whoami', { contentType: null })).status).toBe(415);
    expect((await httpRequest(t.host.url, create(), { contentType: 'text/xml' })).status).toBe(415);
  });

  test('an envelope over MaxEnvelopeSize (512000 bytes) → 413', async () => {
    const big = create().replace('</s:Body>', `<!--${'x'.repeat(512_000)}--></s:Body>`);
    const r = await httpRequest(t.host.url, big);
    expect(r.status).toBe(413);
    expect((await httpRequest(t.host.url, '', { contentType: null })).status).toBe(200);
  });

  test.each([
    ['not XML at all', 'hello'],
    ['unclosed elements', '<s:Envelope xmlns:s="x"><s:Header>'],
    ['a DTD', '<!DOCTYPE x [<!ENTITY a "aaaa">]><s:Envelope xmlns:s="x">&a;</s:Envelope>'],
    ['XML that is not an envelope', '<hello/>'],
    ['an envelope without Action', '<s:Envelope xmlns:s="x"><s:Header/><s:Body/></s:Envelope>'],
  ])('%s → Windows-shaped SchemaValidationError fault, server keeps serving', async (_label, body) => {
    const r = await httpRequest(t.host.url, body);
    expect(r.status).toBe(500);
    expect(r.headers['content-type']).toBe(SOAP_TYPE);
    expect(faultOf(r.body)).toMatchObject({ subcode: 'w:SchemaValidationError', code: '2150858817' });
    expect((await httpRequest(t.host.url, create())).status).toBe(200);
  });

  test('a fault for a readable request still relates to its MessageID', async () => {
    const r = await httpRequest(
      t.host.url,
      wsmanEnvelope({
        action: 'http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate',
        messageId: 'uuid:ABC',
      }),
    );
    expect(r.status).toBe(500);
    expect(faultOf(r.body)).toMatchObject({ subcode: 'a:ActionNotSupported', code: '2150858771' });
    expect(r.body).toContain('<a:RelatesTo>uuid:ABC</a:RelatesTo>');
  });

  test('PSRP resource URIs are not served → DestinationUnreachable', async () => {
    const r = await httpRequest(
      t.host.url,
      wsmanEnvelope({
        action: 'Create',
        resourceUri: 'http://schemas.microsoft.com/powershell/Microsoft.PowerShell',
        body: '<rsp:Shell/>',
      }),
    );
    expect(faultOf(r.body)).toMatchObject({ subcode: 'w:DestinationUnreachable' });
  });

  test('requests on an unknown shell → InvalidSelectors 2150858843', async () => {
    for (const action of ['Command', 'Receive', 'Send', 'Signal', 'Delete']) {
      const r = await httpRequest(
        t.host.url,
        wsmanEnvelope({ action, shellId: '11111111-2222-3333-4444-555555555555' }),
      );
      expect(r.status).toBe(500);
      expect(faultOf(r.body)).toMatchObject({ subcode: 'w:InvalidSelectors', code: '2150858843' });
    }
  });

  test('counts requests per action and replies per HTTP status', async () => {
    t.host.resetCounters();
    const r = await t.client.run('hostname');
    expect(r.stdout.toString()).toBe('hv-test-01\r\n');
    const c = t.host.counters();
    expect(c.requests).toMatchObject({ Create: 1, Command: 1, Receive: 1, Signal: 1, Delete: 1 });
    expect(c.httpStatuses).toEqual({ '200': 5 });
    expect(c.commandsStarted).toBe(1);
    expect(c.commandsRunning).toBe(0);
  });
});
