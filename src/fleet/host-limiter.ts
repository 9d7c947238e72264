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
  /**
   * Slots of the host that no job holds or waits for, as this process sees it right now (0 for an
   * unknown host). Absent where the answer needs a round trip (the HA coordinator).
   */
  idleSlots?(host: string): number;
}

export interface HostLimiterOptions {
  inventory: HostInventory;
  clock?: Clock;
  /** Service-time estimate before the first job on a host completes. Default 5 s. */
  initialServiceTimeMs?: number;
}

type TicketState = 'admitted' | 'waiting' | 'running' | 'done';

interface HostState {
  readonly entry: HostEntry;
  running: number;
  /** Admitted tickets not yet running. */
  queued: number;
  /** Tickets waiting for a slot, per caller; Map insertion order is the round-robin order. */
  readonly waiting: Map<string, LimiterTicket[]>;
  readonly callers: Map<string, { running: number; queued: number }>;
  readonly rate: ServiceRateEstimator;
  /**
   * Admitted tickets in admission order, linked through the tickets. Every ticket of a host has the
   * same queueTimeoutSec, so this is also deadline order and one timer per host covers all of them.
   */
  oldest: LimiterTicket | undefined;
  newest: LimiterTicket | undefined;
  deadlineTimer: ClockTimer | undefined;
}

/** What a ticket needs from its limiter; the ticket methods live on one prototype, not in closures. */
interface LimiterCore {
  readonly clock: Clock;
  abandon(t: LimiterTicket, error: Error): void;
  join(t: LimiterTicket): void;
}

/**
 * One admitted job. Kept small because a busy host holds thousands of these: no timer, no
 * AbortController unless someone reads `signal`, no closures (a listener object for the caller's
 * signal, methods on the prototype).
 */
class LimiterTicket implements SlotTicket {
  state: TicketState = 'admitted';
  /** Why a ticket that never ran ended (deadline, cancel, caller abort). */
  endedWith: Error | undefined = undefined;
  controller: AbortController | undefined = undefined;
  callerSignal: AbortSignal | undefined = undefined;
  older: LimiterTicket | undefined = undefined;
  newer: LimiterTicket | undefined = undefined;
  grant: ((lease: SlotLease) => void) | undefined = undefined;
  reject: ((err: Error) => void) | undefined = undefined;
  pending: Promise<SlotLease> | undefined = undefined;

  constructor(
    readonly hostState: HostState,
    readonly caller: string,
    readonly jobId: string | undefined,
    readonly admittedAt: number,
    readonly core: LimiterCore,
  ) {}

  get host(): string {
    return this.hostState.entry.name;
  }

  get deadline(): number {
    return this.admittedAt + this.hostState.entry.queueTimeoutSec * 1000;
  }

  /** Made on first use: most tickets (reads) are never asked for it. */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.endedWith) this.controller.abort(this.endedWith);
    }
    return this.controller.signal;
  }

  acquire(): Promise<SlotLease> {
    this.pending ??= new Promise<SlotLease>((resolve, reject) => {
      if (this.state === 'done') {
        reject(this.endedWith ?? new QueueCancelledError(this.host));
        return;
      }
      this.grant = resolve;
      this.reject = reject;
      this.core.join(this);
    });
    return this.pending;
  }

  async cancel(): Promise<void> {
    this.core.abandon(this, new QueueCancelledError(this.host));
  }

  /** The caller's AbortSignal fired (EventListener object: no closure per ticket). */
  handleEvent(): void {
    this.core.abandon(this, new QueueCancelledError(this.host, this.callerSignal?.reason));
  }
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
        oldest: undefined,
        newest: undefined,
        deadlineTimer: undefined,
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

  function trackDeadline(t: LimiterTicket) {
    const h = t.hostState;
    t.older = h.newest;
    if (h.newest) h.newest.newer = t;
    else h.oldest = t;
    h.newest = t;
    if (!h.deadlineTimer) armDeadline(h);
  }

  function untrackDeadline(t: LimiterTicket) {
    const h = t.hostState;
    if (t.older) t.older.newer = t.newer;
    else if (h.oldest === t) h.oldest = t.newer;
    if (t.newer) t.newer.older = t.older;
    else if (h.newest === t) h.newest = t.older;
    t.older = undefined;
    t.newer = undefined;
    // An armed timer for a ticket that left early just fires once for nothing and re-arms; only an
    // empty list stops it, so an idle host holds no timer.
    if (!h.oldest && h.deadlineTimer) {
      clock.clearTimeout(h.deadlineTimer);
      h.deadlineTimer = undefined;
    }
  }

  function armDeadline(h: HostState) {
    const head = h.oldest;
    if (!head) return;
    h.deadlineTimer = clock.setTimeout(() => expire(h), Math.max(0, head.deadline - clock.now()));
  }

  /**
   * Ends every ticket whose deadline passed. If the wall clock stepped back, a later ticket can be
   * due before the head; it then ends when the head does, never earlier than its own deadline.
   */
  function expire(h: HostState) {
    h.deadlineTimer = undefined;
    const now = clock.now();
    while (h.oldest && h.oldest.deadline <= now) {
      const t = h.oldest;
      abandon(t, new QueueTimeoutError(h.entry.name, now - t.admittedAt, retryAfter(h)));
    }
    if (!h.deadlineTimer) armDeadline(h);
  }

  /** Ends a ticket that never ran (cancel, deadline, caller abort). */
  function abandon(t: LimiterTicket, error: Error) {
    if (t.state === 'running' || t.state === 'done') return;
    const h = t.hostState;
    if (t.state === 'waiting') {
      const list = h.waiting.get(t.caller);
      if (list) {
        const i = list.indexOf(t);
        if (i !== -1) list.splice(i, 1);
        if (list.length === 0) h.waiting.delete(t.caller);
      }
    }
    t.state = 'done';
    t.endedWith = error;
    h.queued -= 1;
    callerCounts(h, t.caller).queued -= 1;
    dropCallerIfIdle(h, t.caller);
    cleanup(t);
    t.controller?.abort(error);
    t.reject?.(error);
    t.grant = undefined;
    t.reject = undefined;
  }

  function cleanup(t: LimiterTicket) {
    untrackDeadline(t);
    if (t.callerSignal) {
      t.callerSignal.removeEventListener('abort', t);
      t.callerSignal = undefined;
    }
  }

  function grant(t: LimiterTicket) {
    const h = t.hostState;
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
    const resolve = t.grant;
    t.grant = undefined;
    t.reject = undefined;
    resolve?.(lease);
    return lease;
  }

  /** Fills free slots, taking one ticket from each caller in turn. */
  function dispatch(h: HostState) {
    while (h.running < h.entry.maxConcurrent && h.waiting.size > 0) {
      const [caller, list] = h.waiting.entries().next().value as [string, LimiterTicket[]];
      const next = list.shift()!;
      h.waiting.delete(caller);
      if (list.length > 0) h.waiting.set(caller, list);
      grant(next);
    }
  }

  /** Joining an empty queue with a free slot runs at once; otherwise the round-robin decides. */
  function join(t: LimiterTicket) {
    const h = t.hostState;
    if (h.running < h.entry.maxConcurrent && h.waiting.size === 0) {
      grant(t);
      return;
    }
    t.state = 'waiting';
    const list = h.waiting.get(t.caller);
    if (list) list.push(t);
    else h.waiting.set(t.caller, [t]);
  }

  const core: LimiterCore = { clock, abandon, join };

  function admitSync(request: SlotRequest): SlotTicket {
    const h = hostState(request.host);
    if (request.signal?.aborted) throw new QueueCancelledError(h.entry.name, request.signal.reason);
    if (h.running + h.queued >= h.entry.maxConcurrent + h.entry.maxQueue) {
      throw new HostBusyError(h.entry.name, retryAfter(h), h.queued);
    }
    const t = new LimiterTicket(h, request.caller, request.jobId, clock.now(), core);
    h.queued += 1;
    callerCounts(h, t.caller).queued += 1;
    // The deadline covers the whole wait, VM turn included, so it starts at admission.
    trackDeadline(t);
    if (request.signal) {
      t.callerSignal = request.signal;
      request.signal.addEventListener('abort', t, { once: true });
    }
    return t;
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
    idleSlots(host) {
      if (!options.inventory.has(host)) return 0;
      const h = hostState(host);
      return Math.max(0, h.entry.maxConcurrent - h.running - h.queued);
    },
  };
}
