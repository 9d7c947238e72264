// One simulated Hyper-V host's WinRM listener: POST /wsman over HTTP or HTTPS with Basic or
// Negotiate/NTLM authentication (wsman-auth.ts), the cmd-shell operations (Create, Command,
// Send, Receive, Signal, Delete, Get), Windows-shaped faults and quotas, fault injection and
// counters.
import http from 'node:http';
import https from 'node:https';
import { AddressInfo, Socket } from 'node:net';
import { decodeRelaxedBase64 } from './base64-text';
import { parseCodePage } from './code-page';
import { FaultInjector, FaultSpec, createFaultInjector } from './fault-injector';
import { HostCounters, HostCountersSnapshot, createHostCounters } from './host-counters';
import { formatSecondsDuration, parseIsoDuration } from './iso-duration';
import { PowerShellRunner } from './sim-process';
import { createWsmanAuthenticator } from './wsman-auth';
import {
  CMD_RESOURCE_URI,
  SHELL_RESOURCE_URI,
  ShellDescription,
  commandResponse,
  createResponse,
  deleteResponse,
  getShellResponse,
  receiveResponse,
  sendResponse,
  signalResponse,
} from './soap-reply';
import {
  WSMAN_CODES,
  WsmanFaultReply,
  actionNotSupportedFault,
  internalErrorFault,
  invalidResourceUriFault,
  invalidTimeoutHeaderFault,
  quotaMaxOperationsFault,
  quotaMaxShellsFault,
  schemaValidationFault,
  shellNotFoundGetFault,
  timedOutFault,
  unknownCommandFault,
  unknownShellFault,
} from './wsman-faults';
import {
  WsmanActionName,
  WsmanRequest,
  WsmanRequestError,
  attrOf,
  childOf,
  childrenOf,
  parseWsmanRequest,
  textOf,
} from './wsman-request';
import { QuotaKind, SimShell, WinrsHost, abortableSleep, createWinrsHost } from './winrs-shells';

export const SOAP_CONTENT_TYPE = 'application/soap+xml;charset=UTF-8';
const SERVER_BANNER = 'Microsoft-HTTPAPI/2.0';

export const WSMAN_DEFAULTS = {
  maxShellsPerUser: 30,
  maxOperationsPerUser: 1500,
  idleTimeoutMs: 7_200_000,
  maxEnvelopeSize: 512_000,
  maxTimeoutMs: 60_000,
  /** What clients send when they do not know the host's setting (pywinrm, pypsrp, WinRb). */
  clientEnvelopeSize: 153_600,
} as const;

export interface WsmanHostOptions {
  hostName: string;
  user: string;
  password: string;
  runPowerShell: PowerShellRunner;
  /** 0 (default) = ephemeral. */
  port?: number;
  /** Multiplies every program's ctx.sleep (0 = instant). Default 1. */
  latencyScale?: number;
  maxShellsPerUser?: number;
  maxOperationsPerUser?: number;
  /** IdleTimeOut for shells whose Create does not ask for one. */
  idleTimeoutMs?: number;
  maxEnvelopeSize?: number;
  maxTimeoutMs?: number;
  /** Serve HTTPS with this key and certificate chain (PEM) instead of plain HTTP. */
  tls?: { key: string; cert: string };
  /**
   * WinRM AllowUnencrypted for Negotiate (default false: plaintext SOAP from an NTLM-authenticated
   * client over plain HTTP gets 401, as on a default Windows host). Basic over HTTP is always served.
   */
  allowUnencrypted?: boolean;
}

export interface HostFaults {
  /** Validates and adds a fault (throws InvalidFaultError); returns its id. */
  inject(spec: FaultSpec): number;
  clear(): void;
  list(): ReadonlyArray<{ id: number; spec: FaultSpec; remaining: number | undefined }>;
}

export interface WsmanHost {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  counters(): HostCountersSnapshot;
  resetCounters(): void;
  readonly faults: HostFaults;
  /** Kills running programs, releases held requests and closes every socket. */
  close(): Promise<void>;
}

interface Reply {
  status: number;
  body: string;
  faultCode?: number;
}

const ok = (body: string): Reply => ({ status: 200, body });
const fault = (f: WsmanFaultReply): Reply => ({ status: 500, body: f.xml, faultCode: f.code });

export async function startWsmanHost(opts: WsmanHostOptions): Promise<WsmanHost> {
  const maxEnvelopeSize = opts.maxEnvelopeSize ?? WSMAN_DEFAULTS.maxEnvelopeSize;
  const maxTimeoutMs = opts.maxTimeoutMs ?? WSMAN_DEFAULTS.maxTimeoutMs;
  const maxShells = opts.maxShellsPerUser ?? WSMAN_DEFAULTS.maxShellsPerUser;
  const maxOperations = opts.maxOperationsPerUser ?? WSMAN_DEFAULTS.maxOperationsPerUser;
  const machine = opts.hostName;
  const counters: HostCounters = createHostCounters(opts.hostName);
  const faults: FaultInjector = createFaultInjector();
  const winrs: WinrsHost = createWinrsHost({
    hostName: opts.hostName,
    latencyScale: opts.latencyScale ?? 1,
    maxShellsPerUser: maxShells,
    maxOperationsPerUser: maxOperations,
    defaultIdleTimeoutMs: opts.idleTimeoutMs ?? WSMAN_DEFAULTS.idleTimeoutMs,
    runPowerShell: opts.runPowerShell,
    counters,
  });
  const sockets = new Set<Socket>();
  const inFlight = new Set<AbortController>();
  let closing = false;
  let url = '';
  const auth = createWsmanAuthenticator({
    hostName: opts.hostName,
    user: opts.user,
    password: opts.password,
    allowUnencrypted: opts.allowUnencrypted ?? false,
  });

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const reqAbort = new AbortController();
    inFlight.add(reqAbort);
    res.on('close', () => {
      inFlight.delete(reqAbort);
      if (!res.writableFinished) reqAbort.abort();
    });
    res.on('error', () => reqAbort.abort());
    handle(req, res, reqAbort.signal).catch(() => {
      // Last resort: a bug must cost one request, never the simulator.
      if (!res.headersSent && !res.destroyed) writeReply(res, { status: 500, body: '' });
      else res.destroy();
    });
  };
  const server = opts.tls
    ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert }, onRequest)
    : http.createServer(onRequest);
  server.on('connection', (socket: Socket) => {
    if (faults.takeForConnection()) {
      counters.faultInjected('refuse');
      counters.connectionRefused();
      socket.resetAndDestroy();
      return;
    }
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_err, socket) => socket.destroy());

  function writeReply(
    res: http.ServerResponse,
    reply: Reply,
    headers: Record<string, string | string[]> = {},
  ): void {
    if (res.destroyed || res.headersSent) return;
    res.statusCode = reply.status;
    res.setHeader('Server', SERVER_BANNER);
    if (!('Content-Type' in headers)) res.setHeader('Content-Type', SOAP_CONTENT_TYPE);
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    res.setHeader('Content-Length', Buffer.byteLength(reply.body, 'utf8'));
    counters.httpStatus(reply.status);
    if (reply.faultCode !== undefined) counters.wsmanFault(reply.faultCode);
    // As a string the body is joined to the header block; no Buffer copy of it is made.
    res.end(reply.body, 'utf8');
  }

  /** The request body; null when the request errors, closes early or is far over the limit. */
  function readBody(req: http.IncomingMessage): Promise<{ body: Buffer; tooLarge: boolean } | null> {
    // Stream events rather than `for await`: the async iterator costs more than the small bodies.
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let settled = false;
      const settle = (value: { body: Buffer; tooLarge: boolean } | null): void => {
        if (settled) return;
        settled = true;
        req.off('data', onData);
        resolve(value);
      };
      const onData = (chunk: Buffer): void => {
        size += chunk.length;
        if (size <= maxEnvelopeSize) chunks.push(chunk);
        else if (size > maxEnvelopeSize * 8) {
          req.destroy();
          settle(null);
        }
      };
      req.on('data', onData);
      req.once('end', () =>
        settle({
          body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks),
          tooLarge: size > maxEnvelopeSize,
        }),
      );
      req.on('error', () => settle(null));
      req.once('close', () => settle(null));
    });
  }

  async function handle(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    signal: AbortSignal,
  ): Promise<void> {
    const read = await readBody(req);
    if (!read || signal.aborted) return;
    const rawUrl = req.url ?? '/';
    // Every client posts to exactly /wsman; only other targets need the URL parser.
    const path = rawUrl === '/wsman' ? rawUrl : new URL(rawUrl, 'http://sim').pathname.toLowerCase();
    if (path !== '/wsman') return writeReply(res, { status: 404, body: '' });
    if (req.method !== 'POST') return writeReply(res, { status: 405, body: '' }, { Allow: 'POST' });
    const type = String(req.headers['content-type'] ?? '').toLowerCase();
    const decision = auth.authenticate(req, { length: read.body.length, contentType: type });
    if (decision.kind === 'challenge') return writeReply(res, { status: 401, body: '' }, decision.headers);
    if (decision.kind === 'deny') {
      counters.authFailed(decision.reason);
      return writeReply(res, { status: 401, body: '' }, decision.headers);
    }
    if (decision.fresh) counters.authenticated(decision.scheme);
    for (const [k, v] of Object.entries(decision.headers)) res.setHeader(k, v);
    const user = decision.user;
    if (read.tooLarge) return writeReply(res, { status: 413, body: '' }, { Connection: 'close' });
    if (read.body.length === 0) {
      // Clients that set up message encryption send an empty POST first to finish authentication.
      counters.request('Empty');
      return writeReply(res, { status: 200, body: '' });
    }
    if (!type.startsWith('application/soap+xml')) return writeReply(res, { status: 415, body: '' });

    let request: WsmanRequest;
    try {
      request = parseWsmanRequest(read.body.toString('utf8'));
    } catch (err) {
      counters.request('Invalid');
      const relatesTo = err instanceof WsmanRequestError ? err.messageId : undefined;
      return writeReply(res, fault(schemaValidationFault(relatesTo, machine)));
    }
    counters.request(request.action ?? 'Unsupported');

    const injected = faults.takeForRequest(request.action);
    if (injected) {
      counters.faultInjected(injected.kind);
      const handled = await applyFault(injected, request, res, signal);
      if (handled) return;
    }
    if (signal.aborted || closing || req.socket.destroyed) return;
    const reply = await dispatch(request, clientIp(req), user, signal);
    if (!reply || signal.aborted) return;
    if (injected?.kind === 'drop') return dropReply(res, reply, injected);
    writeReply(res, reply);
  }

  /** Returns true when the fault produced the whole answer; false to go on with normal processing. */
  async function applyFault(
    f: FaultSpec,
    request: WsmanRequest,
    res: http.ServerResponse,
    signal: AbortSignal,
  ): Promise<boolean> {
    switch (f.kind) {
      case 'slow':
        await abortableSleep(f.delayMs ?? 1000, signal).catch(() => undefined);
        return signal.aborted;
      case 'hang':
        await faults.whenCleared(signal);
        return signal.aborted || closing;
      case 'http500':
        writeReply(res, { status: 500, body: 'Internal Server Error' }, { 'Content-Type': 'text/plain' });
        return true;
      case 'garbage':
        writeReply(res, { status: 200, body: '\u0000\u0001HVGATE-SIM not xml <<<' });
        return true;
      case 'soapFault': {
        const message = f.message ?? 'Unspecified error ';
        writeReply(
          res,
          fault(
            internalErrorFault(request.messageId, machine, f.wsmanCode ?? WSMAN_CODES.unspecified, message),
          ),
        );
        return true;
      }
      case 'quota': {
        const which = f.quota ?? (request.action === 'Create' ? 'shells' : 'operations');
        writeReply(res, fault(quotaFault(which, request.messageId)));
        return true;
      }
      case 'drop':
      case 'refuse':
        return false;
    }
  }

  function dropReply(res: http.ServerResponse, reply: Reply, f: FaultSpec): void {
    if (res.destroyed) return;
    const body = Buffer.from(reply.body, 'utf8');
    const keep = Math.min(body.length - 1, f.bytes ?? Math.floor(body.length / 2));
    res.statusCode = reply.status;
    res.setHeader('Server', SERVER_BANNER);
    res.setHeader('Content-Type', SOAP_CONTENT_TYPE);
    res.setHeader('Content-Length', body.length);
    counters.httpStatus(reply.status);
    res.write(body.subarray(0, Math.max(0, keep)), () => res.socket?.destroy());
  }

  function quotaFault(which: QuotaKind, relatesTo: string | undefined): WsmanFaultReply {
    return which === 'shells'
      ? quotaMaxShellsFault(relatesTo, maxShells)
      : quotaMaxOperationsFault(relatesTo, maxOperations);
  }

  async function dispatch(
    r: WsmanRequest,
    ip: string,
    user: string,
    signal: AbortSignal,
  ): Promise<Reply | null> {
    if (r.operationTimeout !== undefined && parseIsoDuration(r.operationTimeout) === undefined) {
      return fault(invalidTimeoutHeaderFault(r.messageId, machine, r.operationTimeout));
    }
    if (!r.action) return fault(actionNotSupportedFault(r.messageId, machine, r.actionUri));
    const resourceOk =
      r.resourceUri === undefined ||
      r.resourceUri === CMD_RESOURCE_URI ||
      (r.action === 'Get' && r.resourceUri === SHELL_RESOURCE_URI);
    if (!resourceOk) return fault(invalidResourceUriFault(r.messageId, machine, r.resourceUri ?? ''));
    if (r.action === 'Create') return create(r, ip, user);

    const shell = r.shellId ? winrs.getShell(r.shellId) : undefined;
    if (!shell) {
      if (r.action === 'Get') return fault(shellNotFoundGetFault(r.messageId, machine));
      return fault(unknownShellFault(r.messageId, machine, r.shellId ?? ''));
    }
    winrs.beginRequest(shell);
    try {
      return await shellAction(r.action, r, shell, signal);
    } finally {
      winrs.endRequest(shell);
    }
  }

  function describe(shell: SimShell): ShellDescription {
    const seconds = (ms: number): string => {
      const s = Math.floor(ms / 1000);
      return `P${Math.floor(s / 86400)}DT${Math.floor((s % 86400) / 3600)}H${Math.floor((s % 3600) / 60)}M${s % 60}S`;
    };
    const now = Date.now();
    return {
      shellId: shell.id,
      address: url,
      owner: shell.p.owner,
      clientIp: shell.p.clientIp,
      idleTimeOut: formatSecondsDuration(shell.idleTimeoutMs),
      inputStreams: shell.p.inputStreams,
      outputStreams: shell.p.outputStreams,
      shellRunTime: seconds(now - shell.createdAt),
      shellInactivity: seconds(now - shell.lastActivity),
    };
  }

  function create(r: WsmanRequest, ip: string, user: string): Reply {
    const shellNode = childOf(r.body, 'Shell');
    const idleText = textOf(childOf(shellNode, 'IdleTimeOut')).trim();
    const idle = idleText ? parseIsoDuration(idleText) : undefined;
    const result = winrs.createShell({
      owner: user,
      clientIp: ip,
      codePage: parseCodePage(r.options.get('WINRS_CODEPAGE')),
      idleTimeoutMs: idle !== undefined && idle > 0 ? idle : undefined,
      shellId: attrOf(shellNode, 'ShellId'),
      inputStreams: textOf(childOf(shellNode, 'InputStreams')).trim() || 'stdin',
      outputStreams: textOf(childOf(shellNode, 'OutputStreams')).trim() || 'stdout stderr',
    });
    if ('quota' in result) return fault(quotaFault(result.quota, r.messageId));
    return ok(createResponse(r.messageId, describe(result.shell)));
  }

  async function shellAction(
    action: Exclude<WsmanActionName, 'Create'>,
    r: WsmanRequest,
    shell: SimShell,
    signal: AbortSignal,
  ): Promise<Reply | null> {
    switch (action) {
      case 'Get':
        return ok(getShellResponse(r.messageId, describe(shell)));
      case 'Delete':
        winrs.deleteShell(shell);
        return ok(deleteResponse(r.messageId));
      case 'Command':
        return command(r, shell);
      case 'Send':
        return send(r, shell);
      case 'Receive':
        return receive(r, shell, signal);
      case 'Signal': {
        const node = childOf(r.body, 'Signal');
        const cmd = winrs.getCommand(shell, attrOf(node, 'CommandId') ?? '');
        if (!cmd) return fault(unknownCommandFault(r.messageId, machine));
        const code = textOf(childOf(node, 'Code')).trim().toLowerCase();
        winrs.signal(shell, cmd, /ctrl_c$|ctrl_break$/.test(code) ? 'ctrl_c' : 'terminate');
        return ok(signalResponse(r.messageId));
      }
    }
  }

  function command(r: WsmanRequest, shell: SimShell): Reply {
    const line = childOf(r.body, 'CommandLine');
    const exe = textOf(childOf(line, 'Command')).trim();
    const args = childrenOf(line, 'Arguments').map((a) => textOf(a));
    const commandLine = [exe, ...args].join(' ');
    const skipCmdShell = r.options.get('WINRS_SKIP_CMD_SHELL')?.toUpperCase() === 'TRUE';
    // Without cmd.exe there is no PATH lookup: the executable must be given with its full path.
    if (skipCmdShell && !/^"?[a-z]:\\/i.test(exe)) {
      return fault(
        internalErrorFault(
          r.messageId,
          machine,
          WSMAN_CODES.fileNotFound,
          'The system cannot find the file specified. ',
        ),
      );
    }
    const result = winrs.startCommand(shell, commandLine, {
      commandId: attrOf(line, 'CommandId'),
      skipCmdShell,
    });
    if ('quota' in result) return fault(quotaFault(result.quota, r.messageId));
    if ('duplicate' in result) {
      return fault(
        internalErrorFault(
          r.messageId,
          machine,
          2147942583,
          'Cannot create a file when that file already exists. ',
        ),
      );
    }
    return ok(commandResponse(r.messageId, result.command.id));
  }

  function send(r: WsmanRequest, shell: SimShell): Reply {
    const streams = childrenOf(childOf(r.body, 'Send'), 'Stream');
    for (const s of streams) {
      const cmd = winrs.getCommand(shell, attrOf(s, 'CommandId') ?? '');
      if (!cmd) return fault(unknownCommandFault(r.messageId, machine));
      const data = decodeRelaxedBase64(textOf(s));
      if (data === null) return fault(schemaValidationFault(r.messageId, machine));
      cmd.sendStdin(data, /^true$/i.test(attrOf(s, 'End') ?? ''));
    }
    return ok(sendResponse(r.messageId));
  }

  async function receive(r: WsmanRequest, shell: SimShell, signal: AbortSignal): Promise<Reply | null> {
    const desired = childrenOf(childOf(r.body, 'Receive'), 'DesiredStream')[0];
    const cmd = winrs.getCommand(shell, attrOf(desired, 'CommandId') ?? '');
    if (!cmd) return fault(unknownCommandFault(r.messageId, machine));
    const wanted = new Set(textOf(desired).trim().split(/\s+/).filter(Boolean));
    if (wanted.size === 0) for (const s of shell.p.outputStreams.split(/\s+/)) wanted.add(s);

    const requested =
      r.operationTimeout === undefined
        ? maxTimeoutMs
        : (parseIsoDuration(r.operationTimeout) ?? maxTimeoutMs);
    const deadline = Date.now() + Math.min(requested, maxTimeoutMs);
    while (!cmd.hasDeliverable(wanted)) {
      const outcome = await cmd.waitForChange(deadline - Date.now(), signal);
      if (outcome === 'cancelled') return null;
      if (outcome === 'timeout' || outcome === 'superseded')
        return fault(timedOutFault(r.messageId, machine));
    }
    // Give a program that is about to finish one turn of the event loop, so a quick command's
    // output and its exit code arrive in one reply as they do from a real host.
    if (cmd.state === 'running') await new Promise((resolve) => setImmediate(resolve));
    if (signal.aborted) return null;

    const envelopeSize = Math.min(r.maxEnvelopeSize ?? WSMAN_DEFAULTS.clientEnvelopeSize, maxEnvelopeSize);
    const budget = Math.max(1024, Math.floor((envelopeSize - 4096) / 1.5));
    const { pieces, complete } = cmd.take(wanted, budget);
    if (complete) {
      const order = ['stdout', 'stderr'].filter((s) => wanted.has(s));
      return ok(
        receiveResponse(r.messageId, cmd.id, pieces, { done: true, exitCode: cmd.exitCode, streams: order }),
      );
    }
    return ok(receiveResponse(r.messageId, cmd.id, pieces, { done: false }));
  }

  function clientIp(req: http.IncomingMessage): string {
    return (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}/wsman`;

  return {
    name: opts.hostName,
    port,
    url,
    counters: () => counters.snapshot(),
    resetCounters: () => counters.reset(),
    faults: {
      inject: (spec) => faults.inject(spec),
      clear: () => faults.clear(),
      list: () => faults.list(),
    },
    async close() {
      if (closing) return;
      closing = true;
      for (const c of inFlight) c.abort();
      faults.clear();
      winrs.closeAll();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
