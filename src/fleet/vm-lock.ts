import { systemClock, type Clock } from './clock';
import { QueueCancelledError } from './fleet-errors';

export interface VmLockRequest {
  host: string;
  /** The VM's GUID (case-insensitive). Names are resolved to GUIDs before locking. */
  vmId: string;
  /** Who waits, for snapshots and audit. */
  holder?: string;
  /** Gives up the wait; rejects with `signal.reason` when it is an Error. */
  signal?: AbortSignal;
}

export interface VmLockLease {
  readonly host: string;
  readonly vmId: string;
  readonly waitedMs: number;
  /** Hands the VM to the next waiter in arrival order. Idempotent. */
  release(): Promise<void>;
}

export interface VmLockSnapshot {
  host: string;
  vmId: string;
  holder: string | null;
  waiting: number;
}

/**
 * Per-VM serialisation of mutating work, first come first served. Reads never take it. In-memory for one
 * replica; the HA mode implements the same interface on PostgreSQL.
 */
export interface VmLockCoordinator {
  acquire(request: VmLockRequest): Promise<VmLockLease>;
  snapshot(): Promise<VmLockSnapshot[]>;
}

interface Waiter {
  holder: string | null;
  enqueuedAt: number;
  resolve: (lease: VmLockLease) => void;
  detach: () => void;
}

interface LockState {
  host: string;
  vmId: string;
  holder: string | null;
  queue: Waiter[];
}

export function createVmLocks(options: { clock?: Clock } = {}): VmLockCoordinator {
  const clock = options.clock ?? systemClock;
  const locks = new Map<string, LockState>();

  function leaseFor(key: string, lock: LockState, waitedMs: number): VmLockLease {
    let released = false;
    return {
      host: lock.host,
      vmId: lock.vmId,
      waitedMs,
      async release() {
        if (released) return;
        released = true;
        const next = lock.queue.shift();
        if (!next) {
          locks.delete(key);
          return;
        }
        // Direct hand-over: nobody arriving now can overtake the queue head.
        next.detach();
        lock.holder = next.holder;
        next.resolve(leaseFor(key, lock, clock.now() - next.enqueuedAt));
      },
    };
  }

  return {
    acquire(request) {
      const vmId = request.vmId.toLowerCase();
      const key = `${request.host}\u0000${vmId}`;
      const holder = request.holder ?? null;
      const signal = request.signal;
      if (signal?.aborted) return Promise.reject(abortError(signal, request.host));
      const lock = locks.get(key);
      if (!lock) {
        const fresh: LockState = { host: request.host, vmId, holder, queue: [] };
        locks.set(key, fresh);
        return Promise.resolve(leaseFor(key, fresh, 0));
      }
      return new Promise<VmLockLease>((resolve, reject) => {
        const waiter: Waiter = { holder, enqueuedAt: clock.now(), resolve, detach: () => undefined };
        if (signal) {
          const onAbort = () => {
            const i = lock.queue.indexOf(waiter);
            if (i !== -1) lock.queue.splice(i, 1);
            reject(abortError(signal, request.host));
          };
          signal.addEventListener('abort', onAbort, { once: true });
          waiter.detach = () => signal.removeEventListener('abort', onAbort);
        }
        lock.queue.push(waiter);
      });
    },
    async snapshot() {
      return [...locks.values()].map((l) => ({
        host: l.host,
        vmId: l.vmId,
        holder: l.holder,
        waiting: l.queue.length,
      }));
    },
  };
}

function abortError(signal: AbortSignal, host: string): Error {
  return signal.reason instanceof Error ? signal.reason : new QueueCancelledError(host, signal.reason);
}
