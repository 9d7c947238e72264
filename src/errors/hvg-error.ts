// One error type that services throw when the outcome is meant for the caller: it carries a stable
// HVG_ERR_* code (registry in error-codes.ts), the HTTP status, the rule that failed and what to do
// next. The HTTP layer renders it as application/problem+json; services never import express.

import { ErrorCode, errorCodes } from './error-codes';

export interface HvgErrorInit {
  /** The rule that failed, in words a caller can act on, e.g. "network adapters can be hot-added only to Generation 2 VMs; web-01 is Generation 1". */
  detail: string;
  /** What to do next. */
  hint?: string;
  /** Overrides the code's default status where a rule needs another (rare). */
  status?: number;
  /** Extra members for the problem document (e.g. candidates of an ambiguous name). */
  extensions?: Record<string, unknown>;
  /** Seconds a client should wait before retrying (429/503). */
  retryAfterSec?: number;
  cause?: unknown;
}

export class HvgError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly title: string;
  readonly detail: string;
  readonly hint: string | undefined;
  readonly extensions: Record<string, unknown>;
  readonly retryAfterSec: number | undefined;

  constructor(code: ErrorCode, init: HvgErrorInit) {
    super(init.detail, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'HvgError';
    const entry = errorCodes[code];
    this.code = code;
    this.status = init.status ?? entry.status;
    this.title = entry.title;
    this.detail = init.detail;
    this.hint = init.hint ?? entry.hint;
    this.extensions = init.extensions ?? {};
    this.retryAfterSec = init.retryAfterSec;
  }
}

export function isHvgError(err: unknown): err is HvgError {
  return err instanceof HvgError;
}
