// How a script reaches powershell.exe through WinRS: as -EncodedCommand when the line fits in
// cmd.exe's 8191 characters, otherwise as a constant loader that reads the script from stdin.

export const CMD_MAX_COMMAND_LINE = 8191;
export const POWERSHELL_PREFIX = 'powershell.exe -NoProfile -NonInteractive -EncodedCommand ';
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

export interface EncodedCommand {
  mode: 'encoded' | 'loader';
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

export function encodeCommandLine(scriptText: string, options: { maxLength?: number } = {}): EncodedCommand {
  const maxLength = options.maxLength ?? CMD_MAX_COMMAND_LINE;
  const direct = encodePowerShellCommand(scriptText);
  if (direct.length <= maxLength) return { mode: 'encoded', commandLine: direct };
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
