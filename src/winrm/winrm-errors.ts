// Typed failures of the WinRM layer. Callers (jobs, circuit breaker, HTTP mapping) branch on
// `code` and `retryable`; messages name the host but never carry credentials.

import type { WsManFault } from './soap-parser';

export type WinRmErrorCode =
  | 'HOST_UNREACHABLE'
  | 'TLS_ERROR'
  | 'AUTHENTICATION_FAILED'
  | 'QUOTA_EXCEEDED'
  | 'TIMEOUT'
  | 'CANCELLED'
  | 'PROTOCOL_ERROR'
  | 'WSMAN_FAULT'
  | 'SCRIPT_FAILED'
  | 'INVALID_HOST_CONFIG'
  | 'INVALID_COMMAND';

export interface WinRmErrorOptions {
  host?: string;
  cause?: unknown;
  fault?: WsManFault;
  httpStatus?: number;
  /** Diagnostic text from the host (e.g. stderr excerpt); kept out of `message`. */
  detail?: string;
}

export abstract class WinRmError extends Error {
  abstract readonly code: WinRmErrorCode;
  /** True when the same request may succeed if repeated later (nothing ran on the host). */
  readonly retryable: boolean = false;
  readonly host: string | undefined;
  readonly fault: WsManFault | undefined;
  readonly httpStatus: number | undefined;
  readonly detail: string | undefined;

  constructor(message: string, options: WinRmErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.host = options.host;
    this.fault = options.fault;
    this.httpStatus = options.httpStatus;
    this.detail = options.detail;
  }
}

/** TCP connect failed, DNS failed, or the connection dropped mid-request. */
export class HostUnreachableError extends WinRmError {
  readonly code = 'HOST_UNREACHABLE' as const;
  override readonly retryable: boolean;
  constructor(message: string, options: WinRmErrorOptions & { retryable?: boolean } = {}) {
    super(message, options);
    // A refused connect never reached the host; a drop after sending may have run something.
    this.retryable = options.retryable ?? false;
  }
}

/** Certificate not trusted, name mismatch, handshake failure. Never retried automatically. */
export class TlsError extends WinRmError {
  readonly code = 'TLS_ERROR' as const;
}

export class AuthenticationFailedError extends WinRmError {
  readonly code = 'AUTHENTICATION_FAILED' as const;
}

/** MaxShellsPerUser / MaxConcurrentOperationsPerUser and friends: back off and try again. */
export class QuotaExceededError extends WinRmError {
  readonly code = 'QUOTA_EXCEEDED' as const;
  override readonly retryable = true;
}

/** The caller's deadline passed; the command was terminated and its shell deleted. */
export class TimeoutError extends WinRmError {
  readonly code = 'TIMEOUT' as const;
}

/** The caller's AbortSignal fired; the command was terminated and its shell deleted. */
export class CancelledError extends WinRmError {
  readonly code = 'CANCELLED' as const;
}

/** The peer said something that is not valid WS-Management or not a valid hvgate envelope. */
export class ProtocolError extends WinRmError {
  readonly code = 'PROTOCOL_ERROR' as const;
}

/** A well-formed WS-Management fault that has no more specific mapping. */
export class WsManFaultError extends WinRmError {
  readonly code = 'WSMAN_FAULT' as const;
}

export class InvalidHostConfigError extends WinRmError {
  readonly code = 'INVALID_HOST_CONFIG' as const;
}

/** The command handed to the executor is unusable (empty, control characters, too long). */
export class InvalidCommandError extends WinRmError {
  readonly code = 'INVALID_COMMAND' as const;
}

export interface ScriptErrorInfo {
  category: string;
  errorId: string;
  message: string;
}

/** What was observed of a run whose script reported failure (for audit: exit code, duration…). */
export interface ScriptFailureOutcome {
  exitCode: number;
  stdout: string;
  stderr: string;
  httpRequests: number;
  durationMs: number;
  progress: Array<{ percent: number; text: string }>;
}

/** The script ran and reported `{ok:false, error}` in its result envelope. */
export class ScriptFailedError extends WinRmError {
  readonly code = 'SCRIPT_FAILED' as const;
  readonly scriptError: ScriptErrorInfo;
  readonly exitCode: number;
  readonly outcome: ScriptFailureOutcome | undefined;
  constructor(
    scriptError: ScriptErrorInfo,
    exitCode: number,
    options: WinRmErrorOptions & { outcome?: ScriptFailureOutcome } = {},
  ) {
    super(
      `script failed on host: ${scriptError.category} ${scriptError.errorId}: ${scriptError.message}`,
      options,
    );
    this.scriptError = scriptError;
    this.exitCode = exitCode;
    this.outcome = options.outcome;
  }
}

export function isWinRmError(err: unknown): err is WinRmError {
  return err instanceof WinRmError;
}

export interface BackoffOptions {
  /** First retry waits up to this long. */
  baseMs?: number;
  /** Upper bound for any single wait. */
  maxMs?: number;
  /** Source of randomness in [0, 1); injectable for tests. */
  random?: () => number;
}

/**
 * "Full jitter" exponential backoff: a uniform wait in [0, min(max, base * 2^attempt)).
 * Spreads retries of many gateways hitting the same host quota instead of synchronising them.
 */
export function backoffDelayMs(attempt: number, options: BackoffOptions = {}): number {
  const base = options.baseMs ?? 250;
  const max = options.maxMs ?? 10_000;
  const random = options.random ?? Math.random;
  const safeAttempt = Math.max(0, Math.min(30, Math.floor(attempt)));
  const ceiling = Math.min(max, base * 2 ** safeAttempt);
  return Math.floor(random() * ceiling);
}
