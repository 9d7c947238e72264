/** Time and timers behind one seam so limiter deadlines, breaker timing and probes can be driven by tests. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  setTimeout(fn: () => void, ms: number): ClockTimer;
  clearTimeout(timer: ClockTimer): void;
}

export interface ClockTimer {
  readonly id: unknown;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    // Fleet timers (queue deadlines, probes) never keep the process alive on their own.
    t.unref();
    return { id: t };
  },
  clearTimeout(timer) {
    clearTimeout(timer.id as NodeJS.Timeout);
  },
};

export interface ManualClock extends Clock {
  /** Moves time forward, firing due timers in deadline order. */
  advance(ms: number): void;
  pendingTimers(): number;
}

/** A clock that only moves when told to; for tests, simulations and benchmarks. */
export function createManualClock(startMs = 1_700_000_000_000): ManualClock {
  let now = startMs;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = ++seq;
      timers.set(id, { at: now + Math.max(0, ms), fn });
      return { id };
    },
    clearTimeout(timer) {
      timers.delete(timer.id as number);
    },
    advance(ms) {
      const target = now + ms;
      while (true) {
        let next: [number, { at: number; fn: () => void }] | undefined;
        for (const entry of timers)
          if (entry[1].at <= target && (!next || entry[1].at < next[1].at)) next = entry;
        if (!next) break;
        timers.delete(next[0]);
        now = next[1].at;
        next[1].fn();
      }
      now = target;
    },
    pendingTimers: () => timers.size,
  };
}
