// The answer to a request Node's parser refused, for each error code Node gives, written only to a
// socket that has nothing of another answer on it yet.
import { PassThrough } from 'node:stream';
import { answerClientError } from '../../../src/http/client-error';

function fakeSocket(bytesWritten = 0) {
  const socket = Object.assign(new PassThrough(), { bytesWritten });
  const written: Buffer[] = [];
  socket.on('data', (c: Buffer) => written.push(c));
  return { socket, text: () => Buffer.concat(written).toString('utf8') };
}

function answer(code: string | undefined): { statusLine: string; body: Record<string, unknown> } {
  const { socket, text } = fakeSocket();
  answerClientError(Object.assign(new Error('parse'), code ? { code } : {}), socket);
  const [head, body] = text().split('\r\n\r\n') as [string, string];
  return { statusLine: head.split('\r\n')[0]!, body: JSON.parse(body) as Record<string, unknown> };
}

test.each([
  ['HPE_HEADER_OVERFLOW', 'HTTP/1.1 431 Request Header Fields Too Large', 'HVG_ERR_HEADERS_TOO_LARGE'],
  ['ERR_HTTP_REQUEST_TIMEOUT', 'HTTP/1.1 408 Request Timeout', 'HVG_ERR_REQUEST_TIMEOUT'],
  ['HPE_CHUNK_EXTENSIONS_OVERFLOW', 'HTTP/1.1 413 Payload Too Large', 'HVG_ERR_PAYLOAD_TOO_LARGE'],
  ['HPE_INVALID_METHOD', 'HTTP/1.1 400 Bad Request', 'HVG_ERR_BAD_REQUEST'],
  [undefined, 'HTTP/1.1 400 Bad Request', 'HVG_ERR_BAD_REQUEST'],
])('%s → %s', (code, statusLine, problem) => {
  const a = answer(code);
  expect(a.statusLine).toBe(statusLine);
  expect(a.body).toMatchObject({ code: problem, type: `urn:hvgate:problem:${problem}` });
  expect(a.body['requestId']).toEqual(expect.any(String));
});

test('a reset connection, or one already carrying an answer, is closed without writing', () => {
  for (const [code, bytesWritten] of [
    ['ECONNRESET', 0],
    ['HPE_INVALID_METHOD', 120],
  ] as const) {
    const { socket, text } = fakeSocket(bytesWritten);
    answerClientError(Object.assign(new Error('x'), { code }), socket);
    expect(socket.destroyed).toBe(true);
    expect(text()).toBe('');
  }
});
