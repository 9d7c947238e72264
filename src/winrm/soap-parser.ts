// Parsers for WS-Management responses. Prefix-independent (Windows uses s/a/w/rsp, OMI uses
// SOAP-ENV/wsman), strict about structure, and bytes-first for streams: Stream payloads are
// returned as Buffers so callers join chunks before decoding text.

import { WsmanXmlReader, decodeNumericReferences } from './wsman-xml-reader';
import { ProtocolError } from './winrm-errors';

export const WSMAN_CODE = {
  operationTimedOut: 2150858793,
  invalidSelectors: 2150858843,
  quotaMaxShells: 2150859173,
  quotaMaxOperations: 2150859174,
  quotaUser: 2150859175,
  quotaSystem: 2150859176,
  quotaMaxShellUsers: 2150859179,
  quotaLimit: 2150858815,
} as const;

const QUOTA_CODES: ReadonlySet<number> = new Set([
  WSMAN_CODE.quotaMaxShells,
  WSMAN_CODE.quotaMaxOperations,
  WSMAN_CODE.quotaUser,
  WSMAN_CODE.quotaSystem,
  WSMAN_CODE.quotaMaxShellUsers,
  WSMAN_CODE.quotaLimit,
]);

export interface WsManFault {
  /** s:Code/s:Value local name: Sender, Receiver, MustUnderstand… */
  soapCode: string;
  /** s:Subcode/s:Value local name: TimedOut, InvalidSelectors, QuotaLimit… */
  subcode: string | undefined;
  /** s:Reason/s:Text, trimmed. */
  reason: string;
  /** f:WSManFault@Code of the outermost WSManFault. */
  wsmanCode: number | undefined;
  /** p:MSFT_WmiError/p:error_Code (quota faults carry their code here). */
  wmiErrorCode: number | undefined;
  /** wsmanCode ?? wmiErrorCode. */
  code: number | undefined;
  machine: string | undefined;
  /** Most specific message text found in the detail (nested provider fault, WMI message). */
  message: string | undefined;
  /** w:FaultDetail URI. */
  faultDetail: string | undefined;
  provider: string | undefined;
}

export interface ParsedEnvelope {
  action: string | undefined;
  messageId: string | undefined;
  relatesTo: string | undefined;
  body: Record<string, unknown>;
  fault: WsManFault | undefined;
}

export type CommandStateName = 'Done' | 'Running' | 'Pending';

export interface StreamChunk {
  name: string;
  commandId: string | undefined;
  data: Buffer;
  end: boolean;
}

export interface ReceiveResult {
  streams: StreamChunk[];
  /** Absent when the response carries no rsp:CommandState (allowed by the schema). */
  state: CommandStateName | undefined;
  exitCode: number | undefined;
  commandId: string | undefined;
}

type XmlNode = Record<string, unknown>;

/** Response documents: values trimmed, numeric references left as written. */
export const RESPONSE_XML = new WsmanXmlReader({
  trimValues: true,
  decodeNumericRefs: false,
  arrayElements: ['Stream', 'Selector'],
});

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function localName(value: string): string {
  const idx = value.lastIndexOf(':');
  return idx >= 0 ? value.slice(idx + 1) : value;
}

function isNode(value: unknown): value is XmlNode {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function child(node: unknown, name: string): unknown {
  return isNode(node) ? node[name] : undefined;
}

function text(node: unknown): string | undefined {
  if (typeof node === 'string') return node;
  if (isNode(node)) {
    const t = node['#text'];
    if (typeof t === 'string') return t;
    if (typeof t === 'number') return String(t);
    return '';
  }
  return undefined;
}

function attr(node: unknown, name: string): string | undefined {
  if (!isNode(node)) return undefined;
  const v = node[`@_${name}`];
  return typeof v === 'string' ? v : undefined;
}

function parseCode(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  return /^\d{1,12}$/.test(trimmed) ? Number(trimmed) : undefined;
}

function first(value: unknown): unknown {
  return Array.isArray(value) ? value[0] : value;
}

/** Walks f:Message → f:ProviderFault → f:WSManFault → f:Message … and returns the innermost text. */
function innermostMessage(
  node: unknown,
  depth = 0,
): { message: string | undefined; provider: string | undefined } {
  if (depth > 8) return { message: undefined, provider: undefined };
  if (typeof node === 'string') return { message: node.trim() || undefined, provider: undefined };
  if (!isNode(node)) return { message: undefined, provider: undefined };
  const provider = attr(node, 'provider');
  for (const key of ['ProviderFault', 'WSManFault', 'Message']) {
    if (key in node) {
      const inner = innermostMessage(first(node[key]), depth + 1);
      if (inner.message !== undefined)
        return { message: inner.message, provider: inner.provider ?? provider };
    }
  }
  const own = text(node)?.trim();
  return { message: own || undefined, provider };
}

/** Fault text as people read it: character references decoded, line breaks kept, ends trimmed. */
function faultText(value: string | undefined): string | undefined {
  return value === undefined ? undefined : decodeNumericReferences(value).trim() || undefined;
}

function parseFault(faultNode: unknown): WsManFault {
  const code = child(faultNode, 'Code');
  const soapCode = localName(text(child(code, 'Value')) ?? '');
  const subValue = text(child(child(code, 'Subcode'), 'Value'));
  const reason = faultText(text(first(child(child(faultNode, 'Reason'), 'Text')))) ?? '';
  const detail = child(faultNode, 'Detail');
  const wsmanFault = first(child(detail, 'WSManFault'));
  const wmiError = first(child(detail, 'MSFT_WmiError'));
  const wsmanCode = parseCode(attr(wsmanFault, 'Code'));
  const wmiErrorCode = parseCode(text(child(wmiError, 'error_Code')));
  let message: string | undefined;
  let provider: string | undefined;
  if (wsmanFault !== undefined) {
    ({ message, provider } = innermostMessage(child(wsmanFault, 'Message')));
  }
  if (message === undefined && wmiError !== undefined) {
    message = text(child(wmiError, 'Message'));
  }
  message = faultText(message);
  return {
    soapCode,
    subcode: subValue === undefined ? undefined : localName(subValue),
    reason,
    wsmanCode,
    wmiErrorCode,
    code: wsmanCode ?? wmiErrorCode,
    machine: attr(wsmanFault, 'Machine'),
    message,
    faultDetail: text(child(detail, 'FaultDetail'))?.trim() || undefined,
    provider,
  };
}

/** Anything the compact reader hands over (CDATA, comments, odd entities, malformed input). */
function parseFully(body: string): XmlNode {
  const valid = RESPONSE_XML.validate(body);
  if (valid !== true) {
    throw new ProtocolError(
      `WS-Management response is not well-formed XML (${valid.err.code} at line ${valid.err.line})`,
    );
  }
  try {
    return RESPONSE_XML.parseFull(body);
  } catch (err) {
    throw new ProtocolError('WS-Management response could not be parsed', { cause: err });
  }
}

export function parseEnvelope(xml: string): ParsedEnvelope {
  const body = xml.charCodeAt(0) === 0xfeff ? xml.slice(1) : xml;
  // WinRM never sends a DTD; refusing one rules out entity-expansion tricks.
  if (/<!DOCTYPE/i.test(body)) throw new ProtocolError('WS-Management response contains a DOCTYPE');
  const doc = RESPONSE_XML.readCompact(body) ?? parseFully(body);
  const env = child(doc, 'Envelope');
  if (!isNode(env)) throw new ProtocolError('WS-Management response has no SOAP Envelope');
  const header = child(env, 'Header');
  const bodyNode = child(env, 'Body');
  if (bodyNode === undefined) throw new ProtocolError('WS-Management response has no SOAP Body');
  const bodyObj = isNode(bodyNode) ? bodyNode : {};
  const faultNode = bodyObj['Fault'];
  return {
    action: text(child(header, 'Action'))?.trim(),
    messageId: text(child(header, 'MessageID'))?.trim(),
    relatesTo: text(child(header, 'RelatesTo'))?.trim(),
    body: bodyObj,
    fault: faultNode === undefined ? undefined : parseFault(faultNode),
  };
}

export function isTimedOutFault(fault: WsManFault): boolean {
  return fault.code === WSMAN_CODE.operationTimedOut || fault.subcode === 'TimedOut';
}

export function isInvalidSelectorsFault(fault: WsManFault): boolean {
  return fault.code === WSMAN_CODE.invalidSelectors || fault.subcode === 'InvalidSelectors';
}

export function isQuotaFault(fault: WsManFault): boolean {
  if (fault.wsmanCode !== undefined && QUOTA_CODES.has(fault.wsmanCode)) return true;
  if (fault.wmiErrorCode !== undefined && QUOTA_CODES.has(fault.wmiErrorCode)) return true;
  return fault.subcode === 'QuotaLimit';
}

/** The shell id of a CreateResponse: the ResourceCreated selector first, rsp:Shell as fallback. */
export function parseCreateResponse(env: ParsedEnvelope): { shellId: string } {
  const selectors = child(
    child(child(env.body['ResourceCreated'], 'ReferenceParameters'), 'SelectorSet'),
    'Selector',
  );
  if (Array.isArray(selectors)) {
    for (const sel of selectors) {
      if (attr(sel, 'Name') === 'ShellId') {
        const id = text(sel)?.trim();
        if (id) return { shellId: id };
      }
    }
  }
  const fromShell = text(child(env.body['Shell'], 'ShellId'))?.trim();
  if (fromShell) return { shellId: fromShell };
  throw new ProtocolError('CreateResponse carries no ShellId');
}

export function parseCommandResponse(env: ParsedEnvelope): { commandId: string } {
  const id = text(child(env.body['CommandResponse'], 'CommandId'))?.trim();
  if (!id) throw new ProtocolError('CommandResponse carries no CommandId');
  return { commandId: id };
}

export function parseReceiveResponse(env: ParsedEnvelope): ReceiveResult {
  const rr = env.body['ReceiveResponse'];
  if (rr === undefined) throw new ProtocolError('expected a ReceiveResponse');
  const rawStreams = child(rr, 'Stream');
  const streams: StreamChunk[] = [];
  if (Array.isArray(rawStreams)) {
    for (const s of rawStreams) {
      const name = attr(s, 'Name');
      if (name === undefined) throw new ProtocolError('rsp:Stream without a Name');
      const payload = (text(s) ?? '').replace(/\s+/g, '');
      if (payload.length % 4 !== 0 || !BASE64.test(payload)) {
        throw new ProtocolError(`rsp:Stream ${name} is not valid base64`);
      }
      streams.push({
        name,
        commandId: attr(s, 'CommandId'),
        data: Buffer.from(payload, 'base64'),
        end: (attr(s, 'End') ?? '').toLowerCase() === 'true',
      });
    }
  }
  const cs = child(rr, 'CommandState');
  if (cs === undefined) return { streams, state: undefined, exitCode: undefined, commandId: undefined };
  const stateUri = attr(cs, 'State');
  if (stateUri === undefined) throw new ProtocolError('rsp:CommandState without a State');
  const stateName = stateUri.slice(stateUri.lastIndexOf('/') + 1);
  if (stateName !== 'Done' && stateName !== 'Running' && stateName !== 'Pending') {
    throw new ProtocolError(`unknown CommandState ${stateName}`);
  }
  let exitCode: number | undefined;
  const exitText = text(child(cs, 'ExitCode'))?.trim();
  if (exitText !== undefined && exitText !== '') {
    if (!/^-?\d{1,10}$/.test(exitText)) throw new ProtocolError('rsp:ExitCode is not an integer');
    exitCode = Number(exitText);
  }
  return { streams, state: stateName, exitCode, commandId: attr(cs, 'CommandId') };
}
