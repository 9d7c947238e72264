import { spawnSync } from 'node:child_process';
import path from 'node:path';
import fc from 'fast-check';
import { CanonicalJsonError, canonicalJson } from '../../../src/audit/canonical-json';

// The installed `canonicalize` package (the RFC 8785 reference the brief names) is ESM-only, so
// it is run in a plain Node child process and compared byte for byte with our implementation.
function referenceCanonicalize(jsonTexts: string[]): string[] {
  const modulePath = path.resolve(__dirname, '../../../node_modules/canonicalize/lib/canonicalize.js');
  const script = `
    import canonicalize from ${JSON.stringify(`file://${modulePath}`)};
    let input = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (c) => (input += c));
    process.stdin.on('end', () => {
      const out = JSON.parse(input).map((t) => canonicalize(JSON.parse(t)));
      process.stdout.write(JSON.stringify(out));
    });`;
  const res = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    input: JSON.stringify(jsonTexts),
    encoding: 'utf8',
    timeout: 20_000,
  });
  if (res.status !== 0) throw new Error(`reference canonicalize failed: ${res.stderr}`);
  return JSON.parse(res.stdout) as string[];
}

describe('canonicalJson (RFC 8785 JCS)', () => {
  it('matches the canonicalize package on RFC 8785 edge cases and random JSON', () => {
    const handPicked = [
      '{"b":2,"a":1,"c":{"z":[3,{"y":1,"x":2}],"é":1,"e":0}}',
      // RFC 8785 §3.2.3 sorting by UTF-16 code units, incl. a surrogate pair and U+FB33
      '{"\\u20ac":"Euro Sign","\\r":"Carriage Return","\\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\\ud83d\\ude00":"Emoji: Grinning Face","\\u0080":"Control","\\u00f6":"Latin Small Letter O With Diaeresis"}',
      // RFC 8785 §3.2.2.3 number serialisation
      '[333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001, -0, 1e21, 1e-7, 5e-324, 9007199254740993]',
      '{"literals":[null,true,false],"string":"\\u20ac$\\u000f\\u000aA\'B\\"\\\\\\\\\\"/"}',
      '"\\u2028\\u2029\\u0000\\u001f\\u007f"',
      '[]',
      '{}',
    ];
    const random = fc
      .sample(fc.jsonValue({ maxDepth: 4 }), { numRuns: 300, seed: 8785 })
      .map((v) => JSON.stringify(v));
    const texts = [...handPicked, ...random];
    const ours = texts.map((t) => canonicalJson(JSON.parse(t)));
    expect(ours).toEqual(referenceCanonicalize(texts));
    expect(ours[2]).toBe('[333333333.3333333,1e+30,4.5,0.002,1e-27,0,1e+21,1e-7,5e-324,9007199254740992]');
  });

  it('refuses values I-JSON forbids with a typed error', () => {
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(CanonicalJsonError);
    expect(() => canonicalJson([Infinity])).toThrow(CanonicalJsonError);
    expect(() => canonicalJson('\ud800')).toThrow(CanonicalJsonError);
    expect(() => canonicalJson({ ['\udc00']: 1 })).toThrow(CanonicalJsonError);
    expect(() => canonicalJson(new Date(0))).toThrow(CanonicalJsonError);
    expect(() => canonicalJson(10n)).toThrow(CanonicalJsonError);
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(() => canonicalJson(deep)).toThrow(CanonicalJsonError);
  });

  it('drops undefined members like JSON does', () => {
    expect(canonicalJson({ b: undefined, a: [undefined, 1] })).toBe('{"a":[null,1]}');
  });
});
