// Reads hvgate's script envelope (DESIGN "The script envelope"; contract shared with the gateway's
// renderer): the `# hvgate-op: <id>@<v>` header and params blob, the `# hvgate-loader@1` loader and
// its stdin payload, the one-line `<# hvgate-packed@2 #>` unpacker and its literal; and writes the `HVGATE-PROGRESS:`/`HVGATE-RESULT:` lines a script prints.
import { inflateRawSync } from 'node:zlib';
import { decodeLoaderBase64, isStrictBase64 } from './base64-text';

export const LOADER_HEADER = '# hvgate-loader@1';
export const PACKED_HEADER = '<# hvgate-packed@2 #>';
/** The unpacker's one literal (a -Command line, so the whole unpacker is on line 1). */
const PACKED_LITERAL = /IO\.MemoryStream\(,\[Convert\]::FromBase64String\('([^']*)'\)\)/;
/** What one unpacked script may grow to; a real host has no such cap, the simulator guards itself. */
const MAX_UNPACKED_BYTES = 4 * 1024 * 1024;
const OP_HEADER_PREFIX = '# hvgate-op:';
const OP_HEADER = /^# hvgate-op: ([a-z][a-z0-9-]*(?:\.[a-z][a-z0-9-]*)+)@([1-9][0-9]*)$/;
const PARAMS_BLOB = /\[Convert\]::FromBase64String\('([A-Za-z0-9+/=]*)'\)/;
// Decoding is stateless outside streaming mode, so one instance of each serves every call.
const UTF8_FATAL = new TextDecoder('utf-8', { fatal: true });
const UTF8_LENIENT = new TextDecoder('utf-8');

export interface CommandToken {
  name: string;
  /** 1-based line and column of the command in the script. */
  line: number;
  column: number;
  lineText: string;
}

export type ScriptKind =
  | { kind: 'loader' }
  /** `literal` is the text between the quotes of the unpacker's FromBase64String call (null: none). */
  | { kind: 'packed'; literal: string | null }
  | { kind: 'operation'; operation: string; version: number; blob: string | null }
  /** Starts like an operation script but the header does not parse. */
  | { kind: 'bad-header'; header: string }
  /** Nothing but comments and blank lines: PowerShell runs nothing and exits 0. */
  | { kind: 'empty' }
  | { kind: 'other'; command: CommandToken };

function splitLines(text: string): string[] {
  return text.replace(/^\uFEFF/, '').split(/\r?\n/);
}

export function classifyScript(text: string): ScriptKind {
  // Only line 1 and the text after it matter here; scripts run to ~10 KB, so no full split.
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const nl = body.indexOf('\n');
  const first = nl < 0 ? body : body.slice(0, nl > 0 && body.charCodeAt(nl - 1) === 0x0d ? nl - 1 : nl);
  if (first === LOADER_HEADER) return { kind: 'loader' };
  if (first.startsWith(`${PACKED_HEADER} `)) {
    const m = PACKED_LITERAL.exec(first);
    return { kind: 'packed', literal: m?.[1] ?? null };
  }
  if (first.startsWith(OP_HEADER_PREFIX)) {
    const m = OP_HEADER.exec(first);
    if (!m) return { kind: 'bad-header', header: first };
    // The blob pattern spans no line break, so searching the raw rest finds what a search of its
    // lines joined with LF would.
    const blob = nl < 0 ? null : PARAMS_BLOB.exec(body.slice(nl + 1));
    return { kind: 'operation', operation: m[1]!, version: Number(m[2]), blob: blob ? blob[1]! : null };
  }
  const command = firstCommand(text);
  return command ? { kind: 'other', command } : { kind: 'empty' };
}

export interface ScriptMeta {
  jobId: string | null;
  requestId: string | null;
}

export type BlobDecodeResult =
  { ok: true; params: Record<string, unknown>; meta: ScriptMeta } | { ok: false; reason: string };

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Decodes `{"params": {...}, "meta": {"jobId": …, "requestId": …}}` from the blob, strictly. */
export function decodeParamsBlob(blob: string): BlobDecodeResult {
  if (blob.length === 0 || !isStrictBase64(blob)) {
    return { ok: false, reason: 'the params blob is not valid base64' };
  }
  let json: string;
  try {
    json = UTF8_FATAL.decode(Buffer.from(blob, 'base64'));
  } catch {
    return { ok: false, reason: 'the params blob is not UTF-8 text' };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch {
    return { ok: false, reason: 'the params blob is not JSON' };
  }
  if (!isPlainObject(doc)) return { ok: false, reason: 'the params document is not a JSON object' };
  const extra = Object.keys(doc).filter((k) => k !== 'params' && k !== 'meta');
  if (extra.length > 0)
    return { ok: false, reason: `unexpected member(s) ${extra.join(', ')} in the params document` };
  if (!isPlainObject(doc.params)) return { ok: false, reason: '"params" must be a JSON object' };
  const meta = doc.meta;
  if (!isPlainObject(meta)) return { ok: false, reason: '"meta" must be a JSON object' };
  const metaExtra = Object.keys(meta).filter((k) => k !== 'jobId' && k !== 'requestId');
  if (metaExtra.length > 0)
    return { ok: false, reason: `unexpected member(s) ${metaExtra.join(', ')} in "meta"` };
  for (const key of ['jobId', 'requestId'] as const) {
    const v = meta[key];
    if (v !== null && typeof v !== 'string')
      return { ok: false, reason: `"meta.${key}" must be a string or null` };
  }
  return {
    ok: true,
    params: doc.params,
    meta: { jobId: meta.jobId as string | null, requestId: meta.requestId as string | null },
  };
}

export type LoaderDecodeResult = { ok: true; script: string } | { ok: false; reason: string };

/**
 * The loader's `[Convert]::FromBase64String($stdin)`: ASCII base64 in which whitespace (CR/LF from
 * line-wrapped Sends) is ignored, as .NET ignores it; the bytes are read as UTF-8 the way
 * `[Text.Encoding]::UTF8.GetString` does (invalid sequences become U+FFFD, no error).
 */
export function decodeLoaderPayload(stdin: Buffer): LoaderDecodeResult {
  const decoded = decodeLoaderBase64(stdin);
  if (!decoded.ok) {
    return {
      ok: false,
      reason:
        decoded.reason === 'non-ascii' ? 'non-ASCII byte in the base64 payload' : 'invalid base64 payload',
    };
  }
  return { ok: true, script: UTF8_LENIENT.decode(decoded.bytes) };
}

/** Why a packed literal does not unpack, in the words of the .NET call that would fail. */
export type UnpackResult =
  { ok: true; script: string } | { ok: false; call: 'FromBase64String' | 'ReadToEnd'; reason: string };

/**
 * The unpacker's `[Convert]::FromBase64String` then DeflateStream + StreamReader(UTF8).ReadToEnd():
 * strict base64, raw DEFLATE, UTF-8 read leniently (invalid sequences become U+FFFD).
 */
export function unpackScript(literal: string): UnpackResult {
  if (!isStrictBase64(literal)) return { ok: false, call: 'FromBase64String', reason: 'invalid base64' };
  let bytes: Buffer;
  try {
    bytes = inflateRawSync(Buffer.from(literal, 'base64'), { maxOutputLength: MAX_UNPACKED_BYTES });
  } catch {
    return { ok: false, call: 'ReadToEnd', reason: 'invalid deflate data' };
  }
  return { ok: true, script: UTF8_LENIENT.decode(bytes) };
}

/** `HVGATE-RESULT:<base64 of UTF-8 JSON>` with the console's CRLF. */
export function resultLine(outcome: unknown): string {
  return `HVGATE-RESULT:${Buffer.from(JSON.stringify(outcome), 'utf8').toString('base64')}\r\n`;
}

/** `HVGATE-PROGRESS:<0-100> <text>` with the console's CRLF; the text stays on one line. */
export function progressLine(percent: number, text: string): string {
  const pct = Math.min(100, Math.max(0, Math.round(percent)));
  return `HVGATE-PROGRESS:${pct} ${text.replace(/[\r\n]+/g, ' ')}\r\n`;
}

// ---- First command of an arbitrary script (for PowerShell's "term is not recognized") ----

const KEYWORDS = new Set([
  'begin',
  'break',
  'catch',
  'class',
  'continue',
  'data',
  'do',
  'dynamicparam',
  'else',
  'elseif',
  'end',
  'enum',
  'exit',
  'filter',
  'finally',
  'for',
  'foreach',
  'function',
  'if',
  'in',
  'param',
  'process',
  'return',
  'switch',
  'throw',
  'trap',
  'try',
  'until',
  'using',
  'while',
  'workflow',
]);

/**
 * Finds the first command word of a script, roughly as PowerShell's parser would: skips comments,
 * keywords, assignments and expressions. A heuristic, good enough to name the command in an error.
 */
export function firstCommand(text: string): CommandToken | null {
  const lines = splitLines(text);
  let inBlockComment = false;
  let fallback: CommandToken | null = null;
  for (let i = 0; i < lines.length; i++) {
    const lineText = lines[i]!;
    let code = lineText;
    if (inBlockComment) {
      const end = code.indexOf('#>');
      if (end < 0) continue;
      code = ' '.repeat(end + 2) + code.slice(end + 2);
      inBlockComment = false;
    }
    const open = code.indexOf('<#');
    if (open >= 0) {
      const close = code.indexOf('#>', open + 2);
      if (close < 0) {
        inBlockComment = true;
        code = code.slice(0, open);
      } else {
        code = code.slice(0, open) + ' '.repeat(close + 2 - open) + code.slice(close + 2);
      }
    }
    const hash = code.indexOf('#');
    if (hash >= 0 && !/['"]/.test(code.slice(0, hash))) code = code.slice(0, hash);
    if (code.trim() === '') continue;
    // Statement pieces: after newlines, `;`, `|`, `{`, `}`, `(`.
    const pieces = /[^;|{}()]+/g;
    let m: RegExpExecArray | null;
    while ((m = pieces.exec(code)) !== null) {
      const piece = m[0];
      const lead = /^\s*(?:\$[\w:]+\s*=\s*)?(?:[&.]\s*)?/.exec(piece)![0];
      const rest = piece.slice(lead.length);
      const word = /^[A-Za-z_][\w.\\:-]*/.exec(rest)?.[0];
      const column = m.index + lead.length + 1;
      if (fallback === null && rest.trim() !== '') {
        fallback = { name: rest.trim().split(/\s+/)[0]!, line: i + 1, column, lineText };
      }
      if (!word || KEYWORDS.has(word.toLowerCase())) continue;
      return { name: word, line: i + 1, column, lineText };
    }
  }
  return fallback;
}
