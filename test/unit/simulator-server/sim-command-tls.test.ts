// `hvgate sim --tls` as a child process, from the built CLI (npm test builds dist/ first): the
// JSON lines carry the CA file, the gateway's executor trusts it, and the flags are checked.
import { ChildProcess, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { createHostExecutor } from '../../../src/winrm/host-executor';
import { CLI, describeIfCliBuilt, exitOf } from './sim-cli-kit';

const describeIf = describeIfCliBuilt('hvgate sim --tls');

interface HostLine {
  name: string;
  url: string;
  caFile?: string;
}

describeIf('hvgate sim --tls', () => {
  let child: ChildProcess | undefined;
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hvgate-sim-tls-test-'));
  });
  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exitOf(child);
    }
    child = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function start(
    args: string[],
  ): Promise<{ proc: ChildProcess; lines: Array<Record<string, string>> }> {
    const proc = spawn(process.execPath, [CLI, 'sim', '--hosts', '1', '--latency-scale', '0', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    const lines: Array<Record<string, string>> = [];
    for await (const line of readline.createInterface({ input: proc.stdout! })) {
      lines.push(JSON.parse(line) as Record<string, string>);
      if (lines.length === 2) break;
    }
    return { proc, lines };
  }

  test('--ca-out: https URL and caFile in the JSON line; the executor runs over NTLM with that CA', async () => {
    const caOut = path.join(dir, 'sim-ca.pem');
    const { proc, lines } = await start(['--tls', '--ca-out', caOut]);
    const host = lines[0] as unknown as HostLine;
    expect(host).toEqual({
      name: expect.any(String),
      url: expect.stringMatching(/^https:\/\/127\.0\.0\.1:\d+\/wsman$/),
      caFile: caOut,
    });
    expect(lines[1]).toEqual({ control: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) });
    expect(new X509Certificate(fs.readFileSync(caOut)).ca).toBe(true);

    const exec = createHostExecutor({
      name: host.name,
      address: '127.0.0.1',
      port: Number(new URL(host.url).port),
      transport: 'https',
      auth: 'ntlm',
      username: 'Administrator',
      password: 'hvgate-sim',
      caFile: host.caFile,
    });
    try {
      const r = await exec.run({ commandLine: 'hostname' }, { deadline: Date.now() + 10_000 });
      expect(r).toMatchObject({ exitCode: 0, stdout: `${host.name}\r\n` });
    } finally {
      await exec.close();
    }
    proc.kill('SIGTERM');
    expect(await exitOf(proc)).toEqual({ code: 0, signal: null });
    // A file the operator named outlives the simulator.
    expect(fs.existsSync(caOut)).toBe(true);
  });

  test('without --ca-out the CA goes to a temporary file that is removed on exit', async () => {
    const { proc, lines } = await start(['--tls', '--server-name', 'hv-lab.example']);
    const caFile = (lines[0] as unknown as HostLine).caFile!;
    expect(path.resolve(caFile).startsWith(path.resolve(os.tmpdir()))).toBe(true);
    expect(fs.readFileSync(caFile, 'utf8')).toMatch(/^-----BEGIN CERTIFICATE-----/);
    proc.kill('SIGINT');
    expect(await exitOf(proc)).toEqual({ code: 0, signal: null });
    expect(fs.existsSync(caFile)).toBe(false);
  });

  test.each([
    [['--ca-out', 'ca.pem']],
    [['--server-name', 'hv.example']],
    [['--tls', '--server-name', 'bad name']],
    [['--tls', '--ca-out', '/nonexistent-hvgate-dir/ca.pem']],
    [['--tls=yes']],
  ])('bad flags %j → message and exit 2', async (args) => {
    const proc = spawn(process.execPath, [CLI, 'sim', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const { code } = await exitOf(proc);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^hvgate sim: \S/);
    expect(stdout).toBe('');
  });
});
