import { PowerShellRunner } from '../../../src/simulator/sim-process';
import { CTRL_C_EXIT } from '../../../src/simulator/winrs-shells';
import { TestHost, abandonablePost, scriptedRunner, startTestHost, waitFor } from './host-harness';
import { faultOf, wsmanEnvelope } from './wsman-test-client';

const BIG = Buffer.from(Array.from({ length: 300_000 }, (_, i) => 0x41 + (i % 26)));

const runner: PowerShellRunner = async (script, ctx) => {
  if (script === 'big') {
    ctx.write('stdout', BIG);
    return 0;
  }
  if (script === 'forever') {
    await new Promise((_r, reject) =>
      ctx.signal.addEventListener('abort', () => reject(new Error('aborted'))),
    );
  }
  return scriptedRunner(script, ctx);
};

describe('shells and commands', () => {
  let t: TestHost;
  beforeAll(async () => {
    t = await startTestHost({ runPowerShell: runner, latencyScale: 1 });
  });
  afterAll(() => t.close());
  beforeEach(() => t.host.resetCounters());

  test('Command joins rsp:Command and rsp:Arguments with spaces', async () => {
    const r = await t.client.run('echo', ['a', 'b  c']);
    expect(r.stdout.toString()).toBe('a b  c\r\n');
  });

  test('exit codes and stderr come back in the Done reply', async () => {
    expect((await t.client.run('exit /b 3')).exitCode).toBe(3);
    const r = await t.client.run('nosuchthing');
    expect(r.exitCode).toBe(1);
    expect(r.stderr.toString()).toContain("'nosuchthing' is not recognized");
  });

  test('code page 437 (the default) turns characters outside it into ?', async () => {
    const r = await t.client.run('echo こんにちは é', [], { codePage: '437' });
    expect(r.stdout).toEqual(Buffer.from([0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x20, 0x82, 0x0d, 0x0a]));
    const utf8 = await t.client.run('echo こんにちは é', [], { codePage: '65001' });
    expect(utf8.stdout.toString('utf8')).toBe('こんにちは é\r\n');
  });

  test('Receive long-polls: Running replies while output trickles in, then Done', async () => {
    const fast = await startTestHost({ latencyScale: 0.05 });
    try {
      const shellId = await fast.client.createShell();
      const commandId = await fast.client.command(shellId, 'ping', ['-n', '4', '127.0.0.1']);
      const states: string[] = [];
      let stdout = '';
      for (;;) {
        const r = await fast.client.receive(shellId, commandId, 'PT5S');
        expect(r.reply.status).toBe(200);
        states.push(r.state ?? '');
        stdout += Buffer.concat(r.pieces.map((p) => p.data)).toString();
        if (r.state === 'Done') break;
      }
      expect(states.length).toBeGreaterThanOrEqual(2);
      expect(states.slice(0, -1).every((s) => s === 'Running')).toBe(true);
      expect(stdout.match(/Reply from/g)).toHaveLength(4);
      await fast.client.deleteShell(shellId);
    } finally {
      await fast.close();
    }
  });

  test('large output arrives in ≤1 KiB Stream pieces over several replies that fit MaxEnvelopeSize', async () => {
    const shellId = await t.client.createShell();
    const commandId = await t.client.command(shellId, 'powershell', ['-Command', 'big']);
    const received: Buffer[] = [];
    let replies = 0;
    for (;;) {
      const r = await t.client.receive(shellId, commandId);
      replies++;
      expect(Buffer.byteLength(r.reply.body)).toBeLessThanOrEqual(153_600);
      for (const p of r.pieces) {
        expect(p.data.length).toBeLessThanOrEqual(1024);
        received.push(p.data);
      }
      if (r.state === 'Done') break;
      expect(r.state).toBe('Running');
    }
    expect(replies).toBeGreaterThanOrEqual(3);
    expect(Buffer.concat(received).equals(BIG)).toBe(true);
    await t.client.deleteShell(shellId);
  });

  test('Signal terminate kills a running program; the command is gone afterwards', async () => {
    const shellId = await t.client.createShell();
    const commandId = await t.client.command(shellId, 'ping', ['-n', '30', '127.0.0.1']);
    expect(t.host.counters().commandsRunning).toBe(1);
    const signal = await t.client.signal(shellId, commandId, 'terminate');
    expect(signal.status).toBe(200);
    expect(t.host.counters().commandsRunning).toBe(0);
    const after = await t.client.receive(shellId, commandId);
    expect(after.fault).toMatchObject({ code: '2150858843', subcode: 'w:InvalidSelectors' });
    await t.client.deleteShell(shellId);
  });

  test('ctrl_c ends a program under a pending Receive, which gets Done with the Ctrl+C exit code', async () => {
    const shellId = await t.client.createShell();
    const commandId = await t.client.command(shellId, 'powershell', ['-Command', 'forever']);
    const pending = t.client.receive(shellId, commandId, 'PT10S');
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    await t.client.signal(shellId, commandId, 'ctrl_c');
    const r = await pending;
    expect(Date.now() - started).toBeLessThan(2000);
    expect(r.state).toBe('Done');
    expect(r.exitCode).toBe(CTRL_C_EXIT);
    expect(t.host.counters().commandsRunning).toBe(0);
    await t.client.deleteShell(shellId);
  });

  test('Signal on a finished command still answers SignalResponse', async () => {
    const shellId = await t.client.createShell();
    const commandId = await t.client.command(shellId, 'echo', ['x']);
    await t.client.receiveUntilDone(shellId, commandId);
    expect((await t.client.signal(shellId, commandId, 'ctrl_c')).status).toBe(200);
    await t.client.deleteShell(shellId);
  });

  test('Delete kills the shell’s running programs; later requests on it fault', async () => {
    const shellId = await t.client.createShell();
    const commandId = await t.client.command(shellId, 'ping', ['-n', '30', '127.0.0.1']);
    await t.client.command(shellId, 'powershell', ['-Command', 'forever']);
    expect(t.host.counters().commandsRunning).toBe(2);
    expect((await t.client.deleteShell(shellId)).status).toBe(200);
    expect(t.host.counters()).toMatchObject({ commandsRunning: 0, shellsOpen: 0, maxCommandsRunning: 2 });
    expect((await t.client.receive(shellId, commandId)).fault?.code).toBe('2150858843');
    expect(faultOf((await t.client.deleteShell(shellId)).body)?.code).toBe('2150858843');
  });

  test('counts the maximum number of commands running at once across shells', async () => {
    const shells = await Promise.all([1, 2, 3].map(() => t.client.createShell()));
    await Promise.all(shells.map((s) => t.client.command(s, 'ping', ['-n', '30', '127.0.0.1'])));
    expect(t.host.counters()).toMatchObject({ commandsRunning: 3, maxCommandsRunning: 3, shellsOpen: 3 });
    await Promise.all(shells.map((s) => t.client.deleteShell(s)));
    expect(t.host.counters()).toMatchObject({ commandsRunning: 0, maxCommandsRunning: 3, shellsOpen: 0 });
  });

  test('a client-chosen ShellId on rsp:Shell is honoured', async () => {
    const id = 'AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE';
    expect(await t.client.createShell({ shellId: id.toLowerCase() })).toBe(id);
    await t.client.deleteShell(id);
  });

  test('a Receive the client abandons does not disturb the next one', async () => {
    const shellId = await t.client.createShell();
    const commandId = await t.client.command(shellId, 'powershell', ['-Command', 'forever']);
    const body = wsmanEnvelope({
      action: 'Receive',
      shellId,
      operationTimeout: 'PT30S',
      body: `<rsp:Receive><rsp:DesiredStream CommandId="${commandId}">stdout stderr</rsp:DesiredStream></rsp:Receive>`,
    });
    const { req, gaveUp } = abandonablePost(t.host.url);
    req.end(body, () => setTimeout(() => req.destroy(), 50));
    await gaveUp;
    const r = await t.client.receive(shellId, commandId, 'PT0.1S');
    expect(r.fault?.code).toBe('2150858793');
    await t.client.deleteShell(shellId);
  });

  test('deleting shells gives operations back to the per-user quota', async () => {
    const q = await startTestHost({ maxOperationsPerUser: 2 });
    try {
      for (let i = 0; i < 3; i++) {
        const r = await q.client.run('echo', ['again']);
        expect(r.exitCode).toBe(0);
      }
    } finally {
      await q.close();
    }
  });
});

describe('idle shells', () => {
  test('expire after the configured idle timeout', async () => {
    const t = await startTestHost({ idleTimeoutMs: 100 });
    try {
      const shellId = await t.client.createShell();
      expect(t.host.counters().shellsOpen).toBe(1);
      await waitFor(() => t.host.counters().shellsOpen === 0, 2000);
      const r = await t.client.post(wsmanEnvelope({ action: 'Delete', shellId }));
      expect(faultOf(r.body)?.code).toBe('2150858843');
    } finally {
      await t.close();
    }
  });

  test('expire after the IdleTimeOut the client asked for, which Create echoes', async () => {
    const t = await startTestHost();
    try {
      const reply = await t.client.post(
        wsmanEnvelope({
          action: 'Create',
          body: '<rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams><rsp:IdleTimeOut>PT0.15S</rsp:IdleTimeOut></rsp:Shell>',
        }),
      );
      expect(reply.body).toContain('<rsp:IdleTimeOut>PT0.150S</rsp:IdleTimeOut>');
      await waitFor(() => t.host.counters().shellsOpen === 0, 2000);
    } finally {
      await t.close();
    }
  });

  test('activity keeps a shell alive, and expiry kills its running program', async () => {
    const t = await startTestHost({ idleTimeoutMs: 300, latencyScale: 1 });
    try {
      const shellId = await t.client.createShell();
      const commandId = await t.client.command(shellId, 'ping', ['-n', '30', '127.0.0.1']);
      for (let i = 0; i < 4; i++) {
        await new Promise((r) => setTimeout(r, 150));
        expect((await t.client.receive(shellId, commandId, 'PT0.05S')).reply.status).not.toBe(0);
      }
      expect(t.host.counters()).toMatchObject({ shellsOpen: 1, commandsRunning: 1 });
      await waitFor(() => t.host.counters().shellsOpen === 0, 3000);
      expect(t.host.counters().commandsRunning).toBe(0);
    } finally {
      await t.close();
    }
  });
});
