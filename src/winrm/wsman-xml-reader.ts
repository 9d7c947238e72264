// Reads WS-Management envelopes into fast-xml-parser's tree shape (prefixes stripped, '@_'
// attributes, '#text', listed elements always arrays). Most envelopes are compact, entity-light
// XML, and fast-xml-parser spends ~10x more CPU on them than a scan needs (validation pass, a
// per-tag path matcher, per-character text concatenation), so a strict reader handles that
// subset and hands anything else (comments, CDATA, PIs, DOCTYPE, unusual names or entities,
// malformed input) to fast-xml-parser unchanged. The reader never accepts a document
// fast-xml-parser rejects and yields the same tree for what it accepts; the tests check both on
// every capture in the fixtures and on mutated envelopes.

import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { ValidationError } from 'fast-xml-parser';

export interface WsmanXmlShape {
  /** fast-xml-parser trimValues: trim text and attribute values, drop whitespace-only text. */
  trimValues: boolean;
  /** Decode &#N; / &#xH; (fast-xml-parser only does with htmlEntities, which also adds HTML names). */
  decodeNumericRefs: boolean;
  /** Local names that always become arrays. */
  arrayElements: readonly string[];
}

export type XmlDocument = Record<string, unknown>;

type Attrs = Record<string, string>;

interface Frame {
  raw: string;
  name: string;
  attrs: Attrs | undefined;
  children: Record<string, unknown> | undefined;
  text: string;
}

const NAME = '[A-Za-z_][\\w.-]*(?::[A-Za-z_][\\w.-]*)?';
// XML white space only: JavaScript's \s also matches U+FEFF, U+00A0 and friends.
const WS = '[ \\t\\n\\r]';
const START_NAME = new RegExp(NAME, 'y');
const ATTRIBUTE = new RegExp(`${WS}+(${NAME})${WS}*=${WS}*(?:"([^"<]*)"|'([^'<]*)')`, 'y');
const TAG_CLOSE = new RegExp(`${WS}*(/?)>`, 'y');
const END_TAG = new RegExp(`</(${NAME})${WS}*>`, 'y');
const DECLARATION_CLOSE = new RegExp(`${WS}*\\?>`, 'y');
const NUMERIC_REF = /^#(?:([0-9]{1,7})|x([0-9a-fA-F]{1,6}))$/;
const DECLARATION_ATTRS = new Set(['version', 'encoding', 'standalone']);
// fast-xml-parser throws past 100 open elements; stay well clear and let it decide.
const MAX_DEPTH = 64;
// Duplicate names are checked pairwise; a tag with more attributes than any envelope carries is
// handed over rather than scanned quadratically.
const MAX_ATTRIBUTES = 32;

const PREDEFINED: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function isXmlChar(cp: number): boolean {
  return (
    cp === 0x9 ||
    cp === 0xa ||
    cp === 0xd ||
    (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  );
}

function isXmlSpace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x09 || code === 0x0d;
}

// Names fast-xml-parser renames or refuses (prototype pollution guards): leave them to it.
const RESERVED_NAMES: ReadonlySet<string> = new Set([
  ...Object.getOwnPropertyNames(Object.prototype),
  'prototype',
]);

function localName(raw: string): string {
  const colon = raw.indexOf(':');
  return colon === -1 ? raw : raw.slice(colon + 1);
}

const NUMERIC_REFS = /&#(?:([0-9]{1,7})|x([0-9a-fA-F]{1,6}));/g;

/**
 * Numeric character references left as written in a value (response documents keep them, since
 * fast-xml-parser decodes them only together with HTML's named entities), as the characters they
 * stand for: Windows writes the CR of its multi-line fault messages as `&#xD;`. References to
 * characters XML does not allow stay as they are. For display text: a value that held the literal
 * text `&amp;#xD;` reads the same as one that held `&#xD;` once predefined entities are decoded.
 */
export function decodeNumericReferences(value: string): string {
  if (!value.includes('&#')) return value;
  return value.replace(NUMERIC_REFS, (ref: string, dec: string | undefined, hex: string | undefined) => {
    const cp = dec !== undefined ? parseInt(dec, 10) : parseInt(hex as string, 16);
    return isXmlChar(cp) ? String.fromCodePoint(cp) : ref;
  });
}

/** Entity decoding as fast-xml-parser does it; undefined for anything it would treat differently. */
function decodeEntities(value: string, numeric: boolean): string | undefined {
  let amp = value.indexOf('&');
  if (amp === -1) return value;
  let out = '';
  let last = 0;
  while (amp !== -1) {
    const semi = value.indexOf(';', amp + 1);
    if (semi === -1 || semi - amp > 12) return undefined;
    const token = value.slice(amp + 1, semi);
    let replacement = PREDEFINED[token];
    if (replacement === undefined) {
      const m = NUMERIC_REF.exec(token);
      if (!m) return undefined;
      const cp = m[1] !== undefined ? parseInt(m[1], 10) : parseInt(m[2] as string, 16);
      if (!isXmlChar(cp)) return undefined;
      // Without htmlEntities fast-xml-parser leaves numeric references as written.
      replacement = numeric ? String.fromCodePoint(cp) : `&${token};`;
    }
    out += value.slice(last, amp) + replacement;
    last = semi + 1;
    amp = value.indexOf('&', last);
  }
  return out + value.slice(last);
}

export class WsmanXmlReader {
  private readonly trim: boolean;
  private readonly numeric: boolean;
  private readonly arrays: ReadonlySet<string>;
  private readonly parser: XMLParser;

  constructor(shape: WsmanXmlShape) {
    this.trim = shape.trimValues;
    this.numeric = shape.decodeNumericRefs;
    this.arrays = new Set(shape.arrayElements);
    const arrays = this.arrays;
    this.parser = new XMLParser({
      ignoreAttributes: false,
      attributeNamePrefix: '@_',
      removeNSPrefix: true,
      parseTagValue: false,
      parseAttributeValue: false,
      trimValues: shape.trimValues,
      htmlEntities: shape.decodeNumericRefs,
      isArray: (name) => arrays.has(name),
    });
  }

  /** fast-xml-parser's well-formedness check (the full path runs it before parseFull). */
  validate(xml: string): true | ValidationError {
    return XMLValidator.validate(xml);
  }

  /** fast-xml-parser's tree; throws on what it cannot parse. */
  parseFull(xml: string): XmlDocument {
    return this.parser.parse(xml) as XmlDocument;
  }

  /** The same tree for compact, plain envelopes; undefined means "use validate + parseFull". */
  readCompact(input: string): XmlDocument | undefined {
    // fast-xml-parser normalises line ends before parsing; attribute and text values see only \n.
    const xml = input.indexOf('\r') === -1 ? input : input.replace(/\r\n?/g, '\n');
    if (xml.indexOf(']]>') !== -1) return undefined;
    const len = xml.length;
    const doc: XmlDocument = {};
    const top: Frame = { raw: '', name: '', attrs: undefined, children: doc, text: '' };
    const stack: Frame[] = [];
    let pos = 0;
    let rootDone = false;

    if (xml.startsWith('<?xml')) {
      const decl = this.readAttributes(xml, 5);
      if (!decl) return undefined;
      DECLARATION_CLOSE.lastIndex = decl.end;
      if (!DECLARATION_CLOSE.test(xml)) return undefined;
      // XML 1.1 changes which numeric references are allowed; leave it to fast-xml-parser.
      if (!decl.attrs || decl.attrs['@_version'] !== '1.0') return undefined;
      for (const key of Object.keys(decl.attrs)) {
        if (!DECLARATION_ATTRS.has(key.slice(2))) return undefined;
      }
      doc['?xml'] = decl.attrs;
      pos = DECLARATION_CLOSE.lastIndex;
    }

    while (pos < len) {
      const current = stack.length === 0 ? undefined : stack[stack.length - 1];
      if (xml.charCodeAt(pos) !== 0x3c /* < */) {
        const lt = xml.indexOf('<', pos);
        const end = lt === -1 ? len : lt;
        if (current === undefined) {
          // Outside the root only whitespace may appear.
          for (let i = pos; i < end; i++) if (!isXmlSpace(xml.charCodeAt(i))) return undefined;
        } else {
          if (lt === -1) return undefined;
          let segment = xml.slice(pos, end);
          if (this.trim) segment = segment.trim();
          if (segment !== '') {
            const decoded = decodeEntities(segment, this.numeric);
            if (decoded === undefined) return undefined;
            current.text += decoded;
          }
        }
        pos = end;
        continue;
      }
      const next = xml.charCodeAt(pos + 1);
      if (next === 0x2f /* / */) {
        if (current === undefined) return undefined;
        END_TAG.lastIndex = pos;
        const m = END_TAG.exec(xml);
        if (!m || m[1] !== current.raw) return undefined;
        stack.pop();
        this.attach(stack.length === 0 ? top : (stack[stack.length - 1] as Frame), current);
        if (stack.length === 0) rootDone = true;
        pos = END_TAG.lastIndex;
        continue;
      }
      // Comments, CDATA, DOCTYPE, processing instructions, a second root: not this reader's job.
      if (next === 0x21 /* ! */ || next === 0x3f /* ? */ || rootDone) return undefined;
      START_NAME.lastIndex = pos + 1;
      const nameMatch = START_NAME.exec(xml);
      if (!nameMatch) return undefined;
      const raw = nameMatch[0];
      const name = localName(raw);
      if (RESERVED_NAMES.has(name)) return undefined;
      const read = this.readAttributes(xml, START_NAME.lastIndex);
      if (!read) return undefined;
      TAG_CLOSE.lastIndex = read.end;
      const close = TAG_CLOSE.exec(xml);
      if (!close) return undefined;
      pos = TAG_CLOSE.lastIndex;
      const frame: Frame = { raw, name, attrs: read.attrs, children: undefined, text: '' };
      if (close[1] === '/') {
        this.attach(current ?? top, frame);
        if (current === undefined) rootDone = true;
      } else {
        if (stack.length >= MAX_DEPTH) return undefined;
        stack.push(frame);
      }
    }
    return rootDone && stack.length === 0 ? doc : undefined;
  }

  /** Attributes from `from` up to the tag's closing; undefined when outside the subset. */
  private readAttributes(xml: string, from: number): { attrs: Attrs | undefined; end: number } | undefined {
    let attrs: Attrs | undefined;
    let rawNames: string[] | undefined;
    let pos = from;
    for (;;) {
      ATTRIBUTE.lastIndex = pos;
      const m = ATTRIBUTE.exec(xml);
      if (!m) return { attrs, end: pos };
      pos = ATTRIBUTE.lastIndex;
      const raw = m[1] as string;
      rawNames ??= [];
      if (rawNames.length >= MAX_ATTRIBUTES || rawNames.includes(raw)) return undefined;
      rawNames.push(raw);
      const colon = raw.indexOf(':');
      // xmlns and xmlns:* declarations do not appear in fast-xml-parser's tree.
      if (raw === 'xmlns' || (colon !== -1 && raw.slice(0, colon) === 'xmlns')) continue;
      const key = `@_${colon === -1 ? raw : raw.slice(colon + 1)}`;
      let value = m[2] ?? (m[3] as string);
      if (this.trim) value = value.trim();
      const decoded = decodeEntities(value, this.numeric);
      if (decoded === undefined) return undefined;
      attrs ??= {};
      // Two prefixes on one local name: fast-xml-parser keeps the last; rare enough to hand over.
      if (key in attrs) return undefined;
      attrs[key] = decoded;
    }
  }

  /** Adds a closed element to its parent the way fast-xml-parser compresses its node list. */
  private attach(parent: Frame, frame: Frame): void {
    let value: unknown;
    if (frame.attrs !== undefined) {
      const obj = frame.children ?? {};
      if (frame.text !== '') obj['#text'] = frame.text;
      Object.assign(obj, frame.attrs);
      value = obj;
    } else if (frame.children === undefined) {
      value = frame.text;
    } else {
      if (frame.text !== '') frame.children['#text'] = frame.text;
      value = frame.children;
    }
    const siblings = (parent.children ??= {});
    const existing = siblings[frame.name];
    if (existing === undefined) {
      siblings[frame.name] = this.arrays.has(frame.name) ? [value] : value;
    } else if (Array.isArray(existing)) {
      existing.push(value);
    } else {
      siblings[frame.name] = [existing, value];
    }
  }
}
