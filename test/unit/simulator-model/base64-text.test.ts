import { decodeLoaderBase64, decodeRelaxedBase64, isStrictBase64 } from '../../../src/simulator/base64-text';

// The helpers stand for these patterns (their fast path only skips work for canonical text).
const STRICT = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const RELAXED = /^[A-Za-z0-9+/]*={0,2}$/;

const SAMPLES = [
  '',
  'QQ==',
  'QUI=',
  'QUJD',
  'QR==', // non-zero trailing bits: valid for the patterns, not canonical
  'QUJ=',
  'QQ',
  'QQ=',
  'QQ===',
  'Q===',
  '=QQ=',
  'QQ==QQ==',
  'QU JD',
  'QUJD\r\n',
  ' QUJD\t',
  'QU\u00a0JD',
  'QU\u3000JD',
  'QU\vJD',
  'QU-_',
  'QUJD*',
  'QUJ\u00e9',
  Buffer.from('ウェブサーバー01 hvgate').toString('base64'),
];

describe('base64 helpers agree with the patterns they replace', () => {
  it.each(SAMPLES)('isStrictBase64(%j)', (text) => {
    expect(isStrictBase64(text)).toBe(STRICT.test(text));
  });

  it.each(SAMPLES)('decodeRelaxedBase64(%j)', (text) => {
    const compact = text.replace(/\s+/g, '');
    const expected = RELAXED.test(compact) ? Buffer.from(compact, 'base64') : null;
    expect(decodeRelaxedBase64(text)).toEqual(expected);
  });

  it.each(SAMPLES)('decodeLoaderBase64(%j) (UTF-8 and Latin-1 bytes)', (text) => {
    for (const stdin of [Buffer.from(text, 'utf8'), Buffer.from(text, 'latin1')]) {
      const stripped = stdin.toString('latin1').replace(/[\r\n\t ]/g, '');
      const expected = stdin.some((b) => b > 0x7f)
        ? { ok: false, reason: 'non-ascii' }
        : STRICT.test(stripped)
          ? { ok: true, bytes: Buffer.from(stripped, 'base64') }
          : { ok: false, reason: 'invalid' };
      expect(decodeLoaderBase64(stdin)).toEqual(expected);
    }
  });

  it('decodes a line-wrapped loader payload', () => {
    const script = '# hvgate-op: vm.get@1\r\n'.repeat(200);
    const b64 = Buffer.from(script).toString('base64');
    const wrapped = b64.replace(/(.{76})/g, '$1\r\n');
    const r = decodeLoaderBase64(Buffer.from(wrapped, 'ascii'));
    expect(r).toEqual({ ok: true, bytes: Buffer.from(script) });
  });
});
