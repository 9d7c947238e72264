// The HTTP(S) transport against real loopback servers: Basic, NTLM (connection-bound), TLS with a
// private CA and server-name check, deadlines, aborts, drops, and typed errors without secrets.
import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import forge from 'node-forge';
import { createHttpTransport, unwrapSpnego } from '../../../src/winrm/http-transport';
import type { HostConnection } from '../../../src/winrm/host-connection';
import {
  AuthenticationFailedError,
  CancelledError,
  HostUnreachableError,
  InvalidHostConfigError,
  ProtocolError,
  TimeoutError,
  TlsError,
  WinRmError,
} from '../../../src/winrm/winrm-errors';
import type { WinRmTransport } from '../../../src/winrm/winrm-transport';

const md4 = require('js-md4') as { arrayBuffer(data: Buffer): ArrayBuffer };

const PASSWORD = 'canary-S3cret!pw';
const USER = 'svc-hvgate';
type Handler = (req: http.IncomingMessage, body: Buffer, res: http.ServerResponse) => void;

interface TestServer {
  port: number;
  connections: number;
  close(): Promise<void>;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function listen(server: http.Server | https.Server): Promise<TestServer> {
  const sockets = new Set<Socket>();
  const state = { connections: 0 };
  server.on('connection', (s: Socket) => {
    state.connections += 1;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('secureConnection', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const ts: TestServer = {
    port,
    get connections() {
      return state.connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  cleanups.push(() => ts.close());
  return ts;
}

function serve(handler: Handler, tls?: https.ServerOptions): Promise<TestServer> {
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handler(req, Buffer.concat(chunks), res));
  };
  return listen(tls ? https.createServer(tls, onRequest) : http.createServer(onRequest));
}

function transportFor(port: number, extra: Partial<HostConnection> = {}): WinRmTransport {
  const t = createHttpTransport({
    name: 'hv-unit',
    address: '127.0.0.1',
    port,
    transport: 'http',
    auth: 'basic',
    username: USER,
    password: PASSWORD,
    ...extra,
  });
  cleanups.push(() => t.close());
  return t;
}

const soon = (ms = 5_000): number => Date.now() + ms;
const SOAP = '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body/></s:Envelope>';

function expectNoSecrets(err: unknown): void {
  expect(err).toBeInstanceOf(WinRmError);
  const text = `${(err as Error).message} ${JSON.stringify(err)} ${(err as Error).stack ?? ''}`;
  expect(text).not.toContain(PASSWORD);
  expect(text).not.toContain(Buffer.from(`${USER}:${PASSWORD}`).toString('base64'));
}

describe('HTTP transport, Basic', () => {
  it('POSTs SOAP with preemptive Basic auth over one keep-alive connection', async () => {
    const seen: Array<{ auth?: string; type?: string; body: string }> = [];
    const srv = await serve((req, body, res) => {
      seen.push({
        auth: req.headers.authorization,
        type: req.headers['content-type'],
        body: body.toString('utf8'),
      });
      res.writeHead(200, { 'Content-Type': 'application/soap+xml;charset=UTF-8' }).end(SOAP);
    });
    const t = transportFor(srv.port);
    expect(t.endpoint).toBe(`http://127.0.0.1:${srv.port}/wsman`);
    for (let i = 0; i < 3; i += 1) {
      const r = await t.post({ body: `<x>é${i}</x>`, deadline: soon() });
      expect(r).toEqual({ status: 200, body: SOAP, contentType: 'application/soap+xml;charset=UTF-8' });
    }
    expect(seen.map((s) => s.body)).toEqual(['<x>é0</x>', '<x>é1</x>', '<x>é2</x>']);
    expect(seen[0]?.auth).toBe(`Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`);
    expect(seen[0]?.type).toBe('application/soap+xml;charset=UTF-8');
    expect(srv.connections).toBe(1);
  });

  it('returns fault bodies of HTTP 500 instead of dropping them', async () => {
    const srv = await serve((_req, _b, res) =>
      res.writeHead(500, { 'Content-Type': 'application/soap+xml' }).end('<fault/>'),
    );
    await expect(transportFor(srv.port).post({ body: SOAP, deadline: soon() })).resolves.toMatchObject({
      status: 500,
      body: '<fault/>',
    });
  });

  it('401 → AuthenticationFailedError without the credentials in it', async () => {
    const srv = await serve((_req, _b, res) =>
      res
        .writeHead(401, { 'WWW-Authenticate': ['Negotiate', 'Basic realm="WSMAN"'], 'Content-Length': 0 })
        .end(),
    );
    const err = await transportFor(srv.port)
      .post({ body: SOAP, deadline: soon() })
      .catch((e) => e);
    expect(err).toBeInstanceOf(AuthenticationFailedError);
    expectNoSecrets(err);
  });

  it('refused connection → retryable HostUnreachableError', async () => {
    const srv = await serve(() => undefined);
    const port = srv.port;
    await srv.close();
    const err = await transportFor(port)
      .post({ body: SOAP, deadline: soon() })
      .catch((e) => e);
    expect(err).toBeInstanceOf(HostUnreachableError);
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/ECONNREFUSED/);
    expectNoSecrets(err);
  });

  it('connection dropped mid-response → non-retryable HostUnreachableError', async () => {
    const srv = await serve((_req, _b, res) => {
      res.writeHead(200, { 'Content-Type': 'application/soap+xml', 'Content-Length': 1000 });
      res.write('<s:Envelope');
      setTimeout(() => res.socket?.destroy(), 10);
    });
    const err = await transportFor(srv.port)
      .post({ body: SOAP, deadline: soon() })
      .catch((e) => e);
    expect(err).toBeInstanceOf(HostUnreachableError);
    expect(err.retryable).toBe(false);
  });

  it('deadline → TimeoutError; abort → CancelledError; the server sees the socket closed', async () => {
    let closedSockets = 0;
    const srv = await serve((req) => {
      req.socket.on('close', () => (closedSockets += 1));
    });
    const t = transportFor(srv.port);
    const started = Date.now();
    await expect(t.post({ body: SOAP, deadline: Date.now() + 100 })).rejects.toThrow(TimeoutError);
    expect(Date.now() - started).toBeLessThan(1_500);
    const ac = new AbortController();
    const p = t.post({ body: SOAP, deadline: soon(), signal: ac.signal });
    setTimeout(() => ac.abort(), 30);
    await expect(p).rejects.toThrow(CancelledError);
    await new Promise((r) => setTimeout(r, 50));
    expect(closedSockets).toBe(2);
  });

  it('refuses oversized and non-UTF-8 responses', async () => {
    const srv = await serve((req, _b, res) => {
      if (req.url === '/wsman' && req.headers['x-case'] === undefined)
        res.writeHead(200).end(Buffer.alloc(2048, 0x41));
    });
    const t = createHttpTransport(
      {
        name: 'hv-unit',
        address: '127.0.0.1',
        port: srv.port,
        transport: 'http',
        auth: 'basic',
        username: USER,
        password: PASSWORD,
      },
      { maxResponseBytes: 1024 },
    );
    cleanups.push(() => t.close());
    await expect(t.post({ body: SOAP, deadline: soon() })).rejects.toThrow(ProtocolError);
    const bad = await serve((_req, _b, res) => res.writeHead(200).end(Buffer.from([0x3c, 0xff, 0xfe, 0x3e])));
    await expect(transportFor(bad.port).post({ body: SOAP, deadline: soon() })).rejects.toThrow(
      /not valid UTF-8/,
    );
  });

  it('validates the host entry without echoing secrets', () => {
    const base: HostConnection = {
      name: 'hv',
      address: '127.0.0.1',
      port: 5986,
      transport: 'https',
      auth: 'basic',
      username: USER,
      password: PASSWORD,
    };
    for (const bad of [
      { port: 0 },
      { port: 70000 },
      { address: 'evil host/x' },
      { transport: 'ftp' },
      { auth: 'kerberos' },
      { name: '' },
    ]) {
      let err: unknown;
      try {
        createHttpTransport({ ...base, ...bad } as HostConnection);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InvalidHostConfigError);
      expectNoSecrets(err);
    }
    expect(() => createHttpTransport({ ...base, caFile: '/nonexistent/ca.pem' })).toThrow(
      InvalidHostConfigError,
    );
  });
});

describe('HTTP transport, TLS', () => {
  interface Pki {
    caPem: string;
    key: string;
    cert: string;
  }
  let pki: Pki;

  function makeCert(
    subjectCn: string,
    publicKeyPem: string,
    signerKeyPem: string,
    issuerCn: string,
    ca: boolean,
    altNames: Array<{ type: number; value?: string; ip?: string }>,
  ): string {
    const cert = forge.pki.createCertificate();
    cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
    cert.serialNumber = '0' + randomBytes(8).toString('hex');
    cert.validity.notBefore = new Date(Date.now() - 60_000);
    cert.validity.notAfter = new Date(Date.now() + 86_400_000);
    cert.setSubject([{ name: 'commonName', value: subjectCn }]);
    cert.setIssuer([{ name: 'commonName', value: issuerCn }]);
    const ext: object[] = [{ name: 'basicConstraints', cA: ca }];
    if (ca) ext.push({ name: 'keyUsage', keyCertSign: true, cRLSign: true });
    else ext.push({ name: 'subjectAltName', altNames }, { name: 'extKeyUsage', serverAuth: true });
    cert.setExtensions(ext);
    cert.sign(forge.pki.privateKeyFromPem(signerKeyPem), forge.md.sha256.create());
    return forge.pki.certificateToPem(cert);
  }

  beforeAll(() => {
    const gen = () =>
      generateKeyPairSync('rsa', {
        modulusLength: 2048,
        publicKeyEncoding: { type: 'spki', format: 'pem' },
        privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
      });
    const caKeys = gen();
    const srvKeys = gen();
    const caPem = makeCert('hvgate test CA', caKeys.publicKey, caKeys.privateKey, 'hvgate test CA', true, []);
    const cert = makeCert('hv-tls.lab', srvKeys.publicKey, caKeys.privateKey, 'hvgate test CA', false, [
      { type: 2, value: 'hv-tls.lab' },
    ]);
    pki = { caPem, key: srvKeys.privateKey, cert };
  });

  async function tlsServer(): Promise<TestServer> {
    return serve(
      (_req, _b, res) => res.writeHead(200, { 'Content-Type': 'application/soap+xml' }).end(SOAP),
      {
        key: pki.key,
        cert: pki.cert,
      },
    );
  }

  it('talks HTTPS when the CA file and server name match', async () => {
    const srv = await tlsServer();
    const caFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hvgate-ca-')), 'ca.pem');
    fs.writeFileSync(caFile, pki.caPem);
    cleanups.push(() => fs.rmSync(path.dirname(caFile), { recursive: true, force: true }));
    const t = transportFor(srv.port, { transport: 'https', caFile, serverName: 'hv-tls.lab' });
    expect(t.endpoint).toBe(`https://127.0.0.1:${srv.port}/wsman`);
    await expect(t.post({ body: SOAP, deadline: soon() })).resolves.toMatchObject({
      status: 200,
      body: SOAP,
    });
  });

  it('refuses an untrusted certificate', async () => {
    const srv = await tlsServer();
    const err = await transportFor(srv.port, { transport: 'https', serverName: 'hv-tls.lab' })
      .post({ body: SOAP, deadline: soon() })
      .catch((e) => e);
    expect(err).toBeInstanceOf(TlsError);
    expectNoSecrets(err);
  });

  it('refuses a certificate for another name', async () => {
    const srv = await tlsServer();
    const wrongName = transportFor(srv.port, { transport: 'https', ca: pki.caPem, serverName: 'other.lab' });
    await expect(wrongName.post({ body: SOAP, deadline: soon() })).rejects.toThrow(TlsError);
    const byIp = transportFor(srv.port, { transport: 'https', ca: pki.caPem });
    await expect(byIp.post({ body: SOAP, deadline: soon() })).rejects.toThrow(TlsError);
  });

  it('reports TLS against a plain-HTTP listener as TlsError', async () => {
    const srv = await serve((_req, _b, res) => res.writeHead(200).end(SOAP));
    await expect(
      transportFor(srv.port, { transport: 'https', ca: pki.caPem }).post({ body: SOAP, deadline: soon() }),
    ).rejects.toThrow(TlsError);
  });
});

describe('HTTP transport, NTLM', () => {
  const DOMAIN = 'LAB';

  function type2(challenge: Buffer): string {
    const target = Buffer.from(DOMAIN, 'utf16le');
    const info = Buffer.concat([Buffer.from([2, 0, target.length, 0]), target, Buffer.from([0, 0, 0, 0])]);
    const head = Buffer.alloc(56);
    head.write('NTLMSSP\0', 0, 'latin1');
    head.writeUInt32LE(2, 8);
    head.writeUInt16LE(target.length, 12);
    head.writeUInt16LE(target.length, 14);
    head.writeUInt32LE(56, 16);
    head.writeUInt32LE(0x00000001 | 0x00000004 | 0x00000200 | 0x00080000 | 0x00800000, 20);
    challenge.copy(head, 24);
    head.writeUInt16LE(info.length, 40);
    head.writeUInt16LE(info.length, 42);
    head.writeUInt32LE(56 + target.length, 44);
    return Buffer.concat([head, target, info]).toString('base64');
  }

  function field(msg: Buffer, at: number): Buffer {
    const len = msg.readUInt16LE(at);
    const off = msg.readUInt32LE(at + 4);
    return msg.subarray(off, off + len);
  }

  /** Checks an NTLMv2 AUTHENTICATE message the way a host does (MS-NLMP 3.3.2). */
  function verifyType3(msg: Buffer, challenge: Buffer, password: string): { ok: boolean; user: string } {
    const nt = field(msg, 20);
    const domain = field(msg, 28).toString('utf16le');
    const user = field(msg, 36).toString('utf16le');
    const ntHash = Buffer.from(md4.arrayBuffer(Buffer.from(password, 'utf16le')));
    const owf = createHmac('md5', ntHash)
      .update(Buffer.from(user.toUpperCase() + domain, 'utf16le'))
      .digest();
    const proof = createHmac('md5', owf)
      .update(Buffer.concat([challenge, nt.subarray(16)]))
      .digest();
    return { ok: proof.equals(nt.subarray(0, 16)), user };
  }

  async function ntlmServer(password: string) {
    const stats = { handshakes: 0, requests: 0, users: [] as string[], forget: false };
    const authed = new WeakSet<Socket>();
    const challenges = new WeakMap<Socket, Buffer>();
    const srv = await serve((req, body, res) => {
      stats.requests += 1;
      const sock = req.socket;
      if (stats.forget) {
        stats.forget = false;
        authed.delete(sock);
      }
      const m = /^Negotiate (.+)$/.exec(req.headers.authorization ?? '');
      const deny = (): void => {
        res
          .writeHead(401, { 'WWW-Authenticate': ['Negotiate', 'Basic realm="WSMAN"'], 'Content-Length': 0 })
          .end();
      };
      if (!m) {
        if (authed.has(sock))
          res.writeHead(200, { 'Content-Type': 'application/soap+xml' }).end(`<ok>${body}</ok>`);
        else deny();
        return;
      }
      const token = Buffer.from(m[1] as string, 'base64');
      const type = token.readUInt32LE(8);
      if (type === 1) {
        stats.handshakes += 1;
        const challenge = randomBytes(8);
        challenges.set(sock, challenge);
        res
          .writeHead(401, { 'WWW-Authenticate': `Negotiate ${type2(challenge)}`, 'Content-Length': 0 })
          .end();
        return;
      }
      const challenge = challenges.get(sock);
      // The AUTHENTICATE message must arrive on the connection that got the challenge.
      if (type !== 3 || !challenge) return deny();
      const v = verifyType3(token, challenge, password);
      stats.users.push(v.user);
      if (!v.ok) return deny();
      authed.add(sock);
      res.writeHead(200, { 'Content-Type': 'application/soap+xml' }).end(`<ok>${body}</ok>`);
    });
    return { srv, stats };
  }

  it('authenticates a connection once and reuses it', async () => {
    const { srv, stats } = await ntlmServer(PASSWORD);
    const t = transportFor(srv.port, { auth: 'ntlm', username: `${DOMAIN}\\${USER}` });
    for (let i = 0; i < 3; i += 1) {
      await expect(t.post({ body: `<m>${i}</m>`, deadline: soon() })).resolves.toMatchObject({
        status: 200,
        body: `<ok><m>${i}</m></ok>`,
      });
    }
    expect(stats.handshakes).toBe(1);
    expect(stats.requests).toBe(4);
    expect(stats.users).toEqual([USER]);
    expect(srv.connections).toBe(1);
  });

  it('re-authenticates once when the host forgets the connection, and rejects a wrong password', async () => {
    const { srv, stats } = await ntlmServer(PASSWORD);
    const t = transportFor(srv.port, { auth: 'ntlm', username: `${DOMAIN}\\${USER}` });
    await t.post({ body: '<a/>', deadline: soon() });
    stats.forget = true;
    await expect(t.post({ body: '<b/>', deadline: soon() })).resolves.toMatchObject({
      body: '<ok><b/></ok>',
    });
    expect(stats.handshakes).toBe(2);

    const wrong = transportFor(srv.port, {
      auth: 'ntlm',
      username: `${DOMAIN}\\${USER}`,
      password: 'not-it',
    });
    const err = await wrong.post({ body: '<c/>', deadline: soon() }).catch((e) => e);
    expect(err).toBeInstanceOf(AuthenticationFailedError);
    expectNoSecrets(err);
  });

  it('unwraps an NTLM challenge wrapped in SPNEGO', () => {
    const inner = Buffer.concat([Buffer.from('NTLMSSP\0', 'latin1'), Buffer.from([2, 0, 0, 0, 9, 9])]);
    const wrapped = Buffer.concat([Buffer.from([0xa1, 0x81, 0x20, 0x30, 0x1e, 0x04, 0x0e]), inner]).toString(
      'base64',
    );
    expect(Buffer.from(unwrapSpnego(wrapped), 'base64').equals(inner)).toBe(true);
    expect(unwrapSpnego(inner.toString('base64'))).toBe(inner.toString('base64'));
  });
});
