// One WS-Management round trip per method: build the message, POST it, check status and
// correlation, turn faults into typed errors (the WsManFault stays attached for callers that
// branch on TimedOut / InvalidSelectors / quota codes).

import type { ActionName, BuiltMessage, MessageContext } from './soap-messages';
import {
  buildCommand,
  buildCreateShell,
  buildDelete,
  buildReceive,
  buildSend,
  buildSignal,
} from './soap-messages';
import type { ParsedEnvelope, ReceiveResult, WsManFault } from './soap-parser';
import {
  isQuotaFault,
  parseCommandResponse,
  parseCreateResponse,
  parseEnvelope,
  parseReceiveResponse,
} from './soap-parser';
import { ProtocolError, QuotaExceededError, WsManFaultError } from './winrm-errors';
import type { Clock, WinRmTransport } from './winrm-transport';

export interface WsManCall {
  /** Absolute deadline of the whole operation this message belongs to. */
  deadline: number;
  signal?: AbortSignal;
  /** Called once per HTTP request actually sent. */
  onRequest?: () => void;
}

export interface WsManClientOptions {
  host: string;
  clock: Clock;
  /** OperationTimeout for Create/Command/Send/Signal/Delete. */
  requestTimeoutMs: number;
  /** How long past OperationTimeout to wait for the HTTP answer (MS-WSMV NetworkDelayms). */
  networkGraceMs: number;
  maxEnvelopeSize: number;
  codepage: number;
  shellIdleTimeoutMs: number;
  /** Each request's WS-Management action and HTTP status once it ends (null: no HTTP answer). */
  onExchange?: (action: ActionName, status: number | null) => void;
}

export interface WsManClient {
  readonly endpoint: string;
  createShell(call: WsManCall): Promise<string>;
  command(call: WsManCall, shellId: string, commandLine: string, consoleModeStdin: boolean): Promise<string>;
  send(call: WsManCall, shellId: string, commandId: string, data: Buffer, end: boolean): Promise<void>;
  /** `operationTimeoutMs` is the long-poll window; a TimedOut fault comes back as WsManFaultError. */
  receive(
    call: WsManCall,
    shellId: string,
    commandId: string,
    operationTimeoutMs: number,
  ): Promise<ReceiveResult>;
  signal(call: WsManCall, shellId: string, commandId: string, code: string): Promise<void>;
  deleteShell(call: WsManCall, shellId: string): Promise<void>;
}

export function faultSummary(fault: WsManFault): string {
  const code = fault.code === undefined ? '' : ` ${fault.code}`;
  const text = fault.message ?? fault.reason;
  return `${fault.subcode ?? fault.soapCode}${code}: ${text}`.trim();
}

export function createWsManClient(transport: WinRmTransport, options: WsManClientOptions): WsManClient {
  const { clock, host } = options;

  function context(call: WsManCall, operationTimeoutMs: number): MessageContext {
    const remaining = call.deadline - clock.now();
    // Ask the host to answer a second before our own deadline, so a long poll ends with a reply
    // (and a reusable connection) rather than with us cutting the socket.
    const bounded = Math.min(operationTimeoutMs, Math.max(500, remaining - 1000));
    return {
      endpoint: transport.endpoint,
      operationTimeoutMs: bounded,
      maxEnvelopeSize: options.maxEnvelopeSize,
    };
  }

  async function exchange(
    call: WsManCall,
    msg: BuiltMessage,
    operationTimeoutMs: number,
  ): Promise<ParsedEnvelope> {
    const httpDeadline = Math.min(call.deadline, clock.now() + operationTimeoutMs + options.networkGraceMs);
    call.onRequest?.();
    let res: Awaited<ReturnType<WinRmTransport['post']>>;
    try {
      res = await transport.post({ body: msg.xml, deadline: httpDeadline, signal: call.signal });
    } catch (err) {
      options.onExchange?.(msg.action, null);
      throw err;
    }
    options.onExchange?.(msg.action, res.status);
    if (res.status !== 200 && res.status !== 500) {
      throw new ProtocolError(`WinRM on host ${host} answered ${msg.action} with HTTP ${res.status}`, {
        host,
        httpStatus: res.status,
      });
    }
    let env: ParsedEnvelope;
    try {
      env = parseEnvelope(res.body);
    } catch (err) {
      const what = res.status === 500 ? 'HTTP 500 without a readable SOAP fault' : 'an unreadable SOAP body';
      throw new ProtocolError(`WinRM on host ${host} answered ${msg.action} with ${what}`, {
        host,
        cause: err,
        httpStatus: res.status,
      });
    }
    if (env.relatesTo !== undefined && env.relatesTo.toLowerCase() !== msg.messageId.toLowerCase()) {
      throw new ProtocolError(
        `WinRM on host ${host} answered ${msg.action} for another message (RelatesTo mismatch)`,
        {
          host,
          httpStatus: res.status,
        },
      );
    }
    if (env.fault) {
      const summary = faultSummary(env.fault);
      if (isQuotaFault(env.fault)) {
        throw new QuotaExceededError(
          `WinRM quota exceeded on host ${host} during ${msg.action}: ${summary}`,
          {
            host,
            fault: env.fault,
            httpStatus: res.status,
          },
        );
      }
      throw new WsManFaultError(`WinRM fault on host ${host} during ${msg.action}: ${summary}`, {
        host,
        fault: env.fault,
        httpStatus: res.status,
      });
    }
    if (res.status !== 200) {
      throw new ProtocolError(
        `WinRM on host ${host} answered ${msg.action} with HTTP ${res.status} and no fault`,
        {
          host,
          httpStatus: res.status,
        },
      );
    }
    return env;
  }

  const wrapParse = <T>(fn: () => T, action: string): T => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof ProtocolError) {
        throw new ProtocolError(`WinRM on host ${host}: ${action}: ${err.message}`, { host, cause: err });
      }
      throw err;
    }
  };

  const rt = options.requestTimeoutMs;
  return {
    endpoint: transport.endpoint,
    async createShell(call) {
      const msg = buildCreateShell(context(call, rt), {
        codepage: options.codepage,
        noProfile: true,
        idleTimeoutMs: options.shellIdleTimeoutMs,
      });
      const env = await exchange(call, msg, rt);
      return wrapParse(() => parseCreateResponse(env).shellId, 'Create');
    },
    async command(call, shellId, commandLine, consoleModeStdin) {
      const msg = buildCommand(context(call, rt), shellId, commandLine, { consoleModeStdin });
      const env = await exchange(call, msg, rt);
      return wrapParse(() => parseCommandResponse(env).commandId, 'Command');
    },
    async send(call, shellId, commandId, data, end) {
      const msg = buildSend(context(call, rt), shellId, commandId, data, end);
      const env = await exchange(call, msg, rt);
      if (!('SendResponse' in env.body))
        throw new ProtocolError(`WinRM on host ${host}: expected a SendResponse`, { host });
    },
    async receive(call, shellId, commandId, operationTimeoutMs) {
      const ctx = context(call, operationTimeoutMs);
      const msg = buildReceive(ctx, shellId, commandId);
      const env = await exchange(call, msg, ctx.operationTimeoutMs);
      return wrapParse(() => parseReceiveResponse(env), 'Receive');
    },
    async signal(call, shellId, commandId, code) {
      const msg = buildSignal(context(call, rt), shellId, commandId, code);
      await exchange(call, msg, rt);
    },
    async deleteShell(call, shellId) {
      const msg = buildDelete(context(call, rt), shellId);
      await exchange(call, msg, rt);
    },
  };
}
