// Our replies against real Windows captures, message by message: the fixture requests are sent
// to the simulator (with the capture's ShellId/CommandId swapped for ours) and the reply's element
// structure is compared with the captured reply.
import { PowerShellRunner } from '../../../src/simulator/sim-process';
import { describeWithWinrmFixtures, readWinrmFixture } from '../../helpers/fixtures';
import { TestHost, deferred, scriptedRunner, startTestHost } from './host-harness';
import { RawReply, faultOf, parseXml } from './wsman-test-client';
import { renderShape, xmlShape } from './xml-structure';

const SOAP_TYPE = 'application/soap+xml;charset=UTF-8';

function expectSameShape(reply: RawReply, fixture: string, ignore: string[] = []): void {
  const ours = renderShape(xmlShape(reply.body, ignore));
  const theirs = renderShape(xmlShape(readWinrmFixture(fixture), ignore));
  expect(ours).toEqual(theirs);
  expect(reply.headers['content-type']).toBe(SOAP_TYPE);
  expect(reply.headers['server']).toBe('Microsoft-HTTPAPI/2.0');
}

function header(reply: RawReply): { relatesTo: string; messageId: string; to: string } {
  const h = (parseXml(reply.body)['Envelope'] as Record<string, Record<string, unknown>>)['Header'] as Record<
    string,
    unknown
  >;
  return { relatesTo: String(h['RelatesTo']), messageId: String(h['MessageID']), to: String(h['To']) };
}

function requestFrom(fixture: string, replace: Record<string, string> = {}): string {
  let xml = readWinrmFixture(fixture);
  for (const [from, to] of Object.entries(replace)) xml = xml.split(from).join(to);
  return xml;
}

function selectorShellId(reply: RawReply): string {
  const env = parseXml(reply.body)['Envelope'] as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  return String(env['Body']['ResourceCreated']['ReferenceParameters']['SelectorSet']['Selector'][0]['#text']);
}

function commandIdOf(reply: RawReply): string {
  const env = parseXml(reply.body)['Envelope'] as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  return String(env['Body']['CommandResponse']['CommandId']);
}

function streamBytes(reply: RawReply, name: string): Buffer {
  const env = parseXml(reply.body)['Envelope'] as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const streams = (env['Body']['ReceiveResponse']['Stream'] ?? []) as Array<Record<string, string>>;
  return Buffer.concat(
    streams
      .filter((s) => s['@_Name'] === name && typeof s['#text'] === 'string')
      .map((s) => Buffer.from(s['#text'] as string, 'base64')),
  );
}

const GUID = /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/;
const ANON = 'http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous';

let gate = deferred();
const runner: PowerShellRunner = async (script, ctx) => {
  if (script.startsWith('Write-Host hi; Start-Sleep 30')) {
    ctx.write('stdout', 'hi\n');
    await Promise.race([
      gate.promise,
      new Promise((_r, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('aborted')))),
    ]);
    ctx.write('stdout', 'hi again\n');
    return 0;
  }
  return scriptedRunner(script, ctx);
};

describeWithWinrmFixtures('WinRM replies match real Windows captures', () => {
  let t: TestHost;
  beforeAll(async () => {
    t = await startTestHost({ runPowerShell: runner });
  });
  afterAll(() => t.close());

  test('cmd.exe /c echo hi: Create, Command, Receive (Done), Signal, Delete (pypsrp_winrs_standard)', async () => {
    const create = await t.client.post(requestFrom('pypsrp_winrs_standard_01_request_Create.xml'));
    expect(create.status).toBe(200);
    expectSameShape(create, 'pypsrp_winrs_standard_01_response_CreateResponse.xml');
    const h = header(create);
    expect(h.relatesTo).toBe('uuid:FC40E3CD-53E9-4315-B486-6D538B25D1F5');
    expect(h.messageId).toMatch(/^uuid:[0-9A-F-]{36}$/);
    expect(h.to).toBe(ANON);
    const shellId = selectorShellId(create);
    expect(shellId).toMatch(GUID);
    expect(create.body).toContain('<rsp:IdleTimeOut>PT7200.000S</rsp:IdleTimeOut>');
    expect(create.body).toContain('<rsp:Owner>Administrator</rsp:Owner>');

    const ids = { '4283CBDC-3706-415B-88BD-B385F3E51A53': shellId };
    const command = await t.client.post(requestFrom('pypsrp_winrs_standard_02_request_Command.xml', ids));
    expect(command.status).toBe(200);
    expectSameShape(command, 'pypsrp_winrs_standard_02_response_CommandResponse.xml');
    expect(header(command).relatesTo).toBe('uuid:109656EA-8D8A-46E9-BE22-5AA2199C7A7A');
    const commandId = commandIdOf(command);
    expect(commandId).toMatch(GUID);

    const both = { ...ids, 'CF84C20A-0A35-43FA-AF78-0B4711DA5F30': commandId };
    const receive = await t.client.post(requestFrom('pypsrp_winrs_standard_03_request_Receive.xml', both));
    expect(receive.status).toBe(200);
    expectSameShape(receive, 'pypsrp_winrs_standard_03_response_ReceiveResponse.xml');
    expect(streamBytes(receive, 'stdout').toString()).toBe('hi\r\n');
    expect(receive.body).toContain('<rsp:ExitCode>0</rsp:ExitCode>');
    // "always split at least the first line": "hi" and "\r\n" travel in separate Stream elements.
    expect(receive.body).toContain(`>${Buffer.from('hi').toString('base64')}</rsp:Stream>`);

    const signal = await t.client.post(requestFrom('pypsrp_winrs_standard_04_request_Signal.xml', both));
    expect(signal.status).toBe(200);
    expectSameShape(signal, 'pypsrp_winrs_standard_04_response_SignalResponse.xml');
    expect(header(signal).relatesTo).toBe('uuid:39F0C1EF-D3FD-4905-A01D-5524640DDD61');

    const del = await t.client.post(requestFrom('pypsrp_winrs_standard_05_request_Delete.xml', ids));
    expect(del.status).toBe(200);
    expectSameShape(del, 'pypsrp_winrs_standard_05_response_DeleteResponse.xml');
    expect(t.host.counters().shellsOpen).toBe(0);
  });

  test('long-running command: Running, two w:TimedOut faults, Done (pypsrp_winrs_operation_timeout)', async () => {
    gate = deferred();
    const create = await t.client.post(requestFrom('pypsrp_winrs_operation_timeout_01_request_Create.xml'));
    expectSameShape(create, 'pypsrp_winrs_operation_timeout_01_response_CreateResponse.xml');
    const shellId = selectorShellId(create);
    const ids: Record<string, string> = { '849551A1-CEC2-4ABD-8B62-652AD1053E9B': shellId };
    const command = await t.client.post(
      requestFrom('pypsrp_winrs_operation_timeout_02_request_Command.xml', ids),
    );
    expectSameShape(command, 'pypsrp_winrs_operation_timeout_02_response_CommandResponse.xml');
    ids['D644AE56-61E5-4C1A-A135-E599B76B3035'] = commandIdOf(command);

    const running = await t.client.post(
      requestFrom('pypsrp_winrs_operation_timeout_03_request_Receive.xml', ids),
    );
    expect(running.status).toBe(200);
    expectSameShape(running, 'pypsrp_winrs_operation_timeout_03_response_ReceiveResponse.xml');
    expect(running.body).toContain('CommandState/Running');
    expect(streamBytes(running, 'stdout').toString()).toBe('hi\n');

    // Shortened from the capture's PT10S so the test stays fast; the reply shape is the same.
    const short = { ...ids, PT10S: 'PT0.2S' };
    for (const n of ['04', '05']) {
      const started = Date.now();
      const timedOut = await t.client.post(
        requestFrom(`pypsrp_winrs_operation_timeout_${n}_request_Receive.xml`, short),
      );
      expect(Date.now() - started).toBeGreaterThanOrEqual(150);
      expect(timedOut.status).toBe(500);
      expectSameShape(timedOut, `pypsrp_winrs_operation_timeout_${n}_response_fault.xml`);
      expectSameShape(timedOut, 'pywinrm_fault_timedout_2150858793.xml');
      expectSameShape(timedOut, 'masterzen_operationTimeoutResponse.xml');
      expect(faultOf(timedOut.body)).toMatchObject({
        code: '2150858793',
        subcode: 'w:TimedOut',
        value: 's:Receiver',
      });
    }
    gate.resolve();
    const done = await t.client.post(
      requestFrom('pypsrp_winrs_operation_timeout_06_request_Receive.xml', ids),
    );
    expectSameShape(done, 'pypsrp_winrs_operation_timeout_06_response_ReceiveResponse.xml');
    expect(streamBytes(done, 'stdout').toString()).toBe('hi again\n');
    expect(t.host.counters().timedOut).toBe(2);

    const signal = await t.client.post(
      requestFrom('pypsrp_winrs_operation_timeout_07_request_Signal.xml', ids),
    );
    expectSameShape(signal, 'pypsrp_winrs_operation_timeout_07_response_SignalResponse.xml');
    const del = await t.client.post(requestFrom('pypsrp_winrs_operation_timeout_08_request_Delete.xml', ids));
    expectSameShape(del, 'pypsrp_winrs_operation_timeout_08_response_DeleteResponse.xml');
  });

  test('stdout and stderr with exit code 1 (pypsrp_winrs_stderr_rc)', async () => {
    const create = await t.client.post(requestFrom('pypsrp_winrs_standard_01_request_Create.xml'));
    const shellId = selectorShellId(create);
    const command = await t.client.post(
      requestFrom('pypsrp_winrs_stderr_rc_02_request_Command.xml', {
        '44AF9A2C-624E-4975-AB20-CEB406E440B9': shellId,
      }),
    );
    const ids = {
      '4283CBDC-3706-415B-88BD-B385F3E51A53': shellId,
      'CF84C20A-0A35-43FA-AF78-0B4711DA5F30': commandIdOf(command),
    };
    const receive = await t.client.post(requestFrom('pypsrp_winrs_standard_03_request_Receive.xml', ids));
    expectSameShape(receive, 'pypsrp_winrs_stderr_rc_03_response_ReceiveResponse.xml');
    expect(streamBytes(receive, 'stdout').toString()).toBe('out \r\n');
    expect(streamBytes(receive, 'stderr').toString()).toBe('err \r\n');
    expect(receive.body).toContain('<rsp:ExitCode>1</rsp:ExitCode>');
    await t.client.deleteShell(shellId);
  });

  test('stdin over Send, with a client-chosen CommandId (pypsrp_winrs_send)', async () => {
    const shellId = await t.client.createShell();
    const commandId = 'B0973E54-434E-4D99-B4BE-ADE584CE3BFB';
    expect(await t.client.command(shellId, 'powershell.exe', ['-'], { commandId })).toBe(commandId);
    const send = await t.client.post(
      requestFrom('pypsrp_winrs_send_03_request_Send.xml', {
        '0D6FCA9D-2D40-44C3-B691-E665BE7AA687': shellId,
      }),
    );
    expect(send.status).toBe(200);
    expectSameShape(send, 'pypsrp_winrs_send_03_response_SendResponse.xml');
    await t.client.send(shellId, commandId, 'Write-Host "output 2"', true);
    const receive = await t.client.receive(shellId, commandId);
    expectSameShape(receive.reply, 'pypsrp_winrs_send_05_response_ReceiveResponse.xml');
    expect(streamBytes(receive.reply, 'stdout').toString()).toBe('output 1\noutput 2\n');
    await t.client.deleteShell(shellId);
  });

  test('code page 65001 returns UTF-8 bytes (pypsrp_winrs_unicode)', async () => {
    const create = await t.client.post(requestFrom('pypsrp_winrs_unicode_01_codepage65001_request.xml'));
    expectSameShape(create, 'pypsrp_winrs_unicode_01_codepage65001_response.xml', ['p:ActivityId']);
    const shellId = selectorShellId(create);
    const commandId = '1B922CC0-CE49-4A7E-AC46-B01C472B49A9';
    await t.client.command(shellId, 'echo', ['こんにちは'], { commandId });
    const receive = await t.client.post(
      requestFrom('pypsrp_winrs_unicode_03_utf8_request.xml', {
        '3C225977-02C6-42E5-9D66-5BBDAB4859B1': shellId,
      }),
    );
    expectSameShape(receive, 'pypsrp_winrs_unicode_03_utf8_response.xml', ['p:ActivityId']);
    expect(streamBytes(receive, 'stdout')).toEqual(Buffer.from('こんにちは\r\n', 'utf8'));
    await t.client.deleteShell(shellId);
  });

  test('unknown CommandId → InvalidSelectors 2150858843 (pypsrp_winrs_bad_cmd_id)', async () => {
    const shellId = await t.client.createShell();
    const reply = await t.client.post(
      requestFrom('pypsrp_winrs_standard_03_request_Receive.xml', {
        '4283CBDC-3706-415B-88BD-B385F3E51A53': shellId,
      }),
    );
    expect(reply.status).toBe(500);
    expectSameShape(reply, 'pypsrp_winrs_bad_cmd_id_03_response_fault.xml', ['p:ActivityId']);
    expect(faultOf(reply.body)).toMatchObject({
      code: '2150858843',
      subcode: 'w:InvalidSelectors',
      value: 's:Sender',
    });
    expect(header(reply).relatesTo).toBe('uuid:4CECD2A8-45E1-4835-B5D9-F4CEB4308A0F');
    await t.client.deleteShell(shellId);
  });

  test('Get on a shell that does not exist → nested Shell provider fault', async () => {
    const reply = await t.client.post(requestFrom('pypsrp_fault_shell_not_found_Get_request.xml'));
    expect(reply.status).toBe(500);
    expectSameShape(reply, 'pypsrp_fault_shell_not_found_Get_response.xml');
    expect(faultOf(reply.body)?.code).toBe('2150858843');
  });

  test('invalid OperationTimeout header → a:InvalidMessageInformationHeader 2150858767', async () => {
    const reply = await t.client.post(requestFrom('pypsrp_fault_invalid_timeout_header_Get_request.xml'));
    expect(reply.status).toBe(500);
    expectSameShape(reply, 'pypsrp_fault_invalid_timeout_header_Get_response.xml');
    expect(reply.body).toContain('invalid timeout field in the SOAP header: PT-1S.');
  });

  test('WINRS_SKIP_CMD_SHELL without a full path → InternalError 2147942402', async () => {
    const shellId = await t.client.createShell();
    const reply = await t.client.post(
      requestFrom('pypsrp_fault_skip_cmd_shell_file_not_found_Command_request.xml', {
        'F15E6BF4-8A64-41F7-BDDE-13F83D9D22DD': shellId,
      }),
    );
    expect(reply.status).toBe(500);
    expectSameShape(reply, 'pypsrp_fault_skip_cmd_shell_file_not_found_Command_response.xml');
    expectSameShape(reply, 'masterzen_executeCommandResponseWithError.xml');
    expect(faultOf(reply.body)?.code).toBe('2147942402');
    await t.client.deleteShell(shellId);
  });
});

describeWithWinrmFixtures('quota faults match real Windows captures', () => {
  test('the 31st shell is refused with MSFT_WmiError 2150859173 (winrb_wmi_error_v2)', async () => {
    const t = await startTestHost();
    try {
      for (let i = 0; i < 30; i++) await t.client.createShell();
      const reply = await t.client.post(requestFrom('pypsrp_winrs_standard_01_request_Create.xml'));
      expect(reply.status).toBe(500);
      // The WinRb stub has no a:RelatesTo; real replies (and ours) do.
      expectSameShape(reply, 'winrb_wmi_error_v2.xml', ['a:RelatesTo']);
      expect(faultOf(reply.body)).toMatchObject({
        code: '2150859173',
        subcode: 'w:QuotaLimit',
        value: 's:Sender',
      });
      expect(reply.body).toContain('maximum number of 30 concurrent shells');
      expect(reply.body).toContain('HRESULT 0x803381a5');
      expect(t.host.counters().shellsOpen).toBe(30);
    } finally {
      await t.close();
    }
  });

  test('MaxConcurrentOperationsPerUser → MSFT_WmiError 2150859174 (pywinrm sample)', async () => {
    const t = await startTestHost({ maxOperationsPerUser: 3 });
    try {
      const shellId = await t.client.createShell();
      await t.client.command(shellId, 'echo', ['1']);
      await t.client.command(shellId, 'echo', ['2']);
      const reply = await t.client.post(
        requestFrom('pypsrp_winrs_standard_02_request_Command.xml', {
          '4283CBDC-3706-415B-88BD-B385F3E51A53': shellId,
        }),
      );
      expect(reply.status).toBe(500);
      expectSameShape(reply, 'pywinrm_fault_wmierror_2150859174_sanitized.xml', ['a:RelatesTo']);
      expect(faultOf(reply.body)?.code).toBe('2150859174');
      expect(reply.body).toContain('maximum number of 3 concurrent operations');
    } finally {
      await t.close();
    }
  });
});
