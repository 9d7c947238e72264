// `hvgate selftest` against a simulated host: the read-only checks, the dry-run of the change
// sequence with --vm, the reversible sequence with --allow-changes, and failures reported per step.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selftestCommand } from '../../../src/cli/selftest-command';
import type { Simulator } from '../../../src/simulator/simulator';
import { SIM_PASSWORD, SIM_USER, useSimulator } from '../../helpers/sim-harness';

const sim = useSimulator({ hosts: 1 });
const HOST = 'hv-tokyo-01';
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hvgate-selftest-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function configFile(s: Simulator, password = SIM_PASSWORD): Promise<string> {
  const port = s.hosts[0]!.port;
  const file = join(dir, `hvgate-${password}.yaml`);
  await writeFile(
    file,
    [
      'allowInlineSecrets: true',
      'auth:',
      '  algorithms: [HS256]',
      '  issuer: hvgate-test',
      '  audience: hvgate',
      "  hmacSecret: 'selftest-secret-selftest-secret-0123456789'",
      'store: { kind: sqlite, path: state.db }',
      'audit: { signingKeyFile: audit.key }',
      'hosts:',
      `  - name: ${HOST}`,
      '    address: 127.0.0.1',
      `    port: ${port}`,
      '    transport: http',
      '    auth: basic',
      `    username: ${SIM_USER}`,
      `    password: '${password}'`,
      "    storageRoots: ['D:\\Hyper-V']",
      "    exportRoots: ['E:\\Exports']",
      '',
    ].join('\n'),
  );
  return file;
}

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  const e = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    err += String(chunk);
    return true;
  });
  try {
    const code = await selftestCommand.run(args);
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

const mutating = (s: Simulator): string[] =>
  s.fleet
    .appliedOperations(HOST)
    .map((r) => r.operation)
    .filter((op) => !['host.get', 'vm.list', 'vm.get'].includes(op));

describe('hvgate selftest', () => {
  it('checks WinRM, authentication, PowerShell, Hyper-V, Get-VMHost and the VM list without changing anything', async () => {
    const before = mutating(sim()).length;
    const { code, out } = await run(['--config', await configFile(sim()), '--host', HOST]);
    expect(code).toBe(0);
    for (const s of [
      'winrm-reachable',
      'authentication',
      'powershell',
      'hyperv-module',
      'get-vmhost',
      'vm-list',
      'stdin-loader',
    ]) {
      expect(out).toMatch(new RegExp(`^PASS  ${s} `, 'm'));
    }
    expect(out).toContain('Windows Server 2016');
    // The host read once more the long way (Command + Send + Receive), as packScripts: false would.
    expect(out).toMatch(/^PASS {2}stdin-loader .*host\.get ran from stdin \(loader, 3 WinRM requests\)/m);
    expect(out).toMatch(/all 7 steps passed/);
    expect(mutating(sim()).length).toBe(before);
  });

  it('with --vm only dry-runs the change sequence', async () => {
    const before = mutating(sim()).length;
    const { code, out } = await run(['--config', await configFile(sim()), '--host', HOST, '--vm', 'web-01']);
    expect(code).toBe(0);
    expect(out).toMatch(/^PASS {2}test-vm /m);
    expect(out).toMatch(/^PASS {2}dry-run network-adapter.add .*--allow-changes/m);
    expect(out).toMatch(/^PASS {2}dry-run checkpoint.create /m);
    expect(mutating(sim()).length).toBe(before);
  });

  it('with --allow-changes runs NIC add → remove and checkpoint create → remove, leaving the VM as it was', async () => {
    const vmBefore = sim()
      .fleet.listVms(HOST)
      .find((v) => v.name === 'web-01')!;
    const before = mutating(sim()).length;
    const { code, out } = await run([
      '--config',
      await configFile(sim()),
      '--host',
      HOST,
      '--vm',
      'web-01',
      '--allow-changes',
      '--json',
    ]);
    expect(code).toBe(0);
    const doc = JSON.parse(out) as { ok: boolean; steps: { step: string; ok: boolean }[] };
    expect(doc.ok).toBe(true);
    expect(doc.steps.map((s) => s.step).slice(-4)).toEqual([
      'network-adapter.add',
      'network-adapter.remove',
      'checkpoint.create',
      'checkpoint.remove',
    ]);
    expect(mutating(sim()).slice(before)).toEqual([
      'network-adapter.add',
      'network-adapter.remove',
      'checkpoint.create',
      'checkpoint.remove',
    ]);
    const vmAfter = sim()
      .fleet.listVms(HOST)
      .find((v) => v.name === 'web-01')!;
    expect(vmAfter.networkAdapters).toEqual(vmBefore.networkAdapters);
    expect(vmAfter.checkpoints).toEqual(vmBefore.checkpoints);
  });

  it('reports a refused step (Generation 1 VM) and exits 1', async () => {
    const { code, out } = await run([
      '--config',
      await configFile(sim()),
      '--host',
      HOST,
      '--vm',
      'legacy-erp',
      '--allow-changes',
    ]);
    expect(code).toBe(1);
    expect(out).toMatch(/^FAIL {2}network-adapter.add .*Generation 2/m);
    expect(out).toMatch(/^PASS {2}checkpoint.remove /m);
  });

  it('tells a wrong password apart from an unreachable host', async () => {
    const { code, out } = await run(['--config', await configFile(sim(), 'wrong-password'), '--host', HOST]);
    expect(code).toBe(1);
    expect(out).toMatch(/^PASS {2}winrm-reachable /m);
    expect(out).toMatch(/^FAIL {2}authentication /m);
    expect(out).toMatch(/^FAIL {2}powershell .*skipped/m);
  });

  it.each([
    [['--host', HOST], /--config is required/],
    [['--config', 'x.yaml'], /--host is required/],
    [['--config', 'x.yaml', '--host', HOST, '--allow-changes'], /needs --vm/],
  ])('usage errors exit 2: %j', async (args, message) => {
    const { code, err } = await run(args);
    expect(code).toBe(2);
    expect(err).toMatch(message);
  });

  it('an unknown host of the config exits 2 naming the hosts', async () => {
    const { code, err } = await run(['--config', await configFile(sim()), '--host', 'hv-nowhere']);
    expect(code).toBe(2);
    expect(err).toContain(HOST);
  });
});
