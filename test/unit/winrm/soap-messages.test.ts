import {
  ACTION,
  RESOURCE_URI_CMD,
  SIGNAL,
  buildCommand,
  buildCreateShell,
  buildDelete,
  buildReceive,
  buildSend,
  buildSignal,
  formatDuration,
} from '../../../src/winrm/soap-messages';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { ProtocolError } from '../../../src/winrm/winrm-errors';
import { parseEnvelope, parseReceiveResponse } from '../../../src/winrm/soap-parser';

const ctx = { endpoint: 'https://hv-tokyo-01.lab:5986/wsman', operationTimeoutMs: 20_000 };
const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@_', parseTagValue: false });

type Node = Record<string, unknown>;
function parse(xml: string): { header: Node; body: Node } {
  expect(XMLValidator.validate(xml)).toBe(true);
  const env = (parser.parse(xml) as Node)['s:Envelope'] as Node;
  return { header: env['s:Header'] as Node, body: env['s:Body'] as Node };
}
function options(header: Node): Record<string, string> {
  const set = header['w:OptionSet'] as Node | undefined;
  const list = set ? ([] as Node[]).concat(set['w:Option'] as Node) : [];
  return Object.fromEntries(list.map((o) => [o['@_Name'] as string, o['#text'] as string]));
}

describe('SOAP message builders', () => {
  it('gives every message a fresh upper-case MessageID and the real endpoint as a:To', () => {
    const msgs = [
      buildCreateShell(ctx),
      buildCommand(ctx, 'S1', 'hostname', { consoleModeStdin: true }),
      buildSend(ctx, 'S1', 'C1', Buffer.from('x'), true),
      buildReceive(ctx, 'S1', 'C1'),
      buildSignal(ctx, 'S1', 'C1', SIGNAL.terminate),
      buildDelete(ctx, 'S1'),
    ];
    const ids = new Set<string>();
    for (const m of msgs) {
      const { header } = parse(m.xml);
      expect(header['a:To']).toBe(ctx.endpoint);
      expect(header['a:MessageID']).toBe(m.messageId);
      expect(m.messageId).toMatch(/^uuid:[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/);
      expect((header['a:Action'] as Node)['#text']).toBe(ACTION[m.action]);
      expect((header['a:Action'] as Node)['@_s:mustUnderstand']).toBe('true');
      expect((header['w:ResourceURI'] as Node)['#text']).toBe(RESOURCE_URI_CMD);
      expect(header['w:OperationTimeout']).toBe('PT20.000S');
      ids.add(m.messageId);
      if (m.action !== 'create') {
        expect((header['w:SelectorSet'] as Node)['w:Selector']).toEqual({
          '#text': 'S1',
          '@_Name': 'ShellId',
        });
      }
    }
    expect(ids.size).toBe(msgs.length);
  });

  it('Create asks for UTF-8 output, no profile and an idle timeout', () => {
    const { header, body } = parse(buildCreateShell(ctx, { idleTimeoutMs: 300_000 }).xml);
    expect(options(header)).toEqual({ WINRS_NOPROFILE: 'TRUE', WINRS_CODEPAGE: '65001' });
    const shell = body['rsp:Shell'] as Node;
    expect(shell['rsp:InputStreams']).toBe('stdin');
    expect(shell['rsp:OutputStreams']).toBe('stdout stderr');
    expect(shell['rsp:IdleTimeOut']).toBe('PT300.000S');
  });

  it('Command carries the line verbatim (XML-escaped, apostrophes literal)', () => {
    const line = `cmd /c echo a&b <c> "d" 'e'`;
    const m = buildCommand(ctx, 'S1', line, { consoleModeStdin: false });
    expect(m.xml).toContain(`<rsp:Command>cmd /c echo a&amp;b &lt;c&gt; "d" 'e'</rsp:Command>`);
    const { header, body } = parse(m.xml);
    expect((body['rsp:CommandLine'] as Node)['rsp:Command'] as string).toBe(line);
    expect(options(header)).toEqual({ WINRS_CONSOLEMODE_STDIN: 'FALSE', WINRS_SKIP_CMD_SHELL: 'FALSE' });
  });

  it('Send encodes bytes as base64 and marks End only on the last chunk', () => {
    const last = parse(buildSend(ctx, 'S1', 'C1', Buffer.from('é\n', 'utf8'), true).xml).body;
    const stream = (last['rsp:Send'] as Node)['rsp:Stream'] as Node;
    expect(stream['#text']).toBe(Buffer.from('é\n', 'utf8').toString('base64'));
    expect(stream['@_End']).toBe('true');
    expect(stream['@_Name']).toBe('stdin');
    expect(stream['@_CommandId']).toBe('C1');
    const mid = parse(buildSend(ctx, 'S1', 'C1', Buffer.from('x'), false).xml).body;
    expect(((mid['rsp:Send'] as Node)['rsp:Stream'] as Node)['@_End']).toBeUndefined();
  });

  it('Receive asks for both streams with KEEPALIVE; Signal carries the code', () => {
    const r = parse(buildReceive({ ...ctx, operationTimeoutMs: 1500 }, 'S1', 'C1').xml);
    expect(options(r.header)).toEqual({ WSMAN_CMDSHELL_OPTION_KEEPALIVE: 'TRUE' });
    expect(r.header['w:OperationTimeout']).toBe('PT1.500S');
    expect(((r.body['rsp:Receive'] as Node)['rsp:DesiredStream'] as Node)['#text']).toBe('stdout stderr');
    const s = parse(buildSignal(ctx, 'S1', 'C1', SIGNAL.terminate).xml);
    expect((s.body['rsp:Signal'] as Node)['rsp:Code'] as string).toBe(SIGNAL.terminate);
  });

  it('formats durations the way WinRM does', () => {
    expect(formatDuration(60_000)).toBe('PT60.000S');
    expect(formatDuration(250)).toBe('PT0.250S');
    expect(formatDuration(-5)).toBe('PT0.000S');
  });
});

describe('parseEnvelope robustness', () => {
  it.each([
    ['garbage', 'this is not xml'],
    [
      'truncated XML',
      '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><rsp:ReceiveResponse>',
    ],
    ['no envelope', '<html><body>500</body></html>'],
    ['no body', '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header/></s:Envelope>'],
    ['a DOCTYPE', '<!DOCTYPE x [<!ENTITY a "aaaa">]><s:Envelope xmlns:s="x"><s:Body/></s:Envelope>'],
    ['empty', ''],
  ])('rejects %s with ProtocolError', (_l, xml) => {
    expect(() => parseEnvelope(xml)).toThrow(ProtocolError);
  });

  const receive = (inner: string): string =>
    `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell"><s:Body><rsp:ReceiveResponse>${inner}</rsp:ReceiveResponse></s:Body></s:Envelope>`;

  it.each([
    ['bad base64', '<rsp:Stream Name="stdout">@@@</rsp:Stream>'],
    ['unnamed stream', '<rsp:Stream>aGk=</rsp:Stream>'],
    ['unknown state', '<rsp:CommandState State="http://x/CommandState/Exploded"/>'],
    [
      'non-numeric exit code',
      '<rsp:CommandState State="http://x/CommandState/Done"><rsp:ExitCode>zero</rsp:ExitCode></rsp:CommandState>',
    ],
  ])('rejects a ReceiveResponse with %s', (_l, inner) => {
    expect(() => parseReceiveResponse(parseEnvelope(receive(inner)))).toThrow(ProtocolError);
  });

  it('reads fault text with its character references decoded (Windows writes CR as &#xD;)', () => {
    const xml =
      '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><s:Fault>' +
      '<s:Code><s:Value>s:Receiver</s:Value></s:Code>' +
      '<s:Reason><s:Text xml:lang="en-US">The WS-Management service cannot process the request.&#xD;&#xA; </s:Text></s:Reason>' +
      '<s:Detail><f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" Code="2150858793" Machine="hv01">' +
      '<f:Message>The request for the Windows Remote Shell with ShellId X failed&#xD;&#xA;because the shell was not found &amp; &#65; &#xD;</f:Message>' +
      '</f:WSManFault></s:Detail></s:Fault></s:Body></s:Envelope>';
    const fault = parseEnvelope(xml).fault!;
    expect(fault.reason).toBe('The WS-Management service cannot process the request.');
    expect(fault.message).toBe(
      'The request for the Windows Remote Shell with ShellId X failed\r\nbecause the shell was not found & A',
    );
  });

  it('accepts OMI-style prefixes and a missing CommandState', () => {
    const xml =
      '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" xmlns:wsmv="http://schemas.microsoft.com/wbem/wsman/1/windows/shell">' +
      '<SOAP-ENV:Body><wsmv:ReceiveResponse><wsmv:Stream Name="stdout">aGk=</wsmv:Stream></wsmv:ReceiveResponse></SOAP-ENV:Body></SOAP-ENV:Envelope>';
    const r = parseReceiveResponse(parseEnvelope(xml));
    expect(r.state).toBeUndefined();
    expect(r.streams[0]?.data.toString()).toBe('hi');
  });
});
