// An in-memory WinRS host behind the WinRmTransport seam: enough of Create/Command/Send/
// Receive/Signal/Delete, faults and quotas to drive the executor deterministically.
import { randomUUID } from 'node:crypto';
import { XMLParser } from 'fast-xml-parser';
import { CancelledError, HostUnreachableError, TimeoutError } from '../../../src/winrm/winrm-errors';
import type { TransportRequest, TransportResponse, WinRmTransport } from '../../../src/winrm/winrm-transport';

export type Action = 'Create' | 'Command' | 'Send' | 'Receive' | 'Signal' | 'Delete';

export interface LoggedRequest {
  action: Action;
  messageId: string;
  to: string;
  shellId: string | undefined;
  commandId: string | undefined;
  options: Record<string, string>;
  operationTimeout: string;
  commandLine: string | undefined;
  stdinEnd: boolean | undefined;
  xml: string;
}

/** One Receive answer: bytes to emit (per stream), or a TimedOut fault. */
export type ReceiveStep = { stdout?: Buffer | string; stderr?: Buffer | string } | 'timeout';

export interface Program {
  /** Receive answers before the final Done one (which carries `final` output). */
  steps?: ReceiveStep[];
  final?: { stdout?: Buffer | string; stderr?: Buffer | string };
  exitCode?: number;
  /** Never finishes: every Receive times out (after `pollMs`) until signalled or deleted. */
  hang?: boolean;
  /** Wait for stdin End before producing output; `final` may be computed from stdin. */
  readsStdin?: boolean;
  fromStdin?: (stdin: Buffer) => { stdout?: string; stderr?: string; exitCode?: number };
}

export type InjectedFault =
  | 'invalidSelectors'
  | 'quotaShells'
  | 'quotaOperations'
  | 'timedOut'
  | 'garbage200'
  | 'http500Plain'
  | 'drop'
  | { status: number };

interface Cmd {
  id: string;
  program: Program;
  stepIndex: number;
  stdin: Buffer[];
  stdinEnded: boolean;
  done: boolean;
  terminated: boolean;
}

interface Shell {
  id: string;
  commands: Map<string, Cmd>;
  operations: number;
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  removeNSPrefix: true,
  parseTagValue: false,
});
const RSP = 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell';

function asBuf(v: Buffer | string | undefined): Buffer {
  if (v === undefined) return Buffer.alloc(0);
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
}

function envelope(action: string, relatesTo: string, body: string): string {
  return (
    `<s:Envelope xml:lang="en-US" xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" ` +
    `xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns:rsp="${RSP}" xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd">` +
    `<s:Header><a:Action>${action}</a:Action><a:MessageID>uuid:${randomUUID().toUpperCase()}</a:MessageID>` +
    `<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To><a:RelatesTo>${relatesTo}</a:RelatesTo></s:Header>` +
    `<s:Body>${body}</s:Body></s:Envelope>`
  );
}

function wsmanFault(
  relatesTo: string,
  soapCode: string,
  subcode: string,
  code: number,
  text: string,
): string {
  return envelope(
    'http://schemas.dmtf.org/wbem/wsman/1/wsman/fault',
    relatesTo,
    `<s:Fault><s:Code><s:Value>s:${soapCode}</s:Value><s:Subcode><s:Value>w:${subcode}</s:Value></s:Subcode></s:Code>` +
      `<s:Reason><s:Text xml:lang="en-US">${text} </s:Text></s:Reason><s:Detail>` +
      `<f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" Code="${code}" Machine="fake-host"><f:Message>${text} </f:Message></f:WSManFault>` +
      `</s:Detail></s:Fault>`,
  );
}

function unknownCommandResponse(relatesTo: string): TransportResponse {
  return {
    status: 500,
    body: wsmanFault(
      relatesTo,
      'Sender',
      'InvalidSelectors',
      2150858843,
      'The Windows Remote Shell received a request to perform an operation on a command identifier that does not exist.',
    ),
    contentType: 'application/soap+xml',
  };
}

function timedOutResponse(relatesTo: string): TransportResponse {
  return {
    status: 500,
    body: wsmanFault(
      relatesTo,
      'Receiver',
      'TimedOut',
      2150858793,
      'The WS-Management service cannot complete the operation within the time specified in OperationTimeout.',
    ),
    contentType: 'application/soap+xml',
  };
}

function wmiQuotaFault(relatesTo: string, code: number): string {
  return envelope(
    'http://schemas.dmtf.org/wbem/wsman/1/wsman/fault',
    relatesTo,
    `<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>w:QuotaLimit</s:Value></s:Subcode></s:Code>` +
      `<s:Reason><s:Text xml:lang="en-US">The WS-Management service cannot process the request. </s:Text></s:Reason><s:Detail>` +
      `<p:MSFT_WmiError xmlns:p="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/MSFT_WmiError"><p:Message>quota exceeded</p:Message>` +
      `<p:error_Code>${code}</p:error_Code></p:MSFT_WmiError></s:Detail></s:Fault>`,
  );
}

export interface FakeHostOptions {
  endpoint?: string;
  maxShells?: number;
  /** Commands per shell before 2150859174 (stands in for MaxConcurrentOperationsPerUser). */
  maxOperationsPerShell?: number;
  /** How long a hanging Receive waits before its TimedOut fault. */
  pollMs?: number;
  programs?: (commandLine: string) => Program;
}

export class FakeWsManHost implements WinRmTransport {
  readonly endpoint: string;
  readonly requests: LoggedRequest[] = [];
  readonly shells = new Map<string, Shell>();
  readonly faults: Array<{ action: Action; fault: InjectedFault }> = [];
  /** Max simultaneous running (not done, not terminated) commands seen. */
  peakRunning = 0;
  closed = false;
  private readonly opts: Required<Omit<FakeHostOptions, 'endpoint'>>;

  constructor(options: FakeHostOptions = {}) {
    this.endpoint = options.endpoint ?? 'http://fake-host:5985/wsman';
    this.opts = {
      maxShells: options.maxShells ?? 30,
      maxOperationsPerShell: options.maxOperationsPerShell ?? 1500,
      pollMs: options.pollMs ?? 10,
      programs: options.programs ?? ((line) => ({ final: { stdout: `ran ${line}\r\n` }, exitCode: 0 })),
    };
  }

  inject(action: Action, fault: InjectedFault): void {
    this.faults.push({ action, fault });
  }

  /** Simulates the host forgetting a shell (idle timeout, service restart). */
  dropAllShells(): void {
    this.shells.clear();
  }

  runningCommands(): number {
    let n = 0;
    for (const s of this.shells.values())
      for (const c of s.commands.values()) if (!c.done && !c.terminated) n += 1;
    return n;
  }

  actions(): Action[] {
    return this.requests.map((r) => r.action);
  }

  close(): void {
    this.closed = true;
  }

  async post(req: TransportRequest): Promise<TransportResponse> {
    if (req.signal?.aborted) throw new CancelledError('aborted');
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- free-form parsed XML in a test helper
    const doc = parser.parse(req.body) as Record<string, any>;
    const env = doc['Envelope'];
    const header = env['Header'];
    const body = env['Body'] ?? {};
    const actionUri: string = header['Action']['#text'];
    const action = actionUri.slice(actionUri.lastIndexOf('/') + 1) as Action;
    const messageId: string = header['MessageID'];
    const optionList = header['OptionSet'] ? [].concat(header['OptionSet']['Option']) : [];
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- free-form parsed XML in a test helper
    const options = Object.fromEntries(optionList.map((o: any) => [o['@_Name'], o['#text']]));
    const shellId: string | undefined = header['SelectorSet']?.['Selector']?.['#text'];
    const commandId: string | undefined =
      body['Receive']?.['DesiredStream']?.['@_CommandId'] ??
      body['Signal']?.['@_CommandId'] ??
      body['Send']?.['Stream']?.['@_CommandId'];
    const logged: LoggedRequest = {
      action,
      messageId,
      to: header['To'],
      shellId,
      commandId,
      options,
      operationTimeout: header['OperationTimeout'],
      commandLine: body['CommandLine']?.['Command'],
      stdinEnd: action === 'Send' ? body['Send']['Stream']['@_End'] === 'true' : undefined,
      xml: req.body,
    };
    this.requests.push(logged);

    const fi = this.faults.findIndex((f) => f.action === action);
    if (fi >= 0) {
      const { fault } = this.faults.splice(fi, 1)[0] as { fault: InjectedFault };
      return this.injected(fault, messageId, action);
    }
    const ok = (a: string, b: string): TransportResponse => ({
      status: 200,
      body: envelope(a, messageId, b),
      contentType: 'application/soap+xml',
    });
    const notFound = (): TransportResponse => ({
      status: 500,
      body: wsmanFault(
        messageId,
        'Sender',
        'InvalidSelectors',
        2150858843,
        'The request for the Windows Remote Shell failed because the shell was not found on the server.',
      ),
      contentType: 'application/soap+xml',
    });

    switch (action) {
      case 'Create': {
        if (this.shells.size >= this.opts.maxShells)
          return {
            status: 500,
            body: wmiQuotaFault(messageId, 2150859173),
            contentType: 'application/soap+xml',
          };
        const id = randomUUID().toUpperCase();
        this.shells.set(id, { id, commands: new Map(), operations: 0 });
        return ok(
          'http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse',
          `<x:ResourceCreated><a:Address>${this.endpoint}</a:Address><a:ReferenceParameters><w:ResourceURI>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</w:ResourceURI><w:SelectorSet><w:Selector Name="ShellId">${id}</w:Selector></w:SelectorSet></a:ReferenceParameters></x:ResourceCreated>`,
        );
      }
      case 'Command': {
        const shell = shellId ? this.shells.get(shellId) : undefined;
        if (!shell) return notFound();
        if (shell.operations >= this.opts.maxOperationsPerShell) {
          return {
            status: 500,
            body: wmiQuotaFault(messageId, 2150859174),
            contentType: 'application/soap+xml',
          };
        }
        shell.operations += 1;
        const id = randomUUID().toUpperCase();
        const program = this.opts.programs(logged.commandLine ?? '');
        shell.commands.set(id, {
          id,
          program,
          stepIndex: 0,
          stdin: [],
          stdinEnded: false,
          done: false,
          terminated: false,
        });
        this.peakRunning = Math.max(this.peakRunning, this.runningCommands());
        return ok(
          `${RSP}/CommandResponse`,
          `<rsp:CommandResponse><rsp:CommandId>${id}</rsp:CommandId></rsp:CommandResponse>`,
        );
      }
      case 'Send': {
        const cmd = this.findCommand(shellId, commandId);
        if (!cmd) return notFound();
        cmd.stdin.push(Buffer.from(String(body['Send']['Stream']['#text'] ?? ''), 'base64'));
        if (logged.stdinEnd) cmd.stdinEnded = true;
        return ok(`${RSP}/SendResponse`, '<rsp:SendResponse/>');
      }
      case 'Receive':
        return this.receive(shellId, commandId, messageId, req);
      case 'Signal': {
        const cmd = this.findCommand(shellId, commandId);
        if (!cmd) return notFound();
        cmd.terminated = true;
        return ok(`${RSP}/SignalResponse`, '<rsp:SignalResponse/>');
      }
      case 'Delete': {
        if (!shellId || !this.shells.delete(shellId)) return notFound();
        return ok('http://schemas.xmlsoap.org/ws/2004/09/transfer/DeleteResponse', '');
      }
      default:
        return { status: 400, body: '', contentType: undefined };
    }
  }

  private findCommand(shellId: string | undefined, commandId: string | undefined): Cmd | undefined {
    return shellId && commandId ? this.shells.get(shellId)?.commands.get(commandId) : undefined;
  }

  private injected(fault: InjectedFault, messageId: string, action: Action): TransportResponse {
    const xml = 'application/soap+xml';
    if (fault === 'invalidSelectors') return unknownCommandResponse(messageId);
    if (fault === 'quotaShells')
      return { status: 500, body: wmiQuotaFault(messageId, 2150859173), contentType: xml };
    if (fault === 'quotaOperations')
      return { status: 500, body: wmiQuotaFault(messageId, 2150859174), contentType: xml };
    if (fault === 'timedOut') return timedOutResponse(messageId);
    if (fault === 'garbage200') return { status: 200, body: '<<<not xml at all', contentType: xml };
    if (fault === 'http500Plain')
      return { status: 500, body: 'Internal Server Error', contentType: 'text/plain' };
    if (fault === 'drop')
      throw new HostUnreachableError(`connection dropped during ${action}`, { retryable: false });
    return { status: fault.status, body: '', contentType: undefined };
  }

  private async receive(
    shellId: string | undefined,
    commandId: string | undefined,
    messageId: string,
    req: TransportRequest,
  ): Promise<TransportResponse> {
    const cmd = this.findCommand(shellId, commandId);
    if (!cmd) return unknownCommandResponse(messageId);
    const stream = (name: string, data: Buffer, end = false): string =>
      `<rsp:Stream Name="${name}" CommandId="${cmd.id}"${end ? ' End="true"' : ''}>${data.toString('base64')}</rsp:Stream>`;
    const split = (name: string, data: Buffer): string => {
      // Windows splits output arbitrarily; cut in two to exercise byte-level joining.
      if (data.length < 2) return data.length ? stream(name, data) : '';
      const mid = Math.floor(data.length / 2);
      return stream(name, data.subarray(0, mid)) + stream(name, data.subarray(mid));
    };
    const state = (s: 'Running' | 'Done', exit?: number): string =>
      `<rsp:CommandState CommandId="${cmd.id}" State="${RSP}/CommandState/${s}">${exit === undefined ? '' : `<rsp:ExitCode>${exit}</rsp:ExitCode>`}</rsp:CommandState>`;
    const ok = (inner: string): TransportResponse => ({
      status: 200,
      body: envelope(
        `${RSP}/ReceiveResponse`,
        messageId,
        `<rsp:ReceiveResponse>${inner}</rsp:ReceiveResponse>`,
      ),
      contentType: 'application/soap+xml',
    });

    if (cmd.program.hang || (cmd.program.readsStdin && !cmd.stdinEnded)) {
      await this.wait(this.opts.pollMs, req);
      return timedOutResponse(messageId);
    }
    const steps = cmd.program.steps ?? [];
    if (cmd.stepIndex < steps.length) {
      const step = steps[cmd.stepIndex] as ReceiveStep;
      cmd.stepIndex += 1;
      if (step === 'timeout') return timedOutResponse(messageId);
      return ok(split('stdout', asBuf(step.stdout)) + split('stderr', asBuf(step.stderr)) + state('Running'));
    }
    let final = cmd.program.final ?? {};
    let exitCode = cmd.program.exitCode ?? 0;
    if (cmd.program.fromStdin) {
      const r = cmd.program.fromStdin(Buffer.concat(cmd.stdin));
      final = r;
      exitCode = r.exitCode ?? exitCode;
    }
    cmd.done = true;
    return ok(
      split('stdout', asBuf(final.stdout)) +
        split('stderr', asBuf(final.stderr)) +
        stream('stdout', Buffer.alloc(0), true) +
        stream('stderr', Buffer.alloc(0), true) +
        state('Done', exitCode),
    );
  }

  private wait(ms: number, req: TransportRequest): Promise<void> {
    return new Promise((resolve, reject) => {
      const remaining = req.deadline - Date.now();
      const onAbort = (): void => {
        clearTimeout(t);
        reject(new CancelledError('aborted'));
      };
      const t = setTimeout(
        () => {
          req.signal?.removeEventListener('abort', onAbort);
          if (remaining < ms) reject(new TimeoutError('deadline'));
          else resolve();
        },
        Math.max(0, Math.min(ms, remaining)),
      );
      req.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
