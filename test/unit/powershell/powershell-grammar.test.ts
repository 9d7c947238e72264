// Every script shape the renderer produces must parse with a real PowerShell grammar.
import fc from 'fast-check';
import { LOADER_SCRIPT } from '../../../src/powershell/command-line';
import { renderScript } from '../../../src/powershell/script-render';
import {
  SCRIPT_EPILOGUE,
  defineScriptTemplate,
  scriptPrologue,
  templateText,
} from '../../../src/powershell/script-template';
import { powershellSyntaxProblems } from '../../helpers/powershell-grammar';
import { SAMPLE_TEMPLATES } from './sample-templates';

describe('PowerShell grammar check', () => {
  it('is able to fail: a bare comma list argument and an unclosed block are flagged', () => {
    expect(powershellSyntaxProblems('Select-Object Name,Id\n')).not.toEqual([]);
    expect(powershellSyntaxProblems('if ($true) {\n  $x = 1\n')).not.toEqual([]);
    expect(powershellSyntaxProblems("Select-Object -Property @('Name', 'Id')\n")).toEqual([]);
  });

  it.each(SAMPLE_TEMPLATES.map((t) => [`${t.opId}@${t.version}`, t]))(
    'template %s parses cleanly',
    (_id, t) => {
      expect(powershellSyntaxProblems(templateText(t))).toEqual([]);
    },
  );

  it('every prologue variant (only the helpers a core calls) parses cleanly', () => {
    for (const core of [
      '$result = 1',
      'ConvertTo-HvgateGuid',
      'Write-HvgateProgress',
      'Stop-HvgateOperation',
    ]) {
      const text = `${scriptPrologue(core)}\n${core}\n${SCRIPT_EPILOGUE}\n`;
      expect(powershellSyntaxProblems(text)).toEqual([]);
    }
  });

  it('the stdin loader parses cleanly', () => {
    expect(powershellSyntaxProblems(LOADER_SCRIPT)).toEqual([]);
  });

  it('rendered scripts parse cleanly whatever the params', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...SAMPLE_TEMPLATES),
        fc.dictionary(
          fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }),
          fc.string({ unit: 'binary', maxLength: 30 }),
          {
            maxKeys: 4,
          },
        ),
        (t, params) => {
          const folded = new Set<string>();
          for (const k of Object.keys(params)) {
            if (folded.has(k.toLowerCase())) return;
            folded.add(k.toLowerCase());
          }
          expect(powershellSyntaxProblems(renderScript(t, params).text)).toEqual([]);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('a 64 KiB rendered script parses cleanly', () => {
    const filler = `$null = 'padding ${'x'.repeat(70)}'\n`;
    const t = defineScriptTemplate({
      opId: 'test.big-script',
      version: 1,
      core: `${filler.repeat(Math.ceil((64 * 1024) / filler.length))}$result = 'ok'`,
    });
    const { text } = renderScript(t, { a: 1 });
    expect(text.length).toBeGreaterThan(64 * 1024);
    expect(powershellSyntaxProblems(text)).toEqual([]);
  });
});
