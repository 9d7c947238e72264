// Requests Node's HTTP parser refuses never reach express: headers over 16 KiB, a request not
// received within headersTimeout, bytes that are not HTTP/1.1. Node would answer those with a bare
// status line; callers get the same problem+json, request id and headers as every other refusal.
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { HvgError } from '../errors/hvg-error';
import { PROBLEM_CONTENT_TYPE, problemOf } from './problem-renderer';

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  431: 'Request Header Fields Too Large',
};

function clientErrorOf(code: string | undefined): HvgError {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return new HvgError('HVG_ERR_HEADERS_TOO_LARGE', {
        detail: 'the request headers are larger than 16 KiB together',
      });
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return new HvgError('HVG_ERR_PAYLOAD_TOO_LARGE', {
        detail: 'the chunk extensions of the request body are too large',
      });
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new HvgError('HVG_ERR_REQUEST_TIMEOUT', {
        detail: 'the request was not received completely in time',
      });
    default:
      return new HvgError('HVG_ERR_BAD_REQUEST', {
        detail: 'the request is not valid HTTP/1.1',
      });
  }
}

/** `clientError` listener of the gateway's server. */
export function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
  // A reset connection, or one that already carries part of an answer, has nobody left to tell.
  if (err.code === 'ECONNRESET' || !socket.writable || (socket as Socket).bytesWritten > 0) {
    socket.destroy();
    return;
  }
  const problem = clientErrorOf(err.code);
  const requestId = randomUUID();
  const body = JSON.stringify(problemOf(problem, requestId));
  socket.end(
    [
      `HTTP/1.1 ${problem.status} ${REASONS[problem.status] ?? 'Bad Request'}`,
      `Content-Type: ${PROBLEM_CONTENT_TYPE}; charset=utf-8`,
      `Content-Length: ${Buffer.byteLength(body)}`,
      `X-Request-Id: ${requestId}`,
      'X-Content-Type-Options: nosniff',
      'Cache-Control: no-store',
      'Connection: close',
      '',
      body,
    ].join('\r\n'),
  );
}
