// application/problem+json (RFC 9457) for every error, built only from the HVG_ERR_* registry and
// the HvgError's own fields: no stack traces, no library messages.
import type { Response } from 'express';
import type { HvgError } from '../errors/hvg-error';
import { toHvgError } from '../jobs/job-errors';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
export const PROBLEM_TYPE_PREFIX = 'urn:hvgate:problem:';

export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  hint?: string;
  requestId: string | null;
  instance?: string;
  [extension: string]: unknown;
}

const RESERVED = new Set(['type', 'title', 'status', 'detail', 'code', 'hint', 'requestId', 'instance']);

export function problemOf(err: HvgError, requestId: string | null, instance?: string): ProblemDocument {
  const doc: ProblemDocument = {
    type: `${PROBLEM_TYPE_PREFIX}${err.code}`,
    title: err.title,
    status: err.status,
    detail: err.detail,
    code: err.code,
    requestId,
  };
  if (err.hint !== undefined) doc.hint = err.hint;
  if (instance !== undefined) doc.instance = instance;
  for (const [k, v] of Object.entries(err.extensions)) if (!RESERVED.has(k)) doc[k] = v;
  return doc;
}

/** Renders any thrown value; unknown errors become HVG_ERR_INTERNAL. */
export function sendProblem(res: Response, err: unknown, requestId: string | null): void {
  const e = toHvgError(err);
  if (e.retryAfterSec !== undefined)
    res.setHeader('Retry-After', String(Math.max(1, Math.ceil(e.retryAfterSec))));
  if (e.status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="hvgate"');
  const instance = res.req?.path;
  res
    .status(e.status)
    .type(PROBLEM_CONTENT_TYPE)
    .send(JSON.stringify(problemOf(e, requestId, instance)));
}
