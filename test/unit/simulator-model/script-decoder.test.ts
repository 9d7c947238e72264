import { isUnderRoot, parseWindowsPath } from '../../../src/simulator/hyperv-paths';
import {
  classifyScript,
  decodeLoaderPayload,
  decodeParamsBlob,
  firstCommand,
  progressLine,
  resultLine,
} from '../../../src/simulator/script-decoder';
import { blobOf, LOADER_SCRIPT, loaderStdin, opScript, scriptWithBlob } from './sim-model-kit';

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

describe('classifyScript', () => {
  it('reads the operation header and the first params blob after line 1', () => {
    const script = opScript('memory.set', 3, { vmId: 'x' });
    expect(classifyScript(script)).toEqual({
      kind: 'operation',
      operation: 'memory.set',
      version: 3,
      blob: blobOf({ vmId: 'x' }),
    });
    const twoBlobs = `${script}\r\n[Convert]::FromBase64String('QQ==')`;
    expect(classifyScript(twoBlobs)).toMatchObject({ blob: blobOf({ vmId: 'x' }) });
    expect(classifyScript(`\uFEFF${script}`)).toMatchObject({ kind: 'operation' });
    expect(classifyScript(scriptWithBlob('# hvgate-op: vm.list@1', null))).toMatchObject({
      kind: 'operation',
      blob: null,
    });
  });

  it('does not take a blob from line 1', () => {
    const script = "# hvgate-op: vm.list@1 [Convert]::FromBase64String('QQ==')\r\nGet-VM";
    expect(classifyScript(script)).toMatchObject({ kind: 'bad-header' });
    expect(classifyScript('# hvgate-op: vm.list@1\r\nx').kind).toBe('operation');
    expect(classifyScript('# hvgate-op: vm.list@1\r\nx')).toMatchObject({ blob: null });
  });

  it.each([
    '# hvgate-op: vm@1',
    '# hvgate-op: VM.list@1',
    '# hvgate-op: vm.list@0',
    '# hvgate-op: vm.list@1 ',
    '# hvgate-op: vm.list',
    '# hvgate-op:vm.list@1',
  ])('flags a malformed header %j', (header) => {
    expect(classifyScript(`${header}\r\nGet-VM`)).toEqual({ kind: 'bad-header', header });
  });

  it('recognises the loader only by its exact first line', () => {
    expect(classifyScript(LOADER_SCRIPT)).toEqual({ kind: 'loader' });
    expect(classifyScript(`# hvgate-loader@2\r\nGet-Item x`)).toMatchObject({ kind: 'other' });
  });

  it('treats comment-only scripts as empty', () => {
    expect(classifyScript('# just a comment\r\n\r\n<# block\r\n still #>\r\n')).toEqual({ kind: 'empty' });
  });
});

describe('firstCommand', () => {
  it.each([
    ['Get-Process', 'Get-Process', 1, 1],
    ['  # c\n$x = Get-ChildItem C:\\', 'Get-ChildItem', 2, 6],
    ['if ($true) { Restart-Computer -Force }', 'Restart-Computer', 1, 14],
    ['<# a #> Invoke-Thing; Other', 'Invoke-Thing', 1, 9],
    ['& C:\\tools\\x.exe /y', 'C:\\tools\\x.exe', 1, 3],
    ['$a = 5', '5', 1, 6],
  ])('%j → %s', (script, name, line, column) => {
    expect(firstCommand(script)).toMatchObject({ name, line, column });
  });
});

describe('decodeParamsBlob', () => {
  it('decodes params and meta, UTF-8 included', () => {
    const blob = blobOf({ vmId: 'x', name: 'ウェブサーバー01' }, { jobId: 'j', requestId: null });
    expect(decodeParamsBlob(blob)).toEqual({
      ok: true,
      params: { vmId: 'x', name: 'ウェブサーバー01' },
      meta: { jobId: 'j', requestId: null },
    });
  });

  it.each([
    ['empty', ''],
    ['bad padding', 'QQ=Q'],
    ['not base64 length', 'QQQ'],
    ['not UTF-8', Buffer.from([0xff, 0xfe, 0x7b]).toString('base64')],
    ['not JSON', b64('{params:')],
    ['array', b64('[]')],
    ['params missing', b64('{"meta":{"jobId":null,"requestId":null}}')],
    ['params array', b64('{"params":[],"meta":{"jobId":null,"requestId":null}}')],
    ['meta missing', b64('{"params":{}}')],
    ['meta jobId number', b64('{"params":{},"meta":{"jobId":1,"requestId":null}}')],
    ['extra member', b64('{"params":{},"meta":{"jobId":null,"requestId":null},"x":1}')],
    ['extra meta member', b64('{"params":{},"meta":{"jobId":null,"requestId":null,"user":"a"}}')],
  ])('refuses %s', (_, blob) => {
    expect(decodeParamsBlob(blob)).toMatchObject({ ok: false });
  });
});

describe('decodeLoaderPayload', () => {
  it('ignores CR/LF in the base64 and returns the UTF-8 script', () => {
    const script = opScript('vm.get', 1, { vmId: 'ウ' });
    expect(decodeLoaderPayload(loaderStdin(script, 10))).toEqual({ ok: true, script });
  });

  it('refuses non-base64 and non-ASCII payloads', () => {
    expect(decodeLoaderPayload(Buffer.from('not base64!', 'ascii')).ok).toBe(false);
    expect(decodeLoaderPayload(Buffer.from('QUJD\u00e9', 'latin1')).ok).toBe(false);
  });
});

describe('result and progress lines', () => {
  it('end with CRLF and round-trip', () => {
    const line = resultLine({ ok: true, result: { name: 'データ' } });
    expect(line.endsWith('\r\n')).toBe(true);
    expect(
      JSON.parse(Buffer.from(line.slice('HVGATE-RESULT:'.length, -2), 'base64').toString('utf8')),
    ).toEqual({ ok: true, result: { name: 'データ' } });
    expect(progressLine(42.4, 'Copying\r\nfiles')).toBe('HVGATE-PROGRESS:42 Copying files\r\n');
    expect(progressLine(140, 'x')).toBe('HVGATE-PROGRESS:100 x\r\n');
  });
});

describe('Windows paths', () => {
  it.each([
    ['D:\\Hyper-V\\a\\..\\b.vhdx', 'D:\\Hyper-V\\b.vhdx'],
    ['d:/hyper-v//x/./y.vhdx', 'D:\\hyper-v\\x\\y.vhdx'],
    ['D:\\..\\..\\x', 'D:\\x'],
    ['\\\\fs01\\vms\\a\\..\\b', '\\\\fs01\\vms\\b'],
    ['D:\\dir. \\file.vhdx', 'D:\\dir\\file.vhdx'],
  ])('normalizes %j', (input, display) => {
    expect(parseWindowsPath(input)?.display).toBe(display);
  });

  it.each(['relative\\x', 'C:x', '\\\\server', 'D:\\a:b', 'D:\\a?b', 'D:\\a\u0000b', '', '\\\\?\\D:\\x'])(
    'refuses %j',
    (input) => {
      expect(parseWindowsPath(input)).toBeNull();
    },
  );

  it('checks roots per segment and case-insensitively', () => {
    const root = parseWindowsPath('D:\\Hyper-V')!;
    expect(isUnderRoot(parseWindowsPath('d:\\HYPER-V\\x.vhdx')!, root)).toBe(true);
    expect(isUnderRoot(parseWindowsPath('D:\\Hyper-V2\\x.vhdx')!, root)).toBe(false);
    expect(isUnderRoot(parseWindowsPath('D:\\Hyper-V')!, root)).toBe(false);
    expect(isUnderRoot(parseWindowsPath('D:\\x')!, parseWindowsPath('D:\\')!)).toBe(true);
  });
});
