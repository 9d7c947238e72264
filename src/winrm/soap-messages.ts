// Builders for the WS-Management remote-shell messages (MS-WSMV, cmd shell). Hand-written rather
// than taken from winrm-client, whose header builder hard-codes a:To, OperationTimeout and a
// constant MessageID and emits an unqualified mustUnderstand (see README.md in this folder).

import { randomUUID } from 'node:crypto';

export const NS = {
  s: 'http://www.w3.org/2003/05/soap-envelope',
  a: 'http://schemas.xmlsoap.org/ws/2004/08/addressing',
  w: 'http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd',
  p: 'http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd',
  rsp: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell',
} as const;

export const ACTION = {
  create: 'http://schemas.xmlsoap.org/ws/2004/09/transfer/Create',
  delete: 'http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete',
  command: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command',
  send: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Send',
  receive: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive',
  signal: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Signal',
} as const;

export type ActionName = keyof typeof ACTION;

export const RESOURCE_URI_CMD = 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd';
export const ANONYMOUS = 'http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous';
export const SIGNAL = {
  terminate: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/terminate',
  ctrlC: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/ctrl_c',
} as const;

export interface MessageContext {
  /** The real endpoint URL, sent as a:To. */
  endpoint: string;
  /** wsman:OperationTimeout for this message. */
  operationTimeoutMs: number;
  /** wsman:MaxEnvelopeSize in bytes (153600 is the lowest server default). */
  maxEnvelopeSize?: number;
  locale?: string;
  /** Override for tests; otherwise a fresh random uuid per message. */
  messageId?: string;
}

export interface BuiltMessage {
  action: ActionName;
  messageId: string;
  xml: string;
}

export function newMessageId(): string {
  return `uuid:${randomUUID().toUpperCase()}`;
}

/** Text-node escaping. `'` stays literal: Windows mis-handles &#39; inside rsp:Command (WinRb#69). */
export function escapeText(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function escapeAttr(value: string): string {
  return escapeText(value).replace(/"/g, '&quot;');
}

/** ISO-8601 duration as WinRM writes it, e.g. 20000 → PT20.000S. */
export function formatDuration(ms: number): string {
  const clamped = Math.max(0, Math.round(ms));
  return `PT${(clamped / 1000).toFixed(3)}S`;
}

interface HeaderParts {
  action: ActionName;
  shellId?: string;
  options?: Array<[string, string]>;
}

function envelope(ctx: MessageContext, parts: HeaderParts, body: string): BuiltMessage {
  const messageId = ctx.messageId ?? newMessageId();
  const locale = escapeAttr(ctx.locale ?? 'en-US');
  const header: string[] = [
    `<a:To>${escapeText(ctx.endpoint)}</a:To>`,
    `<w:ResourceURI s:mustUnderstand="true">${RESOURCE_URI_CMD}</w:ResourceURI>`,
    `<a:ReplyTo><a:Address s:mustUnderstand="true">${ANONYMOUS}</a:Address></a:ReplyTo>`,
    `<a:Action s:mustUnderstand="true">${ACTION[parts.action]}</a:Action>`,
    `<w:MaxEnvelopeSize s:mustUnderstand="true">${ctx.maxEnvelopeSize ?? 153600}</w:MaxEnvelopeSize>`,
    `<a:MessageID>${messageId}</a:MessageID>`,
    `<w:Locale xml:lang="${locale}" s:mustUnderstand="false"/>`,
    `<p:DataLocale xml:lang="${locale}" s:mustUnderstand="false"/>`,
    `<w:OperationTimeout>${formatDuration(ctx.operationTimeoutMs)}</w:OperationTimeout>`,
  ];
  if (parts.shellId !== undefined) {
    header.push(
      `<w:SelectorSet><w:Selector Name="ShellId">${escapeText(parts.shellId)}</w:Selector></w:SelectorSet>`,
    );
  }
  if (parts.options && parts.options.length > 0) {
    const opts = parts.options
      .map(([name, value]) => `<w:Option Name="${escapeAttr(name)}">${escapeText(value)}</w:Option>`)
      .join('');
    header.push(`<w:OptionSet>${opts}</w:OptionSet>`);
  }
  const xml =
    `<?xml version="1.0" encoding="UTF-8"?>` +
    `<s:Envelope xmlns:s="${NS.s}" xmlns:a="${NS.a}" xmlns:w="${NS.w}" xmlns:p="${NS.p}" xmlns:rsp="${NS.rsp}">` +
    `<s:Header>${header.join('')}</s:Header>` +
    `<s:Body>${body}</s:Body>` +
    `</s:Envelope>`;
  return { action: parts.action, messageId, xml };
}

export interface CreateShellOptions {
  /** Output code page; 65001 so the host writes UTF-8 instead of replacing characters with '?'. */
  codepage?: number;
  noProfile?: boolean;
  /** Server-side idle lifetime of the shell (rsp:IdleTimeOut). */
  idleTimeoutMs?: number;
}

export function buildCreateShell(ctx: MessageContext, options: CreateShellOptions = {}): BuiltMessage {
  const idle =
    options.idleTimeoutMs === undefined
      ? ''
      : `<rsp:IdleTimeOut>${formatDuration(options.idleTimeoutMs)}</rsp:IdleTimeOut>`;
  return envelope(
    ctx,
    {
      action: 'create',
      options: [
        ['WINRS_NOPROFILE', options.noProfile === false ? 'FALSE' : 'TRUE'],
        ['WINRS_CODEPAGE', String(options.codepage ?? 65001)],
      ],
    },
    `<rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams>${idle}</rsp:Shell>`,
  );
}

export interface CommandOptions {
  /** FALSE gives the process a pipe on stdin, so ReadToEnd() ends when Send End="true" arrives. */
  consoleModeStdin: boolean;
}

export function buildCommand(
  ctx: MessageContext,
  shellId: string,
  commandLine: string,
  options: CommandOptions,
): BuiltMessage {
  return envelope(
    ctx,
    {
      action: 'command',
      shellId,
      options: [
        ['WINRS_CONSOLEMODE_STDIN', options.consoleModeStdin ? 'TRUE' : 'FALSE'],
        ['WINRS_SKIP_CMD_SHELL', 'FALSE'],
      ],
    },
    `<rsp:CommandLine><rsp:Command>${escapeText(commandLine)}</rsp:Command></rsp:CommandLine>`,
  );
}

export function buildSend(
  ctx: MessageContext,
  shellId: string,
  commandId: string,
  data: Buffer,
  end: boolean,
): BuiltMessage {
  const endAttr = end ? ' End="true"' : '';
  return envelope(
    ctx,
    { action: 'send', shellId },
    `<rsp:Send><rsp:Stream Name="stdin" CommandId="${escapeAttr(commandId)}"${endAttr}>${data.toString('base64')}</rsp:Stream></rsp:Send>`,
  );
}

export function buildReceive(ctx: MessageContext, shellId: string, commandId: string): BuiltMessage {
  return envelope(
    ctx,
    { action: 'receive', shellId, options: [['WSMAN_CMDSHELL_OPTION_KEEPALIVE', 'TRUE']] },
    `<rsp:Receive><rsp:DesiredStream CommandId="${escapeAttr(commandId)}">stdout stderr</rsp:DesiredStream></rsp:Receive>`,
  );
}

export function buildSignal(
  ctx: MessageContext,
  shellId: string,
  commandId: string,
  code: string,
): BuiltMessage {
  return envelope(
    ctx,
    { action: 'signal', shellId },
    `<rsp:Signal CommandId="${escapeAttr(commandId)}"><rsp:Code>${escapeText(code)}</rsp:Code></rsp:Signal>`,
  );
}

export function buildDelete(ctx: MessageContext, shellId: string): BuiltMessage {
  return envelope(ctx, { action: 'delete', shellId }, '');
}
