import type { CircuitBreakerRegistry } from './circuit-breaker';
import type { SlotCoordinator, SlotLease, SlotTicket } from './host-limiter';
import type { VmLockCoordinator, VmLockLease } from './vm-lock';

export interface FleetJobRequest {
  host: string;
  /** Fairness key for the host queue (principal sub or client id). */
  caller: string;
  /** Required for mutating work: the VM's GUID. */
  vmId?: string;
  /** Mutating work is serialised per VM; reads are not. */
  mutating: boolean;
  jobId?: string;
  /** Cancels the job while it waits (DELETE /v1/jobs/{id}). */
  signal?: AbortSignal;
}

export interface JobRunContext {
  /** From admission to the host slot, VM wait included. */
  queueWaitMs: number;
  /** The VM lock wait alone (0 for reads). */
  vmWaitMs: number;
  signal: AbortSignal;
}

/** A job that has a place in its host's queue. run() must be called once; cancel() gives the place up. */
export interface AdmittedJob {
  readonly host: string;
  readonly admittedAt: number;
  /**
   * `signal` (default: the admission request's) cancels the work once it runs. Passing it here
   * rather than at admission lets a caller create it only for jobs that reach a slot.
   */
  run<T>(work: (ctx: JobRunContext) => Promise<T>, signal?: AbortSignal): Promise<T>;
  cancel(): Promise<void>;
}

export interface FleetScheduler {
  /**
   * Fails fast, before any job is created: HostUnavailableError (circuit open), HostBusyError (queue
   * full), UnknownHostError.
   */
  admit(request: FleetJobRequest): Promise<AdmittedJob>;
}

/**
 * Order of waits: admission (bounded queue place) → the VM's turn → a host slot → circuit breaker → work.
 *
 * The VM turn comes before the host slot so a job blocked behind another job on the same VM never sits on a
 * running slot: with slot-first, four queued changes to one busy VM would hold all four slots of the host
 * and stall every other VM there. Locks are always taken in the same order (VM, then host), so two jobs can
 * never wait on each other. Admission happens before both waits, so jobs waiting for their VM still count
 * against maxQueue and the queue deadline: the queue stays bounded and 429 comes at submission time.
 */
export function createFleetScheduler(deps: SchedulerDeps): FleetScheduler {
  return {
    async admit(request) {
      if (request.mutating && !request.vmId)
        throw new TypeError('mutating work needs a vmId to serialise on');
      const breaker = deps.breakers.forHost(request.host);
      breaker.assertAvailable();
      const ticket: SlotTicket = await deps.slots.admit({
        host: request.host,
        caller: request.caller,
        ...(request.jobId !== undefined ? { jobId: request.jobId } : {}),
        ...(request.signal !== undefined ? { signal: request.signal } : {}),
      });
      return new ScheduledJob(deps, request, ticket);
    },
  };
}

interface SchedulerDeps {
  slots: SlotCoordinator;
  vmLocks: VmLockCoordinator;
  breakers: CircuitBreakerRegistry;
}

/** A class rather than an object of closures: thousands of these sit in a busy queue. */
class ScheduledJob implements AdmittedJob {
  private started = false;

  constructor(
    private readonly deps: SchedulerDeps,
    private readonly request: FleetJobRequest,
    private readonly ticket: SlotTicket,
  ) {}

  get host(): string {
    return this.ticket.host;
  }

  get admittedAt(): number {
    return this.ticket.admittedAt;
  }

  cancel(): Promise<void> {
    return this.ticket.cancel();
  }

  async run<T>(work: (ctx: JobRunContext) => Promise<T>, runSignal?: AbortSignal): Promise<T> {
    if (this.started) throw new Error('an admitted job runs once');
    this.started = true;
    const { deps, request, ticket } = this;
    const breaker = deps.breakers.forHost(request.host);
    let vmLease: VmLockLease | undefined;
    let slot: SlotLease | undefined;
    try {
      if (request.mutating) {
        vmLease = await deps.vmLocks.acquire({
          host: request.host,
          vmId: request.vmId!,
          holder: request.jobId ?? request.caller,
          signal: ticket.signal,
        });
      }
      // The circuit may have opened while this job waited; do not spend a slot finding out.
      breaker.assertAvailable();
      slot = await ticket.acquire();
      const ctx: JobRunContext = {
        queueWaitMs: slot.queueWaitMs,
        vmWaitMs: vmLease?.waitedMs ?? 0,
        signal: runSignal ?? request.signal ?? new AbortController().signal,
      };
      return await breaker.execute(() => work(ctx), runSignal ?? request.signal);
    } finally {
      if (slot) await slot.release();
      else await ticket.cancel();
      if (vmLease) await vmLease.release();
    }
  }
}
