// The executor end to end over real HTTP against replayed captures from real Windows hosts.
import type { HostExecutor, HostExecutorOptions } from '../../../src/winrm/host-executor';
import { createHostExecutor } from '../../../src/winrm/host-executor';
import { ProtocolError, QuotaExceededError } from '../../../src/winrm/winrm-errors';
import { describeWithWinrmFixtures, readWinrmFixture } from '../../helpers/fixtures';
import type { ReplayServer, ReplayStep } from '../../helpers/winrm-replay-server';
import { headerElementNames, startReplayServer } from '../../helpers/winrm-replay-server';

const STD = 'pypsrp_winrs_standard_';
const OT = 'pypsrp_winrs_operation_timeout_';
const create = (fixture = `${STD}01_response_CreateResponse.xml`): ReplayStep => ({
  expect: 'Create',
  fixture,
});
const command = (fixture = `${STD}02_response_CommandResponse.xml`): ReplayStep => ({
  expect: 'Command',
  fixture,
});
const receive = (fixture: string, status = 200): ReplayStep => ({ expect: 'Receive', fixture, status });
const signal = (fixture = `${STD}04_response_SignalResponse.xml`): ReplayStep => ({
  expect: 'Signal',
  fixture,
});
const del = (fixture = `${STD}05_response_DeleteResponse.xml`): ReplayStep => ({ expect: 'Delete', fixture });

let server: ReplayServer | undefined;
let exec: HostExecutor | undefined;

async function replay(
  steps: ReplayStep[],
  opts: HostExecutorOptions = {},
): Promise<{ server: ReplayServer; exec: HostExecutor }> {
  server = await startReplayServer(steps);
  exec = createHostExecutor(
    {
      name: 'hv-replay',
      address: '127.0.0.1',
      port: server.port,
      transport: 'http',
      auth: 'basic',
      username: 'vagrant',
      password: 'vagrant',
    },
    { quotaRetry: { attempts: 0 }, ...opts },
  );
  return { server, exec };
}

afterEach(async () => {
  await exec?.close();
  await server?.close();
  exec = undefined;
  server = undefined;
});

const deadline = (): number => Date.now() + 10_000;

describeWithWinrmFixtures('executor on replayed real captures', () => {
  it('standard run: Create, Command, Receive(Done); Delete at close — 2 requests per command', async () => {
    const { server, exec } = await replay([
      create(),
      command(),
      receive(`${STD}03_response_ReceiveResponse.xml`),
      del(),
    ]);
    const r = await exec.run({ commandLine: 'cmd.exe /c echo hi' }, { deadline: deadline() });
    expect(r).toMatchObject({ exitCode: 0, stdout: 'hi\r\n', stderr: '', httpRequests: 3 });
    await exec.close();
    expect(server.mismatches).toEqual([]);
    expect(server.remaining()).toEqual([]);
    const [c, cmd, rcv, d] = server.requests;
    expect(cmd?.shellId).toBe('4283CBDC-3706-415B-88BD-B385F3E51A53');
    expect(rcv?.commandId).toBe('CF84C20A-0A35-43FA-AF78-0B4711DA5F30');
    expect(d?.shellId).toBe('4283CBDC-3706-415B-88BD-B385F3E51A53');
    expect(c?.authorization).toBe(`Basic ${Buffer.from('vagrant:vagrant').toString('base64')}`);
    for (const q of server.requests) expect(q.to).toBe(server.url);
    expect(new Set(server.requests.map((q) => q.messageId)).size).toBe(server.requests.length);
  });

  it('our requests carry every header element a real client (pypsrp) sends, bar its session id', async () => {
    const { server, exec } = await replay(
      [create(), command(), receive(`${STD}03_response_ReceiveResponse.xml`), signal(), del()],
      {
        signalCompletedCommands: true,
      },
    );
    await exec.run({ commandLine: 'cmd.exe /c echo hi' }, { deadline: deadline() });
    await exec.close();
    expect(server.remaining()).toEqual([]);
    const captured = [
      '01_request_Create',
      '02_request_Command',
      '03_request_Receive',
      '04_request_Signal',
      '05_request_Delete',
    ];
    captured.forEach((name, i) => {
      const theirs = headerElementNames(readWinrmFixture(`${STD}${name}.xml`)).filter(
        (n) => n !== 'SessionId',
      );
      const ours = server.requests[i]?.headerElements ?? [];
      expect(ours).toEqual(expect.arrayContaining(theirs));
    });
  });

  it('operation-timeout run: Running output, two TimedOut faults, then Done (whole capture incl. Signal)', async () => {
    const { server, exec } = await replay(
      [
        create(`${OT}01_response_CreateResponse.xml`),
        command(`${OT}02_response_CommandResponse.xml`),
        receive(`${OT}03_response_ReceiveResponse.xml`),
        receive(`${OT}04_response_fault.xml`, 500),
        receive(`${OT}05_response_fault.xml`, 500),
        receive(`${OT}06_response_ReceiveResponse.xml`),
        signal(`${OT}07_response_SignalResponse.xml`),
        del(`${OT}08_response_DeleteResponse.xml`),
      ],
      { signalCompletedCommands: true },
    );
    const r = await exec.run(
      { commandLine: 'powershell.exe Write-Host hi; Start-Sleep 30; Write-Host hi again' },
      { deadline: deadline() },
    );
    expect(r).toMatchObject({ exitCode: 0, stdout: 'hi\nhi again\n', httpRequests: 7 });
    await exec.close();
    expect(server.mismatches).toEqual([]);
    expect(server.remaining()).toEqual([]);
  });

  it('UTF-8 Japanese output from a 65001 shell', async () => {
    const { server, exec } = await replay([
      create('pypsrp_winrs_unicode_01_codepage65001_response.xml'),
      command(),
      receive('pypsrp_winrs_unicode_03_utf8_response.xml'),
      del(),
    ]);
    const r = await exec.run({ commandLine: 'cmd.exe /c echo こんにちは' }, { deadline: deadline() });
    expect(r.stdout).toBe('こんにちは\n');
    expect(server.requests[1]?.xml).toContain('<rsp:Command>cmd.exe /c echo こんにちは</rsp:Command>');
    expect(server.requests[0]?.xml).toContain('<w:Option Name="WINRS_CODEPAGE">65001</w:Option>');
  });

  it('stderr with exit code 1', async () => {
    await replay([
      create(),
      command(),
      receive('pypsrp_winrs_stderr_rc_03_response_ReceiveResponse.xml'),
      del(),
    ]);
    const r = await (exec as HostExecutor).run(
      { commandLine: 'cmd.exe /c echo out && echo err>&2 && exit 1' },
      { deadline: deadline() },
    );
    expect(r).toMatchObject({ exitCode: 1, stdout: 'out \r\n', stderr: 'err \r\n' });
  });

  it('an unknown command id: typed error, command terminated, shell deleted, nothing retried', async () => {
    const { server, exec } = await replay([
      create(),
      command(),
      receive('pypsrp_winrs_bad_cmd_id_03_response_fault.xml', 500),
      signal(),
      del(),
    ]);
    const err = await exec
      .run({ commandLine: 'cmd.exe /c echo hi' }, { deadline: deadline() })
      .catch((e) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect(err.fault).toMatchObject({
      code: 2150858843,
      subcode: 'InvalidSelectors',
      machine: '192.168.56.15',
    });
    expect(err.fault.message).toMatch(/command identifier that does not exist/);
    expect(server.remaining()).toEqual([]);
    expect(server.mismatches).toEqual([]);
    expect(exec.stats()).toMatchObject({ openShells: 0, busySlots: 0 });
  });

  it('the MaxShellsPerUser quota fault: QuotaExceededError (retryable), or recovery after backoff', async () => {
    const first = await replay([{ expect: 'Create', fixture: 'winrb_wmi_error_v2.xml', status: 500 }]);
    const err = await first.exec.run({ commandLine: 'hostname' }, { deadline: deadline() }).catch((e) => e);
    expect(err).toBeInstanceOf(QuotaExceededError);
    expect(err.retryable).toBe(true);
    expect(err.fault).toMatchObject({ wmiErrorCode: 2150859173, subcode: 'QuotaLimit' });
    expect(err.message).toMatch(/maximum number of 30 concurrent shells/);
    await first.exec.close();
    await first.server.close();

    const { server, exec } = await replay(
      [
        { expect: 'Create', fixture: 'winrb_wmi_error_v2.xml', status: 500 },
        create(),
        command(),
        receive(`${STD}03_response_ReceiveResponse.xml`),
        del(),
      ],
      { quotaRetry: { attempts: 2, baseMs: 5, maxMs: 20 } },
    );
    await expect(
      exec.run({ commandLine: 'cmd.exe /c echo hi' }, { deadline: deadline() }),
    ).resolves.toMatchObject({ stdout: 'hi\r\n' });
    await exec.close();
    expect(server.remaining()).toEqual([]);
  });

  it('the operations quota fault on Command: shell replaced, Command retried once', async () => {
    const { server, exec } = await replay([
      create(),
      { expect: 'Command', fixture: 'pywinrm_fault_wmierror_2150859174_sanitized.xml', status: 500 },
      del(),
      create(),
      command(),
      receive(`${STD}03_response_ReceiveResponse.xml`),
      del(),
    ]);
    await expect(
      exec.run({ commandLine: 'cmd.exe /c echo hi' }, { deadline: deadline() }),
    ).resolves.toMatchObject({ exitCode: 0 });
    await exec.close();
    expect(server.mismatches).toEqual([]);
    expect(server.remaining()).toEqual([]);
  });
});
