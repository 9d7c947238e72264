// Interop with a real third-party client: Debian's python3-winrm (pywinrm 0.3) run as a child
// process against a simulator this test starts.
import { execFile, spawnSync } from 'node:child_process';
import { Simulator } from '../../src/simulator/simulator';
import { SIM_PASSWORD, SIM_USER, startSimulator } from '../helpers/sim-harness';

const PYTHON = '/usr/bin/python3';

const DRIVER = `
import base64, json, sys, winrm
cfg = json.loads(sys.argv[1])
s = winrm.Session(cfg['url'], auth=(cfg['user'], cfg['password']), transport='basic',
                  operation_timeout_sec=cfg.get('op', 20), read_timeout_sec=cfg.get('read', 30))
if cfg['kind'] == 'ps':
    r = s.run_ps(cfg['script'])
else:
    r = s.run_cmd(cfg['command'], cfg.get('args', []))
print(json.dumps({'status': r.status_code, 'stdout': base64.b64encode(r.std_out).decode(),
                  'stderr': base64.b64encode(r.std_err).decode()}))
`;

function pywinrmAvailable(): boolean {
  const r = spawnSync(PYTHON, ['-c', 'import winrm'], { encoding: 'utf8' });
  return r.status === 0;
}

interface PyResult {
  status: number;
  stdout: Buffer;
  stderr: Buffer;
}

function pywinrm(cfg: Record<string, unknown>): Promise<PyResult> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NO_PROXY: '127.0.0.1,localhost',
    no_proxy: '127.0.0.1,localhost',
  };
  for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'ALL_PROXY', 'all_proxy'])
    delete env[k];
  return new Promise((resolve, reject) => {
    execFile(
      PYTHON,
      ['-c', DRIVER, JSON.stringify({ user: SIM_USER, password: SIM_PASSWORD, ...cfg })],
      { env, timeout: 25_000 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`pywinrm failed: ${err.message}\n${stderr}`));
        const out = JSON.parse(stdout) as { status: number; stdout: string; stderr: string };
        resolve({
          status: out.status,
          stdout: Buffer.from(out.stdout, 'base64'),
          stderr: Buffer.from(out.stderr, 'base64'),
        });
      },
    );
  });
}

/** An hvgate operation script written by hand per the script envelope contract. */
function vmListScript(requestId: string): string {
  const blob = Buffer.from(JSON.stringify({ params: {}, meta: { jobId: null, requestId } }), 'utf8').toString(
    'base64',
  );
  return [
    '# hvgate-op: vm.list@1',
    "$ErrorActionPreference = 'Stop'",
    "$ProgressPreference = 'SilentlyContinue'",
    'try {',
    `  $p = ConvertFrom-Json ([Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('${blob}')))`,
    '  $vms = @(Get-VM | ForEach-Object { @{ vmId = $_.Id.ToString(); name = $_.Name; state = $_.State.ToString() } })',
    '  $json = @{ ok = $true; result = $vms } | ConvertTo-Json -Depth 6 -Compress',
    "  Write-Output ('HVGATE-RESULT:' + [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($json)))",
    '  exit 0',
    '} catch {',
    '  $e = @{ category = $_.CategoryInfo.Category.ToString(); errorId = $_.FullyQualifiedErrorId; message = $_.Exception.Message }',
    '  $json = @{ ok = $false; error = $e } | ConvertTo-Json -Depth 6 -Compress',
    "  Write-Output ('HVGATE-RESULT:' + [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($json)))",
    '  exit 1',
    '}',
  ].join('\r\n');
}

const available = pywinrmAvailable();
if (!available)
  console.warn(`SKIPPED pywinrm interop: '${PYTHON} -c "import winrm"' failed (install python3-winrm)`);
const describeIf = available ? describe : describe.skip;

describeIf('pywinrm (python3-winrm) against the simulator', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ hosts: 2 });
  });
  afterAll(() => sim.close());

  test("run_cmd('hostname') prints the simulated host's name", async () => {
    const [h] = sim.hosts;
    const r = await pywinrm({ url: h!.url, kind: 'cmd', command: 'hostname' });
    expect(r.status).toBe(0);
    expect(r.stdout.toString()).toBe(`${h!.name}\r\n`);
    expect(r.stderr.length).toBe(0);
    expect(sim.host(h!.name).counters().requests).toMatchObject({
      Create: 1,
      Command: 1,
      Signal: 1,
      Delete: 1,
    });
  });

  test("run_cmd('exit /b 3') reports status 3", async () => {
    const r = await pywinrm({ url: sim.hosts[1]!.url, kind: 'cmd', command: 'exit /b 3' });
    expect(r.status).toBe(3);
  });

  test('run_cmd with arguments and an unknown program', async () => {
    const echo = await pywinrm({
      url: sim.hosts[0]!.url,
      kind: 'cmd',
      command: 'echo',
      args: ['one', 'two'],
    });
    expect(echo.stdout.toString()).toBe('one two\r\n');
    const bad = await pywinrm({ url: sim.hosts[0]!.url, kind: 'cmd', command: 'nosuch' });
    expect(bad.status).toBe(1);
    expect(bad.stderr.toString()).toContain("'nosuch' is not recognized as an internal or external command");
  });

  test('run_ps(<vm.list script>) returns the result envelope', async () => {
    const h = sim.hosts[0]!;
    const r = await pywinrm({ url: h.url, kind: 'ps', script: vmListScript('interop-1') });
    expect(r.stderr.toString()).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.toString('utf8').split('\r\n');
    const resultLines = lines.filter((l) => l.startsWith('HVGATE-RESULT:'));
    expect(resultLines).toHaveLength(1);
    const envelope = JSON.parse(
      Buffer.from(resultLines[0]!.slice('HVGATE-RESULT:'.length), 'base64').toString('utf8'),
    ) as {
      ok: boolean;
      result: Array<Record<string, unknown>>;
    };
    expect(envelope.ok).toBe(true);
    expect(Array.isArray(envelope.result)).toBe(true);
    expect(envelope.result.length).toBeGreaterThan(0);
    const applied = sim.host(h.name).counters().operationsApplied as Array<{
      operation: string;
      meta: unknown;
    }>;
    expect(
      applied.some((a) => a.operation === 'vm.list' && JSON.stringify(a.meta).includes('interop-1')),
    ).toBe(true);
  });
});

describeIf('pywinrm retries w:TimedOut through a slow command', () => {
  let sim: Simulator;
  beforeAll(async () => {
    // ping waits 1 s of simulated time between replies; ×1.5 gives 1.5 s gaps, longer than the
    // 1 s OperationTimeout pywinrm asks for, so each gap costs at least one TimedOut fault.
    sim = await startSimulator({ hosts: 1, latencyScale: 1.5 });
  });
  afterAll(() => sim.close());

  test('ping -n 4 127.0.0.1 completes after several TimedOut faults', async () => {
    const h = sim.hosts[0]!;
    const r = await pywinrm({ url: h.url, kind: 'cmd', command: 'ping -n 4 127.0.0.1', op: 1, read: 2 });
    expect(r.status).toBe(0);
    expect(r.stdout.toString().match(/Reply from 127\.0\.0\.1/g)).toHaveLength(4);
    const c = sim.host(h.name).counters();
    expect(c.timedOut).toBeGreaterThanOrEqual(2);
    expect(c.httpStatuses['500']).toBe(c.timedOut);
    expect(c.commandsRunning).toBe(0);
  });
});
