// `hvgate sim` as a child process, from the built CLI (npm test builds dist/ first).
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { WsmanTestClient } from './wsman-test-client';
import { CLI, describeIfCliBuilt, exitOf } from './sim-cli-kit';

const describeIf = describeIfCliBuilt('hvgate sim');

async function runToEnd(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, 'sim', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const { code } = await exitOf(child);
  return { code, stdout, stderr };
}

describeIf('hvgate sim', () => {
  let child: ChildProcess | undefined;
  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exitOf(child);
    }
    child = undefined;
  });

  test('prints a JSON line per host and the control URL, serves WinRM, exits 0 on SIGTERM', async () => {
    const proc = spawn(
      process.execPath,
      [CLI, 'sim', '--hosts', '2', '--port', '0', '--latency-scale', '0'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child = proc;
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const lines = readline.createInterface({ input: proc.stdout });
    const got: Array<Record<string, string>> = [];
    for await (const line of lines) {
      got.push(JSON.parse(line) as Record<string, string>);
      if (got.length === 3) break;
    }
    expect(stderr).toBe('');
    const [a, b, control] = got;
    expect(a).toEqual({
      name: expect.any(String),
      url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/wsman$/),
    });
    expect(b!.name).not.toBe(a!.name);
    expect(control).toEqual({ control: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) });

    for (const h of [a!, b!]) {
      const r = await new WsmanTestClient(h['url']!).run('hostname');
      expect(r.stdout.toString()).toBe(`${h['name']}\r\n`);
    }
    const counters = (await (await fetch(`${control!['control']}/hosts/${a!['name']}/counters`)).json()) as {
      requests: Record<string, number>;
    };
    expect(counters.requests['Create']).toBe(1);

    proc.kill('SIGTERM');
    expect(await exitOf(proc)).toEqual({ code: 0, signal: null });
  });

  test('reads the password from --password-file', async () => {
    const file = path.join(fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'hvgate-sim-')), 'pw');
    fs.writeFileSync(file, 's3cret\n');
    const proc = spawn(
      process.execPath,
      [CLI, 'sim', '--hosts', '1', '--latency-scale', '0', '--password-file', file, '--user', 'ops'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child = proc;
    const lines = readline.createInterface({ input: proc.stdout });
    let url = '';
    for await (const line of lines) {
      url = (JSON.parse(line) as { url: string }).url;
      break;
    }
    await expect(new WsmanTestClient(url).run('hostname')).rejects.toMatchObject({ reply: { status: 401 } });
    const r = await new WsmanTestClient(url, { user: 'ops', password: 's3cret' }).run('hostname');
    expect(r.exitCode).toBe(0);
    proc.kill('SIGINT');
    expect((await exitOf(proc)).code).toBe(0);
  });

  test.each([
    [['--hosts', 'x']],
    [['--hosts', '0']],
    [['--port', '70000']],
    [['--latency-scale', '-1']],
    [['--latency-scale=-1']],
    [['--latency-scale', 'fast']],
    [['--bogus']],
    [['extra']],
    [['--password-file', '/nonexistent/hvgate-pw']],
  ])('bad flags %j → message and exit 2', async (args) => {
    const r = await runToEnd(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^hvgate sim: [^\n]+\n(.+\n)*usage: hvgate sim/);
    expect(r.stdout).toBe('');
  });
});
