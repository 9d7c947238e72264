// The seams under the executor: one SOAP POST (transport) and time (clock). Tests replace either.

export interface TransportRequest {
  /** Complete SOAP envelope (UTF-8 text). */
  body: string;
  /** Absolute time (clock.now() scale) after which the request is abandoned with TimeoutError. */
  deadline: number;
  /** Aborting rejects with CancelledError and tears the connection down. */
  signal?: AbortSignal;
}

export interface TransportResponse {
  /** HTTP status after authentication (401s are turned into AuthenticationFailedError). */
  status: number;
  body: string;
  contentType: string | undefined;
}

/**
 * One WS-Management POST to one host endpoint. Implementations own authentication, TLS and
 * connection reuse, and throw the typed errors of winrm-errors.ts for transport-level failures
 * (unreachable, TLS, auth, deadline, abort). Any HTTP response (200, 500 + fault, …) is returned.
 */
export interface WinRmTransport {
  /** Real endpoint URL (sent as a:To). */
  readonly endpoint: string;
  post(request: TransportRequest): Promise<TransportResponse>;
  /** Closes idle keep-alive connections. */
  close(): void;
}

export interface Clock {
  now(): number;
  /** Resolves after `ms`; rejects with the signal's reason if it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      const timer = setTimeout(
        () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        Math.max(0, ms),
      );
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};
