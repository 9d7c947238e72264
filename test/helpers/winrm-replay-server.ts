// Replays captured WinRM responses over real HTTP (127.0.0.1, ephemeral port) so a client runs end
// to end on real bytes. Each step names the request Action it expects and the capture to answer
// with. The only change made to a capture is a:RelatesTo, rewritten to the request's MessageID
// as a live host would echo it; everything else is served byte for byte.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { WINRM_FIXTURE_DIR } from './fixtures';

export type ReplayAction = 'Create' | 'Command' | 'Send' | 'Receive' | 'Signal' | 'Delete';

export interface ReplayStep {
  expect: ReplayAction;
  /** File name under shared/fixtures/winrm. */
  fixture: string;
  /** HTTP status to answer with (captured faults came with 500). */
  status?: number;
}

export interface ReplayedRequest {
  action: string;
  messageId: string;
  to: string;
  shellId: string | undefined;
  commandId: string | undefined;
  authorization: string | undefined;
  headerElements: string[];
  xml: string;
  answeredWith: string | undefined;
}

export interface ReplayServer {
  url: string;
  port: number;
  requests: ReplayedRequest[];
  /** Steps not consumed yet. */
  remaining(): ReplayStep[];
  /** Requests that did not match the expected step (answered 400). */
  mismatches: string[];
  close(): Promise<void>;
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  removeNSPrefix: true,
  parseTagValue: false,
});

/** Local names of the SOAP header children of a request, sorted (for shape comparisons). */
export function headerElementNames(xml: string): string[] {
  const doc = parser.parse(xml) as Record<string, Record<string, Record<string, unknown>>>;
  return Object.keys(doc['Envelope']?.['Header'] ?? {})
    .filter((k) => !k.startsWith('@_'))
    .sort();
}

function describeRequest(xml: string): Omit<ReplayedRequest, 'authorization' | 'answeredWith' | 'xml'> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- free-form parsed XML in a test helper
  const doc = parser.parse(xml) as Record<string, any>;
  const header = doc['Envelope']['Header'];
  const body = doc['Envelope']['Body'] ?? {};
  const actionUri = String(header['Action']['#text'] ?? header['Action']);
  return {
    action: actionUri.slice(actionUri.lastIndexOf('/') + 1),
    messageId: String(header['MessageID']),
    to: String(header['To']),
    shellId: header['SelectorSet']?.['Selector']?.['#text'],
    commandId:
      body['Receive']?.['DesiredStream']?.['@_CommandId'] ??
      body['Signal']?.['@_CommandId'] ??
      body['Send']?.['Stream']?.['@_CommandId'],
    headerElements: headerElementNames(xml),
  };
}

export async function startReplayServer(steps: ReplayStep[]): Promise<ReplayServer> {
  const queue = [...steps];
  const requests: ReplayedRequest[] = [];
  const mismatches: string[] = [];
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const xml = Buffer.concat(chunks).toString('utf8');
      let info: ReturnType<typeof describeRequest>;
      try {
        info = describeRequest(xml);
      } catch (err) {
        mismatches.push(`unparseable request: ${(err as Error).message}`);
        res.writeHead(400).end();
        return;
      }
      const step = queue[0];
      const record: ReplayedRequest = {
        ...info,
        authorization: req.headers.authorization,
        xml,
        answeredWith: undefined,
      };
      requests.push(record);
      if (!step || step.expect !== info.action) {
        mismatches.push(`expected ${step?.expect ?? 'no request'}, got ${info.action}`);
        res.writeHead(400, { 'Content-Type': 'text/plain' }).end('unexpected request');
        return;
      }
      queue.shift();
      record.answeredWith = step.fixture;
      const captured = fs.readFileSync(path.join(WINRM_FIXTURE_DIR, step.fixture));
      const body = Buffer.from(
        captured.toString('utf8').replace(/(<a:RelatesTo>)[^<]*(<\/a:RelatesTo>)/, `$1${info.messageId}$2`),
        'utf8',
      );
      res.writeHead(step.status ?? 200, {
        'Content-Type': 'application/soap+xml;charset=UTF-8',
        'Content-Length': body.length,
        Server: 'Microsoft-HTTPAPI/2.0',
      });
      res.end(body);
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/wsman`,
    port,
    requests,
    mismatches,
    remaining: () => [...queue],
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
