// Builds WS-Management replies the way a Windows host writes them: the prefixes s a x w rsp p
// (two Node clients look elements up by literal prefixed names), xml:lang on the envelope,
// a:RelatesTo = the request's MessageID, a fresh upper-case uuid: MessageID, upper-case GUIDs.
import { randomUUID } from 'node:crypto';

export const NS = {
  s: 'http://www.w3.org/2003/05/soap-envelope',
  a: 'http://schemas.xmlsoap.org/ws/2004/08/addressing',
  x: 'http://schemas.xmlsoap.org/ws/2004/09/transfer',
  e: 'http://schemas.xmlsoap.org/ws/2004/08/eventing',
  n: 'http://schemas.xmlsoap.org/ws/2004/09/enumeration',
  w: 'http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd',
  rsp: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell',
  p: 'http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd',
  f: 'http://schemas.microsoft.com/wbem/wsman/1/wsmanfault',
} as const;

type Prefix = keyof typeof NS;

export const ANONYMOUS_ROLE = 'http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous';
export const CMD_RESOURCE_URI = 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd';
export const SHELL_RESOURCE_URI = 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell';
const TRANSFER = 'http://schemas.xmlsoap.org/ws/2004/09/transfer';
const SHELL = 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell';
const COMMAND_STATE = `${SHELL}/CommandState`;

// Which namespaces each captured reply type declares on its envelope (pypsrp captures).
const NS_SHELL_OP: readonly Prefix[] = ['s', 'a', 'x', 'w', 'rsp', 'p'];
const NS_RECEIVE: readonly Prefix[] = ['s', 'a', 'w', 'rsp', 'p'];
const NS_DELETE: readonly Prefix[] = ['s', 'a', 'w', 'p'];
export const NS_FAULT: readonly Prefix[] = ['s', 'a', 'x', 'e', 'n', 'w', 'p'];

export function xmlEscape(text: string): string {
  return text.replace(/[&<>"']/g, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&apos;',
  );
}

/** Upper-case GUID as Windows prints ShellId/CommandId. */
export function newGuid(): string {
  return randomUUID().toUpperCase();
}

export function envelope(
  prefixes: readonly Prefix[],
  action: string,
  relatesTo: string | undefined,
  body: string,
): string {
  const decl = prefixes.map((p) => ` xmlns:${p}="${NS[p]}"`).join('');
  const relates = relatesTo === undefined ? '' : `<a:RelatesTo>${xmlEscape(relatesTo)}</a:RelatesTo>`;
  return (
    `<s:Envelope xml:lang="en-US"${decl}><s:Header><a:Action>${action}</a:Action>` +
    `<a:MessageID>uuid:${newGuid()}</a:MessageID><a:To>${ANONYMOUS_ROLE}</a:To>${relates}</s:Header>` +
    `<s:Body>${body}</s:Body></s:Envelope>`
  );
}

export interface ShellDescription {
  shellId: string;
  address: string;
  owner: string;
  clientIp: string;
  idleTimeOut: string;
  inputStreams: string;
  outputStreams: string;
  shellRunTime: string;
  shellInactivity: string;
}

function shellElement(d: ShellDescription): string {
  return (
    `<rsp:Shell xmlns:rsp="${NS.rsp}"><rsp:ShellId>${d.shellId}</rsp:ShellId>` +
    `<rsp:ResourceUri>${CMD_RESOURCE_URI}</rsp:ResourceUri><rsp:Owner>${xmlEscape(d.owner)}</rsp:Owner>` +
    `<rsp:ClientIP>${xmlEscape(d.clientIp)}</rsp:ClientIP><rsp:IdleTimeOut>${d.idleTimeOut}</rsp:IdleTimeOut>` +
    `<rsp:InputStreams>${xmlEscape(d.inputStreams)}</rsp:InputStreams>` +
    `<rsp:OutputStreams>${xmlEscape(d.outputStreams)}</rsp:OutputStreams>` +
    `<rsp:ShellRunTime>${d.shellRunTime}</rsp:ShellRunTime>` +
    `<rsp:ShellInactivity>${d.shellInactivity}</rsp:ShellInactivity></rsp:Shell>`
  );
}

export function createResponse(relatesTo: string | undefined, d: ShellDescription): string {
  const created =
    `<x:ResourceCreated><a:Address>${xmlEscape(d.address)}</a:Address><a:ReferenceParameters>` +
    `<w:ResourceURI>${CMD_RESOURCE_URI}</w:ResourceURI><w:SelectorSet>` +
    `<w:Selector Name="ShellId">${d.shellId}</w:Selector></w:SelectorSet></a:ReferenceParameters></x:ResourceCreated>`;
  return envelope(NS_SHELL_OP, `${TRANSFER}/CreateResponse`, relatesTo, created + shellElement(d));
}

export function getShellResponse(relatesTo: string | undefined, d: ShellDescription): string {
  return envelope(NS_SHELL_OP, `${TRANSFER}/GetResponse`, relatesTo, shellElement(d));
}

export function commandResponse(relatesTo: string | undefined, commandId: string): string {
  return envelope(
    NS_SHELL_OP,
    `${SHELL}/CommandResponse`,
    relatesTo,
    `<rsp:CommandResponse><rsp:CommandId>${commandId}</rsp:CommandId></rsp:CommandResponse>`,
  );
}

export function sendResponse(relatesTo: string | undefined): string {
  return envelope(NS_SHELL_OP, `${SHELL}/SendResponse`, relatesTo, '<rsp:SendResponse/>');
}

export function signalResponse(relatesTo: string | undefined): string {
  return envelope(NS_SHELL_OP, `${SHELL}/SignalResponse`, relatesTo, '<rsp:SignalResponse/>');
}

export function deleteResponse(relatesTo: string | undefined): string {
  return envelope(NS_DELETE, `${TRANSFER}/DeleteResponse`, relatesTo, '');
}

export interface StreamPiece {
  name: string;
  data: Buffer;
}

export type ReceiveState = { done: false } | { done: true; exitCode: number; streams: readonly string[] };

export function receiveResponse(
  relatesTo: string | undefined,
  commandId: string,
  pieces: readonly StreamPiece[],
  state: ReceiveState,
): string {
  let body = '<rsp:ReceiveResponse>';
  for (const piece of pieces) {
    body += `<rsp:Stream Name="${xmlEscape(piece.name)}" CommandId="${commandId}">${piece.data.toString('base64')}</rsp:Stream>`;
  }
  if (state.done) {
    for (const name of state.streams) {
      body += `<rsp:Stream Name="${xmlEscape(name)}" CommandId="${commandId}" End="true"></rsp:Stream>`;
    }
    body +=
      `<rsp:CommandState CommandId="${commandId}" State="${COMMAND_STATE}/Done">` +
      `<rsp:ExitCode>${state.exitCode}</rsp:ExitCode></rsp:CommandState>`;
  } else {
    body += `<rsp:CommandState CommandId="${commandId}" State="${COMMAND_STATE}/Running"></rsp:CommandState>`;
  }
  body += '</rsp:ReceiveResponse>';
  return envelope(NS_RECEIVE, `${SHELL}/ReceiveResponse`, relatesTo, body);
}
