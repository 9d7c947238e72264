// Every real WinRM response capture parses: ids, streams (joined as bytes), state, exit code,
// and fault code/subcode/text/machine/provider.
import fs from 'node:fs';
import {
  isInvalidSelectorsFault,
  isQuotaFault,
  isTimedOutFault,
  parseCommandResponse,
  parseCreateResponse,
  parseEnvelope,
  parseReceiveResponse,
} from '../../../src/winrm/soap-parser';
import type { ParsedEnvelope, ReceiveResult } from '../../../src/winrm/soap-parser';
import { WINRM_FIXTURE_DIR, describeWithWinrmFixtures, readWinrmFixture } from '../../helpers/fixtures';

function joined(r: ReceiveResult, name: string): string {
  return Buffer.concat(r.streams.filter((s) => s.name === name).map((s) => s.data)).toString('utf8');
}

function load(name: string): ParsedEnvelope {
  return parseEnvelope(readWinrmFixture(name));
}

interface ReceiveExpectation {
  stdout: string;
  stderr?: string;
  state: 'Done' | 'Running';
  exitCode?: number;
}

const SHELLS: Record<string, string> = {
  'masterzen_createShellResponse.xml': '67A74734-DD32-4F10-89DE-49A060483810',
  'pypsrp_winrs_standard_01_response_CreateResponse.xml': '4283CBDC-3706-415B-88BD-B385F3E51A53',
  'pypsrp_winrs_operation_timeout_01_response_CreateResponse.xml': '849551A1-CEC2-4ABD-8B62-652AD1053E9B',
  'pypsrp_winrs_unicode_01_codepage65001_response.xml': '3C225977-02C6-42E5-9D66-5BBDAB4859B1',
  'pywinrm_open_shell_response.xml': '11111111-1111-1111-1111-111111111113',
  'winrb_open_shell_v1.xml': 'uuid:739990FF-1492-4CDD-80BB-6E07ADB06D85',
  'winrb_open_shell_v2.xml': '62DE33F0-8674-43D9-B6A5-3298012CC4CD',
};

const COMMANDS: Record<string, string> = {
  'masterzen_executeCommandResponse.xml': '1A6DEE6B-EC68-4DD6-87E9-030C0048ECC4',
  'pypsrp_winrs_standard_02_response_CommandResponse.xml': 'CF84C20A-0A35-43FA-AF78-0B4711DA5F30',
  'pypsrp_winrs_operation_timeout_02_response_CommandResponse.xml': 'D644AE56-61E5-4C1A-A135-E599B76B3035',
};

const RECEIVES: Record<string, ReceiveExpectation> = {
  'masterzen_outputResponse.xml': {
    stdout: "That's all folks!!!",
    stderr: "This is stderr, I'm pretty sure!",
    state: 'Running',
  },
  'masterzen_doneCommandResponse.xml': { stdout: '', stderr: '', state: 'Done', exitCode: 123 },
  'pypsrp_winrs_standard_03_response_ReceiveResponse.xml': {
    stdout: 'hi\r\n',
    stderr: '',
    state: 'Done',
    exitCode: 0,
  },
  'pypsrp_winrs_operation_timeout_03_response_ReceiveResponse.xml': { stdout: 'hi\n', state: 'Running' },
  'pypsrp_winrs_operation_timeout_06_response_ReceiveResponse.xml': {
    stdout: 'hi again\n',
    state: 'Done',
    exitCode: 0,
  },
  'pypsrp_winrs_send_05_response_ReceiveResponse.xml': {
    stdout: 'output 1\noutput 2\n',
    state: 'Done',
    exitCode: 0,
  },
  'pypsrp_winrs_stderr_rc_03_response_ReceiveResponse.xml': {
    stdout: 'out \r\n',
    stderr: 'err \r\n',
    state: 'Done',
    exitCode: 1,
  },
  'pypsrp_winrs_unicode_03_utf8_response.xml': { stdout: 'こんにちは\n', state: 'Done', exitCode: 0 },
  'pywinrm_get_ps_output_response.xml': { stdout: '', state: 'Done', exitCode: 1 },
};

interface FaultExpectation {
  code: number;
  subcode: string;
  soapCode: string;
  reason: RegExp;
  message?: RegExp;
  machine?: string;
  provider?: string;
  timedOut?: boolean;
  invalidSelectors?: boolean;
  quota?: boolean;
}

const FAULTS: Record<string, FaultExpectation> = {
  'masterzen_executeCommandResponseWithError.xml': {
    code: 2147942606,
    subcode: 'InternalError',
    soapCode: 'Receiver',
    reason: /^The filename or extension is too long\.$/,
    message: /^The filename or extension is too long\.$/,
    machine: '52.12.219.136',
    provider: 'Shell cmd plugin',
  },
  'masterzen_operationTimeoutResponse.xml': {
    code: 2150858793,
    subcode: 'TimedOut',
    soapCode: 'Receiver',
    reason: /within the time specified in OperationTimeout\.$/,
    machine: '127.0.0.1',
    timedOut: true,
  },
  'pypsrp_winrs_operation_timeout_04_response_fault.xml': {
    code: 2150858793,
    subcode: 'TimedOut',
    soapCode: 'Receiver',
    reason: /OperationTimeout/,
    machine: '192.168.56.11',
    timedOut: true,
  },
  'pypsrp_winrs_operation_timeout_05_response_fault.xml': {
    code: 2150858793,
    subcode: 'TimedOut',
    soapCode: 'Receiver',
    reason: /OperationTimeout/,
    timedOut: true,
  },
  'pywinrm_fault_timedout_2150858793.xml': {
    code: 2150858793,
    subcode: 'TimedOut',
    soapCode: 'Receiver',
    reason: /OperationTimeout/,
    machine: 'server2022.domain.test',
    timedOut: true,
  },
  'pypsrp_winrs_bad_cmd_id_03_response_fault.xml': {
    code: 2150858843,
    subcode: 'InvalidSelectors',
    soapCode: 'Sender',
    reason: /invalid selectors/,
    message: /command identifier that does not exist/,
    machine: '192.168.56.15',
    invalidSelectors: true,
  },
  'pypsrp_fault_shell_not_found_Get_response.xml': {
    code: 2150858843,
    subcode: 'InvalidSelectors',
    soapCode: 'Sender',
    reason: /invalid selectors/,
    message: /invalid selectors for the resource\.$/,
    provider: 'Shell provider',
    invalidSelectors: true,
  },
  'pypsrp_fault_parameter_incorrect_Receive_response.xml': {
    code: 87,
    subcode: 'InvalidParameter',
    soapCode: 'Sender',
    reason: /^The parameter is incorrect\.$/,
    provider: 'Shell cmd plugin',
  },
  'pypsrp_fault_invalid_timeout_header_Get_response.xml': {
    code: 2150858767,
    subcode: 'InvalidMessageInformationHeader',
    soapCode: 'Sender',
    reason: /invalid SOAP headers/,
  },
  'pypsrp_fault_skip_cmd_shell_file_not_found_Command_response.xml': {
    code: 2147942402,
    subcode: 'InternalError',
    soapCode: 'Receiver',
    reason: /cannot find the file specified/,
  },
  'winrb_soap_fault_v2.xml': {
    code: 2150858778,
    subcode: 'CannotProcessFilter',
    soapCode: 'Sender',
    reason: /could not process the filter/,
    message: /^The specified class does not exist in the given namespace\.$/,
    machine: 'localhost',
    provider: 'WMI Provider',
  },
  'winrb_wmi_error_v2.xml': {
    code: 2150859173,
    subcode: 'QuotaLimit',
    soapCode: 'Sender',
    reason: /maximum number of concurrent shells/,
    message: /maximum number of 30 concurrent shells/,
    quota: true,
  },
  'pywinrm_fault_wmierror_2150859174_sanitized.xml': {
    code: 2150859174,
    subcode: 'InternalError',
    soapCode: 'Receiver',
    reason: /^Reason text\.$/,
    message: /^WMI Message\.$/,
    quota: true,
  },
};

const EMPTY_OK = new Set([
  'pypsrp_winrs_standard_04_response_SignalResponse.xml',
  'pypsrp_winrs_standard_05_response_DeleteResponse.xml',
  'pypsrp_winrs_operation_timeout_07_response_SignalResponse.xml',
  'pypsrp_winrs_operation_timeout_08_response_DeleteResponse.xml',
  'pypsrp_winrs_send_03_response_SendResponse.xml',
  'pywinrm_close_shell_response.xml',
  'pywinrm_run_cmd_send_input_response.xml',
]);

describeWithWinrmFixtures('WS-Management parser on real captures', () => {
  const responseFiles = fs
    .readdirSync(WINRM_FIXTURE_DIR)
    .filter((f) => f.endsWith('.xml') && !/_request(_|\.xml)/.test(f));

  it('knows every response capture in the folder', () => {
    const known = new Set([
      ...Object.keys(SHELLS),
      ...Object.keys(COMMANDS),
      ...Object.keys(RECEIVES),
      ...Object.keys(FAULTS),
      ...EMPTY_OK,
      'pywinrm_get_cmd_output_response.xml',
    ]);
    expect(responseFiles.filter((f) => !known.has(f))).toEqual([]);
    expect(responseFiles.length).toBeGreaterThanOrEqual(35);
  });

  it.each(Object.entries(SHELLS))('%s → shell id', (file, shellId) => {
    const env = load(file);
    expect(env.fault).toBeUndefined();
    expect(parseCreateResponse(env).shellId).toBe(shellId);
  });

  it.each(Object.entries(COMMANDS))('%s → command id', (file, commandId) => {
    expect(parseCommandResponse(load(file)).commandId).toBe(commandId);
  });

  it.each(Object.entries(RECEIVES))('%s → streams, state, exit code', (file, exp) => {
    const r = parseReceiveResponse(load(file));
    expect(joined(r, 'stdout')).toBe(exp.stdout);
    if (exp.stderr !== undefined) expect(joined(r, 'stderr')).toBe(exp.stderr);
    expect(r.state).toBe(exp.state);
    expect(r.exitCode).toBe(exp.exitCode);
    if (exp.state === 'Done' && r.streams.length > 0) {
      expect(
        r.streams
          .filter((s) => s.end)
          .map((s) => s.name)
          .sort(),
      ).toEqual(['stderr', 'stdout']);
    }
  });

  it('the ipconfig capture decodes to its text', () => {
    const r = parseReceiveResponse(load('pywinrm_get_cmd_output_response.xml'));
    const out = joined(r, 'stdout');
    expect(out.startsWith('\r\nWindows IP Configuration\r\n')).toBe(true);
    expect(out).toContain('Host Name . . . . . . . . . . . . : WINDOWS-HOST');
    expect(r.exitCode).toBe(0);
  });

  it.each(Object.entries(FAULTS))('%s → fault', (file, exp) => {
    const env = load(file);
    const f = env.fault;
    expect(f).toBeDefined();
    if (!f) return;
    expect(f.code).toBe(exp.code);
    expect(f.subcode).toBe(exp.subcode);
    expect(f.soapCode).toBe(exp.soapCode);
    expect(f.reason).toMatch(exp.reason);
    if (exp.message) expect(f.message).toMatch(exp.message);
    if (exp.machine) expect(f.machine).toBe(exp.machine);
    if (exp.provider) expect(f.provider).toBe(exp.provider);
    expect(isTimedOutFault(f)).toBe(exp.timedOut === true);
    expect(isInvalidSelectorsFault(f)).toBe(exp.invalidSelectors === true);
    expect(isQuotaFault(f)).toBe(exp.quota === true);
    if (exp.quota) expect(f.wmiErrorCode).toBe(exp.code);
    else expect(f.wsmanCode).toBe(exp.code);
  });

  it.each([...EMPTY_OK])('%s → a fault-free envelope', (file) => {
    const env = load(file);
    expect(env.fault).toBeUndefined();
    expect(env.relatesTo).toMatch(/^uuid:/);
  });

  it('reads the correlation header', () => {
    const env = load('pypsrp_winrs_standard_03_response_ReceiveResponse.xml');
    expect(env.relatesTo).toBe('uuid:4CECD2A8-45E1-4835-B5D9-F4CEB4308A0F');
    expect(env.messageId).toBe('uuid:7790BEEF-5704-4558-AB8D-D44833CF5805');
    expect(env.action).toBe('http://schemas.microsoft.com/wbem/wsman/1/windows/shell/ReceiveResponse');
  });
});
