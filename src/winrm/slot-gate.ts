// FIFO counting semaphore with per-waiter deadline and abort. One permit = one shell slot.

import type { Clock } from './winrm-transport';

export interface SlotGate {
  acquire(deadline: number, signal?: AbortSignal): Promise<void>;
  release(): void;
  /** Rejects every waiter (used by close()). */
  rejectWaiters(error: () => Error): void;
  readonly inUse: number;
  readonly waiting: number;
}

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

export function createSlotGate(
  size: number,
  clock: Clock,
  errors: { timeout: () => Error; cancelled: () => Error },
): SlotGate {
  let inUse = 0;
  const queue: Waiter[] = [];

  return {
    get inUse() {
      return inUse;
    },
    get waiting() {
      return queue.length;
    },
    acquire(deadline, signal) {
      if (signal?.aborted) return Promise.reject(errors.cancelled());
      if (inUse < size && queue.length === 0) {
        inUse += 1;
        return Promise.resolve();
      }
      return new Promise<void>((resolve, reject) => {
        const done = (): void => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          const i = queue.indexOf(waiter);
          if (i >= 0) queue.splice(i, 1);
        };
        const waiter: Waiter = {
          resolve: () => {
            done();
            resolve();
          },
          reject: (err) => {
            done();
            reject(err);
          },
        };
        const onAbort = (): void => waiter.reject(errors.cancelled());
        const timer = setTimeout(() => waiter.reject(errors.timeout()), Math.max(0, deadline - clock.now()));
        signal?.addEventListener('abort', onAbort, { once: true });
        queue.push(waiter);
      });
    },
    release() {
      const next = queue[0];
      if (next) {
        // The permit passes straight to the next waiter; inUse stays the same.
        next.resolve();
        return;
      }
      inUse = Math.max(0, inUse - 1);
    },
    rejectWaiters(error) {
      for (const w of [...queue]) w.reject(error());
    },
  };
}
