// How a script reaches powershell.exe through WinRS, in the fewest WS-Management requests:
//  1. `encoded`: the script itself as -EncodedCommand, when the line fits in cmd.exe's 8191 characters;
//  2. `packed`: a constant one-line unpacker as -Command, carrying the script's raw-DEFLATE bytes as
//     one base64 literal. Catalog scripts are 2.6-9.3 KB of PowerShell; base64 of UTF-16LE makes an
//     -EncodedCommand line 2.7 times the script, while a literal in a -Command line costs 4/3 of
//     the compressed bytes (about 3.5:1), so every catalog script fits in one line this way;
//  3. `loader`: a constant loader that reads the script from stdin (one more request: Send).
// Command + Receive instead of Command + Send + Receive saves a third of the exchanges of a command.
// The -Command text is constant but for its literal, which is base64 (no quote, no cmd.exe or
// PowerShell metacharacter can occur in it), so it goes in double quotes as it is; the literal is
// the script's own bytes (a constant template plus its params blob), so caller values stay data
// there too. `packScripts: false` on a host turns mode 2 off, for hosts whose endpoint protection
// refuses compressed script blocks (`hvgate selftest` shows it: host.get and the VM list are packed).
import { deflateRawSync } from 'node:zlib';
import { BLOB_LOCATOR } from './script-render';

export const CMD_MAX_COMMAND_LINE = 8191;
export const POWERSHELL_PREFIX = 'powershell.exe -NoProfile -NonInteractive -EncodedCommand ';
export const POWERSHELL_COMMAND_PREFIX = 'powershell.exe -NoProfile -NonInteractive -Command ';
export const LOADER_HEADER = '# hvgate-loader@1';

/** Reads base64 of the real script's UTF-8 text from stdin (CR/LF ignored) and runs it. */
export const LOADER_SCRIPT = [
  LOADER_HEADER,
  "$ErrorActionPreference = 'Stop'",
  "$ProgressPreference = 'SilentlyContinue'",
  '$hvgateInput = [Console]::In.ReadToEnd()',
  "$hvgateText = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String(($hvgateInput -replace '\\s', '')))",
  '& ([ScriptBlock]::Create($hvgateText))',
  'exit $LASTEXITCODE',
  '',
].join('\n');

/** A block comment, so the one-line unpacker can still say what it is (the simulator reads it). */
export const PACKED_HEADER = '<# hvgate-packed@2 #>';

const PACKED_SLOT = '@@PACKED@@';
/** Inflates the base64 literal (raw DEFLATE of the script's UTF-8 text) and runs it; one line. */
const PACKED_TEMPLATE = [
  PACKED_HEADER,
  "$ErrorActionPreference = 'Stop';",
  "$ProgressPreference = 'SilentlyContinue';",
  `$hvgateStream = New-Object IO.Compression.DeflateStream((New-Object IO.MemoryStream(,[Convert]::FromBase64String('${PACKED_SLOT}'))), [IO.Compression.CompressionMode]::Decompress);`,
  '& ([ScriptBlock]::Create((New-Object IO.StreamReader($hvgateStream, [Text.Encoding]::UTF8)).ReadToEnd()));',
  'exit $LASTEXITCODE',
].join(' ');

/** The unpacker with the base64 of a script's raw-DEFLATE bytes in its one literal. */
export function packedScript(packedBase64: string): string {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(packedBase64)) throw new TypeError('packed script must be base64');
  return fillPacked(packedBase64);
}

/** Base64 that Buffer.toString('base64') made needs no check. */
function fillPacked(packedBase64: string): string {
  return PACKED_TEMPLATE.replace(PACKED_SLOT, packedBase64);
}

/** The -Command line of a packed script: its text in double quotes, which it never contains. */
function packedCommandLine(unpacker: string): string {
  return `${POWERSHELL_COMMAND_PREFIX}"${unpacker}"`;
}

/** Inverse of packedCommandLine; undefined when the line is not of that form. */
export function decodePackedCommandLine(commandLine: string): string | undefined {
  if (!commandLine.startsWith(`${POWERSHELL_COMMAND_PREFIX}"`) || !commandLine.endsWith('"'))
    return undefined;
  const text = commandLine.slice(POWERSHELL_COMMAND_PREFIX.length + 1, -1);
  return text.includes('"') ? undefined : text;
}

export interface EncodedCommand {
  mode: 'encoded' | 'packed' | 'loader';
  /** What goes into rsp:Command. */
  commandLine: string;
  /** For the loader: ASCII base64 of the script's UTF-8 text, to deliver with Send (End on the last chunk). */
  stdin?: Buffer;
}

export function encodePowerShellCommand(scriptText: string): string {
  return POWERSHELL_PREFIX + Buffer.from(scriptText, 'utf16le').toString('base64');
}

/** Inverse of encodePowerShellCommand; undefined when the line is not of that form. */
export function decodePowerShellCommand(commandLine: string): string | undefined {
  if (!commandLine.startsWith(POWERSHELL_PREFIX)) return undefined;
  const b64 = commandLine.slice(POWERSHELL_PREFIX.length);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) return undefined;
  return Buffer.from(b64, 'base64').toString('utf16le');
}

/**
 * Templates whose packed line came out well over the limit: their params change the text by a few
 * hundred bytes at most, so they never fit and are not compressed again (the VM facts read runs
 * before every change). Keyed by script id (`op@version`), so bounded by the catalog.
 */
const tooLongPacked = new Set<string>();
const PACKED_MARGIN = 1.1;

function encodedLength(utf16Bytes: number): number {
  return POWERSHELL_PREFIX.length + 4 * Math.ceil(utf16Bytes / 3);
}

/**
 * The compressed tail of each template: everything after the line with the params blob is the
 * template's own text, the same for every job, so it is compressed once. Keyed by script id and
 * checked against the text itself, so a different tail is never paired with stale bytes.
 */
const packedTails = new Map<string, { text: string; deflated: Buffer }>();
const STORED_BLOCK_MAX = 0xffff;

/**
 * Raw DEFLATE of the script: the varying head (header, prologue, the params blob, which is base64
 * and gains nothing from compression) as stored blocks, then the template's tail, compressed once
 * per template. A stored block is byte-aligned and not final, and the tail is a complete stream of
 * its own that refers to nothing before it, so the two concatenate into one valid stream.
 */
function deflateScript(scriptText: string, scriptId: string | undefined): Buffer {
  const nl = scriptText.indexOf('\n');
  const blob = nl < 0 ? null : BLOB_LOCATOR.exec(scriptText.slice(nl + 1));
  const split = blob === null ? -1 : scriptText.indexOf('\n', nl + 1 + blob.index + blob[0].length);
  if (scriptId === undefined || split < 0) return deflateRawSync(Buffer.from(scriptText, 'utf8'));
  const tailText = scriptText.slice(split + 1);
  let tail = packedTails.get(scriptId);
  if (tail?.text !== tailText) {
    tail = { text: tailText, deflated: deflateRawSync(Buffer.from(tailText, 'utf8')) };
    packedTails.set(scriptId, tail);
  }
  return Buffer.concat([storedBlocks(Buffer.from(scriptText.slice(0, split + 1), 'utf8')), tail.deflated]);
}

/** Non-final stored blocks (RFC 1951 §3.2.4): header byte 0, LEN, NLEN, the bytes as they are. */
function storedBlocks(bytes: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += STORED_BLOCK_MAX) {
    const chunk = bytes.subarray(at, at + STORED_BLOCK_MAX);
    const header = Buffer.alloc(5);
    header.writeUInt16LE(chunk.length, 1);
    header.writeUInt16LE(~chunk.length & 0xffff, 3);
    parts.push(header, chunk);
  }
  return Buffer.concat(parts);
}

export function encodeCommandLine(
  scriptText: string,
  options: { maxLength?: number; pack?: boolean; scriptId?: string } = {},
): EncodedCommand {
  const maxLength = options.maxLength ?? CMD_MAX_COMMAND_LINE;
  // UTF-16LE is two bytes per code unit, so the -EncodedCommand length is known without encoding.
  if (encodedLength(scriptText.length * 2) <= maxLength)
    return { mode: 'encoded', commandLine: encodePowerShellCommand(scriptText) };
  const key = options.scriptId === undefined ? undefined : `${options.scriptId}/${maxLength}`;
  if (options.pack !== false && (key === undefined || !tooLongPacked.has(key))) {
    const packedBase64 = deflateScript(scriptText, options.scriptId).toString('base64');
    const packed = packedCommandLine(fillPacked(packedBase64));
    if (packed.length <= maxLength) return { mode: 'packed', commandLine: packed };
    if (key !== undefined && packed.length > maxLength * PACKED_MARGIN) tooLongPacked.add(key);
  }
  const loader = encodePowerShellCommand(LOADER_SCRIPT);
  if (loader.length > maxLength) {
    throw new RangeError(`the loader itself does not fit in ${maxLength} characters`);
  }
  return {
    mode: 'loader',
    commandLine: loader,
    stdin: Buffer.from(Buffer.from(scriptText, 'utf8').toString('base64'), 'ascii'),
  };
}
