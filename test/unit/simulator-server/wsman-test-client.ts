// A deliberately plain WS-Management client for tests: it builds requests the way pypsrp does
// (wsa:/wsman:/wsmv: prefixes) and reads replies without trusting the server's prefixes.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { XMLParser } from 'fast-xml-parser';

export interface RawReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** [name, value, name, value, ...] as received, to see repeated headers. */
  rawHeaders: string[];
  body: string;
}

export interface PostOptions {
  /** [user, password]; null sends no Authorization header. */
  auth?: [string, string] | null;
  /** null sends no Content-Type header. */
  contentType?: string | null;
  method?: string;
  headers?: Record<string, string>;
  path?: string;
}

export function httpRequest(url: string, body: string | Buffer, opts: PostOptions = {}): Promise<RawReply> {
  const u = new URL(url);
  const payload = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const headers: Record<string, string | number> = { ...opts.headers };
  if (opts.contentType !== null)
    headers['Content-Type'] = opts.contentType ?? 'application/soap+xml;charset=UTF-8';
  if (opts.auth !== null) {
    const [user, password] = opts.auth ?? ['Administrator', 'hvgate-sim'];
    headers['Authorization'] = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  }
  if (payload.length > 0 || (opts.method ?? 'POST') === 'POST') headers['Content-Length'] = payload.length;
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        path: opts.path ?? u.pathname,
        method: opts.method ?? 'POST',
        headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const ACTIONS: Record<string, string> = {
  Create: 'http://schemas.xmlsoap.org/ws/2004/09/transfer/Create',
  Delete: 'http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete',
  Get: 'http://schemas.xmlsoap.org/ws/2004/09/transfer/Get',
  Command: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command',
  Send: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Send',
  Receive: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive',
  Signal: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Signal',
};

export interface EnvelopeOptions {
  action: keyof typeof ACTIONS | string;
  body?: string;
  shellId?: string;
  messageId?: string;
  operationTimeout?: string;
  options?: Record<string, string>;
  resourceUri?: string;
  maxEnvelopeSize?: number;
}

export function xmlText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function wsmanEnvelope(o: EnvelopeOptions): string {
  const action = ACTIONS[o.action] ?? o.action;
  const opts = o.options
    ? `<wsman:OptionSet s:mustUnderstand="true">${Object.entries(o.options)
        .map(([k, v]) => `<wsman:Option Name="${k}">${xmlText(v)}</wsman:Option>`)
        .join('')}</wsman:OptionSet>`
    : '';
  const sel = o.shellId
    ? `<wsman:SelectorSet><wsman:Selector Name="ShellId">${o.shellId}</wsman:Selector></wsman:SelectorSet>`
    : '';
  return (
    '<s:Envelope xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell" xmlns:s="http://www.w3.org/2003/05/soap-envelope" ' +
    'xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:wsman="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" ' +
    'xmlns:wsmv="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"><s:Header>' +
    `<wsa:Action s:mustUnderstand="true">${action}</wsa:Action>` +
    `<wsman:MaxEnvelopeSize s:mustUnderstand="true">${o.maxEnvelopeSize ?? 153600}</wsman:MaxEnvelopeSize>` +
    `<wsa:MessageID>${o.messageId ?? `uuid:${randomUUID().toUpperCase()}`}</wsa:MessageID>` +
    `<wsman:OperationTimeout>${o.operationTimeout ?? 'PT20S'}</wsman:OperationTimeout>` +
    '<wsa:ReplyTo><wsa:Address s:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:Address></wsa:ReplyTo>' +
    `<wsman:ResourceURI s:mustUnderstand="true">${o.resourceUri ?? 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd'}</wsman:ResourceURI>` +
    `<wsa:To>http://windows-host:5985/wsman</wsa:To>${opts}${sel}</s:Header><s:Body>${o.body ?? ''}</s:Body></s:Envelope>`
  );
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  removeNSPrefix: true,
  parseTagValue: false,
  trimValues: true,
  isArray: (name) => ['Stream', 'Selector'].includes(name),
});

export function parseXml(xml: string): Record<string, unknown> {
  return parser.parse(xml) as Record<string, unknown>;
}

type Obj = Record<string, unknown>;
const get = (o: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>((cur, k) => (cur && typeof cur === 'object' ? (cur as Obj)[k] : undefined), o);
const text = (o: unknown): string =>
  typeof o === 'string' ? o : o && typeof o === 'object' ? String((o as Obj)['#text'] ?? '') : '';

export interface FaultInfo {
  value: string;
  subcode: string;
  /** f:WSManFault@Code or MSFT_WmiError/error_Code. */
  code: string;
  reason: string;
}

export function faultOf(xml: string): FaultInfo | undefined {
  let doc: Obj;
  try {
    doc = parseXml(xml);
  } catch {
    return undefined;
  }
  const f = get(doc, 'Envelope', 'Body', 'Fault');
  if (!f) return undefined;
  const detail = get(f, 'Detail');
  const wsman = get(detail, 'WSManFault');
  const code = wsman
    ? String((wsman as Obj)['@_Code'] ?? '')
    : text(get(detail, 'MSFT_WmiError', 'error_Code'));
  return {
    value: text(get(f, 'Code', 'Value')),
    subcode: text(get(f, 'Code', 'Subcode', 'Value')),
    code,
    reason: text(get(f, 'Reason', 'Text')),
  };
}

export interface ReceiveResult {
  reply: RawReply;
  fault?: FaultInfo;
  pieces: Array<{ name: string; data: Buffer; end: boolean }>;
  state?: 'Running' | 'Done' | string;
  exitCode?: number;
}

export class WsmanError extends Error {
  constructor(
    message: string,
    readonly reply: RawReply,
    readonly fault?: FaultInfo,
  ) {
    super(message);
  }
}

export interface TestClientOptions {
  user?: string;
  password?: string;
}

export class WsmanTestClient {
  constructor(
    readonly url: string,
    private readonly opts: TestClientOptions = {},
  ) {}

  post(xml: string): Promise<RawReply> {
    return httpRequest(this.url, xml, {
      auth: [this.opts.user ?? 'Administrator', this.opts.password ?? 'hvgate-sim'],
    });
  }

  private async expectOk(xml: string): Promise<RawReply> {
    const reply = await this.post(xml);
    if (reply.status !== 200) {
      const f = faultOf(reply.body);
      throw new WsmanError(
        `HTTP ${reply.status} ${f ? `${f.subcode} ${f.code}` : reply.body.slice(0, 200)}`,
        reply,
        f,
      );
    }
    return reply;
  }

  async createShell(o: { codePage?: string; idleTimeOut?: string; shellId?: string } = {}): Promise<string> {
    const idle = o.idleTimeOut ? `<rsp:IdleTimeOut>${o.idleTimeOut}</rsp:IdleTimeOut>` : '';
    const shellAttr = o.shellId ? ` ShellId="${o.shellId}"` : '';
    const reply = await this.expectOk(
      wsmanEnvelope({
        action: 'Create',
        options: o.codePage ? { WINRS_NOPROFILE: 'FALSE', WINRS_CODEPAGE: o.codePage } : undefined,
        body: `<rsp:Shell${shellAttr}><rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams>${idle}</rsp:Shell>`,
      }),
    );
    const sel = get(
      parseXml(reply.body),
      'Envelope',
      'Body',
      'ResourceCreated',
      'ReferenceParameters',
      'SelectorSet',
      'Selector',
    );
    return text(Array.isArray(sel) ? sel[0] : sel);
  }

  async command(
    shellId: string,
    command: string,
    args: string[] = [],
    o: { commandId?: string } = {},
  ): Promise<string> {
    const attr = o.commandId ? ` CommandId="${o.commandId}"` : '';
    const reply = await this.expectOk(
      wsmanEnvelope({
        action: 'Command',
        shellId,
        options: { WINRS_CONSOLEMODE_STDIN: 'TRUE', WINRS_SKIP_CMD_SHELL: 'FALSE' },
        body:
          `<rsp:CommandLine${attr}><rsp:Command>${xmlText(command)}</rsp:Command>` +
          args.map((a) => `<rsp:Arguments>${xmlText(a)}</rsp:Arguments>`).join('') +
          '</rsp:CommandLine>',
      }),
    );
    return text(get(parseXml(reply.body), 'Envelope', 'Body', 'CommandResponse', 'CommandId'));
  }

  async send(shellId: string, commandId: string, data: Buffer | string, end: boolean): Promise<void> {
    const b64 = Buffer.from(data).toString('base64');
    await this.expectOk(
      wsmanEnvelope({
        action: 'Send',
        shellId,
        body: `<rsp:Send><rsp:Stream Name="stdin" CommandId="${commandId}"${end ? ' End="true"' : ''}>${b64}</rsp:Stream></rsp:Send>`,
      }),
    );
  }

  async receive(shellId: string, commandId: string, operationTimeout = 'PT20S'): Promise<ReceiveResult> {
    const reply = await this.post(
      wsmanEnvelope({
        action: 'Receive',
        shellId,
        operationTimeout,
        options: { WSMAN_CMDSHELL_OPTION_KEEPALIVE: 'TRUE' },
        body: `<rsp:Receive><rsp:DesiredStream CommandId="${commandId}">stdout stderr</rsp:DesiredStream></rsp:Receive>`,
      }),
    );
    if (reply.status !== 200) return { reply, fault: faultOf(reply.body), pieces: [] };
    const rr = get(parseXml(reply.body), 'Envelope', 'Body', 'ReceiveResponse');
    const streams = (get(rr, 'Stream') as unknown[] | undefined) ?? [];
    const pieces = streams.map((s) => ({
      name: String((s as Obj)['@_Name']),
      data: Buffer.from(text(s), 'base64'),
      end: (s as Obj)['@_End'] === 'true',
    }));
    const state = get(rr, 'CommandState') as Obj | undefined;
    const stateUri = String(state?.['@_State'] ?? '');
    const exit = get(state, 'ExitCode');
    return {
      reply,
      pieces,
      state: stateUri.slice(stateUri.lastIndexOf('/') + 1),
      exitCode: exit === undefined ? undefined : Number(text(exit)),
    };
  }

  /** Receives until Done, asking again after each w:TimedOut fault (as pywinrm does). */
  async receiveUntilDone(
    shellId: string,
    commandId: string,
    operationTimeout = 'PT20S',
  ): Promise<{ stdout: Buffer; stderr: Buffer; exitCode: number; timedOut: number; replies: number }> {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = 0;
    for (let replies = 1; ; replies++) {
      const r = await this.receive(shellId, commandId, operationTimeout);
      if (r.fault?.code === '2150858793') {
        timedOut++;
        continue;
      }
      if (r.reply.status !== 200)
        throw new WsmanError(`Receive failed: HTTP ${r.reply.status}`, r.reply, r.fault);
      for (const p of r.pieces) (p.name === 'stderr' ? err : out).push(p.data);
      if (r.state === 'Done') {
        return {
          stdout: Buffer.concat(out),
          stderr: Buffer.concat(err),
          exitCode: r.exitCode ?? -1,
          timedOut,
          replies,
        };
      }
    }
  }

  async signal(shellId: string, commandId: string, code = 'terminate'): Promise<RawReply> {
    return this.post(
      wsmanEnvelope({
        action: 'Signal',
        shellId,
        body: `<rsp:Signal CommandId="${commandId}"><rsp:Code>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/${code}</rsp:Code></rsp:Signal>`,
      }),
    );
  }

  async deleteShell(shellId: string): Promise<RawReply> {
    return this.post(wsmanEnvelope({ action: 'Delete', shellId }));
  }

  /** Create → Command → Receive until Done → Signal → Delete, like pywinrm's run_cmd. */
  async run(
    command: string,
    args: string[] = [],
    o: { codePage?: string } = {},
  ): Promise<{ stdout: Buffer; stderr: Buffer; exitCode: number }> {
    const shellId = await this.createShell({ codePage: o.codePage });
    try {
      const commandId = await this.command(shellId, command, args);
      const r = await this.receiveUntilDone(shellId, commandId);
      await this.signal(shellId, commandId);
      return r;
    } finally {
      await this.deleteShell(shellId);
    }
  }
}
