// What one simulated host has seen, so tests and benchmarks can prove that limits held.

export interface HostCountersSnapshot {
  host: string;
  /** Commands whose program is running now (from Command until the program exits or is killed). */
  commandsRunning: number;
  maxCommandsRunning: number;
  commandsStarted: number;
  shellsOpen: number;
  maxShellsOpen: number;
  /** Requests by WS-Management action; `Empty` = empty-body POSTs, `Invalid` = unparseable envelopes. */
  requests: Record<string, number>;
  /** Replies by HTTP status code. */
  httpStatuses: Record<string, number>;
  /** SOAP faults sent, by WSMan / MSFT_WmiError code. */
  wsmanFaults: Record<string, number>;
  /** w:TimedOut replies to Receive (code 2150858793). */
  timedOut: number;
  /** Injected faults that fired, by kind. */
  faultsInjected: Record<string, number>;
  /** Connections reset by a refuse fault. */
  connectionsRefused: number;
  /** Successful authentications by scheme: `basic` per request, `negotiate` per completed NTLM handshake. */
  authentications: Record<string, number>;
  /** 401 replies by reason (`no-credentials`, `wrong-password`, `unencrypted`, …); NTLM challenges are not failures. */
  authFailures: Record<string, number>;
}

export interface HostCounters {
  commandStarted(): void;
  commandEnded(): void;
  shellOpened(): void;
  shellClosed(): void;
  request(action: string): void;
  httpStatus(status: number): void;
  wsmanFault(code: number): void;
  faultInjected(kind: string): void;
  connectionRefused(): void;
  authenticated(scheme: string): void;
  authFailed(reason: string): void;
  snapshot(): HostCountersSnapshot;
  /** Zeroes totals; gauges keep their current value and their maxima restart from it. */
  reset(): void;
}

export function createHostCounters(host: string): HostCounters {
  let running = 0;
  let shells = 0;
  let totals = fresh();

  function fresh() {
    return {
      maxCommandsRunning: running,
      maxShellsOpen: shells,
      commandsStarted: 0,
      requests: {} as Record<string, number>,
      httpStatuses: {} as Record<string, number>,
      wsmanFaults: {} as Record<string, number>,
      faultsInjected: {} as Record<string, number>,
      connectionsRefused: 0,
      authentications: {} as Record<string, number>,
      authFailures: {} as Record<string, number>,
    };
  }
  const bump = (m: Record<string, number>, k: string): void => {
    m[k] = (m[k] ?? 0) + 1;
  };

  return {
    commandStarted() {
      running += 1;
      totals.commandsStarted += 1;
      totals.maxCommandsRunning = Math.max(totals.maxCommandsRunning, running);
    },
    commandEnded() {
      running = Math.max(0, running - 1);
    },
    shellOpened() {
      shells += 1;
      totals.maxShellsOpen = Math.max(totals.maxShellsOpen, shells);
    },
    shellClosed() {
      shells = Math.max(0, shells - 1);
    },
    request: (action) => bump(totals.requests, action),
    httpStatus: (status) => bump(totals.httpStatuses, String(status)),
    wsmanFault: (code) => bump(totals.wsmanFaults, String(code)),
    faultInjected: (kind) => bump(totals.faultsInjected, kind),
    connectionRefused() {
      totals.connectionsRefused += 1;
    },
    authenticated: (scheme) => bump(totals.authentications, scheme),
    authFailed: (reason) => bump(totals.authFailures, reason),
    snapshot() {
      return {
        host,
        commandsRunning: running,
        maxCommandsRunning: totals.maxCommandsRunning,
        commandsStarted: totals.commandsStarted,
        shellsOpen: shells,
        maxShellsOpen: totals.maxShellsOpen,
        requests: { ...totals.requests },
        httpStatuses: { ...totals.httpStatuses },
        wsmanFaults: { ...totals.wsmanFaults },
        timedOut: totals.wsmanFaults['2150858793'] ?? 0,
        faultsInjected: { ...totals.faultsInjected },
        connectionsRefused: totals.connectionsRefused,
        authentications: { ...totals.authentications },
        authFailures: { ...totals.authFailures },
      };
    },
    reset() {
      totals = fresh();
    },
  };
}
