/** The host is not in the inventory (HTTP 404). */
export class UnknownHostError extends Error {
  override readonly name = 'UnknownHostError';
  readonly code = 'HVG_ERR_UNKNOWN_HOST';
  readonly httpStatus = 404;

  constructor(readonly host: string) {
    super(`host ${host} is not in the inventory`);
  }
}

/** The host's queue is full (HTTP 429 with Retry-After). */
export class HostBusyError extends Error {
  override readonly name = 'HostBusyError';
  readonly code = 'HVG_ERR_HOST_BUSY';
  readonly httpStatus = 429;

  constructor(
    readonly host: string,
    readonly retryAfterSec: number,
    readonly queueDepth: number,
  ) {
    super(`host ${host} is busy, retry after ${retryAfterSec} s`);
  }
}

/** A queued job waited longer than the host's queue deadline (HTTP 503 with Retry-After). */
export class QueueTimeoutError extends Error {
  override readonly name = 'QueueTimeoutError';
  readonly code = 'HVG_ERR_QUEUE_TIMEOUT';
  readonly httpStatus = 503;

  constructor(
    readonly host: string,
    readonly waitedMs: number,
    readonly retryAfterSec: number,
  ) {
    super(`job waited ${Math.round(waitedMs / 1000)} s in the queue of host ${host} and was given up`);
  }
}

/** A waiting job was cancelled before it ran (its AbortSignal fired). */
export class QueueCancelledError extends Error {
  override readonly name = 'QueueCancelledError';
  readonly code = 'HVG_ERR_CANCELLED';
  readonly httpStatus = 409;

  constructor(
    readonly host: string,
    cause?: unknown,
  ) {
    super(`queued job for host ${host} was cancelled`, cause === undefined ? undefined : { cause });
  }
}

/** The host's circuit is open: recent transport failures, waiting for a probe (HTTP 503). */
export class HostUnavailableError extends Error {
  override readonly name = 'HostUnavailableError';
  readonly code = 'HVG_ERR_HOST_UNAVAILABLE';
  readonly httpStatus = 503;

  constructor(
    readonly host: string,
    readonly retryAfterSec: number,
  ) {
    super(`host ${host} is unavailable (circuit open), retry after ${retryAfterSec} s`);
  }
}
