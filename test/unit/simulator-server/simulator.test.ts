import { encodeCommandLine, packedScript } from '../../../src/powershell/command-line';
import { Simulator, SimulatorOptionsError, UnknownSimHostError } from '../../../src/simulator/simulator';
import { startSimulator, useSimulator } from '../../helpers/sim-harness';
import { WsmanTestClient, httpRequest, wsmanEnvelope } from './wsman-test-client';

describe('createSimulator', () => {
  const sim = useSimulator({ hosts: 2, controlPort: 0 });

  test('one WinRM listener per fleet host, on loopback', () => {
    const s = sim();
    expect(s.hosts.map((h) => h.name)).toEqual([...s.fleet.hostNames]);
    expect(s.hosts).toHaveLength(2);
    for (const h of s.hosts) expect(h.url).toBe(`http://127.0.0.1:${h.port}/wsman`);
    expect(new Set(s.hosts.map((h) => h.port)).size).toBe(2);
  });

  test('each listener is its own host', async () => {
    for (const h of sim().hosts) {
      const r = await new WsmanTestClient(h.url).run('hostname');
      expect(r.stdout.toString()).toBe(`${h.name}\r\n`);
    }
  });

  test('host(name) exposes counters, faults and applied operations; unknown names throw', async () => {
    const s = sim();
    const name = s.hosts[0]!.name;
    const h = s.host(name);
    h.resetCounters();
    h.faults.inject({ kind: 'http500', count: 1 });
    expect((await httpRequest(h.url, wsmanEnvelope({ action: 'Create', body: '<rsp:Shell/>' }))).status).toBe(
      500,
    );
    const c = h.counters();
    expect(c.faultsInjected).toEqual({ http500: 1 });
    expect(Array.isArray(c.operationsApplied)).toBe(true);
    expect(() => s.host('hv-nowhere')).toThrow(UnknownSimHostError);
  });

  test('the control endpoint serves the same hosts', async () => {
    const s = sim();
    expect(s.controlUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const hosts = (await (await fetch(`${s.controlUrl}/hosts`)).json()) as Array<{ name: string }>;
    expect(hosts.map((h) => h.name)).toEqual(s.hosts.map((h) => h.name));
    const applied = await fetch(`${s.controlUrl}/hosts/${s.hosts[1]!.name}/applied`);
    expect(applied.status).toBe(200);
    expect(Array.isArray(await applied.json())).toBe(true);
  });
});

describe('createSimulator lifecycle', () => {
  test('refuses bad options with a typed error', async () => {
    await expect(startSimulator({ hosts: 0 })).rejects.toThrow(SimulatorOptionsError);
    await expect(startSimulator({ latencyScale: -1 })).rejects.toThrow(SimulatorOptionsError);
  });

  test('close() ends running programs and closes every socket', async () => {
    const s: Simulator = await startSimulator({ hosts: 1, latencyScale: 1 });
    const h = s.hosts[0]!;
    const client = new WsmanTestClient(h.url);
    const shellId = await client.createShell();
    const commandId = await client.command(shellId, 'ping', ['-n', '100', '127.0.0.1']);
    await client.receive(shellId, commandId);
    const pending = client.receive(shellId, commandId, 'PT30S').then(
      () => 'answered',
      () => 'cut',
    );
    await new Promise((r) => setTimeout(r, 50));
    expect(s.host(h.name).counters().commandsRunning).toBe(1);
    const started = Date.now();
    await s.close();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await pending).toBe('cut');
    expect(s.host(h.name).counters()).toMatchObject({ commandsRunning: 0, shellsOpen: 0 });
    await expect(httpRequest(h.url, '')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await s.close();
  });
});

describe('hvgate scripts over WinRM', () => {
  const sim = useSimulator({ hosts: 1 });

  function vmListScript(padBytes: number): string {
    const blob = Buffer.from(
      JSON.stringify({ params: {}, meta: { jobId: null, requestId: 'loader-1' } }),
    ).toString('base64');
    return [
      '# hvgate-op: vm.list@1',
      "$ErrorActionPreference = 'Stop'",
      "$ProgressPreference = 'SilentlyContinue'",
      `$p = ConvertFrom-Json ([Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('${blob}')))`,
      `# ${'x'.repeat(padBytes)}`,
    ].join('\r\n');
  }
  const encoded = (script: string): string => Buffer.from(script, 'utf16le').toString('base64');
  const resultOf = (stdout: Buffer): { ok: boolean; result: unknown } => {
    const line = stdout
      .toString()
      .split('\r\n')
      .find((l) => l.startsWith('HVGATE-RESULT:'));
    return JSON.parse(Buffer.from(line!.slice(14), 'base64').toString('utf8')) as {
      ok: boolean;
      result: unknown;
    };
  };

  test('a 64 KiB script is too long for -EncodedCommand but runs through the stdin loader', async () => {
    const h = sim().hosts[0]!;
    const client = new WsmanTestClient(h.url);
    const script = vmListScript(64 * 1024);

    const direct = await client.run(
      `powershell.exe -NoProfile -NonInteractive -EncodedCommand ${encoded(script)}`,
    );
    expect(direct.exitCode).toBe(1);
    expect(direct.stderr.toString()).toBe('The command line is too long.\r\n');

    const loader = [
      '# hvgate-loader@1',
      '$s = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String([Console]::In.ReadToEnd()))',
      '& ([ScriptBlock]::Create($s))',
    ].join('\r\n');
    const shellId = await client.createShell();
    const commandId = await client.command(
      shellId,
      `powershell.exe -NoProfile -NonInteractive -EncodedCommand ${encoded(loader)}`,
    );
    const payload = Buffer.from(script, 'utf8').toString('base64').replace(/.{76}/g, '$&\r\n');
    const chunk = 30_000;
    for (let off = 0; off < payload.length; off += chunk) {
      await client.send(shellId, commandId, payload.slice(off, off + chunk), off + chunk >= payload.length);
    }
    const r = await client.receiveUntilDone(shellId, commandId);
    await client.deleteShell(shellId);
    expect(r.stderr.toString()).toBe('');
    expect(r.exitCode).toBe(0);
    expect(resultOf(r.stdout)).toMatchObject({ ok: true, result: expect.any(Array) });
    const applied = sim().host(h.name).counters().operationsApplied;
    expect(
      applied.some((a) => a.operation === 'vm.list' && JSON.stringify(a.meta).includes('loader-1')),
    ).toBe(true);
  });

  test('the packed form: the unpacker inflates its literal and runs the script, in one Command', async () => {
    const h = sim().hosts[0]!;
    const client = new WsmanTestClient(h.url);
    const script = vmListScript(20 * 1024);
    const enc = encodeCommandLine(script);
    expect(enc.mode).toBe('packed');
    expect(enc.stdin).toBeUndefined();
    const before = sim().host(h.name).counters().requests['Send'] ?? 0;
    const r = await client.run(enc.commandLine);
    expect(r.stderr.toString()).toBe('');
    expect(r.exitCode).toBe(0);
    expect(resultOf(r.stdout)).toMatchObject({ ok: true, result: expect.any(Array) });
    expect(sim().host(h.name).counters().requests['Send'] ?? 0).toBe(before);
  });

  test.each([
    ['not base64', 'not*base64', /FromBase64String.*FormatException/s],
    [
      'base64 of bytes that are not DEFLATE',
      Buffer.from('plain text, not deflate').toString('base64'),
      /ReadToEnd.*InvalidDataException/s,
    ],
  ])('a packed literal that is %s fails like PowerShell would, exit 1', async (_what, literal, stderr) => {
    const h = sim().hosts[0]!;
    const client = new WsmanTestClient(h.url);
    const text = packedScript('AAAA').replace("('AAAA')", `('${literal}')`);
    const r = await client.run(`powershell.exe -NoProfile -NonInteractive -EncodedCommand ${encoded(text)}`);
    expect(r.exitCode).toBe(1);
    expect(r.stderr.toString()).toMatch(stderr);
  });
});
