// Parameters are data: whatever a caller sends changes only the blob, and comes back unchanged,
// both into the script (params) and out of it (result envelope), however WinRM chunks the bytes.
import fc from 'fast-check';
import { decodeParamsBlob, renderScript } from '../../../src/powershell/script-render';
import {
  PARAMS_LINE_PREFIX,
  PARAMS_LINE_SUFFIX,
  templateText,
} from '../../../src/powershell/script-template';
import { formatResultLine, parseScriptOutput } from '../../../src/powershell/script-output';
import { createOutputCollector } from '../../../src/winrm/output-collector';
import { SAMPLE_TEMPLATES, memorySetTemplate } from './sample-templates';

/** Splits a script around its blob literal. */
function aroundBlob(text: string): { before: string; blob: string; after: string } {
  const start = text.indexOf(PARAMS_LINE_PREFIX) + PARAMS_LINE_PREFIX.length;
  const end = text.indexOf(PARAMS_LINE_SUFFIX, start);
  return { before: text.slice(0, start), blob: text.slice(start, end), after: text.slice(end) };
}

const fullUnicode = fc.string({ unit: 'binary', maxLength: 40 });
const key = fc.string({ unit: 'binary', minLength: 1, maxLength: 12 });

/** JSON values with arbitrary unicode, nested; object keys unique ignoring case (PowerShell's rule). */
const jsonValue = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fullUnicode,
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => (Object.is(d, -0) ? 0 : d)),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc
      .uniqueArray(fc.tuple(key, tie('value')), { maxLength: 5, selector: ([k]) => k.toLowerCase() })
      .map((entries) => Object.fromEntries(entries)),
  ),
}));

const paramsArb = fc
  .uniqueArray(fc.tuple(key, jsonValue.value), { maxLength: 6, selector: ([k]) => k.toLowerCase() })
  .map((entries) => Object.fromEntries(entries) as Record<string, unknown>);

const metaArb = fc.record({
  jobId: fc.option(fullUnicode, { nil: null }),
  requestId: fc.option(fullUnicode, { nil: null }),
});

const INJECTION_STRINGS = [
  "'; Remove-VM -Force; '",
  '"; Stop-Computer -Force; "',
  '$(Stop-Computer -Force)',
  '@(Get-ChildItem C:\\)',
  '`$env:USERNAME`n`r',
  '\u2018; Stop-Computer; \u2019',
  '\u201a\u201b\u2018\u2019',
  'line1\nline2\r\nline3\rline4',
  '仮想マシン-東京-01',
  "'@\n$x\n'@",
  '"@\n$(whoami)\n"@',
  '& calc.exe | Out-Null; # comment',
  '\u0000\u0007\u001b[31m',
  'C:\\ProgramData\\..\\..\\Windows\\System32',
  '\\\\attacker\\share\\x.vhdx',
  'emoji 👩‍💻 and lone surrogate \ud800',
  '%USERPROFILE% !VAR! ^& echo',
  '</Objs><S S="Error">x</S>',
  'HVGATE-RESULT:eyJvayI6dHJ1ZX0=',
];

describe('params blob (property)', () => {
  it('changes only the blob, and the blob decodes back to params and meta', () => {
    fc.assert(
      fc.property(fc.constantFrom(...SAMPLE_TEMPLATES), paramsArb, metaArb, (template, params, meta) => {
        const rendered = renderScript(template, params, meta);
        const got = aroundBlob(rendered.text);
        const expected = aroundBlob(templateText(template));
        expect(got.before).toBe(expected.before);
        expect(got.after).toBe(expected.after);
        expect(got.blob).toBe(rendered.blob);
        expect(got.blob).toMatch(/^[A-Za-z0-9+/=]*$/);
        expect(decodeParamsBlob(got.blob)).toEqual({ params, meta });
      }),
      { numRuns: 300 },
    );
  });
});

describe('injection strings round-trip byte-exact', () => {
  it.each(INJECTION_STRINGS.map((s) => [JSON.stringify(s), s]))('%s through params', (_label, value) => {
    const rendered = renderScript(memorySetTemplate, { vmName: value, nested: { notes: [value] } });
    expect(rendered.text).not.toContain(value);
    const doc = decodeParamsBlob(rendered.blob);
    expect(doc.params['vmName']).toBe(value);
    expect((doc.params['nested'] as { notes: string[] }).notes[0]).toBe(value);
  });

  it.each(INJECTION_STRINGS.map((s) => [JSON.stringify(s), s]))(
    '%s through the result envelope',
    (_label, value) => {
      const stdout =
        'HVGATE-PROGRESS:50 working\r\n' +
        formatResultLine({ ok: true, result: { name: value, list: [value] } });
      const parsed = parseScriptOutput(stdout);
      expect(parsed.envelope).toEqual({ ok: true, result: { name: value, list: [value] } });
    },
  );

  it('survives arbitrary WinRM stream chunking of the output bytes', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...INJECTION_STRINGS),
        fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 40 }),
        (value, cuts) => {
          const text =
            'HVGATE-PROGRESS:10 仮想マシン\r\n' +
            formatResultLine({
              ok: false,
              error: { category: 'InvalidArgument', errorId: value, message: value },
            });
          const bytes = Buffer.from(text, 'utf8');
          const seen: string[] = [];
          const collector = createOutputCollector(1 << 20, (p) => seen.push(p.text));
          let offset = 0;
          let i = 0;
          while (offset < bytes.length) {
            const n = cuts[i % cuts.length] as number;
            collector.add([
              { name: 'stdout', commandId: undefined, data: bytes.subarray(offset, offset + n), end: false },
            ]);
            offset += n;
            i += 1;
          }
          const { stdout } = collector.finish();
          expect(stdout).toBe(text);
          expect(seen).toEqual(['仮想マシン']);
          expect(parseScriptOutput(stdout).envelope).toEqual({
            ok: false,
            error: { category: 'InvalidArgument', errorId: value, message: value },
          });
        },
      ),
      { numRuns: 200 },
    );
  });
});
