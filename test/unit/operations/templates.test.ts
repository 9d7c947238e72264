// Every template of the catalog parses with tree-sitter-powershell without ERROR/MISSING nodes,
// and every command and parameter it uses is in the checked-in cmdlet table with its doc link.
import { CMDLET_TABLE, HVGATE_FUNCTIONS } from '../../../src/operations/cmdlet-table';
import { OPERATIONS } from '../../../src/operations/operation-registry';
import { templateText } from '../../../src/powershell/script-template';
import { powershellSyntaxProblems } from '../../helpers/powershell-grammar';
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
