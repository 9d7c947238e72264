// Caller text is data, never code: the injection strings (quotes, $(), backticks, curly quotes
// U+2018–U+201B, CR/LF, Japanese) in every string field of every operation reach the simulated
// host as exact literals — the params the host's Hyper-V model recorded equal what was sent.
import { listOperations, requireOperation } from '../../../src/operations/operation-registry';
import { renderScript } from '../../../src/powershell/script-render';
import { CatalogHarness, startCatalogHarness } from './catalog-harness';

let h: CatalogHarness;
beforeAll(async () => {
  h = await startCatalogHarness(2);
});
afterAll(async () => {
  await h.close();
});

const TOKYO = 'hv-tokyo-01';

export const INJECTION_STRINGS = [
  "it's'; Remove-VM -Name * -Force; '",
  '"; Stop-Computer -Force; "',
  '$(Remove-Item C:\\ -Recurse -Force)',
  '`$env:USERNAME` `r`n backtick',
  '\u2018curly\u2019 \u201Adouble\u201B and \u201Cquotes\u201D',
  'line one\r\nline two\nline three\r',
  '仮想マシン「テスト」のディスク',
  "@'\n'@ here-string end; ${x}; #comment <# block #>",
];

/** Base params of each operation; the string field under test is overwritten. */
const BASE: Record<string, Record<string, unknown>> = {
  'network-adapter.add': { name: 'n', switchName: 'Internal', staticMacAddress: '00155D000001' },
  'network-adapter.remove': { adapterId: 'x' },
  'hard-disk.add': {
    controllerType: 'SCSI',
    controllerNumber: 0,
    controllerLocation: 20,
    path: 'D:\\Hyper-V\\x.vhdx',
  },
  'hard-disk.remove': { controllerType: 'SCSI', controllerNumber: 0, controllerLocation: 20 },
  'hard-disk.set-qos': {
    controllerType: 'SCSI',
    controllerNumber: 0,
    controllerLocation: 20,
    maximumIops: 1,
  },
  'vhd.resize': { controllerType: 'SCSI', controllerNumber: 0, controllerLocation: 20, sizeBytes: 1048576 },
  'vhd.optimize': { path: 'D:\\Hyper-V\\x.vhdx', mode: 'Quick' },
  'dvd-drive.add': { path: 'D:\\Hyper-V\\x.iso' },
  'dvd-drive.set-media': { controllerNumber: 0, controllerLocation: 20, path: 'D:\\Hyper-V\\x.iso' },
  'checkpoint.create': { name: 'c', checkpointType: 'Standard' },
  'checkpoint.remove': { checkpointId: '00000000-0000-4000-8000-000000000001' },
  'vm.export': { destinationPath: 'E:\\Exports\\x', captureLiveState: 'CaptureSavedState' },
  'vm.migrate': {
    destinationHost: 'hv-osaka-02',
    includeStorage: true,
    destinationStoragePath: 'D:\\Hyper-V\\m',
  },
  'replication.enable': { replicaHost: 'hv-osaka-02', authenticationType: 'Kerberos' },
  'backup.create': { destinationPath: 'E:\\Exports\\x' },
};

/** String-typed fields of an operation's input, read from its zod schema. */
function stringFields(op: string): string[] {
  const spec = requireOperation(op);
  const shape = (
    spec.input as unknown as {
      _zod: {
        def: { shape?: Record<string, unknown>; in?: { _zod: { def: { shape: Record<string, unknown> } } } };
      };
    }
  )._zod.def;
  const fields = shape.shape ?? shape.in?._zod.def.shape ?? {};
  return Object.entries(fields)
    .filter(([, schema]) => acceptsString(schema))
    .map(([k]) => k);
}

function acceptsString(schema: unknown): boolean {
  const def = (
    schema as { _zod: { def: { type: string; innerType?: unknown; options?: unknown[]; in?: unknown } } }
  )._zod.def;
  if (def.type === 'string' || def.type === 'enum') return true;
  if (def.innerType) return acceptsString(def.innerType);
  if (def.in) return acceptsString(def.in);
  if (def.options) return def.options.some(acceptsString);
  return false;
}

const cases = listOperations()
  .filter((s) => stringFields(s.id).length > 0)
  .flatMap((s) => stringFields(s.id).map((field) => [s.id, field] as const));

it('finds the string fields of every operation that has any', () => {
  expect(cases.length).toBeGreaterThanOrEqual(20);
  for (const op of Object.keys(BASE)) expect(cases.some(([id]) => id === op)).toBe(true);
});

describe.each(cases)('%s field %s', (op, field) => {
  it('reaches the host byte for byte', async () => {
    const spec = requireOperation(op);
    const vmId = h.vm(TOKYO, 'web-01').id;
    for (const value of INJECTION_STRINGS) {
      const params: Record<string, unknown> = { ...(BASE[op] ?? {}), [field]: value };
      if (spec.target === 'vm') params.vmId = vmId;
      const rendered = renderScript(spec.template, params, { jobId: 'j', requestId: 'r' });
      // The caller's text never appears in the script itself, only inside the base64 blob.
      expect(rendered.text.includes(value)).toBe(false);
      const before = h.sim.fleet.appliedOperations(TOKYO).length;
      await h.executor(TOKYO).runScript(rendered, { deadline: Date.now() + 10_000, allowScriptError: true });
      const records = h.sim.fleet.appliedOperations(TOKYO).slice(before);
      expect(records).toHaveLength(1);
      expect(records[0]!.operation).toBe(op);
      expect(records[0]!.params).toEqual(params);
      expect((records[0]!.params as Record<string, unknown>)[field]).toBe(value);
    }
  });
});

it('through the whole runner: checkpoint names full of injection text are stored verbatim', async () => {
  for (const raw of INJECTION_STRINGS) {
    const name = raw.replace(/[\r\n]/g, ' ');
    const outcome = await h.run('checkpoint.create', TOKYO, 'web-01', { name, checkpointType: 'Standard' });
    expect((outcome.result as { name: string }).name).toBe(name);
    expect(h.vm(TOKYO, 'web-01').checkpoints.some((c) => c.name === name)).toBe(true);
  }
});

it('control characters in names are refused before anything is sent', async () => {
  const before = h.sim.fleet.appliedOperations(TOKYO).length;
  await expect(h.run('network-adapter.add', TOKYO, 'web-01', { name: 'a\r\nb' })).rejects.toMatchObject({
    code: 'HVG_ERR_VALIDATION',
  });
  expect(
    h.sim.fleet
      .appliedOperations(TOKYO)
      .slice(before)
      .map((r) => r.operation),
  ).not.toContain('network-adapter.add');
});
