import zlib, { inflateRawSync } from 'node:zlib';
import {
  CMD_MAX_COMMAND_LINE,
  LOADER_HEADER,
  PACKED_HEADER,
  packedScript,
  LOADER_SCRIPT,
  POWERSHELL_PREFIX,
  POWERSHELL_COMMAND_PREFIX,
  decodePackedCommandLine,
  decodePowerShellCommand,
  encodeCommandLine,
  encodePowerShellCommand,
} from '../../../src/powershell/command-line';
import { renderScript } from '../../../src/powershell/script-render';
import { defineScriptTemplate } from '../../../src/powershell/script-template';
import { vmListTemplate } from './sample-templates';

/** Text that deflate cannot shrink much (a fixed pseudo-random sequence of base64 characters). */
function noise(chars: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  let x = 0x2545f491;
  let out = '';
  for (let i = 0; i < chars; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out += alphabet[(x >>> 0) % 64];
  }
  return out;
}

function bigTemplate(bytes: number) {
  const lines = Math.ceil(bytes / 97);
  const filler = (noise(94 * lines).match(/.{94}/g) ?? []).map((l) => `# ${l}\n`).join('');
  return defineScriptTemplate({
    opId: 'test.big-script',
    version: 1,
    core: `${filler}$result = 'big'`,
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
    expect(encodeCommandLine(fits, { pack: false }).mode).toBe('encoded');
    expect(encodePowerShellCommand(over).length).toBeGreaterThan(CMD_MAX_COMMAND_LINE);
    expect(encodeCommandLine(over, { pack: false }).mode).toBe('loader');
  });

  it('packs a script too long for -EncodedCommand into one line when it compresses enough', () => {
    const { text } = renderScript(bigTemplate(1024), { vmName: '東京' });
    // Long and repetitive, like catalog scripts (their helper functions repeat a lot).
    const script = `${text}\n${'# Get-VM -Id $p.params.vmId | Set-VMMemory -Priority 50\n'.repeat(200)}`;
    expect(encodePowerShellCommand(script).length).toBeGreaterThan(CMD_MAX_COMMAND_LINE);
    const enc = encodeCommandLine(script);
    expect(enc.mode).toBe('packed');
    expect(enc.stdin).toBeUndefined();
    expect(enc.commandLine.length).toBeLessThanOrEqual(CMD_MAX_COMMAND_LINE);
    // -Command with the one-line unpacker in double quotes, which nothing in it can close.
    expect(enc.commandLine.startsWith(`${POWERSHELL_COMMAND_PREFIX}"${PACKED_HEADER} `)).toBe(true);
    const unpacker = decodePackedCommandLine(enc.commandLine) as string;
    expect(unpacker).not.toMatch(/["\r\n%^]/);
    // Constant but for its one base64 literal, which inflates to the script's exact UTF-8 bytes.
    const literal = /FromBase64String\('([A-Za-z0-9+/=]+)'\)/.exec(unpacker)![1]!;
    expect(unpacker).toBe(packedScript(literal));
    expect(inflateRawSync(Buffer.from(literal, 'base64')).toString('utf8')).toBe(script);
    // The host can turn packing off: then the same script goes through stdin.
    expect(encodeCommandLine(script, { pack: false }).mode).toBe('loader');
  });

  it('falls back to the stdin loader when even the packed line is too long', () => {
    const { text } = renderScript(bigTemplate(8 * 1024), {});
    expect(encodeCommandLine(text).mode).toBe('loader');
  });

  it('a template whose packed line was well over the limit is not compressed again', () => {
    const spy = jest.spyOn(zlib, 'deflateRawSync');
    try {
      const { text } = renderScript(bigTemplate(8 * 1024), {});
      for (let i = 0; i < 3; i++) {
        expect(encodeCommandLine(text, { scriptId: 'test.never-fits@1' }).mode).toBe('loader');
      }
      expect(spy).toHaveBeenCalledTimes(1);
      // Without the id there is nothing to remember it by.
      encodeCommandLine(text);
      expect(spy).toHaveBeenCalledTimes(2);
    } finally {
      spy.mockRestore();
    }
  });

  it('compresses a template once: each job adds its head as stored blocks before the shared tail', () => {
    const spy = jest.spyOn(zlib, 'deflateRawSync');
    const literalOf = (line: string) =>
      Buffer.from(
        /FromBase64String\('([A-Za-z0-9+/=]+)'\)/.exec(decodePackedCommandLine(line) as string)![1]!,
        'base64',
      );
    try {
      const template = bigTemplate(1024);
      const padded = (vmName: string, meta: { jobId: string; requestId: string }) => {
        const { text } = renderScript(template, { vmName }, meta);
        return `${text}\n${'# Get-VM -Id $p.params.vmId | Set-VMMemory -Priority 50\n'.repeat(200)}`;
      };
      const a = padded('東京', { jobId: 'job-a', requestId: 'req-a' });
      const b = padded('web-01', { jobId: 'job-b', requestId: 'req-b' });
      const encA = encodeCommandLine(a, { scriptId: 'test.tail-cache@1' });
      const encB = encodeCommandLine(b, { scriptId: 'test.tail-cache@1' });
      expect([encA.mode, encB.mode]).toEqual(['packed', 'packed']);
      expect(spy).toHaveBeenCalledTimes(1);
      for (const [enc, text] of [
        [encA, a],
        [encB, b],
      ] as const) {
        const bytes = literalOf(enc.commandLine);
        expect(inflateRawSync(bytes).toString('utf8')).toBe(text);
        // A non-final stored block first, holding the header, the prologue and the params line.
        expect(bytes[0]).toBe(0);
        const len = bytes.readUInt16LE(1);
        expect(bytes.readUInt16LE(3)).toBe(~len & 0xffff);
        expect(bytes.subarray(5, 5 + len).toString('utf8')).toMatch(
          /FromBase64String\('[A-Za-z0-9+/=]+'\)\)*\n$/,
        );
      }
      // Another text under the same id (a template changed in place) is compressed afresh.
      const c = `${a}\n# changed tail\n`;
      const encC = encodeCommandLine(c, { scriptId: 'test.tail-cache@1' });
      expect(spy).toHaveBeenCalledTimes(2);
      expect(inflateRawSync(literalOf(encC.commandLine)).toString('utf8')).toBe(c);
    } finally {
      spy.mockRestore();
    }
  });

  it('packedScript takes nothing but base64', () => {
    expect(() => packedScript("x'); Remove-VM *; ('")).toThrow(TypeError);
    expect(packedScript('QUJD')).toContain("[Convert]::FromBase64String('QUJD')");
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
    expect(decodePackedCommandLine('hostname')).toBeUndefined();
    expect(decodePackedCommandLine(`${POWERSHELL_COMMAND_PREFIX}"a"b"`)).toBeUndefined();
    expect(decodePackedCommandLine(`${POWERSHELL_COMMAND_PREFIX}"a b"`)).toBe('a b');
  });
});
