// The listener's HTTPS and authentication layer at the HTTP level: the generated CA and server
// certificate, Negotiate/NTLM bound to one keep-alive connection, the generic 401, and the
// AllowUnencrypted rule for NTLM over plain HTTP.
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import {
  SimTlsError,
  SimTlsMaterial,
  createSimTlsMaterial,
  writeCaFile,
} from '../../../src/simulator/sim-tls';
import { SimulatorOptionsError, createSimulator } from '../../../src/simulator/simulator';
import { WsmanHostOptions } from '../../../src/simulator/wsman-server';
import { TestHost, startTestHost } from './host-harness';
import { wsmanEnvelope } from './wsman-test-client';

interface ClientCodec {
  createType1Message(workstation: string, target: string): string;
  decodeType2Message(token: string): unknown;
  createType3Message(
    type2: unknown,
    user: string,
    password: string,
    workstation: string,
    target: string,
  ): string;
}
const ntlm = require('winrm-client/dist/src/utils/ntlm') as ClientCodec;

const USER = 'Administrator';
const PASSWORD = 'hvgate-sim';
const CMD_URI = 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd';
const CREATE_ACTION = 'http://schemas.xmlsoap.org/ws/2004/09/transfer/Create';

let tls: SimTlsMaterial;
beforeAll(async () => {
  tls = await createSimTlsMaterial();
});

function createShellBody(): string {
  return wsmanEnvelope({
    action: CREATE_ACTION,
    resourceUri: CMD_URI,
    body: '<rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell>',
  });
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Local port of the TCP connection the request went over. */
  localPort: number | undefined;
}

/** One client "connection": a keep-alive agent with a single socket, as NTLM needs. */
function connection(url: string, ca?: string) {
  const u = new URL(url);
  const secure = u.protocol === 'https:';
  const agent = secure
    ? new https.Agent({ keepAlive: true, maxSockets: 1, ca })
    : new http.Agent({ keepAlive: true, maxSockets: 1 });
  const post = (body: string, authorization?: string): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = {
        'Content-Type': 'application/soap+xml;charset=UTF-8',
        'Content-Length': Buffer.byteLength(body),
      };
      if (authorization) headers['Authorization'] = authorization;
      const req = (secure ? https : http).request(
        { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent, headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString('utf8'),
              localPort: res.socket?.localPort,
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  /** type 1 → challenge → type 3 carrying `body`. */
  const ntlmHandshake = async (
    body: string,
    password = PASSWORD,
  ): Promise<{ challenge: Reply; final: Reply }> => {
    const type1 = ntlm.createType1Message('', '').replace(/^NTLM /, '');
    const challenge = await post('', `Negotiate ${type1}`);
    const m = /^Negotiate (\S+)$/.exec(String(challenge.headers['www-authenticate'] ?? ''));
    if (!m) return { challenge, final: challenge };
    const type3 = ntlm
      .createType3Message(ntlm.decodeType2Message(m[1]!), USER, password, '', '')
      .replace(/^NTLM /, '');
    const final = await post(body, `Negotiate ${type3}`);
    return { challenge, final };
  };
  return { post, ntlmHandshake, close: () => agent.destroy() };
}

const hosts: TestHost[] = [];
const agents: Array<{ close(): void }> = [];
async function host(over: Partial<WsmanHostOptions> = {}): Promise<TestHost> {
  const t = await startTestHost(over);
  hosts.push(t);
  return t;
}
function conn(url: string, ca?: string) {
  const c = connection(url, ca);
  agents.push(c);
  return c;
}
afterEach(async () => {
  for (const a of agents.splice(0)) a.close();
  await Promise.all(hosts.splice(0).map((h) => h.close()));
});

describe('generated TLS material', () => {
  test('an RSA 2048 CA signs a server certificate for localhost, 127.0.0.1 and ::1', () => {
    const ca = new X509Certificate(tls.caPem);
    const cert = new X509Certificate(tls.certPem);
    expect(ca.ca).toBe(true);
    expect(cert.ca).toBe(false);
    expect(ca.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.checkIssued(ca)).toBe(true);
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkIP('::1')).toBeDefined();
    expect(cert.checkHost('hv01.example')).toBeUndefined();
    expect(new Date(cert.validTo).getTime()).toBeGreaterThan(Date.now() + 86_400_000);
  });

  test('serverName replaces every name in the certificate', async () => {
    const other = await createSimTlsMaterial({ serverName: 'hv-elsewhere.example' });
    const cert = new X509Certificate(other.certPem);
    expect(cert.checkHost('hv-elsewhere.example')).toBe('hv-elsewhere.example');
    expect(cert.checkIP('127.0.0.1')).toBeUndefined();
    expect(cert.checkHost('localhost')).toBeUndefined();
    expect(cert.verify(new X509Certificate(tls.caPem).publicKey)).toBe(false);
  });

  test('bad options are typed errors', async () => {
    await expect(createSimTlsMaterial({ serverName: 'bad name' })).rejects.toThrow(SimTlsError);
    await expect(createSimTlsMaterial({ validDays: 0 })).rejects.toThrow(SimTlsError);
  });

  test('the CA file holds only the certificate; a temporary one is removed with its directory', () => {
    const written = writeCaFile(tls.caPem);
    expect(fs.readFileSync(written.path, 'utf8')).toBe(tls.caPem);
    expect(fs.readFileSync(written.path, 'utf8')).not.toMatch(/PRIVATE KEY/);
    written.remove();
    expect(fs.existsSync(path.dirname(written.path))).toBe(false);
  });
});

describe('HTTPS listener', () => {
  test('serves https:// URLs; a client trusting the CA gets the WinRM 401 challenge', async () => {
    const t = await host({ tls: { key: tls.keyPem, cert: tls.certPem } });
    expect(t.host.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/wsman$/);
    const r = await conn(t.host.url, tls.caPem).post(createShellBody());
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toBe('Negotiate, Basic realm="WSMAN"');
    expect(r.headers['server']).toBe('Microsoft-HTTPAPI/2.0');
  });

  test('a client without the CA fails the handshake', async () => {
    const t = await host({ tls: { key: tls.keyPem, cert: tls.certPem } });
    await expect(conn(t.host.url).post('')).rejects.toMatchObject({
      code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    });
  });

  test('Basic over HTTPS is served', async () => {
    const t = await host({ tls: { key: tls.keyPem, cert: tls.certPem } });
    const basic = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
    const r = await conn(t.host.url, tls.caPem).post(createShellBody(), basic);
    expect(r.status).toBe(200);
    expect(r.body).toContain('ShellId');
    expect(t.host.counters().authentications).toEqual({ basic: 1 });
  });

  test('NTLM authenticates the connection: later requests on it need no header, other connections do', async () => {
    const t = await host({ tls: { key: tls.keyPem, cert: tls.certPem } });
    const c = conn(t.host.url, tls.caPem);
    const { challenge, final } = await c.ntlmHandshake(createShellBody());
    expect(challenge.status).toBe(401);
    // The challenge must keep the connection open: the type 3 has to arrive on the same one.
    expect(challenge.headers['connection']).not.toBe('close');
    expect(final.status).toBe(200);
    expect(final.localPort).toBe(challenge.localPort);
    expect(final.body).toContain('ShellId');

    const again = await c.post(createShellBody());
    expect(again.status).toBe(200);
    expect(again.localPort).toBe(final.localPort);

    const other = await conn(t.host.url, tls.caPem).post(createShellBody());
    expect(other.status).toBe(401);
    expect(t.host.counters()).toMatchObject({
      authentications: { negotiate: 1 },
      authFailures: { 'no-credentials': 1 },
      shellsOpen: 2,
    });
  });

  test('NTLM with a wrong password: 401, nothing runs', async () => {
    const t = await host({ tls: { key: tls.keyPem, cert: tls.certPem } });
    const { final } = await conn(t.host.url, tls.caPem).ntlmHandshake(createShellBody(), 'wrong');
    expect(final.status).toBe(401);
    expect(final.headers['www-authenticate']).toBe('Negotiate, Basic realm="WSMAN"');
    expect(t.host.counters()).toMatchObject({ authFailures: { 'wrong-password': 1 }, shellsOpen: 0 });
  });

  test('the NTLM scheme name (instead of Negotiate) gets the generic 401', async () => {
    const t = await host({ tls: { key: tls.keyPem, cert: tls.certPem } });
    const r = await conn(t.host.url, tls.caPem).post('', ntlm.createType1Message('', ''));
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toBe('Negotiate, Basic realm="WSMAN"');
    expect(t.host.counters().authFailures).toEqual({ 'unsupported-scheme': 1 });
  });
});

describe('NTLM over plain HTTP', () => {
  test('AllowUnencrypted=false (default): the plaintext SOAP after a good handshake gets 401', async () => {
    const t = await host();
    const c = conn(t.host.url);
    const { final } = await c.ntlmHandshake(createShellBody());
    expect(final.status).toBe(401);
    // An empty POST (what encrypting clients send to finish authentication) is fine.
    expect((await c.ntlmHandshake('')).final.status).toBe(200);
    expect(t.host.counters()).toMatchObject({ authFailures: { unencrypted: 1 }, shellsOpen: 0 });
  });

  test('AllowUnencrypted=true: the plaintext SOAP is served', async () => {
    const t = await host({ allowUnencrypted: true });
    const { final } = await conn(t.host.url).ntlmHandshake(createShellBody());
    expect(final.status).toBe(200);
    expect(final.body).toContain('ShellId');
  });
});

describe('createSimulator({ tls })', () => {
  test('exposes the CA, serves https URLs and removes its temporary CA file on close', async () => {
    const sim = await createSimulator({ hosts: 2, tls: true, latencyScale: 0, controlPort: false });
    try {
      expect(sim.hosts.every((h) => h.url.startsWith('https://127.0.0.1:'))).toBe(true);
      expect(fs.readFileSync(sim.caFile!, 'utf8')).toBe(sim.caPem);
      const r = await conn(sim.hosts[1]!.url, sim.caPem).post(createShellBody());
      expect(r.status).toBe(401);
    } finally {
      await sim.close();
    }
    expect(fs.existsSync(sim.caFile!)).toBe(false);
  });

  test('keeps a CA file written where the caller asked', async () => {
    const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'hvgate-ca-test-'));
    const file = path.join(dir, 'sim-ca.pem');
    try {
      const sim = await createSimulator({
        hosts: 1,
        tls: true,
        caFile: file,
        latencyScale: 0,
        controlPort: false,
      });
      expect(sim.caFile).toBe(file);
      await sim.close();
      expect(new X509Certificate(fs.readFileSync(file)).ca).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('TLS-only options without tls, or a bad server name, are SimulatorOptionsError', async () => {
    await expect(createSimulator({ serverName: 'x.example', controlPort: false })).rejects.toThrow(
      SimulatorOptionsError,
    );
    await expect(createSimulator({ caFile: '/tmp/x.pem', controlPort: false })).rejects.toThrow(
      SimulatorOptionsError,
    );
    await expect(createSimulator({ tls: true, serverName: 'bad name', controlPort: false })).rejects.toThrow(
      SimulatorOptionsError,
    );
    await expect(
      createSimulator({ tls: true, caFile: '/nonexistent-dir/hvgate/ca.pem', controlPort: false }),
    ).rejects.toThrow(SimulatorOptionsError);
  });
});
