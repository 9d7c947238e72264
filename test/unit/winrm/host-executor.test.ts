// The executor against an in-memory WinRS host (transport seam): shell reuse, receive loop,
// recycling, retries, deadline/abort cleanup, slot limits, script envelopes.
import { randomBytes } from 'node:crypto';
import {
  encodeCommandLine,
  decodePackedCommandLine,
  decodePowerShellCommand,
} from '../../../src/powershell/command-line';
import { renderScript } from '../../../src/powershell/script-render';
import { defineScriptTemplate } from '../../../src/powershell/script-template';
import { formatProgressLine, formatResultLine } from '../../../src/powershell/script-output';
import type { HostExecutor, HostExecutorOptions } from '../../../src/winrm/host-executor';
import { createHostExecutor } from '../../../src/winrm/host-executor';
import type { HostConnection } from '../../../src/winrm/host-connection';
import {
  CancelledError,
  InvalidCommandError,
  ProtocolError,
  QuotaExceededError,
  ScriptFailedError,
  TimeoutError,
  WsManFaultError,
} from '../../../src/winrm/winrm-errors';
import type { FakeHostOptions, Program } from './fake-wsman-host';
import { FakeWsManHost } from './fake-wsman-host';

const conn: HostConnection = {
  name: 'hv-test-01',
  address: 'fake-host',
  port: 5985,
  transport: 'http',
  auth: 'basic',
  username: 'svc-hvgate',
  password: 'canary-Pa55word!',
};

const executors: HostExecutor[] = [];
function setup(hostOpts: FakeHostOptions = {}, execOpts: HostExecutorOptions = {}) {
  const fake = new FakeWsManHost(hostOpts);
  const exec = createHostExecutor(conn, {
    transport: fake,
    quotaRetry: { attempts: 3, baseMs: 1, maxMs: 2 },
    ...execOpts,
  });
  executors.push(exec);
  return { fake, exec };
}
const soon = (ms = 5_000): number => Date.now() + ms;

afterEach(async () => {
  await Promise.all(executors.splice(0).map((e) => e.close()));
});

const template = defineScriptTemplate({ opId: 'test.echo', version: 1, core: '$result = $p.params' });
function scriptProgram(stdout: string, exitCode = 0): Program {
  return { final: { stdout }, exitCode };
}

describe('host executor: steady state', () => {
  it('creates a shell once, then runs each short command in 2 HTTP requests', async () => {
    const { fake, exec } = setup();
    const first = await exec.run({ commandLine: 'hostname' }, { deadline: soon() });
    expect(first).toMatchObject({ exitCode: 0, stdout: 'ran hostname\r\n', stderr: '', httpRequests: 3 });
    for (let i = 0; i < 5; i += 1) {
      const r = await exec.run({ commandLine: `echo ${i}` }, { deadline: soon() });
      expect(r.httpRequests).toBe(2);
      expect(r.stdout).toBe(`ran echo ${i}\r\n`);
    }
    expect(fake.actions()).toEqual(['Create', ...Array(6).fill(['Command', 'Receive']).flat()]);
    expect(exec.stats()).toMatchObject({
      openShells: 1,
      idleShells: 1,
      busySlots: 0,
      shellsCreated: 1,
      commands: 6,
      httpRequests: 13,
    });
    await exec.close();
    expect(fake.actions().at(-1)).toBe('Delete');
    expect(fake.shells.size).toBe(0);
    expect(fake.closed).toBe(true);
  });

  it('sends unique MessageIDs, the real endpoint as a:To, and UTF-8/no-profile shell options', async () => {
    const { fake, exec } = setup({ endpoint: 'https://hv-test-01.lab:5986/wsman' });
    await exec.run({ commandLine: 'hostname' }, { deadline: soon(60_000) });
    await exec.run({ commandLine: 'hostname' }, { deadline: soon(5_000) });
    await exec.close();
    const ids = fake.requests.map((r) => r.messageId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const r of fake.requests) expect(r.to).toBe('https://hv-test-01.lab:5986/wsman');
    expect(fake.requests[0]?.options).toEqual({ WINRS_NOPROFILE: 'TRUE', WINRS_CODEPAGE: '65001' });
    const receives = fake.requests.filter((r) => r.action === 'Receive');
    expect(receives[0]?.options).toEqual({ WSMAN_CMDSHELL_OPTION_KEEPALIVE: 'TRUE' });
    // The long poll is the configured 20 s, shortened so the host answers before a closer deadline.
    expect(receives[0]?.operationTimeout).toBe('PT20.000S');
    const shortened = Number(/^PT([\d.]+)S$/.exec(receives[1]?.operationTimeout ?? '')?.[1]);
    expect(shortened).toBeGreaterThan(3);
    expect(shortened).toBeLessThan(4.1);
  });

  it('with signalCompletedCommands, signals each finished command (3 requests per op)', async () => {
    const { fake, exec } = setup({}, { signalCompletedCommands: true });
    await exec.run({ commandLine: 'a' }, { deadline: soon() });
    const r = await exec.run({ commandLine: 'b' }, { deadline: soon() });
    expect(r.httpRequests).toBe(3);
    expect(fake.actions()).toEqual([
      'Create',
      'Command',
      'Receive',
      'Signal',
      'Command',
      'Receive',
      'Signal',
    ]);
  });
});

describe('host executor: receive loop and output', () => {
  it('asks again after TimedOut faults, joins split UTF-8 bytes, reports progress live', async () => {
    const bytes = Buffer.from('HVGATE-PROGRESS:10 仮想マシン\r\nこんにちは', 'utf8');
    const progress: Array<[number, string, number]> = [];
    const { fake, exec } = setup({
      programs: () => ({
        steps: [{ stdout: bytes.subarray(0, 22) }, 'timeout', { stdout: bytes.subarray(22) }, 'timeout'],
        final: { stdout: '\r\nHVGATE-PROGRESS:100 done\r\n', stderr: 'warn\r\n' },
        exitCode: 0,
      }),
    });
    const r = await exec.run(
      { commandLine: 'x' },
      { deadline: soon(), onProgress: (p) => progress.push([p.percent, p.text, fake.requests.length]) },
    );
    expect(r.stdout).toBe('HVGATE-PROGRESS:10 仮想マシン\r\nこんにちは\r\nHVGATE-PROGRESS:100 done\r\n');
    expect(r.stderr).toBe('warn\r\n');
    expect(fake.actions()).toEqual([
      'Create',
      'Command',
      'Receive',
      'Receive',
      'Receive',
      'Receive',
      'Receive',
    ]);
    expect(progress.map(([p, t]) => [p, t])).toEqual([
      [10, '仮想マシン'],
      [100, 'done'],
    ]);
    // The first progress line was reported before the command finished.
    expect(progress[0]?.[2]).toBeLessThan(fake.requests.length);
  });

  it('returns non-zero exit codes as data, not errors', async () => {
    const { exec } = setup({
      programs: () => ({ final: { stdout: 'out \r\n', stderr: 'err \r\n' }, exitCode: 3 }),
    });
    await expect(exec.run({ commandLine: 'exit /b 3' }, { deadline: soon() })).resolves.toMatchObject({
      exitCode: 3,
      stdout: 'out \r\n',
      stderr: 'err \r\n',
    });
  });

  it('refuses output beyond the cap and terminates the command', async () => {
    const { fake, exec } = setup(
      { programs: () => ({ steps: [{ stdout: 'x'.repeat(600) }, { stdout: 'y'.repeat(600) }], final: {} }) },
      { maxOutputBytes: 1000 },
    );
    await expect(exec.run({ commandLine: 'spam' }, { deadline: soon() })).rejects.toThrow(ProtocolError);
    expect(fake.actions().slice(-2)).toEqual(['Signal', 'Delete']);
    expect(fake.shells.size).toBe(0);
  });

  it('delivers stdin in Send chunks, End only on the last', async () => {
    const { fake, exec } = setup(
      {
        programs: () => ({
          readsStdin: true,
          fromStdin: (b) => ({ stdout: `got ${b.length} bytes: ${b.toString()}` }),
        }),
      },
      { sendChunkBytes: 4 },
    );
    const r = await exec.run({ commandLine: 'more', stdin: 'abcdefghij' }, { deadline: soon() });
    expect(r.stdout).toBe('got 10 bytes: abcdefghij');
    const sends = fake.requests.filter((q) => q.action === 'Send');
    expect(sends.map((s) => s.stdinEnd)).toEqual([false, false, true]);
    expect(fake.requests.find((q) => q.action === 'Command')?.options['WINRS_CONSOLEMODE_STDIN']).toBe(
      'FALSE',
    );
  });
});

describe('host executor: shell lifecycle', () => {
  it('recycles a shell after its command budget', async () => {
    const { fake, exec } = setup({}, { commandsPerShell: 2 });
    for (let i = 0; i < 5; i += 1) await exec.run({ commandLine: `c${i}` }, { deadline: soon() });
    await exec.close();
    expect(fake.actions().filter((a) => a === 'Create')).toHaveLength(3);
    expect(fake.actions().filter((a) => a === 'Delete')).toHaveLength(3);
    expect(exec.stats()).toMatchObject({ shellsCreated: 3, shellsDeleted: 3, openShells: 0 });
    expect(fake.shells.size).toBe(0);
  });

  it('reopens a shell the host forgot and retries the Command once (nothing had run)', async () => {
    const { fake, exec } = setup();
    await exec.run({ commandLine: 'warm' }, { deadline: soon() });
    fake.dropAllShells();
    const r = await exec.run({ commandLine: 'again' }, { deadline: soon() });
    expect(r.stdout).toBe('ran again\r\n');
    expect(fake.actions().slice(3)).toEqual(['Command', 'Create', 'Command', 'Receive']);
    expect(exec.stats().openShells).toBe(1);
  });

  it('does not retry when the shell is lost twice in a row', async () => {
    const { fake, exec } = setup();
    fake.inject('Command', 'invalidSelectors');
    fake.inject('Command', 'invalidSelectors');
    await expect(exec.run({ commandLine: 'x' }, { deadline: soon() })).rejects.toThrow(WsManFaultError);
    expect(fake.actions().filter((a) => a === 'Command')).toHaveLength(2);
  });

  it('reports a command that vanished mid-run as a protocol error and never re-runs it', async () => {
    const { fake, exec } = setup();
    fake.inject('Receive', 'invalidSelectors');
    const err = await exec.run({ commandLine: 'x' }, { deadline: soon() }).catch((e) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect(err.message).toMatch(/outcome is unknown/);
    expect(err.fault?.code).toBe(2150858843);
    expect(fake.actions()).toEqual(['Create', 'Command', 'Receive', 'Signal', 'Delete']);
    expect(fake.shells.size).toBe(0);
  });

  it('recovers from a shell quota fault on Create with jittered backoff', async () => {
    const { fake, exec } = setup();
    fake.inject('Create', 'quotaShells');
    fake.inject('Create', 'quotaShells');
    const r = await exec.run({ commandLine: 'x' }, { deadline: soon() });
    expect(r.exitCode).toBe(0);
    expect(fake.actions()).toEqual(['Create', 'Create', 'Create', 'Command', 'Receive']);
  });

  it('gives up with a retryable QuotaExceededError when the quota persists', async () => {
    const { fake, exec } = setup({}, { quotaRetry: { attempts: 0 } });
    fake.inject('Create', 'quotaShells');
    const err = await exec.run({ commandLine: 'x' }, { deadline: soon() }).catch((e) => e);
    expect(err).toBeInstanceOf(QuotaExceededError);
    expect(err.retryable).toBe(true);
    expect(err.fault?.wmiErrorCode).toBe(2150859173);
    expect(exec.stats()).toMatchObject({ busySlots: 0, openShells: 0 });
    await expect(exec.run({ commandLine: 'y' }, { deadline: soon() })).resolves.toMatchObject({
      exitCode: 0,
    });
  });

  it('on the operations quota, replaces the shell and retries the Command once', async () => {
    const { fake, exec } = setup({ maxOperationsPerShell: 2 }, { commandsPerShell: 100 });
    const perRun: number[] = [];
    for (let i = 0; i < 3; i += 1)
      perRun.push((await exec.run({ commandLine: `c${i}` }, { deadline: soon() })).httpRequests);
    // The third run pays for the failed Command, the Delete, the new shell and its own 2 requests.
    expect(perRun).toEqual([3, 2, 5]);
    expect(fake.actions()).toEqual([
      'Create',
      'Command',
      'Receive',
      'Command',
      'Receive',
      'Command',
      'Delete',
      'Create',
      'Command',
      'Receive',
    ]);
    expect(fake.shells.size).toBe(1);
  });

  it('deletes shells that stay idle', async () => {
    const { fake, exec } = setup({}, { shellIdleMs: 60 });
    await exec.run({ commandLine: 'x' }, { deadline: soon() });
    expect(fake.shells.size).toBe(1);
    await new Promise((r) => setTimeout(r, 250));
    expect(fake.shells.size).toBe(0);
    expect(exec.stats()).toMatchObject({ openShells: 0, idleShells: 0 });
  });

  it('discards the shell after garbage, HTTP 500 without fault, or a dropped connection', async () => {
    const { fake, exec } = setup();
    fake.inject('Receive', 'garbage200');
    await expect(exec.run({ commandLine: 'a' }, { deadline: soon() })).rejects.toThrow(ProtocolError);
    fake.inject('Command', 'http500Plain');
    await expect(exec.run({ commandLine: 'b' }, { deadline: soon() })).rejects.toThrow(
      /HTTP 500 without a readable SOAP fault/,
    );
    fake.inject('Receive', 'drop');
    await expect(exec.run({ commandLine: 'c' }, { deadline: soon() })).rejects.toMatchObject({
      code: 'HOST_UNREACHABLE',
    });
    fake.inject('Command', { status: 413 });
    await expect(exec.run({ commandLine: 'd' }, { deadline: soon() })).rejects.toMatchObject({
      httpStatus: 413,
    });
    expect(fake.shells.size).toBe(0);
    expect(exec.stats()).toMatchObject({ openShells: 0, busySlots: 0 });
    await expect(exec.run({ commandLine: 'e' }, { deadline: soon() })).resolves.toMatchObject({
      exitCode: 0,
    });
  });
});

describe('host executor: deadlines, aborts, slots', () => {
  it('deadline → Signal terminate + Delete, slot freed, nothing left on the host', async () => {
    const { fake, exec } = setup({
      programs: (line) => (line === 'hang' ? { hang: true } : { final: {}, exitCode: 0 }),
    });
    const started = Date.now();
    const err = await exec.run({ commandLine: 'hang' }, { deadline: Date.now() + 150 }).catch((e) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(fake.actions().slice(-2)).toEqual(['Signal', 'Delete']);
    expect(fake.runningCommands()).toBe(0);
    expect(fake.shells.size).toBe(0);
    expect(exec.stats()).toMatchObject({ openShells: 0, busySlots: 0 });
    await expect(exec.run({ commandLine: 'ok' }, { deadline: soon() })).resolves.toMatchObject({
      exitCode: 0,
    });
  });

  it('abort → CancelledError after terminate + delete', async () => {
    const { fake, exec } = setup({ programs: () => ({ hang: true }) });
    const ac = new AbortController();
    const p = exec.run({ commandLine: 'hang' }, { deadline: soon(), signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await expect(p).rejects.toThrow(CancelledError);
    expect(fake.actions().slice(-2)).toEqual(['Signal', 'Delete']);
    expect(fake.shells.size).toBe(0);
  });

  it('an already-aborted signal or past deadline sends nothing', async () => {
    const { fake, exec } = setup();
    const ac = new AbortController();
    ac.abort();
    await expect(exec.run({ commandLine: 'x' }, { deadline: soon(), signal: ac.signal })).rejects.toThrow(
      CancelledError,
    );
    await expect(exec.run({ commandLine: 'x' }, { deadline: Date.now() - 1 })).rejects.toThrow(TimeoutError);
    expect(fake.requests).toHaveLength(0);
  });

  it('close() aborts running commands and deletes every shell', async () => {
    const { fake, exec } = setup({
      programs: (l) => (l === 'hang' ? { hang: true } : { final: {}, exitCode: 0 }),
    });
    await exec.run({ commandLine: 'warm' }, { deadline: soon() });
    const running = exec.run({ commandLine: 'hang' }, { deadline: soon() });
    const idleToo = exec.run({ commandLine: 'hang' }, { deadline: soon() });
    await new Promise((r) => setTimeout(r, 40));
    await exec.close();
    await expect(running).rejects.toThrow(/closed/);
    await expect(idleToo).rejects.toThrow(CancelledError);
    expect(fake.shells.size).toBe(0);
    expect(fake.runningCommands()).toBe(0);
    await expect(exec.run({ commandLine: 'x' }, { deadline: soon() })).rejects.toThrow(/closed/);
  });

  it('never runs more commands at once than it has slots; waiters time out cleanly', async () => {
    const { fake, exec } = setup(
      { programs: () => ({ steps: ['timeout', 'timeout'], final: { stdout: 'ok' }, exitCode: 0 }) },
      { maxShells: 2 },
    );
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, () => exec.run({ commandLine: 'work' }, { deadline: soon() })),
    );
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    expect(fake.peakRunning).toBe(2);
    expect(exec.stats().shellsCreated).toBe(2);

    const slow = setup({ programs: () => ({ hang: true }) }, { maxShells: 1 });
    const holder = slow.exec.run({ commandLine: 'hang' }, { deadline: soon(400) });
    const waiter = await slow.exec
      .run({ commandLine: 'hang' }, { deadline: Date.now() + 80 })
      .catch((e) => e);
    expect(waiter).toBeInstanceOf(TimeoutError);
    expect(waiter.message).toMatch(/no free WinRM slot/);
    await expect(holder).rejects.toThrow(TimeoutError);
    expect(slow.exec.stats()).toMatchObject({ busySlots: 0, waiting: 0 });
  });

  it('rejects unusable commands before sending anything', async () => {
    const { fake, exec } = setup();
    const bad = [
      exec.run({ commandLine: '' }, { deadline: soon() }),
      exec.run({ commandLine: 'echo a\r\necho b' }, { deadline: soon() }),
      exec.run({ commandLine: 'x'.repeat(8192) }, { deadline: soon() }),
      exec.run({ commandLine: 'x' }, { deadline: Number.NaN }),
      exec.run({ commandLine: 'x', stdin: 5 as unknown as string }, { deadline: soon() }),
    ];
    for (const p of bad) await expect(p).rejects.toThrow(InvalidCommandError);
    expect(fake.requests).toHaveLength(0);
  });
});

describe('host executor: runScript', () => {
  it('returns the parsed success envelope and progress', async () => {
    const out = formatProgressLine(40, 'half') + formatResultLine({ ok: true, result: { name: '東京' } });
    const { fake, exec } = setup({ programs: () => scriptProgram(out) });
    const script = renderScript(template, { name: '東京' });
    const r = await exec.runScript(script, { deadline: soon() });
    expect(r.envelope).toEqual({ ok: true, result: { name: '東京' } });
    expect(r.progress).toEqual([{ percent: 40, text: 'half' }]);
    const cmd = fake.requests.find((q) => q.action === 'Command');
    expect(decodePowerShellCommand(cmd?.commandLine ?? '')).toBe(script.text);
  });

  it('throws ScriptFailedError carrying the envelope error (or returns it when allowed)', async () => {
    const error = {
      category: 'InvalidOperation',
      errorId: 'InvalidParameter,Microsoft.HyperV.PowerShell.Commands.SetVM',
      message: 'Generation 2 required',
    };
    const { exec } = setup({ programs: () => scriptProgram(formatResultLine({ ok: false, error }), 1) });
    const script = renderScript(template, {});
    const err = await exec.runScript(script, { deadline: soon() }).catch((e) => e);
    expect(err).toBeInstanceOf(ScriptFailedError);
    expect(err.scriptError).toEqual(error);
    expect(err.exitCode).toBe(1);
    expect(err.outcome).toMatchObject({ exitCode: 1, httpRequests: 3 });
    const allowed = await exec.runScript(script, { deadline: soon(), allowScriptError: true });
    expect(allowed.envelope).toEqual({ ok: false, error });
  });

  it('no result line → ProtocolError with the readable stderr as detail, not success', async () => {
    const clixml =
      '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04"><S S="Error">boom_x000D__x000A_</S></Objs>';
    const { exec } = setup({ programs: () => ({ final: { stdout: '', stderr: clixml }, exitCode: 0 }) });
    const err = await exec.runScript(renderScript(template, {}), { deadline: soon() }).catch((e) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect(err.detail).toBe('boom');
  });

  it('a success envelope with a non-zero exit code is a protocol error', async () => {
    const { exec } = setup({ programs: () => scriptProgram(formatResultLine({ ok: true, result: 1 }), 1) });
    await expect(exec.runScript(renderScript(template, {}), { deadline: soon() })).rejects.toThrow(
      /exited with 1/,
    );
  });

  it('sends a long script that compresses well packed in its Command; packScripts: false uses stdin', async () => {
    const long = defineScriptTemplate({
      opId: 'test.long',
      version: 1,
      core: `${'# Get-VM -Id $p.params.vmId | Set-VMMemory -Priority 50\n'.repeat(200)}$result = 1`,
    });
    const script = renderScript(long, { vmName: 'web-01' });
    for (const packScripts of [true, false]) {
      const { fake, exec } = setup(
        {
          programs: () => ({
            readsStdin: !packScripts,
            fromStdin: () => ({ stdout: formatResultLine({ ok: true, result: 1 }), exitCode: 0 }),
            final: { stdout: formatResultLine({ ok: true, result: 1 }) },
            exitCode: 0,
          }),
        },
        { packScripts },
      );
      const r = await exec.runScript(script, { deadline: soon() });
      expect(r.envelope).toEqual({ ok: true, result: 1 });
      const cmdLine = fake.requests.find((q) => q.action === 'Command')?.commandLine ?? '';
      const header = packScripts
        ? decodePackedCommandLine(cmdLine)?.split(' ')[0]
        : decodePowerShellCommand(cmdLine)?.split('\n')[0];
      expect([header, fake.requests.filter((q) => q.action === 'Send').length > 0]).toEqual(
        packScripts ? ['<#', false] : ['# hvgate-loader@1', true],
      );
      if (packScripts) expect(decodePackedCommandLine(cmdLine)).toMatch(/^<# hvgate-packed@2 #> /);
    }
  });

  it('sends a 64 KiB script through the loader and stdin', async () => {
    const big = defineScriptTemplate({
      opId: 'test.big',
      version: 1,
      // Random base64 text: deflate cannot pack it into one line, so it needs the loader.
      core: `# ${randomBytes(54 * 1024).toString('base64')}\n$result = 1`,
    });
    const script = renderScript(big, { vmName: '仮想' });
    expect(encodeCommandLine(script.text).mode).toBe('loader');
    let received = '';
    const { fake, exec } = setup(
      {
        programs: () => ({
          readsStdin: true,
          fromStdin: (b) => {
            received = Buffer.from(b.toString('ascii'), 'base64').toString('utf8');
            return { stdout: formatResultLine({ ok: true, result: 'loaded' }), exitCode: 0 };
          },
        }),
      },
      { sendChunkBytes: 32 * 1024 },
    );
    const r = await exec.runScript(script, { deadline: soon() });
    expect(r.envelope).toEqual({ ok: true, result: 'loaded' });
    expect(received).toBe(script.text);
    const sends = fake.requests.filter((q) => q.action === 'Send');
    expect(sends.length).toBeGreaterThan(1);
    expect(sends.at(-1)?.stdinEnd).toBe(true);
    const cmdLine = fake.requests.find((q) => q.action === 'Command')?.commandLine ?? '';
    expect(cmdLine.length).toBeLessThanOrEqual(8191);
    expect(decodePowerShellCommand(cmdLine)?.startsWith('# hvgate-loader@1\n')).toBe(true);
  });
});
