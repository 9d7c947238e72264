// WinRmTransport over node:http/https. Replaces winrm-client's sendHttp (no deadline/abort, fault
// bodies dropped on non-2xx, text decoded per chunk, one NTLM handshake per message on a throw-away
// agent) while reusing its NTLM message codec. See README.md in this folder.

import http from 'node:http';
import https from 'node:https';
import type { HostConnection } from './host-connection';
import { endpointUrl, loadCa, validateHostConnection } from './host-connection';
import {
  AuthenticationFailedError,
  CancelledError,
  HostUnreachableError,
  ProtocolError,
  TimeoutError,
  TlsError,
  WinRmError,
} from './winrm-errors';
import type { Clock, TransportRequest, TransportResponse, WinRmTransport } from './winrm-transport';
import { systemClock } from './winrm-transport';

// winrm-client ships no typings for these deep modules' consumers; the shapes are small and stable.
interface NtlmCodec {
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
interface UsernameParser {
  parseUsername(username: string): { user: string; domain: string };
}
// Loaded on the first NTLM handshake: the codec pulls in ntlm-client and the whole `request`
// library (~5 MB of heap), which a gateway on Basic or HTTPS-only hosts never needs.
let ntlmModules: { ntlm: NtlmCodec; parseUsername: UsernameParser['parseUsername'] } | undefined;
function ntlmCodec() {
  ntlmModules ??= {
    ntlm: require('winrm-client/dist/src/utils/ntlm') as NtlmCodec,
    parseUsername: (require('winrm-client/dist/src/utils/auth') as UsernameParser).parseUsername,
  };
  return ntlmModules;
}

export interface HttpTransportOptions {
  /** Upper bound of parallel connections to this host. */
  maxSockets?: number;
  /** Larger responses are refused (Windows caps envelopes at MaxEnvelopeSize, 150-500 KiB). */
  maxResponseBytes?: number;
  clock?: Clock;
}

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}

const TLS_ERROR_CODE =
  /^(ERR_TLS_|ERR_SSL_|ERR_OSSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_|EPROTO$)/;
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
]);

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function createHttpTransport(
  conn: HostConnection,
  options: HttpTransportOptions = {},
): WinRmTransport {
  validateHostConnection(conn);
  const clock = options.clock ?? systemClock;
  const endpoint = endpointUrl(conn);
  const secure = conn.transport === 'https';
  const mod = secure ? https : http;
  const ca = secure ? loadCa(conn) : undefined;
  const maxResponseBytes = options.maxResponseBytes ?? 4 * 1024 * 1024;
  const maxSockets = options.maxSockets ?? 8;
  const where = `host ${conn.name} (${endpoint})`;

  const agentOptions: https.AgentOptions = { keepAlive: true, maxSockets, scheduling: 'lifo' };
  if (secure) {
    agentOptions.rejectUnauthorized = true;
    if (ca !== undefined) agentOptions.ca = ca;
    if (conn.serverName !== undefined) agentOptions.servername = conn.serverName;
  }
  const newAgent = (sockets: number): http.Agent =>
    secure
      ? new https.Agent({ ...agentOptions, maxSockets: sockets })
      : new http.Agent({ ...agentOptions, maxSockets: sockets });

  const basicAgent = conn.auth === 'basic' ? newAgent(maxSockets) : undefined;
  const basicHeader =
    conn.auth === 'basic'
      ? 'Basic ' + Buffer.from(`${conn.username}:${conn.password}`, 'utf8').toString('base64')
      : '';

  // NTLM authenticates a TCP connection, not a request: each entry is a one-socket agent that
  // stays authenticated for as long as the host keeps the connection open.
  interface NtlmConnection {
    agent: http.Agent;
    authenticated: boolean;
  }
  const idleNtlm: NtlmConnection[] = [];
  const allNtlm = new Set<NtlmConnection>();

  function mapError(err: unknown, connected: boolean): WinRmError {
    if (err instanceof WinRmError) return err;
    const e = err as NodeJS.ErrnoException;
    const code = typeof e?.code === 'string' ? e.code : '';
    if (TLS_ERROR_CODE.test(code) || /certificate|ssl|tls/i.test(e?.message ?? '')) {
      return new TlsError(`TLS failure talking to WinRM on ${where}: ${tlsReason(code)}`, {
        host: conn.name,
        cause: err,
      });
    }
    if (UNREACHABLE_CODES.has(code) || /socket hang up/i.test(e?.message ?? '')) {
      const what = connected ? 'connection to WinRM dropped' : 'cannot connect to WinRM';
      return new HostUnreachableError(`${what} on ${where}: ${code || 'socket hang up'}`, {
        host: conn.name,
        cause: err,
        retryable: !connected,
      });
    }
    return new HostUnreachableError(`WinRM request to ${where} failed: ${code || 'network error'}`, {
      host: conn.name,
      cause: err,
    });
  }

  function sendOnce(
    agent: http.Agent,
    body: string,
    authorization: string | undefined,
    request: TransportRequest,
  ): Promise<{ res: RawResponse; reusedSocket: boolean }> {
    return new Promise((resolve, reject) => {
      if (request.signal?.aborted) {
        reject(new CancelledError(`WinRM request to ${where} cancelled`, { host: conn.name }));
        return;
      }
      const remaining = request.deadline - clock.now();
      if (remaining <= 0) {
        reject(new TimeoutError(`deadline passed before contacting ${where}`, { host: conn.name }));
        return;
      }
      const headers: http.OutgoingHttpHeaders = {
        'Content-Type': 'application/soap+xml;charset=UTF-8',
        'Content-Length': Buffer.byteLength(body, 'utf8'),
        'User-Agent': 'hvgate',
        'Accept-Encoding': 'identity',
      };
      if (authorization !== undefined) headers['Authorization'] = authorization;
      const reqOptions: https.RequestOptions = {
        host: conn.address,
        port: conn.port,
        path: '/wsman',
        method: 'POST',
        agent,
        headers,
      };
      if (secure) {
        reqOptions.rejectUnauthorized = true;
        if (ca !== undefined) reqOptions.ca = ca;
        if (conn.serverName !== undefined) reqOptions.servername = conn.serverName;
      }
      let settled = false;
      let connected = false;
      const req = mod.request(reqOptions);
      const finish = (
        err: WinRmError | undefined,
        value?: { res: RawResponse; reusedSocket: boolean },
      ): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        request.signal?.removeEventListener('abort', onAbort);
        if (err) {
          req.destroy();
          reject(err);
        } else if (value) {
          resolve(value);
        }
      };
      const onAbort = (): void =>
        finish(new CancelledError(`WinRM request to ${where} cancelled`, { host: conn.name }));
      const timer = setTimeout(
        () => finish(new TimeoutError(`WinRM request to ${where} hit the deadline`, { host: conn.name })),
        remaining,
      );
      request.signal?.addEventListener('abort', onAbort, { once: true });
      req.on('socket', (socket) => {
        if (!socket.connecting) {
          connected = true;
          return;
        }
        socket.once(secure ? 'secureConnect' : 'connect', () => {
          connected = true;
        });
      });
      let gotResponse = false;
      req.on('error', (err: NodeJS.ErrnoException & { reusedSocket?: boolean }) => {
        err.reusedSocket = req.reusedSocket && !gotResponse;
        finish(mapError(err, connected));
      });
      req.on('response', (res) => {
        gotResponse = true;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxResponseBytes) {
            finish(
              new ProtocolError(`response from ${where} exceeds ${maxResponseBytes} bytes`, {
                host: conn.name,
              }),
            );
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', (err) => finish(mapError(err, true)));
        res.on('aborted', () =>
          finish(mapError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), true)),
        );
        res.on('end', () => {
          if (!res.complete) {
            finish(mapError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), true));
            return;
          }
          finish(undefined, {
            res: {
              status: res.statusCode ?? 0,
              headers: res.headers,
              rawHeaders: res.rawHeaders,
              body: Buffer.concat(chunks),
            },
            reusedSocket: req.reusedSocket,
          });
        });
      });
      req.end(body);
    });
  }

  /** A keep-alive socket closed by the host while idle fails on first write; that request never arrived. */
  async function sendWithStaleRetry(
    agent: http.Agent,
    body: string,
    authorization: string | undefined,
    request: TransportRequest,
  ): Promise<RawResponse> {
    try {
      return (await sendOnce(agent, body, authorization, request)).res;
    } catch (err) {
      const cause = err instanceof WinRmError ? (err.cause as NodeJS.ErrnoException | undefined) : undefined;
      if (err instanceof HostUnreachableError && cause?.code === 'ECONNRESET' && staleSocket(cause)) {
        return (await sendOnce(agent, body, authorization, request)).res;
      }
      throw err;
    }
  }

  function decode(res: RawResponse): TransportResponse {
    let text: string;
    try {
      text = utf8.decode(res.body);
    } catch (err) {
      throw new ProtocolError(`response from ${where} is not valid UTF-8`, {
        host: conn.name,
        cause: err,
        httpStatus: res.status,
      });
    }
    const ct = res.headers['content-type'];
    return { status: res.status, body: text, contentType: typeof ct === 'string' ? ct : undefined };
  }

  function authFailed(): AuthenticationFailedError {
    // Over plain HTTP a default host (AllowUnencrypted=false) answers 401 to NTLM-authenticated
    // plaintext SOAP, indistinguishable on the wire from a wrong password: name both causes.
    const why =
      conn.auth === 'ntlm' && !secure
        ? 'rejected the NTLM-authenticated request over plain HTTP (HTTP 401): either the credentials are wrong or the host refuses unencrypted messages (AllowUnencrypted=false; hvgate has no NTLM message encryption, use transport https)'
        : 'rejected the configured credentials (HTTP 401)';
    return new AuthenticationFailedError(`WinRM on ${where} ${why}`, {
      host: conn.name,
      httpStatus: 401,
    });
  }

  async function postBasic(request: TransportRequest): Promise<TransportResponse> {
    const res = await sendWithStaleRetry(basicAgent as http.Agent, request.body, basicHeader, request);
    if (res.status === 401) throw authFailed();
    return decode(res);
  }

  function challengeToken(res: RawResponse): string | undefined {
    for (let i = 0; i < res.rawHeaders.length; i += 2) {
      if ((res.rawHeaders[i] ?? '').toLowerCase() !== 'www-authenticate') continue;
      const m = /^(?:Negotiate|NTLM)\s+([A-Za-z0-9+/=]+)\s*$/i.exec(res.rawHeaders[i + 1] ?? '');
      if (m?.[1]) return unwrapSpnego(m[1]);
    }
    return undefined;
  }

  async function ntlmHandshake(c: NtlmConnection, request: TransportRequest): Promise<RawResponse> {
    const { ntlm, parseUsername } = ntlmCodec();
    const { user, domain } = parseUsername(conn.username);
    const type1 = ntlm.createType1Message('', domain).replace(/^NTLM\s+/, '');
    const challenge = await sendOnce(c.agent, '', `Negotiate ${type1}`, request);
    if (challenge.res.status !== 401) {
      throw new ProtocolError(
        `WinRM on ${where} answered the NTLM negotiate with HTTP ${challenge.res.status}`,
        {
          host: conn.name,
          httpStatus: challenge.res.status,
        },
      );
    }
    const token = challengeToken(challenge.res);
    if (token === undefined) throw authFailed();
    let type3: string;
    try {
      const type2 = ntlm.decodeType2Message(token);
      type3 = ntlm.createType3Message(type2, user, conn.password, '', domain).replace(/^NTLM\s+/, '');
    } catch (err) {
      throw new ProtocolError(`WinRM on ${where} sent an unusable NTLM challenge`, {
        host: conn.name,
        cause: err,
      });
    }
    const { res } = await sendOnce(c.agent, request.body, `Negotiate ${type3}`, request);
    if (res.status === 401) throw authFailed();
    c.authenticated = true;
    return res;
  }

  async function postNtlm(request: TransportRequest): Promise<TransportResponse> {
    const c = idleNtlm.pop() ?? { agent: newAgent(1), authenticated: false };
    allNtlm.add(c);
    let healthy = false;
    try {
      let res: RawResponse;
      if (!c.authenticated) {
        res = await ntlmHandshake(c, request);
      } else {
        try {
          res = (await sendOnce(c.agent, request.body, undefined, request)).res;
        } catch (err) {
          const cause =
            err instanceof WinRmError ? (err.cause as NodeJS.ErrnoException | undefined) : undefined;
          if (!(err instanceof HostUnreachableError && cause?.code === 'ECONNRESET' && staleSocket(cause)))
            throw err;
          c.authenticated = false;
          res = await ntlmHandshake(c, request);
        }
        // The host dropped the connection's security context (e.g. a new socket): authenticate once more.
        if (res.status === 401) {
          c.authenticated = false;
          res = await ntlmHandshake(c, request);
        }
      }
      healthy = true;
      return decode(res);
    } finally {
      if (healthy) {
        idleNtlm.push(c);
      } else {
        allNtlm.delete(c);
        c.agent.destroy();
      }
    }
  }

  return {
    endpoint,
    post: (request) => (conn.auth === 'basic' ? postBasic(request) : postNtlm(request)),
    close() {
      basicAgent?.destroy();
      for (const c of allNtlm) c.agent.destroy();
      allNtlm.clear();
      idleNtlm.length = 0;
    },
  };
}

const UNTRUSTED_CERT_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);

/** Operators act differently on an untrusted CA and on a wrong name, so the message says which. */
function tlsReason(code: string): string {
  if (UNTRUSTED_CERT_CODES.has(code)) return `certificate not trusted: no configured CA signed it (${code})`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH')
    return `certificate name does not match the host name or serverName (${code})`;
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID')
    return `certificate outside its validity period (${code})`;
  return `handshake failed${code ? ` (${code})` : ''}`;
}

/** Marks errors raised on a reused keep-alive socket (set by Node on `req.reusedSocket`). */
function staleSocket(cause: NodeJS.ErrnoException & { reusedSocket?: boolean }): boolean {
  return cause.reusedSocket === true;
}

/**
 * Hosts may wrap the NTLM challenge in an SPNEGO NegTokenResp; the NTLMSSP message inside is
 * self-describing (offsets are relative to its signature), so slicing from the signature suffices.
 */
export function unwrapSpnego(tokenB64: string): string {
  const raw = Buffer.from(tokenB64, 'base64');
  const sig = raw.indexOf(Buffer.from('NTLMSSP\0', 'latin1'));
  if (sig <= 0) return tokenB64;
  return raw.subarray(sig).toString('base64');
}
