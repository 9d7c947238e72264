import { createHash } from 'node:crypto';
import { ScriptRenderError } from '../../../src/powershell/script-errors';
import {
  BLOB_LOCATOR,
  decodeParamsBlob,
  extractParamsBlob,
  renderScript,
} from '../../../src/powershell/script-render';
import {
  PARAMS_BLOB_MARKER,
  PARAMS_LINE,
  SCRIPT_PROLOGUE,
  defineScriptTemplate,
  scriptPrologue,
  templateSha256,
  templateText,
} from '../../../src/powershell/script-template';
import { memorySetTemplate, vmListTemplate } from './sample-templates';

const VM_ID = '6f1c2b9e-8a41-4d0f-9a7c-2f5e1d3b4c6a';

describe('renderScript', () => {
  it('starts with the exact header line and carries the params blob in the canonical line', () => {
    const r = renderScript(
      memorySetTemplate,
      { vmId: VM_ID, startupBytes: 4294967296 },
      { jobId: 'job-1', requestId: 'req-1' },
    );
    const lines = r.text.split('\n');
    expect(lines[0]).toBe('# hvgate-op: memory.set@2');
    expect(lines[0]).toMatch(/^# hvgate-op: [a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+@[1-9][0-9]*$/);
    expect(r.blob).toMatch(/^[A-Za-z0-9+/=]*$/);
    const paramsLine = lines.find((l) => l.startsWith('$p = '));
    expect(paramsLine).toBe(PARAMS_LINE.replace(PARAMS_BLOB_MARKER, r.blob));
    expect(r.text.split(`FromBase64String('${r.blob}')`)).toHaveLength(2);
    expect(r.text).not.toContain(PARAMS_BLOB_MARKER);
    expect(r.scriptId).toBe('memory.set@2');
  });

  it('puts params and meta in the blob, found the way the simulator finds it', () => {
    const r = renderScript(memorySetTemplate, { vmId: VM_ID, startupBytes: 1024 }, { jobId: 'job-7' });
    const afterHeader = r.text.slice(r.text.indexOf('\n') + 1);
    expect(BLOB_LOCATOR.exec(afterHeader)?.[1]).toBe(r.blob);
    expect(extractParamsBlob(r.text)).toBe(r.blob);
    const raw = JSON.parse(Buffer.from(r.blob, 'base64').toString('utf8'));
    expect(raw).toEqual({
      params: { vmId: VM_ID, startupBytes: 1024 },
      meta: { jobId: 'job-7', requestId: null },
    });
    expect(Object.keys(raw)).toEqual(['params', 'meta']);
    expect(decodeParamsBlob(r.blob)).toEqual(raw);
  });

  it('hashes the exact text, and the template hash does not depend on params', () => {
    const a = renderScript(vmListTemplate, { a: 1 });
    const b = renderScript(vmListTemplate, { a: 2 });
    expect(a.sha256).toBe(createHash('sha256').update(a.text, 'utf8').digest('hex'));
    expect(a.sha256).not.toBe(b.sha256);
    expect(a.templateSha256).toBe(b.templateSha256);
    expect(a.templateSha256).toBe(templateSha256(vmListTemplate));
    expect(templateText(vmListTemplate).startsWith('# hvgate-op: vm.list@1\n')).toBe(true);
  });

  it('produces a script that follows the envelope contract', () => {
    const { text } = renderScript(vmListTemplate, {});
    expect(text).toContain("$ErrorActionPreference = 'Stop'");
    expect(text).toContain("$ProgressPreference = 'SilentlyContinue'");
    expect(text).toMatch(/\ntry \{\n/);
    expect(text).toMatch(/\n\} catch \{\n/);
    expect(text.match(/ConvertTo-Json -InputObject .* -Depth 6 -Compress/g)).toHaveLength(2);
    expect(text.match(/'HVGATE-RESULT:'/g)).toHaveLength(1);
    expect(text).toContain('[Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($hvgateJson))');
    expect(text).toContain('exit $hvgateExit');
    expect(text).toContain('"`r`n"');
  });

  it.each([
    ['undefined value', { a: undefined }],
    ['function', { a: () => 1 }],
    ['NaN', { a: Number.NaN }],
    ['Infinity', { a: [Number.POSITIVE_INFINITY] }],
    ['Date', { a: new Date(0) }],
    ['Map', { a: new Map() }],
    ['bigint', { a: BigInt(1) }],
    ['keys differing only in case', { vmId: 'x', VMID: 'y' }],
    ['nested case collision', { a: { Name: 1, name: 2 } }],
    ['empty key', { '': 1 }],
  ])('refuses params with %s', (_label, params) => {
    expect(() => renderScript(vmListTemplate, params as Record<string, unknown>)).toThrow(ScriptRenderError);
  });

  it('refuses cyclic and absurdly deep params with a typed error, not a crash', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    expect(() => renderScript(vmListTemplate, cyclic)).toThrow(ScriptRenderError);
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 200; i += 1) deep = { d: deep };
    expect(() => renderScript(vmListTemplate, deep)).toThrow(/deeper/);
  });

  it('refuses non-object params, bad meta and oversized params', () => {
    expect(() => renderScript(vmListTemplate, [] as unknown as Record<string, unknown>)).toThrow(
      ScriptRenderError,
    );
    expect(() => renderScript(vmListTemplate, null as unknown as Record<string, unknown>)).toThrow(
      ScriptRenderError,
    );
    expect(() => renderScript(vmListTemplate, {}, { jobId: 5 as unknown as string })).toThrow(/meta.jobId/);
    expect(() => renderScript(vmListTemplate, { big: 'x'.repeat(300 * 1024) })).toThrow(
      expect.objectContaining({ code: 'SCRIPT_TOO_LARGE' }),
    );
  });

  it('refuses malformed templates', () => {
    const body = vmListTemplate.body;
    const bad = [
      { opId: 'VM.List', version: 1, body },
      { opId: 'vmlist', version: 1, body },
      { opId: 'vm.list', version: 0, body },
      { opId: 'vm.list', version: 1.5, body },
      { opId: 'vm.list', version: 1, body: body.replace(PARAMS_BLOB_MARKER, 'AAAA') },
      { opId: 'vm.list', version: 1, body: `${body}\n# ${PARAMS_BLOB_MARKER}` },
      { opId: 'vm.list', version: 1, body: body.replace(PARAMS_LINE, `  ${PARAMS_LINE}`) },
      { opId: 'vm.list', version: 1, body: `$x = [Convert]::FromBase64String('QUJD')\n${body}` },
    ];
    for (const t of bad) {
      expect(() => renderScript(t, {})).toThrow(expect.objectContaining({ code: 'INVALID_TEMPLATE' }));
    }
  });

  it('defineScriptTemplate keeps cores away from the blob and the result line', () => {
    expect(() => defineScriptTemplate({ opId: 'vm.get', version: 1, core: '' })).toThrow(ScriptRenderError);
    expect(() =>
      defineScriptTemplate({ opId: 'vm.get', version: 1, core: `$x = '${PARAMS_BLOB_MARKER}'` }),
    ).toThrow(ScriptRenderError);
    expect(() =>
      defineScriptTemplate({ opId: 'vm.get', version: 1, core: "[Console]::Out.Write('HVGATE-RESULT:x')" }),
    ).toThrow(ScriptRenderError);
    const t = defineScriptTemplate({ opId: 'vm.get', version: 3, core: '$result = 1\r\n\r\n' });
    expect(Object.isFrozen(t)).toBe(true);
    expect(t.body).toContain('\n$result = 1\n    }\n');
  });
});

describe('script prologue', () => {
  const functions = (text: string): string[] =>
    [...text.matchAll(/^function ([A-Za-z-]+) \{/gm)].map((m) => m[1]!);

  it('carries only the helpers the core calls, with what they call in turn', () => {
    expect(functions(scriptPrologue('$result = 1'))).toEqual([]);
    expect(functions(scriptPrologue('$g = ConvertTo-HvgateGuid -Value $p.params.vmId -Name vmId'))).toEqual([
      'Stop-HvgateOperation',
      'ConvertTo-HvgateGuid',
    ]);
    expect(functions(scriptPrologue("Write-HvgateProgress -Percent 5 -Text 'x'"))).toEqual([
      'Write-HvgateProgress',
    ]);
    expect(functions(SCRIPT_PROLOGUE)).toEqual([
      'Write-HvgateProgress',
      'Stop-HvgateOperation',
      'ConvertTo-HvgateGuid',
    ]);
  });

  it('a name that only starts like a helper does not pull it in', () => {
    expect(functions(scriptPrologue('$x = "Write-HvgateProgressive"'))).toEqual([]);
  });
});
