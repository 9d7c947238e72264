import {
  CMD_MAX_COMMAND_LINE,
  LOADER_HEADER,
  LOADER_SCRIPT,
  POWERSHELL_PREFIX,
  decodePowerShellCommand,
  encodeCommandLine,
  encodePowerShellCommand,
} from '../../../src/powershell/command-line';
import { renderScript } from '../../../src/powershell/script-render';
import { defineScriptTemplate } from '../../../src/powershell/script-template';
import { vmListTemplate } from './sample-templates';

function bigTemplate(bytes: number) {
  const filler = `# ${'x'.repeat(94)}\n`;
  return defineScriptTemplate({
    opId: 'test.big-script',
    version: 1,
    core: `${filler.repeat(Math.ceil(bytes / filler.length))}$result = 'big'`,
  });
}

describe('encodeCommandLine', () => {
  it('sends a short script as -EncodedCommand of its UTF-16LE text', () => {
    const { text } = renderScript(vmListTemplate, { name: '仮想マシン' });
    const enc = encodeCommandLine(text);
    expect(enc.mode).toBe('encoded');
    expect(enc.stdin).toBeUndefined();
    expect(enc.commandLine.startsWith('powershell.exe -NoProfile -NonInteractive -EncodedCommand ')).toBe(
      true,
    );
    const b64 = enc.commandLine.slice(POWERSHELL_PREFIX.length);
    expect(Buffer.from(b64, 'base64').toString('utf16le')).toBe(text);
    expect(decodePowerShellCommand(enc.commandLine)).toBe(text);
    expect(enc.commandLine.length).toBeLessThanOrEqual(CMD_MAX_COMMAND_LINE);
  });

  it('switches to the stdin loader exactly when the line would exceed 8191 characters', () => {
    // Base64 of UTF-16LE: 4 chars per 3 bytes; find the largest ASCII script that still fits.
    const room = CMD_MAX_COMMAND_LINE - POWERSHELL_PREFIX.length;
    const maxChars = Math.floor(((room / 4) * 3) / 2);
    const fits = 'a'.repeat(maxChars);
    const over = 'a'.repeat(maxChars + 2);
    expect(encodePowerShellCommand(fits).length).toBeLessThanOrEqual(CMD_MAX_COMMAND_LINE);
    expect(encodeCommandLine(fits).mode).toBe('encoded');
    expect(encodePowerShellCommand(over).length).toBeGreaterThan(CMD_MAX_COMMAND_LINE);
    expect(encodeCommandLine(over).mode).toBe('loader');
  });

  it('delivers a 64 KiB script through the loader and stdin', () => {
    const { text } = renderScript(bigTemplate(64 * 1024), { vmName: '東京' });
    expect(Buffer.byteLength(text)).toBeGreaterThanOrEqual(64 * 1024);
    const enc = encodeCommandLine(text);
    expect(enc.mode).toBe('loader');
    expect(enc.commandLine.length).toBeLessThanOrEqual(CMD_MAX_COMMAND_LINE);
    const loader = decodePowerShellCommand(enc.commandLine) as string;
    expect(loader).toBe(LOADER_SCRIPT);
    expect(loader.split('\n')[0]).toBe(LOADER_HEADER);
    expect(loader).toContain('[Console]::In.ReadToEnd()');
    expect(loader).toContain('& ([ScriptBlock]::Create($hvgateText))');
    const stdin = enc.stdin as Buffer;
    expect(stdin.toString('latin1')).toMatch(/^[A-Za-z0-9+/=]+$/);
    expect(Buffer.from(stdin.toString('ascii'), 'base64').toString('utf8')).toBe(text);
  });

  it('decodePowerShellCommand rejects lines of another shape', () => {
    expect(decodePowerShellCommand('hostname')).toBeUndefined();
    expect(decodePowerShellCommand(`${POWERSHELL_PREFIX}not base64!`)).toBeUndefined();
  });
});
