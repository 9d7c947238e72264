// Query strings of the list endpoints: only known keys, each given once, so a typo or a repeated
// parameter is refused instead of silently ignored.
import type { Request } from 'express';
import type { ErrorCode } from '../errors/error-codes';
import { HvgError } from '../errors/hvg-error';

/** Filters GET /v1/audit accepts; the OpenAPI document lists the same ones. */
export const AUDIT_FILTER_KEYS = [
  'from',
  'to',
  'actorSub',
  'host',
  'vmId',
  'operation',
  'stage',
  'status',
  'requestId',
  'jobId',
] as const;

export function stringQuery(
  req: Request,
  allowed: ReadonlySet<string>,
  code: ErrorCode,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.query as Record<string, unknown>)) {
    if (!allowed.has(k)) {
      throw new HvgError(code, {
        detail: `unknown query parameter ${/^[A-Za-z0-9_.-]{1,32}$/.test(k) ? k : '(invalid name)'}`,
      });
    }
    if (typeof v !== 'string')
      throw new HvgError(code, { detail: `query parameter ${k} must be given once` });
    out[k] = v;
  }
  return out;
}
