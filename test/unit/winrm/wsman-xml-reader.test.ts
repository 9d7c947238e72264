// The compact reader must agree with fast-xml-parser: the same tree for every document it
// accepts, and no document accepted that fast-xml-parser's validator or parser rejects.
import fs from 'node:fs';
import path from 'node:path';
import { REQUEST_XML, parseWsmanRequest, WsmanRequestError } from '../../../src/simulator/wsman-request';
import { RESPONSE_XML, parseEnvelope, parseReceiveResponse } from '../../../src/winrm/soap-parser';
import { decodeNumericReferences, type WsmanXmlReader } from '../../../src/winrm/wsman-xml-reader';
import {
  SIGNAL,
  buildCommand,
  buildCreateShell,
  buildDelete,
  buildReceive,
  buildSend,
  buildSignal,
} from '../../../src/winrm/soap-messages';
import * as reply from '../../../src/simulator/soap-reply';
import { internalErrorFault, quotaMaxShellsFault, timedOutFault } from '../../../src/simulator/wsman-faults';
import { ProtocolError } from '../../../src/winrm/winrm-errors';
import { WINRM_FIXTURE_DIR, describeWithWinrmFixtures } from '../../helpers/fixtures';

const READERS: Array<[string, WsmanXmlReader]> = [
  ['request shape', REQUEST_XML],
  ['response shape', RESPONSE_XML],
];

/** The compact reader's answer must be fast-xml-parser's (or a hand-over). */
function expectAgreement(reader: WsmanXmlReader, xml: string): 'compact' | 'handed-over' {
  const compact = reader.readCompact(xml);
  if (compact === undefined) return 'handed-over';
  expect(reader.validate(xml)).toBe(true);
  expect(compact).toStrictEqual(reader.parseFull(xml));
  return 'compact';
}

const ctx = { endpoint: 'http://hv-01.lab:5985/wsman', operationTimeoutMs: 20_000 };
const script = Buffer.from(Array.from({ length: 7600 }, (_, i) => 32 + ((i * 7919) % 95)));
const shell = {
  shellId: 'A1B2',
  address: 'http://hv-01/wsman',
  owner: "lab\\o'brien & co",
  clientIp: '10.0.0.9',
  idleTimeOut: 'PT7200.000S',
  inputStreams: 'stdin',
  outputStreams: 'stdout stderr',
  shellRunTime: 'P0DT0H0M1S',
  shellInactivity: 'P0DT0H0M0S',
};

// What the gateway sends and the simulator answers during a scripted change.
const OWN_MESSAGES: Record<string, string> = {
  create: buildCreateShell(ctx, { idleTimeoutMs: 300_000 }).xml,
  command: buildCommand(ctx, 'S1', `cmd /c echo a&b <c> "d" 'e'`, { consoleModeStdin: false }).xml,
  send: buildSend(ctx, 'S1', 'C1', script, true).xml,
  receive: buildReceive(ctx, 'S1', 'C1').xml,
  signal: buildSignal(ctx, 'S1', 'C1', SIGNAL.terminate).xml,
  delete: buildDelete(ctx, 'S1').xml,
  createResponse: reply.createResponse('uuid:1', shell),
  commandResponse: reply.commandResponse('uuid:1', 'C1'),
  sendResponse: reply.sendResponse('uuid:1'),
  receiveRunning: reply.receiveResponse('uuid:1', 'C1', [], { done: false }),
  receiveDone: reply.receiveResponse('uuid:1', 'C1', [{ name: 'stdout', data: Buffer.from('{"ok":true}') }], {
    done: true,
    exitCode: 0,
    streams: ['stdout', 'stderr'],
  }),
  deleteResponse: reply.deleteResponse('uuid:1'),
  timedOut: timedOutFault('uuid:1', 'hv-01').xml,
  internalError: internalErrorFault('uuid:1', 'hv-01', 5, 'Access is denied. <"x" & \'y\'>').xml,
  quota: quotaMaxShellsFault('uuid:1', 30).xml,
};

const env = (body: string, header = '<s:Header/>'): string =>
  `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">${header}<s:Body>${body}</s:Body></s:Envelope>`;

// Inside the subset: the compact reader must answer, and answer like fast-xml-parser.
const COMPACT_CASES: Record<string, string> = {
  'pretty-printed': `<?xml version="1.0" encoding="utf-8" ?>\n<s:Envelope xmlns:s="u">\n  <s:Header>\n    <a:Action>  x  </a:Action>\n  </s:Header>\n  <s:Body/>\n</s:Envelope>\n`,
  'CRLF line ends in text and attributes': `<s:Envelope xmlns:s="u">\r\n<s:Body a="1\r\n2">l1\r\nl2\rl3</s:Body></s:Envelope>`,
  'predefined and numeric entities': env(
    '<rsp:Command>a&amp;b &lt;c&gt; &quot;d&quot; &apos;e&apos; &#39;f&#x27; &#x1F600;</rsp:Command>',
  ),
  'entities in attribute values': env(`<w:Option Name="a&amp;b" Other='&quot;q&quot; &#65;'>v</w:Option>`),
  'whitespace around values and attributes': env('<x:A n=" v ">  t  </x:A><x:B>   </x:B>'),
  'mixed content': env('<x:A>before<x:B>in</x:B>after<x:C/>end</x:A>'),
  'repeated and array elements': env(
    '<rsp:CommandLine><rsp:Arguments>1</rsp:Arguments><rsp:Arguments>2</rsp:Arguments><x:Y>a</x:Y><x:Y>b</x:Y><x:Y>c</x:Y></rsp:CommandLine>',
  ),
  'single array element': env(
    '<rsp:ReceiveResponse><rsp:Stream Name="stdout">aGk=</rsp:Stream></rsp:ReceiveResponse>',
  ),
  'empty elements with and without attributes': env('<x:A></x:A><x:B/><x:C k="v"/><x:D k="v"></x:D>'),
  'xmlns-only attributes, default namespace, xml:lang': env(
    '<A xmlns="u" xmlns:q="v"><B xml:lang="en-US">t</B></A>',
  ),
  'unprefixed names, dots, dashes, digits': env('<a.b-c_1 x-y="1">t</a.b-c_1>'),
  'whitespace inside tags': env('<x:A\n  k = "v"\tj=\'w\'  >t</x:A  >'),
  'unicode text': env('<x:A>こんにちは é ü</x:A>'),
  'text with > and ;': env('<x:A>a > b; c</x:A>'),
  'root only': '<Envelope/>',
};

// Outside the subset: the compact reader must hand over (fast-xml-parser decides).
const HANDED_OVER: Record<string, string> = {
  comment: env('<!-- c --><x:A/>'),
  CDATA: env('<x:A><![CDATA[a < b]]></x:A>'),
  'processing instruction': env('<?pi x?><x:A/>'),
  DOCTYPE: '<!DOCTYPE x [<!ENTITY a "aaaa">]><s:Envelope xmlns:s="x">&a;</s:Envelope>',
  'HTML entity': env('<x:A>a&nbsp;b</x:A>'),
  'undeclared entity': env('<x:A>&a;</x:A>'),
  'bare ampersand': env('<x:A>a & b</x:A>'),
  'NUL character reference': env('<x:A>&#0;</x:A>'),
  'control character reference': env('<x:A>&#1;</x:A>'),
  'upper-case hex reference': env('<x:A>&#X41;</x:A>'),
  '< in an attribute value': env('<x:A k="a<b"/>'),
  'XML 1.1': '<?xml version="1.1"?><Envelope/>',
  'declaration without version': '<?xml encoding="utf-8"?><Envelope/>',
  'BOM before the root': '\ufeff<Envelope/>',
  'reserved element name': env('<x:constructor>1</x:constructor>'),
  '__proto__ element': env('<__proto__><polluted>1</polluted></__proto__>'),
  'toString element': env('<toString>1</toString>'),
  'two prefixes on one attribute name': env('<x:A p:k="1" q:k="2"/>'),
  'two colons in a name': env('<a:b:c/>'),
  'deep nesting': env(`${'<x:N>'.repeat(120)}${'</x:N>'.repeat(120)}`),
  'hundreds of attributes on one tag': env(
    `<x:A ${Array.from({ length: 300 }, (_, i) => `a${i}="v"`).join(' ')}/>`,
  ),
  ']]> in text': env('<x:A>a]]>b</x:A>'),
  // Malformed, but fast-xml-parser's validator misses it after a self-closing root; it keeps its say.
  'two roots after a self-closing root': '<A/><B/>',
  'text after a self-closing root': '<A/>junk',
};

// Malformed: fast-xml-parser rejects, so the compact reader must not accept.
const MALFORMED: Record<string, string> = {
  empty: '',
  garbage: 'this is not xml',
  'unclosed element': '<s:Envelope xmlns:s="x"><s:Header>',
  'mismatched end tag': env('<x:A></x:B>'),
  'end tag with a different prefix': env('<x:A></y:A>'),
  'two roots': '<A></A><B></B>',
  'text after the root': '<A></A>junk',
  'text before the root': 'junk<A/>',
  'duplicate attribute': env('<x:A k="1" k="2"/>'),
  'attribute without value': env('<x:A k/>'),
  'attributes not separated': env('<x:A k="1"j="2"/>'),
  'unquoted attribute': env('<x:A k=1/>'),
  'unterminated attribute': env('<x:A k="1/>'),
  'space after <': env('< x:A/>'),
  'stray end tag': '</A>',
  'truncated start tag': '<s:Envelope xmlns:s="x"',
  'end tag with attributes': env('<x:A></x:A k="1">'),
  'non-XML white space inside a tag': env('<x:A\ufeffk="1"/>'),
};

describe('compact WS-Man XML reader', () => {
  it.each(Object.entries(OWN_MESSAGES))('reads our own %s message like fast-xml-parser', (_name, xml) => {
    for (const [, reader] of READERS) expect(expectAgreement(reader, xml)).toBe('compact');
  });

  describe.each(READERS)('%s', (_label, reader) => {
    it.each(Object.entries(COMPACT_CASES))('%s → same tree as fast-xml-parser', (_name, xml) => {
      expect(expectAgreement(reader, xml)).toBe('compact');
    });

    it.each(Object.entries(HANDED_OVER))('%s → handed over', (_name, xml) => {
      expect(reader.readCompact(xml)).toBeUndefined();
    });

    it.each(Object.entries(MALFORMED))('%s → not accepted (fast-xml-parser rejects it too)', (_name, xml) => {
      expect(reader.readCompact(xml)).toBeUndefined();
      expect(reader.validate(xml)).not.toBe(true);
    });

    it('never accepts a mutated envelope that fast-xml-parser would read differently', () => {
      // Deterministic single- and double-edit mutations around markup-significant characters.
      let seed = 0x2545f491;
      const rand = (n: number): number => {
        seed ^= seed << 13;
        seed ^= seed >>> 17;
        seed ^= seed << 5;
        return (seed >>> 0) % n;
      };
      const alphabet = [
        '<',
        '>',
        '/',
        '&',
        ';',
        '"',
        "'",
        '=',
        ':',
        ' ',
        '\n',
        '!',
        '?',
        '#',
        'x',
        'a',
        ']',
        '\ufeff',
      ];
      const bases = [OWN_MESSAGES.command, OWN_MESSAGES.receiveDone, OWN_MESSAGES.internalError].map(
        (x) => x as string,
      );
      const counts = { compact: 0, 'handed-over': 0 };
      for (let i = 0; i < 1500; i++) {
        let xml = bases[i % bases.length] as string;
        for (let edits = 1 + rand(2); edits > 0; edits--) {
          const at = rand(xml.length);
          const op = rand(3);
          const ch = alphabet[rand(alphabet.length)] as string;
          if (op === 0) xml = xml.slice(0, at) + xml.slice(at + 1);
          else if (op === 1) xml = xml.slice(0, at) + ch + xml.slice(at);
          else xml = xml.slice(0, at) + ch + xml.slice(at + 1);
        }
        counts[expectAgreement(reader, xml)] += 1;
      }
      // Both branches must be exercised for the property to mean anything.
      expect(counts.compact).toBeGreaterThan(100);
      expect(counts['handed-over']).toBeGreaterThan(100);
    });
  });

  it('leaves numeric references as written on the response side, as fast-xml-parser does', () => {
    const xml = env('<x:A>&#39;</x:A>');
    expect(childText(RESPONSE_XML.readCompact(xml))).toBe('&#39;');
    expect(childText(REQUEST_XML.readCompact(xml))).toBe("'");
  });

  it('keeps handed-over documents working end to end', () => {
    const request = buildCommand(ctx, 'S1', 'ignored', { consoleModeStdin: false }).xml.replace(
      '<rsp:Command>ignored</rsp:Command>',
      '<rsp:Command><![CDATA[cmd /c echo <a>&b]]></rsp:Command><!-- masterzen style -->',
    );
    const parsed = parseWsmanRequest(request);
    expect(parsed.action).toBe('Command');
    expect((parsed.body['CommandLine'] as Record<string, unknown>)['Command']).toBe('cmd /c echo <a>&b');

    const response = OWN_MESSAGES.receiveDone?.replace('<s:Body>', '<s:Body><!-- c -->') as string;
    expect(RESPONSE_XML.readCompact(response)).toBeUndefined();
    const r = parseReceiveResponse(parseEnvelope(response));
    expect(r.exitCode).toBe(0);
    expect(Buffer.concat(r.streams.map((s) => s.data)).toString()).toBe('{"ok":true}');
  });

  it('still refuses DTDs and malformed documents at the parser entry points', () => {
    for (const xml of [HANDED_OVER.DOCTYPE, ...Object.values(MALFORMED)] as string[]) {
      expect(() => parseWsmanRequest(xml)).toThrow(WsmanRequestError);
      expect(() => parseEnvelope(xml)).toThrow(ProtocolError);
    }
  });
});

function childText(doc: Record<string, unknown> | undefined): unknown {
  const body = ((doc?.['Envelope'] as Record<string, unknown>)['Body'] as Record<string, unknown>) ?? {};
  return body['A'];
}

describeWithWinrmFixtures('compact WS-Man XML reader on real captures', () => {
  const files = fs.readdirSync(WINRM_FIXTURE_DIR).filter((f) => f.endsWith('.xml'));

  it('covers the capture folder', () => {
    expect(files.length).toBeGreaterThanOrEqual(60);
  });

  describe.each(READERS)('%s', (_label, reader) => {
    it.each(files)('%s → same tree as fast-xml-parser', (file) => {
      const xml = fs.readFileSync(path.join(WINRM_FIXTURE_DIR, file), 'utf8');
      expect(expectAgreement(reader, xml)).toBe('compact');
    });
  });
});

describe('decodeNumericReferences', () => {
  it('decodes decimal and hex references to XML characters and leaves the rest as written', () => {
    expect(decodeNumericReferences('a&#xD;&#xA;b&#65;&#x1F600;')).toBe('a\r\nbA😀');
    expect(decodeNumericReferences('&#x1; &#0; &#xFFFE; &amp; &#;')).toBe('&#x1; &#0; &#xFFFE; &amp; &#;');
    expect(decodeNumericReferences('no references')).toBe('no references');
  });
});
