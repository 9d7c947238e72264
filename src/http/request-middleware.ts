// Request plumbing every route shares: request id, strict JSON content type, body size and parse
// errors. Each failure is a registry error so the renderer answers with problem+json.
import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { HvgError } from '../errors/hvg-error';

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

export function requestIdOf(res: Response): string {
  return (res.locals['requestId'] as string | undefined) ?? 'unknown';
}

/** Takes X-Request-Id only when it is a short safe token (it ends up in logs and audit), else makes one. */
export function requestId(): RequestHandler {
  return (req, res, next) => {
    const offered = req.headers['x-request-id'];
    const id = typeof offered === 'string' && SAFE_REQUEST_ID.test(offered) ? offered : randomUUID();
    res.locals['requestId'] = id;
    res.setHeader('X-Request-Id', id);
    next();
  };
}

function hasBody(req: Request): boolean {
  const len = req.headers['content-length'];
  if (req.headers['transfer-encoding'] !== undefined) return true;
  return len !== undefined && len !== '0';
}

/** A request with a body must say `application/json` (optionally with charset=utf-8). */
export function strictJsonContentType(): RequestHandler {
  return (req, _res, next) => {
    if (!hasBody(req)) return next();
    const type = req.headers['content-type'];
    if (typeof type !== 'string') {
      return next(
        new HvgError('HVG_ERR_UNSUPPORTED_MEDIA_TYPE', {
          detail: 'a request body needs Content-Type: application/json',
        }),
      );
    }
    const [media, ...params] = type.split(';').map((s) => s.trim().toLowerCase());
    const charsetOk = params.every((p) => p === '' || p === 'charset=utf-8');
    if (media !== 'application/json' || !charsetOk) {
      return next(
        new HvgError('HVG_ERR_UNSUPPORTED_MEDIA_TYPE', {
          detail: 'request bodies must be application/json in UTF-8',
        }),
      );
    }
    next();
  };
}

export function jsonBody(limitBytes: number): RequestHandler {
  const parser = express.json({ limit: limitBytes, strict: true, inflate: false, type: 'application/json' });
  return (req, res, next) => {
    parser(req, res, (err?: unknown) => {
      if (!err) return next();
      next(bodyError(err, limitBytes));
    });
  };
}

function bodyError(err: unknown, limitBytes: number): HvgError {
  const type = (err as { type?: unknown }).type;
  switch (type) {
    case 'entity.too.large':
      return new HvgError('HVG_ERR_PAYLOAD_TOO_LARGE', {
        detail: `the body is larger than ${limitBytes} bytes`,
      });
    case 'entity.parse.failed':
      return new HvgError('HVG_ERR_BAD_REQUEST', {
        detail: 'the body is not valid JSON (or not an object or array)',
      });
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new HvgError('HVG_ERR_UNSUPPORTED_MEDIA_TYPE', {
        detail: 'request bodies must be UTF-8 and not compressed',
      });
    case 'request.aborted':
      return new HvgError('HVG_ERR_BAD_REQUEST', { detail: 'the request was aborted' });
    default:
      return new HvgError('HVG_ERR_BAD_REQUEST', { detail: 'the body could not be read' });
  }
}

/**
 * The router decodes a path parameter when it matches a route and throws a URIError (status 400)
 * when the percent-encoding is broken (`%ZZ`, a lone `%`, bytes that are not UTF-8). That is the
 * caller's mistake, so it becomes a 400 instead of an internal error.
 */
export function routingError(err: unknown): HvgError | null {
  if (!(err instanceof URIError)) return null;
  return new HvgError('HVG_ERR_BAD_REQUEST', {
    detail: 'a path segment is not valid percent-encoded UTF-8 (a "%" must start an escape such as %2F)',
  });
}

/** Wraps async handlers so rejections reach the error renderer. */
export function route(
  handler: (req: Request, res: Response) => Promise<void>,
): (req: Request, res: Response, next: NextFunction) => void {
  return (req, res, next) => {
    handler(req, res).catch(next);
  };
}
