// Every template of the catalog parses with tree-sitter-powershell without ERROR/MISSING nodes,
// and every command and parameter it uses is in the checked-in cmdlet table with its doc link.
// Every script shape the renderer produces parses too. All tree-sitter checks live in this one
// file: its native addon breaks when a second test file loads it in the same jest worker.
import { CMDLET_TABLE, HVGATE_FUNCTIONS } from '../../../src/operations/cmdlet-table';
import { OPERATIONS } from '../../../src/operations/operation-registry';
import fc from 'fast-check';
import { LOADER_SCRIPT, encodeCommandLine, packedScript } from '../../../src/powershell/command-line';
import { deflateRawSync } from 'node:zlib';
import { renderScript } from '../../../src/powershell/script-render';
import {
  SCRIPT_EPILOGUE,
  defineScriptTemplate,
  scriptPrologue,
  templateText,
} from '../../../src/powershell/script-template';
import { powershellSyntaxProblems } from '../../helpers/powershell-grammar';
import { SAMPLE_TEMPLATES } from '../powershell/sample-templates';
import { commandsOf } from './template-commands';

describe.each(OPERATIONS.map((s) => [s.id, s] as const))('template %s', (_id, spec) => {
  const text = templateText(spec.template);

  it('parses with no error nodes', () => {
    expect(powershellSyntaxProblems(text)).toEqual([]);
  });

  it('uses only cmdlets and parameters listed in the cmdlet table', () => {
    const unknown: string[] = [];
    for (const use of commandsOf(text)) {
      const allowed = CMDLET_TABLE[use.command]?.parameters ?? HVGATE_FUNCTIONS[use.command];
      if (!allowed) {
        unknown.push(`command ${use.command}`);
        continue;
      }
      for (const p of use.parameters) if (!allowed.includes(p)) unknown.push(`${use.command} -${p}`);
    }
    expect(unknown).toEqual([]);
  });

  it('declares its id, a template version and a header that matches', () => {
    expect(spec.template.opId).toBe(spec.id);
    expect(text.startsWith(`# hvgate-op: ${spec.id}@${spec.template.version}\n`)).toBe(true);
  });
});

describe('cmdlet table', () => {
  it('links every cmdlet to its Microsoft Learn reference page', () => {
    for (const [name, entry] of Object.entries(CMDLET_TABLE)) {
      expect(entry.doc).toMatch(
        new RegExp(
          `^https://learn\\.microsoft\\.com/powershell/module/[a-z.-]+/${name.toLowerCase()}\\?view=`,
        ),
      );
    }
  });

  it('lists only cmdlets some template uses (no stale entries)', () => {
    const used = new Set(
      OPERATIONS.flatMap((s) => commandsOf(templateText(s.template)).map((c) => c.command)),
    );
    expect(Object.keys(CMDLET_TABLE).filter((c) => !used.has(c))).toEqual([]);
  });

  it('the extractor sees named, switch and splatted parameters', () => {
    const uses = commandsOf(
      "$a = @{ VM = $vm; Passthru = $true }\n$a['Name'] = 'x'\nAdd-VMNetworkAdapter @a -SwitchName $s",
    );
    expect(uses).toEqual([
      { command: 'Add-VMNetworkAdapter', parameters: ['VM', 'Passthru', 'Name', 'SwitchName'] },
    ]);
  });

  it('a grammar error is reported (the check can fail)', () => {
    expect(powershellSyntaxProblems('Select-Object Name,Id\n$x = @{ a = ').length).toBeGreaterThan(0);
  });
});

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

  it('the stdin loader and the unpacker parse cleanly', () => {
    expect(powershellSyntaxProblems(LOADER_SCRIPT)).toEqual([]);
    const packed = packedScript(deflateRawSync(Buffer.from("$result = 'x'")).toString('base64'));
    expect(powershellSyntaxProblems(packed)).toEqual([]);
  });

  it('every catalog script is sent in one Command (encoded or packed), with room to spare', () => {
    const viaStdin: string[] = [];
    const lengths = new Map<string, number>();
    const params = { vmId: '0e52aaaa-bbbb-cccc-dddd-eeeeffff0000', name: 'web-01' };
    for (const spec of OPERATIONS) {
      const { text } = renderScript(spec.template, params, { jobId: 'j', requestId: 'r' });
      const enc = encodeCommandLine(text);
      if (enc.mode === 'loader') viaStdin.push(spec.id);
      lengths.set(spec.id, enc.commandLine.length);
    }
    expect(viaStdin).toEqual([]);
    expect(Math.max(...lengths.values())).toBeLessThanOrEqual(8191);
    // The largest script (the VM facts read, ~9 KB of PowerShell) still leaves a third of the line free.
    expect(lengths.get('vm.get')).toBeLessThan((8191 * 2) / 3);
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
