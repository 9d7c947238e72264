/** Exponentially weighted moving average of job durations on one host. */
export interface ServiceRateEstimator {
  observe(durationMs: number): void;
  /** Current estimate of one job's duration, in ms. */
  serviceTimeMs(): number;
  /** Seconds until a new arrival could expect to run: EWMA × queue depth / slots, clamped to 1..300. */
  retryAfterSec(queueDepth: number, slots: number): number;
}

export const RETRY_AFTER_MIN_SEC = 1;
export const RETRY_AFTER_MAX_SEC = 300;

export function createServiceRateEstimator(
  options: { initialMs?: number; alpha?: number } = {},
): ServiceRateEstimator {
  const alpha = options.alpha ?? 0.2;
  let estimate = options.initialMs ?? 5000;
  return {
    observe(durationMs) {
      if (!Number.isFinite(durationMs) || durationMs < 0) return;
      estimate = alpha * durationMs + (1 - alpha) * estimate;
    },
    serviceTimeMs: () => estimate,
    retryAfterSec(queueDepth, slots) {
      const seconds = Math.ceil(((estimate / 1000) * Math.max(1, queueDepth)) / Math.max(1, slots));
      return Math.min(RETRY_AFTER_MAX_SEC, Math.max(RETRY_AFTER_MIN_SEC, seconds));
    },
  };
}
