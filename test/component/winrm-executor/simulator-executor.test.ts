// The executor against the simulator's WinRM hosts (latency scale 0): request counts, shell
// reuse and recycling, faults (hang, drop, garbage, HTTP 500, quotas), the stdin loader, and
// no leaked shells or commands after close().
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { renderScript } from '../../../src/powershell/script-render';
import { defineScriptTemplate } from '../../../src/powershell/script-template';
import type { Simulator } from '../../../src/simulator/simulator';
import type { HostExecutor, HostExecutorOptions } from '../../../src/winrm/host-executor';
import { createHostExecutor } from '../../../src/winrm/host-executor';
import type { HostConnection } from '../../../src/winrm/host-connection';
import { HostUnreachableError, ProtocolError, TimeoutError } from '../../../src/winrm/winrm-errors';
import { SIM_PASSWORD, SIM_USER, startSimulator, useSimulator } from '../../helpers/sim-harness';

const sim = useSimulator({ hosts: 1 });
let exec: HostExecutor | undefined;

function hostOf(s: Simulator): { conn: HostConnection; name: string } {
  const h = s.hosts[0] as { name: string; port: number };
  return {
    name: h.name,
    conn: {
      name: h.name,
      address: '127.0.0.1',
      port: h.port,
      transport: 'http',
      auth: 'basic',
      username: SIM_USER,
      password: SIM_PASSWORD,
    },
  };
}

const REPO = path.resolve(__dirname, '../../..');
const SWC_REGISTER = path.join(REPO, 'test/component/gateway/swc-register.js');

function executor(opts: HostExecutorOptions = {}, s: Simulator = sim()): HostExecutor {
  exec = createHostExecutor(hostOf(s).conn, { quotaRetry: { attempts: 3, baseMs: 5, maxMs: 20 }, ...opts });
  return exec;
}

function counters(s: Simulator = sim()) {
  return s.host(hostOf(s).name).counters();
}

const soon = (ms = 10_000): number => Date.now() + ms;

beforeEach(() => {
  const h = sim().host(hostOf(sim()).name);
  h.faults.clear();
  h.resetCounters();
});

afterEach(async () => {
  await exec?.close();
  exec = undefined;
  const c = counters();
  sim().host(hostOf(sim()).name).faults.clear();
  // Nothing leaks: every shell deleted, no command left running on the host.
  expect(c.shellsOpen).toBe(0);
  expect(c.commandsRunning).toBe(0);
});

const listTemplate = defineScriptTemplate({
  opId: 'vm.list',
  version: 1,
  core: `
Write-HvgateProgress -Percent 50 -Text 'listing'
$result = @(foreach ($vm in @(Get-VM)) {
    [ordered]@{ id = [string]$vm.Id; name = [string]$vm.Name; state = [string]$vm.State }
})
`,
});

describe('executor on the simulator', () => {
  it('runs short cmd commands in 2 HTTP requests each once a shell is open', async () => {
    const e = executor();
    const { name } = hostOf(sim());
    const first = await e.run({ commandLine: 'hostname' }, { deadline: soon() });
    expect(first).toMatchObject({ exitCode: 0, stdout: `${name}\r\n`, httpRequests: 3 });
    const perOp: number[] = [];
    for (let i = 0; i < 20; i += 1)
      perOp.push((await e.run({ commandLine: `echo run ${i}` }, { deadline: soon() })).httpRequests);
    expect(perOp).toEqual(Array(20).fill(2));
    const c = counters();
    expect(c.requests).toMatchObject({ Create: 1, Command: 21, Receive: 21 });
    expect(c.requests['Signal'] ?? 0).toBe(0);
    await expect(e.run({ commandLine: 'exit /b 3' }, { deadline: soon() })).resolves.toMatchObject({
      exitCode: 3,
    });
    await expect(
      e.run({ commandLine: 'echo out && echo err>&2 && exit 1' }, { deadline: soon() }),
    ).resolves.toMatchObject({
      exitCode: 1,
      stdout: 'out \r\n',
      stderr: 'err \r\n',
    });
  });

  it('runs an hvgate script end to end and parses its result envelope', async () => {
    const e = executor();
    const progress: number[] = [];
    const r = await e.runScript(renderScript(listTemplate, {}, { jobId: 'job-1', requestId: 'req-1' }), {
      deadline: soon(),
      onProgress: (p) => progress.push(p.percent),
    });
    expect(r.envelope.ok).toBe(true);
    expect(Array.isArray((r.envelope as { result: unknown }).result)).toBe(true);
    expect(r.exitCode).toBe(0);
    expect(progress.length).toBe(r.progress.length);
  });

  it('delivers a 64 KiB script through the stdin loader', async () => {
    const big = defineScriptTemplate({
      opId: 'vm.list',
      version: 1,
      // Random padding: too long for one line even packed, so it needs the loader and stdin.
      core: `${Array.from({ length: 700 }, () => `# ${randomBytes(72).toString('base64')}\n`).join('')}$result = @(Get-VM | ForEach-Object { [string]$_.Id })`,
    });
    const script = renderScript(big, {});
    expect(Buffer.byteLength(script.text)).toBeGreaterThanOrEqual(64 * 1024);
    const e = executor();
    const r = await e.runScript(script, { deadline: soon() });
    expect(r.envelope.ok).toBe(true);
    expect(counters().requests['Send']).toBeGreaterThanOrEqual(1);
  });

  it('hang → deadline → terminate + delete; the slot is free again', async () => {
    const e = executor();
    await e.run({ commandLine: 'hostname' }, { deadline: soon() });
    sim()
      .host(hostOf(sim()).name)
      .faults.inject({ kind: 'hang', actions: ['Receive'], count: 1 });
    const started = Date.now();
    await expect(e.run({ commandLine: 'hostname' }, { deadline: Date.now() + 300 })).rejects.toThrow(
      TimeoutError,
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    const c = counters();
    expect(c.requests['Signal']).toBe(1);
    expect(c.requests['Delete']).toBe(1);
    expect(c.shellsOpen).toBe(0);
    expect(e.stats()).toMatchObject({ busySlots: 0, openShells: 0 });
    await expect(e.run({ commandLine: 'echo again' }, { deadline: soon() })).resolves.toMatchObject({
      stdout: 'again\r\n',
    });
  });

  it('connection drop → HostUnreachableError, shell cleaned up, next command fine', async () => {
    const e = executor();
    sim()
      .host(hostOf(sim()).name)
      .faults.inject({ kind: 'drop', actions: ['Receive'], count: 1 });
    await expect(e.run({ commandLine: 'hostname' }, { deadline: soon() })).rejects.toThrow(
      HostUnreachableError,
    );
    expect(counters().shellsOpen).toBe(0);
    await expect(e.run({ commandLine: 'echo ok' }, { deadline: soon() })).resolves.toMatchObject({
      exitCode: 0,
    });
  });

  it('garbage XML and HTTP 500 → ProtocolError, shell discarded', async () => {
    const e = executor();
    const faults = sim().host(hostOf(sim()).name).faults;
    faults.inject({ kind: 'garbage', actions: ['Receive'], count: 1 });
    await expect(e.run({ commandLine: 'hostname' }, { deadline: soon() })).rejects.toThrow(ProtocolError);
    faults.inject({ kind: 'http500', actions: ['Command'], count: 1 });
    await expect(e.run({ commandLine: 'hostname' }, { deadline: soon() })).rejects.toThrow(/HTTP 500/);
    expect(counters().shellsOpen).toBe(0);
    await expect(e.run({ commandLine: 'echo ok' }, { deadline: soon() })).resolves.toMatchObject({
      exitCode: 0,
    });
  });

  it('quota faults, then recovery', async () => {
    const e = executor();
    const faults = sim().host(hostOf(sim()).name).faults;
    faults.inject({ kind: 'quota', actions: ['Create'], count: 2 });
    await expect(e.run({ commandLine: 'echo a' }, { deadline: soon() })).resolves.toMatchObject({
      stdout: 'a\r\n',
    });
    expect(counters().requests['Create']).toBe(3);
    expect(counters().wsmanFaults['2150859173']).toBe(2);
    faults.inject({ kind: 'quota', actions: ['Command'], count: 1, quota: 'operations' });
    await expect(e.run({ commandLine: 'echo b' }, { deadline: soon() })).resolves.toMatchObject({
      stdout: 'b\r\n',
    });
    expect(counters().wsmanFaults['2150859174']).toBe(1);
  });

  it('recycles shells by command budget and stays under a small per-user operations quota', async () => {
    const e = executor({ commandsPerShell: 3 });
    for (let i = 0; i < 7; i += 1) await e.run({ commandLine: `echo ${i}` }, { deadline: soon() });
    await e.close();
    const c = counters();
    expect(c.requests['Create']).toBe(3);
    expect(c.requests['Delete']).toBe(3);
    expect(c.maxShellsOpen).toBeLessThanOrEqual(2);

    const tight = await startSimulator({ hosts: 1, maxOperationsPerUser: 4 });
    try {
      const t = createHostExecutor(hostOf(tight).conn, { commandsPerShell: 100 });
      try {
        for (let i = 0; i < 10; i += 1) {
          await expect(t.run({ commandLine: `echo ${i}` }, { deadline: soon() })).resolves.toMatchObject({
            stdout: `${i}\r\n`,
          });
        }
      } finally {
        await t.close();
      }
      const tc = counters(tight);
      expect(tc.shellsOpen).toBe(0);
      expect(tc.commandsRunning).toBe(0);
    } finally {
      await tight.close();
    }
  });

  it('never has more commands running on the host than it has slots', async () => {
    const e = executor({ maxShells: 2 });
    await Promise.all(
      Array.from({ length: 8 }, (_, i) => e.run({ commandLine: `echo ${i}` }, { deadline: soon() })),
    );
    expect(counters().maxCommandsRunning).toBeLessThanOrEqual(2);
    expect(counters().maxShellsOpen).toBeLessThanOrEqual(2);
  });

  it('50 calls waiting for one shell: no MaxListenersExceededWarning', async () => {
    // Node reports the warning on the real process, which jest's sandbox does not show: a child runs it.
    const script = `
      const { createSimulator } = require('./src/simulator/simulator.ts');
      const { createHostExecutor } = require('./src/winrm/host-executor.ts');
      (async () => {
        const sim = await createSimulator({ hosts: 1, latencyScale: 0, controlPort: false, user: 'u', password: 'p' });
        const h = sim.hosts[0];
        const e = createHostExecutor({ name: h.name, address: '127.0.0.1', port: h.port, transport: 'http', auth: 'basic', username: 'u', password: 'p' }, { maxShells: 1 });
        await Promise.all(Array.from({ length: 50 }, (_, i) => e.run({ commandLine: 'echo ' + i }, { deadline: Date.now() + 20000 })));
        await e.close(); await sim.close();
        console.log('done');
      })();`;
    const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['-r', SWC_REGISTER, '-e', script], { cwd: REPO });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    expect(out.stdout).toContain('done');
    expect(out.stderr).not.toContain('MaxListenersExceededWarning');
  }, 60_000);
});
