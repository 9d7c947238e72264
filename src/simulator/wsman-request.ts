// Parses a WS-Management request envelope. Clients use different prefixes for the same
// namespaces (env:, wsa:, wsman:, wsmv: ...), so names are matched without their prefix.
import { WsmanXmlReader } from '../winrm/wsman-xml-reader';

export const WSMAN_ACTIONS = ['Create', 'Delete', 'Get', 'Command', 'Send', 'Receive', 'Signal'] as const;
export type WsmanActionName = (typeof WSMAN_ACTIONS)[number];

const ACTION_URIS: Readonly<Record<string, WsmanActionName>> = {
  'http://schemas.xmlsoap.org/ws/2004/09/transfer/Create': 'Create',
  'http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete': 'Delete',
  'http://schemas.xmlsoap.org/ws/2004/09/transfer/Get': 'Get',
  'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command': 'Command',
  'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Send': 'Send',
  'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive': 'Receive',
  'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Signal': 'Signal',
};

/** A node of the prefix-stripped parse tree. */
export type XmlNode = string | { [key: string]: unknown };

export interface WsmanRequest {
  /** The operation, or undefined when the Action URI is not one the shell supports. */
  action: WsmanActionName | undefined;
  actionUri: string;
  messageId: string | undefined;
  resourceUri: string | undefined;
  shellId: string | undefined;
  /** Raw OperationTimeout text (validated by the server, which owns MaxTimeoutms). */
  operationTimeout: string | undefined;
  maxEnvelopeSize: number | undefined;
  /** wsman:OptionSet options by name (upper-cased). */
  options: ReadonlyMap<string, string>;
  /** s:Body with prefixes stripped ({} when empty). */
  body: Record<string, unknown>;
}

export class WsmanRequestError extends Error {
  override readonly name = 'WsmanRequestError';
  /** MessageID if it could be read, so the fault can still relate to the request. */
  constructor(
    message: string,
    readonly messageId?: string,
  ) {
    super(message);
  }
}

/** Request documents: values untrimmed, numeric references decoded (WinRb sends &#39;). */
export const REQUEST_XML = new WsmanXmlReader({
  trimValues: false,
  decodeNumericRefs: true,
  arrayElements: ['Arguments', 'Stream', 'Option', 'Selector', 'DesiredStream', 'Variable'],
});

/** Text content of a parsed element ('' for empty elements). */
export function textOf(node: unknown): string {
  if (node === undefined || node === null) return '';
  if (typeof node === 'string') return node;
  if (Array.isArray(node)) return textOf(node[0]);
  if (typeof node === 'object') {
    const t = (node as Record<string, unknown>)['#text'];
    return typeof t === 'string' ? t : t === undefined ? '' : String(t);
  }
  return String(node);
}

export function attrOf(node: unknown, name: string): string | undefined {
  if (Array.isArray(node)) return attrOf(node[0], name);
  if (node === null || typeof node !== 'object') return undefined;
  const v = (node as Record<string, unknown>)[`@_${name}`];
  return typeof v === 'string' ? v : undefined;
}

export function childOf(node: unknown, name: string): unknown {
  if (Array.isArray(node)) return childOf(node[0], name);
  if (node === null || typeof node !== 'object') return undefined;
  return (node as Record<string, unknown>)[name];
}

export function childrenOf(node: unknown, name: string): unknown[] {
  const c = childOf(node, name);
  if (c === undefined) return [];
  return Array.isArray(c) ? c : [c];
}

export function parseWsmanRequest(xml: string): WsmanRequest {
  // SOAP forbids DTDs, and refusing them here keeps entity expansion out of the parser.
  if (/<!DOCTYPE/i.test(xml)) throw new WsmanRequestError('DTDs are not allowed in SOAP messages');
  const doc = REQUEST_XML.readCompact(xml) ?? parseFully(xml);
  const env = doc['Envelope'];
  if (env === undefined || env === null || typeof env !== 'object') {
    throw new WsmanRequestError('the document is not a SOAP envelope');
  }
  const header = childOf(env, 'Header');
  const messageId = optionalText(childOf(header, 'MessageID'));
  if (header === undefined || header === null || typeof header !== 'object') {
    throw new WsmanRequestError('the envelope has no header', messageId);
  }
  const actionUri = textOf(childOf(header, 'Action')).trim();
  if (!actionUri) throw new WsmanRequestError('the header has no Action', messageId);

  const options = new Map<string, string>();
  for (const set of childrenOf(header, 'OptionSet')) {
    for (const opt of childrenOf(set, 'Option')) {
      const name = attrOf(opt, 'Name');
      if (name) options.set(name.toUpperCase(), textOf(opt).trim());
    }
  }
  let shellId: string | undefined;
  for (const set of childrenOf(header, 'SelectorSet')) {
    for (const sel of childrenOf(set, 'Selector')) {
      if (attrOf(sel, 'Name')?.toLowerCase() === 'shellid') shellId = textOf(sel).trim();
    }
  }
  const sizeText = optionalText(childOf(header, 'MaxEnvelopeSize'));
  const size = sizeText === undefined ? undefined : Number(sizeText);
  const rawBody = childOf(env, 'Body');
  const body = rawBody !== null && typeof rawBody === 'object' ? (rawBody as Record<string, unknown>) : {};
  return {
    action: ACTION_URIS[actionUri],
    actionUri,
    messageId,
    resourceUri: optionalText(childOf(header, 'ResourceURI')),
    shellId,
    operationTimeout: optionalText(childOf(header, 'OperationTimeout')),
    maxEnvelopeSize: size !== undefined && Number.isInteger(size) && size > 0 ? size : undefined,
    options,
    body,
  };
}

/** Anything the compact reader hands over (CDATA, comments, odd entities, malformed input). */
function parseFully(xml: string): Record<string, unknown> {
  const valid = REQUEST_XML.validate(xml);
  if (valid !== true) throw new WsmanRequestError(`malformed XML: ${valid.err.msg}`);
  try {
    return REQUEST_XML.parseFull(xml);
  } catch (err) {
    throw new WsmanRequestError(`malformed XML: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function optionalText(node: unknown): string | undefined {
  if (node === undefined) return undefined;
  const t = textOf(node).trim();
  return t === '' ? undefined : t;
}
