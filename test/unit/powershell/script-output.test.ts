import { ProtocolError } from '../../../src/winrm/winrm-errors';
import {
  formatProgressLine,
  formatResultLine,
  parseProgressLine,
  parseScriptOutput,
} from '../../../src/powershell/script-output';

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const ok = formatResultLine({ ok: true, result: { id: 'a', sizes: [1, 2] } });

describe('parseScriptOutput', () => {
  it('reads progress lines and the one result line (CRLF, BOM, stray output tolerated)', () => {
    const out =
      '\uFEFF' +
      formatProgressLine(0, 'start') +
      'stray host output\r\n' +
      formatProgressLine(100, 'done, 100%') +
      ok;
    const parsed = parseScriptOutput(out);
    expect(parsed.progress).toEqual([
      { percent: 0, text: 'start' },
      { percent: 100, text: 'done, 100%' },
    ]);
    expect(parsed.envelope).toEqual({ ok: true, result: { id: 'a', sizes: [1, 2] } });
    expect(parsed.otherLines).toEqual(['stray host output']);
  });

  it('accepts LF-only output and an error envelope', () => {
    const line = `HVGATE-RESULT:${b64(JSON.stringify({ ok: false, error: { category: 'InvalidOperation', errorId: 'InvalidParameter,Microsoft.HyperV.PowerShell.Commands.SetVM', message: 'nope' } }))}\n`;
    expect(parseScriptOutput(line).envelope).toEqual({
      ok: false,
      error: {
        category: 'InvalidOperation',
        errorId: 'InvalidParameter,Microsoft.HyperV.PowerShell.Commands.SetVM',
        message: 'nope',
      },
    });
  });

  it('accepts a null result', () => {
    expect(parseScriptOutput(`HVGATE-RESULT:${b64('{"ok":true,"result":null}')}\r\n`).envelope).toEqual({
      ok: true,
      result: null,
    });
  });

  it.each([
    ['no output', ''],
    ['no result line', formatProgressLine(50, 'half')],
    ['two result lines', ok + ok],
    ['empty payload', 'HVGATE-RESULT:\r\n'],
    ['non-base64 payload', 'HVGATE-RESULT:{"ok":true}\r\n'],
    ['badly padded base64', `HVGATE-RESULT:${b64('{"ok":true,"result":1}').replace(/=+$/, '')}A\r\n`],
    ['base64 of non-JSON', `HVGATE-RESULT:${b64('hello')}\r\n`],
    ['invalid UTF-8', `HVGATE-RESULT:${Buffer.from([0x7b, 0xff, 0x7d]).toString('base64')}\r\n`],
    ['ok without result', `HVGATE-RESULT:${b64('{"ok":true}')}\r\n`],
    ['ok as a string', `HVGATE-RESULT:${b64('{"ok":"true","result":1}')}\r\n`],
    ['extra envelope key', `HVGATE-RESULT:${b64('{"ok":true,"result":1,"x":2}')}\r\n`],
    [
      'error missing errorId',
      `HVGATE-RESULT:${b64('{"ok":false,"error":{"category":"c","message":"m"}}')}\r\n`,
    ],
    ['array JSON', `HVGATE-RESULT:${b64('[]')}\r\n`],
    ['progress over 100', formatProgressLine(101, 'too much') + ok],
    ['progress without number', 'HVGATE-PROGRESS:abc text\r\n' + ok],
    ['progress without space', 'HVGATE-PROGRESS:50\r\n' + ok],
    ['progress with leading zero', 'HVGATE-PROGRESS:050 x\r\n' + ok],
  ])('treats %s as a protocol error', (_label, stdout) => {
    expect(() => parseScriptOutput(stdout)).toThrow(ProtocolError);
  });

  it('ignores a result marker that is not at the start of a line', () => {
    expect(() => parseScriptOutput(`echo HVGATE-RESULT:${b64('{"ok":true,"result":1}')}\r\n`)).toThrow(
      /no HVGATE-RESULT/,
    );
  });

  it('parseProgressLine leaves other lines alone', () => {
    expect(parseProgressLine('hello')).toBeUndefined();
    expect(parseProgressLine('HVGATE-PROGRESS:7 ')).toEqual({ percent: 7, text: '' });
  });
});
