import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleWhen,
  type CircuitBreakerPolicy,
  type IBackoff,
  type IBackoffFactory,
  type IHalfOpenAfterBackoffContext,
} from 'cockatiel';
import { systemClock, type Clock } from './clock';
import { HostUnavailableError } from './fleet-errors';

export type CircuitStateName = 'closed' | 'open' | 'half-open';

export interface CircuitStatus {
  host: string;
  state: CircuitStateName;
  /** When the current state began (epoch ms, from the injected clock). */
  since: number;
  consecutiveFailures: number;
}

export interface HostCircuitBreaker {
  readonly host: string;
  state(): CircuitStateName;
  status(): CircuitStatus;
  /** Throws HostUnavailableError while the circuit is open (used before queueing work). */
  assertAvailable(): void;
  /**
   * Runs `fn` through the breaker. Transport failures count towards opening it; any other outcome,
   * including operation errors the host reported, proves the host is reachable and counts as success.
   * While open: throws HostUnavailableError without calling `fn`.
   */
  execute<T>(fn: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T>;
  /** A health probe's result. Success while open makes the circuit half-open: the next job is the trial. */
  recordProbe(ok: boolean): void;
}

export interface CircuitBreakerRegistry {
  forHost(host: string): HostCircuitBreaker;
  statuses(): CircuitStatus[];
}

export interface CircuitBreakerOptions {
  /** Consecutive transport failures that open the circuit. Default 5. */
  failureThreshold?: number;
  /** How often host-health probes an open host; used for Retry-After. Default 10 s. */
  probeIntervalMs?: number;
  clock?: Clock;
  isTransportFailure?: (err: unknown) => boolean;
  onStateChange?: (status: CircuitStatus) => void;
}

const TRANSPORT_ERROR_CODES = new Set([
  // src/winrm error codes that mean the host (or its WinRM service) did not answer usefully. Quota,
  // authentication, WS-Man faults and script failures are answers from a reachable host and do not count.
  'HOST_UNREACHABLE',
  'TLS_ERROR',
  'TIMEOUT',
  'PROTOCOL_ERROR',
  // Socket-level errno codes, for errors that reach the breaker unwrapped.
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_HEADERS_TIMEOUT',
]);

/** Errors that say "the host could not be reached": a WinRM-layer code above, `transport: true`, or a socket errno. */
export function isTransportFailure(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { transport?: unknown; kind?: unknown; code?: unknown; cause?: unknown };
  if (e.transport === true || e.kind === 'transport') return true;
  if (typeof e.code === 'string' && TRANSPORT_ERROR_CODES.has(e.code)) return true;
  return e.cause !== undefined && e.cause !== err && isTransportFailure(e.cause);
}

/** Carries a non-transport error through cockatiel so the breaker records it as a success. */
class PassThrough {
  constructor(readonly error: unknown) {}
}

export function createCircuitBreakerRegistry(options: CircuitBreakerOptions = {}): CircuitBreakerRegistry {
  const breakers = new Map<string, HostCircuitBreaker>();
  return {
    forHost(host) {
      let b = breakers.get(host);
      if (!b) {
        b = createHostCircuitBreaker(host, options);
        breakers.set(host, b);
      }
      return b;
    },
    statuses: () => [...breakers.values()].map((b) => b.status()),
  };
}

export function createHostCircuitBreaker(
  host: string,
  options: CircuitBreakerOptions = {},
): HostCircuitBreaker {
  const clock = options.clock ?? systemClock;
  const threshold = options.failureThreshold ?? 5;
  const probeIntervalMs = options.probeIntervalMs ?? 10_000;
  const classify = options.isTransportFailure ?? isTransportFailure;
  const counter = new ConsecutiveBreaker(threshold);

  // cockatiel leaves Open for HalfOpen once `Date.now() - openedAt >= backoff.duration`. The duration here
  // is +Infinity until a probe succeeds and -Infinity after, so the wall clock never decides: the probe does.
  let probeSucceeded = false;
  const probeGate: IBackoffFactory<IHalfOpenAfterBackoffContext> = {
    next() {
      probeSucceeded = false;
      const backoff: IBackoff<IHalfOpenAfterBackoffContext> = {
        get duration() {
          return probeSucceeded ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
        },
        next: () => probeGate.next(undefined as never),
      };
      return backoff;
    },
  };

  const policy: CircuitBreakerPolicy = circuitBreaker(
    handleWhen((err) => classify(err)),
    { halfOpenAfter: probeGate, breaker: counter },
  );

  let since = clock.now();
  let lastState: CircuitStateName = 'closed';
  const stateName = (): CircuitStateName => {
    switch (policy.state) {
      case CircuitState.Closed:
        return 'closed';
      case CircuitState.HalfOpen:
        return 'half-open';
      default:
        return probeSucceeded ? 'half-open' : 'open';
    }
  };
  const status = (): CircuitStatus => ({
    host,
    state: stateName(),
    since,
    consecutiveFailures: counter.state,
  });
  const noteChange = () => {
    const now = stateName();
    if (now === lastState) return;
    lastState = now;
    since = clock.now();
    options.onStateChange?.(status());
  };
  policy.onStateChange(noteChange);

  const retryAfterSec = () => Math.min(300, Math.max(1, Math.ceil(probeIntervalMs / 1000)));
  const unavailable = () => new HostUnavailableError(host, retryAfterSec());

  return {
    host,
    state: stateName,
    status,
    assertAvailable() {
      if (stateName() === 'open') throw unavailable();
    },
    async execute(fn, signal) {
      let outcome: unknown;
      try {
        outcome = await policy.execute(async (ctx) => {
          try {
            return await fn(ctx.signal);
          } catch (err) {
            if (classify(err)) throw err;
            return new PassThrough(err);
          }
        }, signal);
      } catch (err) {
        if (err instanceof BrokenCircuitError) throw unavailable();
        throw err;
      } finally {
        noteChange();
      }
      if (outcome instanceof PassThrough) throw outcome.error;
      return outcome as Awaited<ReturnType<typeof fn>>;
    },
    recordProbe(ok) {
      if (policy.state !== CircuitState.Open) return;
      probeSucceeded = ok;
      noteChange();
    },
  };
}
