import { systemClock, type Clock, type ClockTimer } from './clock';
import { HostBusyError, QueueCancelledError, QueueTimeoutError } from './fleet-errors';
import type { HostEntry, HostInventory } from './host-inventory';
import { createServiceRateEstimator, type ServiceRateEstimator } from './service-rate';

export interface SlotRequest {
  host: string;
  /** Fairness key: queued work is served round-robin between callers of one host. */
  caller: string;
  jobId?: string;
  /** Cancels the request while it waits; no effect once a slot is granted. */
  signal?: AbortSignal;
}

/**
 * A place in a host's queue. Admission (and HostBusyError) happens once, up front; the slot itself is
 * taken later with acquire(), so a job can wait for its VM turn without holding a running slot.
 */
export interface SlotTicket {
  readonly host: string;
  readonly caller: string;
  readonly jobId: string | undefined;
  readonly admittedAt: number;
  /** Aborts when the caller cancels or the queue deadline passes; `reason` is the typed error. */
  readonly signal: AbortSignal;
  /** Joins the host's round-robin queue; resolves when a running slot is granted. */
  acquire(): Promise<SlotLease>;
  /** Gives the place up without running. Idempotent; no effect once a slot was granted. */
  cancel(): Promise<void>;
}

export interface SlotLease {
  readonly host: string;
  readonly caller: string;
  readonly queueWaitMs: number;
  /** Frees the slot; the time since the grant feeds the host's service-rate estimate. Idempotent. */
  release(): Promise<void>;
}

export interface HostSlotSnapshot {
  host: string;
  slots: number;
  running: number;
  /** Admitted and not yet running (waiting for a slot or for the VM's turn). */
  queued: number;
  maxQueue: number;
  serviceTimeMs: number;
  retryAfterSec: number;
  callers: Record<string, { running: number; queued: number }>;
}

/**
 * Per-host slot decisions. This in-memory implementation serves one replica; the HA mode implements the
 * same interface on PostgreSQL so the limits hold across replicas.
 */
export interface SlotCoordinator {
  /** Throws HostBusyError when the host already holds maxConcurrent + maxQueue jobs, UnknownHostError for unknown hosts. */
  admit(request: SlotRequest): Promise<SlotTicket>;
  /** admit() then acquire(). */
  acquire(request: SlotRequest): Promise<SlotLease>;
  snapshot(): Promise<HostSlotSnapshot[]>;
  hostSnapshot(host: string): Promise<HostSlotSnapshot>;
}

export interface HostLimiterOptions {
  inventory: HostInventory;
  clock?: Clock;
  /** Service-time estimate before the first job on a host completes. Default 5 s. */
  initialServiceTimeMs?: number;
}

type TicketState = 'admitted' | 'waiting' | 'running' | 'done';

interface Ticket {
  readonly host: HostState;
  readonly caller: string;
  readonly jobId: string | undefined;
  readonly admittedAt: number;
  readonly controller: AbortController;
  state: TicketState;
  timer: ClockTimer | undefined;
  detach: (() => void) | undefined;
  grant: ((lease: SlotLease) => void) | undefined;
  reject: ((err: Error) => void) | undefined;
  pending: Promise<SlotLease> | undefined;
}

interface HostState {
  readonly entry: HostEntry;
  running: number;
  /** Admitted tickets not yet running. */
  queued: number;
  /** Tickets waiting for a slot, per caller; Map insertion order is the round-robin order. */
  readonly waiting: Map<string, Ticket[]>;
  readonly callers: Map<string, { running: number; queued: number }>;
  readonly rate: ServiceRateEstimator;
}

export function createHostLimiter(options: HostLimiterOptions): SlotCoordinator {
  const clock = options.clock ?? systemClock;
  const hosts = new Map<string, HostState>();

  function hostState(name: string): HostState {
    let state = hosts.get(name);
    if (!state) {
      const entry = options.inventory.require(name);
      state = {
        entry,
        running: 0,
        queued: 0,
        waiting: new Map(),
        callers: new Map(),
        rate: createServiceRateEstimator(
          options.initialServiceTimeMs !== undefined ? { initialMs: options.initialServiceTimeMs } : {},
        ),
      };
      hosts.set(name, state);
    }
    return state;
  }

  function callerCounts(h: HostState, caller: string) {
    let c = h.callers.get(caller);
    if (!c) {
      c = { running: 0, queued: 0 };
      h.callers.set(caller, c);
    }
    return c;
  }

  function dropCallerIfIdle(h: HostState, caller: string) {
    const c = h.callers.get(caller);
    if (c && c.running === 0 && c.queued === 0) h.callers.delete(caller);
  }

  function retryAfter(h: HostState): number {
    return h.rate.retryAfterSec(h.queued, h.entry.maxConcurrent);
  }

  /** Ends a ticket that never ran (cancel, deadline, caller abort). */
  function abandon(t: Ticket, error: Error) {
    if (t.state === 'running' || t.state === 'done') return;
    const h = t.host;
    if (t.state === 'waiting') {
      const list = h.waiting.get(t.caller);
      if (list) {
        const i = list.indexOf(t);
        if (i !== -1) list.splice(i, 1);
        if (list.length === 0) h.waiting.delete(t.caller);
      }
    }
    t.state = 'done';
    h.queued -= 1;
    callerCounts(h, t.caller).queued -= 1;
    dropCallerIfIdle(h, t.caller);
    cleanup(t);
    t.controller.abort(error);
    t.reject?.(error);
  }

  function cleanup(t: Ticket) {
    if (t.timer) clock.clearTimeout(t.timer);
    t.timer = undefined;
    t.detach?.();
    t.detach = undefined;
  }

  function grant(t: Ticket) {
    const h = t.host;
    t.state = 'running';
    h.queued -= 1;
    h.running += 1;
    const counts = callerCounts(h, t.caller);
    counts.queued -= 1;
    counts.running += 1;
    cleanup(t);
    const grantedAt = clock.now();
    let released = false;
    const lease: SlotLease = {
      host: h.entry.name,
      caller: t.caller,
      queueWaitMs: grantedAt - t.admittedAt,
      async release() {
        if (released) return;
        released = true;
        t.state = 'done';
        h.running -= 1;
        callerCounts(h, t.caller).running -= 1;
        dropCallerIfIdle(h, t.caller);
        h.rate.observe(clock.now() - grantedAt);
        dispatch(h);
      },
    };
    t.grant?.(lease);
    return lease;
  }

  /** Fills free slots, taking one ticket from each caller in turn. */
  function dispatch(h: HostState) {
    while (h.running < h.entry.maxConcurrent && h.waiting.size > 0) {
      const [caller, list] = h.waiting.entries().next().value as [string, Ticket[]];
      const next = list.shift()!;
      h.waiting.delete(caller);
      if (list.length > 0) h.waiting.set(caller, list);
      grant(next);
    }
  }

  function admitSync(request: SlotRequest): SlotTicket {
    const h = hostState(request.host);
    if (request.signal?.aborted) throw new QueueCancelledError(h.entry.name, request.signal.reason);
    if (h.running + h.queued >= h.entry.maxConcurrent + h.entry.maxQueue) {
      throw new HostBusyError(h.entry.name, retryAfter(h), h.queued);
    }
    const t: Ticket = {
      host: h,
      caller: request.caller,
      jobId: request.jobId,
      admittedAt: clock.now(),
      controller: new AbortController(),
      state: 'admitted',
      timer: undefined,
      detach: undefined,
      grant: undefined,
      reject: undefined,
      pending: undefined,
    };
    h.queued += 1;
    callerCounts(h, t.caller).queued += 1;

    // The deadline covers the whole wait, VM turn included, so it starts at admission.
    t.timer = clock.setTimeout(() => {
      abandon(t, new QueueTimeoutError(h.entry.name, clock.now() - t.admittedAt, retryAfter(h)));
    }, h.entry.queueTimeoutSec * 1000);
    const callerSignal = request.signal;
    if (callerSignal) {
      const onAbort = () => abandon(t, new QueueCancelledError(h.entry.name, callerSignal.reason));
      callerSignal.addEventListener('abort', onAbort, { once: true });
      t.detach = () => callerSignal.removeEventListener('abort', onAbort);
    }

    return {
      host: h.entry.name,
      caller: t.caller,
      jobId: t.jobId,
      admittedAt: t.admittedAt,
      signal: t.controller.signal,
      acquire() {
        if (t.pending) return t.pending;
        t.pending = new Promise<SlotLease>((resolve, reject) => {
          if (t.state === 'done') {
            reject(toError(t.controller.signal.reason, h.entry.name));
            return;
          }
          t.grant = resolve;
          t.reject = reject;
          // Joining an empty queue with a free slot runs at once; otherwise the round-robin decides.
          if (h.running < h.entry.maxConcurrent && h.waiting.size === 0) {
            grant(t);
            return;
          }
          t.state = 'waiting';
          const list = h.waiting.get(t.caller);
          if (list) list.push(t);
          else h.waiting.set(t.caller, [t]);
        });
        return t.pending;
      },
      async cancel() {
        abandon(t, new QueueCancelledError(h.entry.name));
      },
    };
  }

  function snapshotOf(h: HostState): HostSlotSnapshot {
    const callers: HostSlotSnapshot['callers'] = {};
    for (const [caller, c] of h.callers) callers[caller] = { running: c.running, queued: c.queued };
    return {
      host: h.entry.name,
      slots: h.entry.maxConcurrent,
      running: h.running,
      queued: h.queued,
      maxQueue: h.entry.maxQueue,
      serviceTimeMs: Math.round(h.rate.serviceTimeMs()),
      retryAfterSec: retryAfter(h),
      callers,
    };
  }

  return {
    async admit(request) {
      return admitSync(request);
    },
    async acquire(request) {
      return admitSync(request).acquire();
    },
    async snapshot() {
      return options.inventory.list().map((e) => snapshotOf(hostState(e.name)));
    },
    async hostSnapshot(host) {
      return snapshotOf(hostState(host));
    },
  };
}

function toError(reason: unknown, host: string): Error {
  return reason instanceof Error ? reason : new QueueCancelledError(host, reason);
}
