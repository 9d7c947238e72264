// Every error a request or job can end with becomes an HvgError from the one registry, so the HTTP
// layer, the job record and the audit trail carry the same code. Anything unrecognised becomes
// HVG_ERR_INTERNAL with a fixed message: library and driver text never reaches a caller.
import { AuditQueryError, AuditUnavailableError } from '../audit/audit-errors';
import { AuthError, ForbiddenError } from '../auth/auth-errors';
import { errorCodes, type ErrorCode } from '../errors/error-codes';
import { HvgError, isHvgError } from '../errors/hvg-error';
import {
  HostBusyError,
  HostUnavailableError,
  QueueCancelledError,
  QueueTimeoutError,
  UnknownHostError,
} from '../fleet/fleet-errors';
import type { JobError } from './job-model';

const WINRM_CODES: Record<string, ErrorCode> = {
  HOST_UNREACHABLE: 'HVG_ERR_HOST_UNAVAILABLE',
  TLS_ERROR: 'HVG_ERR_HOST_AUTH',
  AUTHENTICATION_FAILED: 'HVG_ERR_HOST_AUTH',
  QUOTA_EXCEEDED: 'HVG_ERR_HOST_UNAVAILABLE',
  TIMEOUT: 'HVG_ERR_TIMEOUT',
  CANCELLED: 'HVG_ERR_CANCELLED',
  PROTOCOL_ERROR: 'HVG_ERR_HOST_PROTOCOL',
  WSMAN_FAULT: 'HVG_ERR_HOST_PROTOCOL',
  SCRIPT_FAILED: 'HVG_ERR_HOST_FAILURE',
};

function isRegistryCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(errorCodes, code);
}

export function toHvgError(err: unknown): HvgError {
  if (isHvgError(err)) return err;
  if (err instanceof AuthError) {
    return new HvgError('HVG_ERR_UNAUTHENTICATED', { detail: err.message, status: err.httpStatus });
  }
  if (err instanceof ForbiddenError) return new HvgError('HVG_ERR_FORBIDDEN', { detail: err.rule });
  if (err instanceof UnknownHostError)
    return new HvgError('HVG_ERR_UNKNOWN_HOST', { detail: `host ${err.host} is not in the inventory` });
  if (err instanceof HostBusyError) {
    return new HvgError('HVG_ERR_HOST_BUSY', {
      detail: err.message,
      retryAfterSec: err.retryAfterSec,
      extensions: { host: err.host, queueDepth: err.queueDepth },
    });
  }
  if (err instanceof HostUnavailableError) {
    return new HvgError('HVG_ERR_HOST_UNAVAILABLE', {
      detail: err.message,
      retryAfterSec: err.retryAfterSec,
      extensions: { host: err.host },
    });
  }
  if (err instanceof QueueTimeoutError) {
    return new HvgError('HVG_ERR_QUEUE_TIMEOUT', { detail: err.message, retryAfterSec: err.retryAfterSec });
  }
  if (err instanceof QueueCancelledError) return new HvgError('HVG_ERR_CANCELLED', { detail: err.message });
  if (err instanceof AuditUnavailableError) {
    return new HvgError('HVG_ERR_AUDIT_UNAVAILABLE', {
      detail: 'the audit trail could not durably record the operation, so it was not run',
      retryAfterSec: 5,
    });
  }
  if (err instanceof AuditQueryError) return new HvgError('HVG_ERR_AUDIT_BAD_QUERY', { detail: err.message });
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && Object.hasOwn(WINRM_CODES, code)) {
    const mapped = WINRM_CODES[code]!;
    return new HvgError(mapped, { detail: errorCodes[mapped].title, cause: err });
  }
  if (isRegistryCode(code) && code !== 'HVG_ERR_INTERNAL') {
    return new HvgError(code, { detail: errorCodes[code].title, cause: err });
  }
  return new HvgError('HVG_ERR_INTERNAL', { detail: 'an internal error occurred', cause: err });
}

export function toJobError(err: HvgError): JobError {
  const out: JobError = { code: err.code, status: err.status, title: err.title, detail: err.detail };
  if (err.hint !== undefined) out.hint = err.hint;
  if (Object.keys(err.extensions).length > 0) out.extensions = err.extensions;
  return out;
}

export function fromJobError(e: JobError, extra: Record<string, unknown> = {}): HvgError {
  const code: ErrorCode = isRegistryCode(e.code) ? e.code : 'HVG_ERR_INTERNAL';
  return new HvgError(code, {
    detail: e.detail,
    status: e.status,
    ...(e.hint !== undefined ? { hint: e.hint } : {}),
    extensions: { ...(e.extensions ?? {}), ...extra },
  });
}
