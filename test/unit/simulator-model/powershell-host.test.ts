import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { createPowerShellRunner, EXIT_CODE_STOPPED } from '../../../src/simulator/powershell-host';
import { LATENCY } from '../../../src/simulator/hyperv-latency';
import { describeWithWinrmFixtures, readWinrmFixture } from '../../helpers/fixtures';
import {
  fakeProcess,
  GiB,
  id,
  LOADER_SCRIPT,
  loaderStdin,
  opScript,
  progressOf,
  resultOf,
  scriptWithBlob,
  singleHost,
  vm,
} from './sim-model-kit';

const WEB = id(1);
const GEN1 = id(2);

function setup(options?: Parameters<typeof createPowerShellRunner>[1]) {
  const fleet = singleHost([
    {
      id: WEB,
      name: 'ウェブサーバー01',
      memory: { startupBytes: 4 * GiB },
      hardDisks: [{ path: 'D:\\Hyper-V\\web\\boot.vhdx', sizeBytes: 40 * GiB, fileSizeBytes: 20 * GiB }],
    },
    { id: GEN1, name: 'gen1', generation: 1 },
  ]);
  return { fleet, run: createPowerShellRunner(fleet, options) };
}

const CLIXML_START =
  '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">';

/** The console lines of a CLIXML error stream. */
function clixmlLines(stderr: string): string[] {
  expect(stderr.startsWith(CLIXML_START)).toBe(true);
  const xml = stderr.slice('#< CLIXML\r\n'.length);
  expect(XMLValidator.validate(xml)).toBe(true);
  const doc = new XMLParser({
    ignoreAttributes: false,
    trimValues: false,
    isArray: (name) => name === 'S',
  }).parse(xml);
  return doc.Objs.S.map((s: { '#text'?: string; '@_S': string }) => {
    expect(s['@_S']).toBe('Error');
    return String(s['#text'] ?? '').replace(/_x000D__x000A_$/, '');
  });
}

describe('PowerShell host: operation scripts', () => {
  it('applies the operation and prints exactly one CRLF-terminated result line; exit 0', async () => {
    const { fleet, run } = setup();
    const proc = fakeProcess();
    const code = await run(
      opScript('vm.get', 1, { vmId: WEB }, { jobId: 'job-7', requestId: 'req-7' }),
      proc.ctx,
    );
    expect(code).toBe(0);
    expect(proc.stderr()).toBe('');
    expect(proc.stdout()).toMatch(/^HVGATE-RESULT:[A-Za-z0-9+/=]+\r\n$/);
    const result = resultOf(proc.stdout());
    expect(result).toEqual({ ok: true, result: vm(fleet, WEB) });
    expect(result.result.name).toBe('ウェブサーバー01');
    expect(fleet.appliedOperations('hv-a')).toEqual([
      expect.objectContaining({
        operation: 'vm.get',
        version: 1,
        params: { vmId: WEB },
        meta: { jobId: 'job-7', requestId: 'req-7' },
        ok: true,
      }),
    ]);
  });

  it('spends process start, module load and cmdlet time through ctx.sleep (latency scale 0 = instant)', async () => {
    const { run } = setup();
    const proc = fakeProcess();
    await run(opScript('memory.set', 1, { vmId: WEB, startupBytes: 6 * GiB }), proc.ctx);
    expect(proc.sleeps).toEqual([LATENCY.processStartMs, LATENCY.moduleLoadMs, LATENCY.setMemoryMs]);
    expect(LATENCY.processStartMs).toBe(300);
  });

  it('reports a refused operation as a result error with exit 1', async () => {
    const { fleet, run } = setup();
    const proc = fakeProcess();
    const code = await run(opScript('network-adapter.add', 1, { vmId: GEN1 }), proc.ctx);
    expect(code).toBe(1);
    expect(resultOf(proc.stdout())).toMatchObject({
      ok: false,
      error: {
        category: 'InvalidOperation',
        errorId: 'InvalidState,Microsoft.HyperV.PowerShell.Commands.AddVMNetworkAdapter',
      },
    });
    expect(vm(fleet, GEN1).networkAdapters).toHaveLength(1);
  });

  it('runs on the host named by the context', async () => {
    const { run } = setup();
    const proc = fakeProcess({ hostName: 'hv-other' });
    expect(await run(opScript('vm.list', 1, {}), proc.ctx)).toBe(1);
    expect(resultOf(proc.stdout()).error.category).toBe('ObjectNotFound');
  });

  it('keeps caller text as data', async () => {
    const { run } = setup();
    const proc = fakeProcess();
    const name = '\'; Stop-Computer -Force; $(Remove-Item C:\\ -Recurse) `"';
    await run(opScript('network-adapter.add', 1, { vmId: WEB, name }), proc.ctx);
    expect(resultOf(proc.stdout()).result.name).toBe(name);
  });
});

describe('PowerShell host: the loader', () => {
  it('reads the real script from stdin and runs it as if it had come by -EncodedCommand (64 KiB script)', async () => {
    const { fleet, run } = setup();
    const filler = Array.from({ length: 1100 }, (_, i) => `# padding line ${i} ${'x'.repeat(40)}`).join(
      '\r\n',
    );
    const script = `${opScript('processor.set', 1, { vmId: WEB, relativeWeight: 777 })}\r\n${filler}`;
    expect(script.length).toBeGreaterThan(64 * 1024);
    const proc = fakeProcess({ stdin: loaderStdin(script) });
    const code = await run(LOADER_SCRIPT, proc.ctx);
    expect(code).toBe(0);
    expect(proc.stdinReads()).toBe(1);
    expect(resultOf(proc.stdout()).result.relativeWeight).toBe(777);
    expect(vm(fleet, WEB).processor.relativeWeight).toBe(777);
  });

  it('fails like [Convert]::FromBase64String on a bad payload (CLIXML FormatException, exit 1)', async () => {
    const { fleet, run } = setup();
    const proc = fakeProcess({ stdin: Buffer.from('this is not base64!', 'ascii') });
    expect(await run(LOADER_SCRIPT, proc.ctx)).toBe(1);
    expect(proc.stdout()).toBe('');
    const lines = clixmlLines(proc.stderr());
    expect(lines[0]).toContain('Exception calling "FromBase64String"');
    expect(lines.join('\n')).toContain('FullyQualifiedErrorId : FormatException');
    expect(fleet.appliedOperations()).toEqual([]);
  });

  it('runs nothing for an empty stdin', async () => {
    const { run } = setup();
    const proc = fakeProcess({ stdin: Buffer.alloc(0) });
    expect(await run(LOADER_SCRIPT, proc.ctx)).toBe(0);
    expect(proc.stdout() + proc.stderr()).toBe('');
  });
});

describe('PowerShell host: invalid hvgate scripts', () => {
  it.each([
    ['unknown op id', opScript('vm.reboot', 1, {}), 'HvgateUnknownOperation'],
    ['unsupported version', opScript('vm.get', 2, { vmId: WEB }), 'HvgateUnsupportedTemplateVersion'],
    ['malformed header', '# hvgate-op: Reboot\r\nRestart-Computer', 'HvgateUnknownOperation'],
    ['missing blob', scriptWithBlob('# hvgate-op: vm.get@1', null), 'HvgateInvalidParamsBlob'],
    [
      'blob not JSON',
      scriptWithBlob('# hvgate-op: vm.get@1', Buffer.from('{oops').toString('base64')),
      'HvgateInvalidParamsBlob',
    ],
    [
      'blob without meta',
      scriptWithBlob(
        '# hvgate-op: vm.get@1',
        Buffer.from(JSON.stringify({ params: { vmId: WEB } })).toString('base64'),
      ),
      'HvgateInvalidParamsBlob',
    ],
    ['blob with bad padding', scriptWithBlob('# hvgate-op: vm.get@1', 'e30=e30='), 'HvgateInvalidParamsBlob'],
  ])('%s → InvalidArgument result error, exit 1, nothing applied', async (_, script, errorId) => {
    const { fleet, run } = setup();
    const proc = fakeProcess();
    expect(await run(script, proc.ctx)).toBe(1);
    expect(resultOf(proc.stdout())).toMatchObject({
      ok: false,
      error: { category: 'InvalidArgument', errorId },
    });
    expect(proc.stderr()).toBe('');
    expect(fleet.appliedOperations()).toEqual([]);
  });
});

describe('PowerShell host: any other PowerShell', () => {
  it('fails with the CLIXML "term is not recognized" error on stderr, exit 1', async () => {
    const { run } = setup();
    const proc = fakeProcess();
    const code = await run('Get-VM | ConvertTo-Json', proc.ctx);
    expect(code).toBe(1);
    expect(proc.stdout()).toBe('');
    const lines = clixmlLines(proc.stderr());
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(80);
    // Long lines wrap at the console width, continuing with three spaces, as in the pywinrm capture.
    const text = lines.join('\n').replace(/ \n {3}/g, '');
    expect(text).toMatch(
      /^Get-VM : The term 'Get-VM' is not recognized as the name of a cmdlet, function, script file, or operable program\. Check the spelling/,
    );
    expect(text).toContain('At line:1 char:1');
    expect(text).toContain('+ Get-VM | ConvertTo-Json');
    expect(text).toContain(
      '    + CategoryInfo          : ObjectNotFound: (Get-VM:String) [], CommandNotFoundException',
    );
    expect(text).toContain('    + FullyQualifiedErrorId : CommandNotFoundException');
  });

  it('escapes markup and control characters of the script line', async () => {
    const { run } = setup();
    const proc = fakeProcess();
    await run("Get-Thing '<b>&x\u0007'", proc.ctx);
    expect(proc.stderr()).toContain("+ Get-Thing '&lt;b&gt;&amp;x_x0007_'");
    expect(clixmlLines(proc.stderr()).join('\n')).toContain("+ Get-Thing '<b>&x_x0007_'");
  });

  it('runs a comment-only script as nothing, exit 0', async () => {
    const { run } = setup();
    const proc = fakeProcess();
    expect(await run('# nothing here\r\n', proc.ctx)).toBe(0);
    expect(proc.stdout() + proc.stderr()).toBe('');
  });

  it('can add the "Preparing modules for first use." progress record that real hosts print', async () => {
    const { run } = setup({ moduleProgressNoise: true });
    const proc = fakeProcess();
    expect(await run(opScript('vm.list', 1, {}), proc.ctx)).toBe(0);
    expect(proc.stderr()).toMatch(/^#< CLIXML\r\n<Objs [^>]+><Obj S="progress" RefId="0">/);
    expect(proc.stderr()).toContain('<AV>Preparing modules for first use.</AV>');
    expect(resultOf(proc.stdout()).ok).toBe(true);
  });
});

describeWithWinrmFixtures('PowerShell host: CLIXML shape matches a real capture', () => {
  it('has the same envelope and record form as pywinrm_get_ps_output_response.xml', async () => {
    const xml = readWinrmFixture('pywinrm_get_ps_output_response.xml');
    const streams = [...xml.matchAll(/<rsp:Stream[^>]*Name="stderr"[^>]*>([^<]+)<\/rsp:Stream>/g)].map((m) =>
      Buffer.from(m[1]!, 'base64').toString('utf8'),
    );
    const real = streams.join('');
    const { run } = setup();
    const proc = fakeProcess();
    await run('Write-Nothing', proc.ctx);
    const ours = proc.stderr();
    expect(real.startsWith(CLIXML_START)).toBe(true);
    expect(ours.startsWith(CLIXML_START)).toBe(true);
    const recordShape = /<S S="Error">[^<]*_x000D__x000A_<\/S>/g;
    expect(real.replace(recordShape, '').replace(CLIXML_START, '')).toBe('</Objs>');
    expect(ours.replace(recordShape, '').replace(CLIXML_START, '')).toBe('</Objs>');
    // Both end with the blank record PowerShell writes after an error.
    expect(real.endsWith('<S S="Error"> _x000D__x000A_</S></Objs>')).toBe(true);
    expect(ours.endsWith('<S S="Error"> _x000D__x000A_</S></Objs>')).toBe(true);
  });
});

describe('PowerShell host: long operations', () => {
  it('prints progress lines over time before the result line', async () => {
    const { run } = setup();
    const proc = fakeProcess();
    const code = await run(opScript('vm.export', 1, { vmId: WEB, destinationPath: 'E:\\Exports' }), proc.ctx);
    expect(code).toBe(0);
    const lines = proc.stdout().split('\r\n');
    expect(lines.at(-1)).toBe('');
    expect(lines.at(-2)).toMatch(/^HVGATE-RESULT:/);
    const progress = progressOf(proc.stdout());
    expect(progress.length).toBeGreaterThanOrEqual(5);
    expect(progress[0]!.percent).toBe(0);
    expect(progress.at(-1)).toEqual({ percent: 100, text: 'Export complete' });
    const percents = progress.map((p) => p.percent);
    expect([...percents].sort((a, b) => a - b)).toEqual(percents);
    // Time passes between progress lines: one sleep per step after process start and module load.
    expect(proc.sleeps.length).toBeGreaterThanOrEqual(progress.length);
    expect(proc.sleeps.reduce((a, b) => a + b, 0)).toBeGreaterThan(LATENCY.savedStateExportStallMs);
  });

  it('stops when the signal aborts: no result line, nothing applied, the process exits as stopped', async () => {
    const { fleet, run } = setup();
    const proc = fakeProcess({
      onStdout: (text, p) => {
        if (text.startsWith('HVGATE-PROGRESS:20 ')) p.abort();
      },
    });
    const code = await run(opScript('vm.export', 1, { vmId: WEB, destinationPath: 'E:\\Exports' }), proc.ctx);
    expect(code).toBe(EXIT_CODE_STOPPED);
    expect(proc.stdout()).not.toContain('HVGATE-RESULT:');
    expect(progressOf(proc.stdout()).at(-1)!.percent).toBe(20);
    expect(vm(fleet, WEB).operationInProgress).toBeNull();
    expect(fleet.appliedOperations().at(-1)).toMatchObject({
      operation: 'vm.export',
      ok: false,
      errorId: 'PipelineStopped',
    });
    // The export never completed, so the same destination is still free.
    const again = fakeProcess();
    expect(
      await run(opScript('vm.export', 1, { vmId: WEB, destinationPath: 'E:\\Exports' }), again.ctx),
    ).toBe(0);
  });

  it('stops during process start when aborted early', async () => {
    const { fleet, run } = setup();
    const proc = fakeProcess();
    proc.abort();
    expect(await run(opScript('vm.list', 1, {}), proc.ctx)).toBe(EXIT_CODE_STOPPED);
    expect(proc.stdout()).toBe('');
    expect(fleet.appliedOperations()).toEqual([]);
  });
});
