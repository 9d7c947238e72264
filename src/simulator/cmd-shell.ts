// What a WinRM cmd-shell command does on a simulated host: the line goes through a tiny cmd.exe
// (hostname, echo, exit, ping, nested cmd /c, the && || & operators and >&2-style redirection)
// and `powershell.exe` hands its script to the PowerShell runner. Anything else fails the way
// cmd.exe does, so clients see real error text rather than a simulator-specific one.
import { CodePage, decodeFromCodePage } from './code-page';
import { OutputStreamName, PowerShellRunner, SimProcessContext, SimProgram } from './sim-process';

/** cmd.exe refuses longer command lines. */
export const MAX_CMD_LINE = 8191;

/** powershell.exe's exit code for command-line errors (0xFFFD0000 as a signed int). */
export const POWERSHELL_USAGE_EXIT = -196608;

export interface CmdShellDeps {
  runPowerShell: PowerShellRunner;
  /** The shell's WINRS_CODEPAGE, used to read stdin text. */
  codePage: CodePage;
}

export interface CmdProgramOptions {
  /** WINRS_SKIP_CMD_SHELL=TRUE: the line is one program run without cmd.exe. */
  skipCmdShell?: boolean;
}

type Io = {
  ctx: SimProcessContext;
  write(stream: OutputStreamName, text: string): void;
};

/** Stops the whole cmd.exe (the `exit` built-in). */
class CmdExit {
  constructor(readonly code: number) {}
}

export function createCmdProgram(
  commandLine: string,
  deps: CmdShellDeps,
  opts: CmdProgramOptions = {},
): SimProgram {
  return async (ctx) => {
    const io: Io = { ctx, write: (stream, text) => ctx.write(stream, text) };
    if (opts.skipCmdShell) {
      const first = readTokens(commandLine, 1)[0];
      const exe = first ? basename(first.value) : '';
      const rest = first ? commandLine.slice(first.end) : '';
      return runProgramByName(exe, rest, io, deps);
    }
    if (commandLine.length > MAX_CMD_LINE) {
      ctx.write('stderr', 'The command line is too long.\r\n');
      return 1;
    }
    try {
      return await runLine(commandLine, io, deps);
    } catch (e) {
      if (e instanceof CmdExit) return e.code;
      throw e;
    }
  };
}

type Op = '&&' | '||' | '&';

const QUOTE = 0x22;
const CARET = 0x5e;
const AMP = 0x26;
const PIPE = 0x7c;
const GT = 0x3e;

/** Splits a line on the unquoted, unescaped operators && || &. */
export function splitOperators(line: string): Array<{ op: Op | null; text: string }> {
  // Command lines run to 8 KB (-EncodedCommand): text is copied in runs between the characters
  // that change it (a caret escape, an operator), not one character at a time.
  const parts: Array<{ op: Op | null; text: string }> = [];
  let current = '';
  let runStart = 0;
  /** Last character of current + the pending run, -1 when both are empty. */
  let last = -1;
  let pendingOp: Op | null = null;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === QUOTE) quoted = !quoted;
    if (!quoted && c === CARET && i + 1 < line.length) {
      current += line.slice(runStart, i) + line[i + 1];
      last = line.charCodeAt(i + 1);
      i++;
      runStart = i + 1;
      continue;
    }
    // "&" right after ">" is part of a handle redirection (>&2, 2>&1), not an operator.
    const redirect = c === AMP && last === GT;
    if (!quoted && !redirect && (c === AMP || (c === PIPE && line.charCodeAt(i + 1) === PIPE))) {
      const two = line.slice(i, i + 2);
      const op: Op = two === '&&' ? '&&' : two === '||' ? '||' : '&';
      parts.push({ op: pendingOp, text: current + line.slice(runStart, i) });
      pendingOp = op;
      current = '';
      last = -1;
      i += op.length - 1;
      runStart = i + 1;
      continue;
    }
    last = c;
  }
  parts.push({ op: pendingOp, text: current + line.slice(runStart) });
  return parts;
}

async function runLine(line: string, io: Io, deps: CmdShellDeps): Promise<number> {
  let errorLevel = 0;
  for (const { op, text } of splitOperators(line)) {
    if (op === '&&' && errorLevel !== 0) continue;
    if (op === '||' && errorLevel === 0) continue;
    errorLevel = await runSimple(text, io, deps, errorLevel);
  }
  return errorLevel;
}

interface Redirected {
  text: string;
  stdout: OutputStreamName | null;
  stderr: OutputStreamName | null;
}

// Handles 1>&2, >&2, 2>&1 and redirection to nul or a file; the simulated host has no file
// system, so file targets swallow the output. A `>` inside double quotes is text, as in cmd.exe
// (a -Command line may hold PowerShell's `#>`): quoted runs are matched first and kept as they are.
const QUOTED_OR_REDIRECTION = /"[^"]*"?|([12]?)>>?\s*(&[12]|"[^"]*"|[^\s&|<>]+)/g;

function applyRedirections(text: string): Redirected {
  const r: Redirected = { text, stdout: 'stdout', stderr: 'stderr' };
  r.text = text.replace(QUOTED_OR_REDIRECTION, (m: string, fd: string | undefined, target: string) => {
    if (m.startsWith('"')) return m;
    const which = fd === '2' ? 'stderr' : 'stdout';
    const dest: OutputStreamName | null = target === '&1' ? 'stdout' : target === '&2' ? 'stderr' : null;
    r[which] = dest;
    return '';
  });
  return r;
}

async function runSimple(
  segment: string,
  outer: Io,
  deps: CmdShellDeps,
  errorLevel: number,
): Promise<number> {
  const red = applyRedirections(segment);
  const io: Io = {
    ctx: outer.ctx,
    write: (stream, data) => {
      const target = stream === 'stdout' ? red.stdout : red.stderr;
      if (target) outer.write(target, data);
    },
  };
  const text = red.text.replace(/^[\s@]+/, '');
  if (text.trim() === '') return errorLevel;

  const echo = /^echo(?=$|[\s.:;,=(/\\+[\]])/i.exec(text);
  if (echo) return builtinEcho(text.slice(4), io);

  const first = readTokens(text, 1)[0];
  if (!first) return errorLevel;
  const rest = text.slice(first.end);
  const name = first.value.toLowerCase();
  if (name === 'exit') throw new CmdExit(exitCode(rest, errorLevel));
  return runProgramByName(basename(first.value), rest, io, deps, first.value);
}

async function runProgramByName(
  exe: string,
  rest: string,
  io: Io,
  deps: CmdShellDeps,
  typed: string = exe,
): Promise<number> {
  switch (exe.toLowerCase().replace(/\.exe$/, '')) {
    case 'hostname':
      io.write('stdout', `${io.ctx.hostName}\r\n`);
      return 0;
    case 'cmd':
      return nestedCmd(rest, io, deps);
    case 'ping':
      return ping(rest, io);
    case 'powershell':
      return powershell(rest, io, deps);
    default:
      io.write(
        'stderr',
        `'${typed.replace(/"/g, '')}' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n`,
      );
      return 1;
  }
}

function builtinEcho(afterName: string, io: Io): number {
  // cmd drops exactly one delimiter after "echo"; "echo" with nothing else reports the echo state.
  const body = afterName.slice(1);
  if (afterName.trim() === '' && !/^[.:;,=(/\\+[\]]/.test(afterName)) {
    io.write('stdout', 'ECHO is on.\r\n');
  } else {
    io.write('stdout', `${body}\r\n`);
  }
  return 0;
}

function exitCode(args: string, errorLevel: number): number {
  const tokens = tokenize(args).map((t) => t.value);
  const rest = tokens[0]?.toLowerCase() === '/b' ? tokens.slice(1) : tokens;
  const bOnly = tokens[0]?.toLowerCase() === '/b';
  if (rest.length === 0) return bOnly ? errorLevel : 0;
  const n = Number.parseInt(rest[0] as string, 10);
  return Number.isNaN(n) ? 0 : n | 0;
}

async function nestedCmd(args: string, io: Io, deps: CmdShellDeps): Promise<number> {
  const m = /^\s*((?:\/[a-bd-jl-z]\s*)*)\/([ck])\s?(.*)$/is.exec(args);
  if (!m) {
    // An interactive cmd.exe with no stdin console prints its banner and exits.
    io.write(
      'stdout',
      'Microsoft Windows [Version 10.0.17763.1]\r\n(c) 2018 Microsoft Corporation. All rights reserved.\r\n',
    );
    return 0;
  }
  const inner = m[3] as string;
  try {
    return await runLine(stripOuterQuotes(inner), io, deps);
  } catch (e) {
    if (e instanceof CmdExit) return e.code;
    throw e;
  }
}

function stripOuterQuotes(s: string): string {
  const t = s.trim();
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : s;
}

function isLoopback(target: string): boolean {
  return /^127(\.\d{1,3}){3}$/.test(target) || target.toLowerCase() === 'localhost';
}

// `ping -n N 127.0.0.1` is the classic slow command: N replies one simulated second apart.
async function ping(args: string, io: Io): Promise<number> {
  const tokens = tokenize(args).map((t) => t.value);
  let count = 4;
  let target: string | undefined;
  for (let i = 0; i < tokens.length; i++) {
    const t = (tokens[i] as string).toLowerCase();
    if (t === '-n' || t === '/n') {
      const n = Number(tokens[++i]);
      if (!Number.isInteger(n) || n < 1) {
        io.write('stdout', `Bad value for option -n, valid range is from 1 to 4294967295.\r\n`);
        return 1;
      }
      count = n;
    } else if (t === '-w' || t === '-l' || t === '-i' || t === '/w' || t === '/l' || t === '/i') {
      i++;
    } else if (t.startsWith('-') || t.startsWith('/')) {
      continue;
    } else {
      target = tokens[i];
    }
  }
  if (!target) {
    io.write('stdout', 'IP address must be specified.\r\n');
    return 1;
  }
  if (!isLoopback(target)) {
    io.write(
      'stdout',
      `Ping request could not find host ${target}. Please check the name and try again.\r\n`,
    );
    return 1;
  }
  const ip = target.toLowerCase() === 'localhost' ? '127.0.0.1' : target;
  const shown = target.toLowerCase() === 'localhost' ? `${io.ctx.hostName} [127.0.0.1]` : ip;
  io.write('stdout', `\r\nPinging ${shown} with 32 bytes of data:\r\n`);
  for (let i = 0; i < count; i++) {
    if (i > 0) await io.ctx.sleep(1000);
    io.write('stdout', `Reply from ${ip}: bytes=32 time<1ms TTL=128\r\n`);
  }
  io.write(
    'stdout',
    `\r\nPing statistics for ${ip}:\r\n    Packets: Sent = ${count}, Received = ${count}, Lost = 0 (0% loss),\r\n` +
      'Approximate round trip times in milli-seconds:\r\n    Minimum = 0ms, Maximum = 0ms, Average = 0ms\r\n',
  );
  return 0;
}

type PsMode =
  | { kind: 'encoded'; value: string | undefined; flag: string }
  | { kind: 'command'; text: string }
  | { kind: 'stdin' }
  | { kind: 'file'; path: string | undefined };

const PS_VALUE_FLAGS = [
  'executionpolicy',
  'inputformat',
  'outputformat',
  'windowstyle',
  'version',
  'configurationname',
];
const PS_SWITCHES = ['noprofile', 'noninteractive', 'nologo', 'noexit', 'sta', 'mta'];

function matchesParam(flag: string, full: string, minLength: number): boolean {
  return flag.length >= minLength && full.startsWith(flag);
}

/** Reads powershell.exe's command line the way Windows PowerShell 5.1 does (case-insensitive prefixes). */
export function parsePowerShellArgs(args: string): PsMode | { kind: 'error'; message: string } {
  const tokens = tokenize(args);
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i] as Token;
    const raw = tok.value;
    if (raw === '-') return { kind: 'stdin' };
    if (!raw.startsWith('-') && !raw.startsWith('/')) return { kind: 'command', text: joinArgs(tokens, i) };
    const flag = raw.slice(1).toLowerCase();
    if (
      flag === 'ec' ||
      (flag.startsWith('e') && !flag.startsWith('ex') && matchesParam(flag, 'encodedcommand', 1))
    ) {
      return { kind: 'encoded', value: tokens[i + 1]?.value, flag: raw };
    }
    if (flag === 'ep' || matchesParam(flag, 'executionpolicy', 2)) {
      i++;
      continue;
    }
    if (matchesParam(flag, 'command', 1)) {
      const next = tokens[i + 1];
      if (!next)
        return {
          kind: 'error',
          message:
            'Cannot process the command because of a missing parameter. A command must follow -Command.',
        };
      return next.value === '-' ? { kind: 'stdin' } : { kind: 'command', text: joinArgs(tokens, i + 1) };
    }
    if (matchesParam(flag, 'file', 1)) return { kind: 'file', path: tokens[i + 1]?.value };
    if (PS_SWITCHES.some((s) => matchesParam(flag, s, 3))) continue;
    if (
      flag === 'if' ||
      flag === 'of' ||
      flag === 'v' ||
      flag === 'w' ||
      PS_VALUE_FLAGS.some((f) => matchesParam(flag, f, 2))
    ) {
      i++;
      continue;
    }
    // Windows PowerShell treats an unknown parameter as the start of the command text.
    return { kind: 'command', text: joinArgs(tokens, i) };
  }
  return { kind: 'stdin' };
}

// powershell.exe sees argv (quotes already removed) and joins the command words with spaces.
function joinArgs(tokens: readonly Token[], from: number): string {
  return tokens
    .slice(from)
    .map((t) => t.value)
    .join(' ');
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

async function powershell(args: string, io: Io, deps: CmdShellDeps): Promise<number> {
  const mode = parsePowerShellArgs(args);
  const usage = (message: string): number => {
    io.write('stderr', `${message}\r\n`);
    return POWERSHELL_USAGE_EXIT;
  };
  switch (mode.kind) {
    case 'error':
      return usage(mode.message);
    case 'file':
      return usage(
        `The argument '${mode.path ?? ''}' to the -File parameter does not exist. Provide the path to an existing '.ps1' file as an argument to the -File parameter.`,
      );
    case 'encoded': {
      if (mode.value === undefined) {
        return usage(
          `Cannot process the command because of a missing parameter. A command must follow ${mode.flag}.`,
        );
      }
      if (mode.value.length % 4 !== 0 || !BASE64.test(mode.value)) {
        return usage(
          'Cannot process the command because the value specified with -EncodedCommand is not properly encoded. The value must be Base64 encoded.',
        );
      }
      const script = Buffer.from(mode.value, 'base64').toString('utf16le');
      return deps.runPowerShell(script, io.ctx);
    }
    case 'command':
      return deps.runPowerShell(mode.text, io.ctx);
    case 'stdin': {
      const input = await io.ctx.readStdinToEnd();
      return deps.runPowerShell(decodeFromCodePage(input, deps.codePage), io.ctx);
    }
  }
}

export interface Token {
  value: string;
  start: number;
  end: number;
}

/** Splits on whitespace; double quotes group (and are removed), as the C runtime does for argv. */
export function tokenize(text: string): Token[] {
  return readTokens(text, Infinity);
}

/** JavaScript's \s for one UTF-16 code unit. */
function isSpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0xa0) return false;
  return (
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

/** The first `max` tokens; a token's value is copied in runs between quotes. */
function readTokens(text: string, max: number): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length && tokens.length < max) {
    while (i < text.length && isSpace(text.charCodeAt(i))) i++;
    if (i >= text.length) break;
    const start = i;
    let value = '';
    let runStart = i;
    let quoted = false;
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === QUOTE) {
        value += text.slice(runStart, i);
        runStart = i + 1;
        quoted = !quoted;
      } else if (!quoted && isSpace(c)) break;
    }
    value += text.slice(runStart, i);
    tokens.push({ value, start, end: i });
  }
  return tokens;
}

function basename(path: string): string {
  const parts = path.split(/[\\/]/);
  return parts[parts.length - 1] ?? path;
}
