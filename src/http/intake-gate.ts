// Intake control for /v1: at most `concurrency` requests are being parsed, authenticated, validated
// and turned into jobs at once; the rest wait in arrival order. Work already holding a host slot
// shares the one event loop with intake, so without this a burst of hundreds of submissions stretched
// every running job's steps (facts read, audit commit, WinRM exchanges) and held its slot longer: the
// burst bench's first round took 2.4 s for a 1 s change. Permits are handed on with setImmediate, so
// the I/O that running jobs are waiting for is served before the next submission starts.
//
// A request gives its permit back when its response ends, or earlier when it only waits for its job
// (`?wait=`): a waiting caller costs nothing, and must not keep others out.
//
// Fast lane: a request for a host with an idle slot would start running at once, so it goes ahead
// of requests for busy hosts, which would only join their host's queue: a request to a quiet host
// does not wait behind a flood aimed at another. It still takes one of the `concurrency` places:
// letting it bypass them, or giving it 24 or 56 places of its own, filled the burst bench's slots
// sooner but made the bench 4-10% slower, as the first round of jobs then competed with that many
// submissions for the one event loop. Fast-lane places per host are capped at that host's idle
// slots.
import type { Request, RequestHandler, Response } from 'express';
import { HvgError } from '../errors/hvg-error';
import { sendProblem } from './problem-renderer';
import { requestIdOf } from './request-middleware';

export interface IntakeGateOptions {
  /** Requests processed at once. */
  readonly concurrency: number;
  /** Requests allowed to wait for a permit; beyond that 503 HVG_ERR_GATEWAY_BUSY. */
  readonly maxWaiting: number;
  /** The host a request is for (from its path), or null; with idleSlots it enables the fast lane. */
  readonly hostOf?: (req: Request) => string | null;
  /** Slots of the host no job holds or waits for right now. */
  readonly idleSlots?: (host: string) => number;
}

export interface IntakeStats {
  inFlight: number;
  waiting: number;
  refused: number;
  /** Requests in the fast lane now (for hosts that had an idle slot). */
  fastLane: number;
}

export interface IntakeGate {
  readonly middleware: RequestHandler;
  stats(): IntakeStats;
}

const RELEASE = 'releaseIntake';

/** Gives the request's intake permit back now (idempotent; a no-op without the gate). */
export function releaseIntake(res: Response): void {
  (res.locals[RELEASE] as (() => void) | undefined)?.();
}

export function createIntakeGate(options: IntakeGateOptions): IntakeGate {
  const concurrency = Math.max(1, Math.floor(options.concurrency));
  const maxWaiting = Math.max(0, Math.floor(options.maxWaiting));
  const fastLine = new Fifo<() => void>();
  const line = new Fifo<() => void>();
  let inFlight = 0;
  let refused = 0;
  let handing = false;
  const fast = new Map<string, number>();
  let fastTotal = 0;

  /** Takes a fast-lane place for the request's host if it has an idle slot nobody is heading for. */
  function takeFastLane(req: Request): string | null {
    if (!options.hostOf || !options.idleSlots) return null;
    const host = options.hostOf(req);
    if (host === null) return null;
    const inLane = fast.get(host) ?? 0;
    if (options.idleSlots(host) - inLane <= 0) return null;
    fast.set(host, inLane + 1);
    fastTotal += 1;
    return host;
  }

  function leaveFastLane(host: string): void {
    const n = (fast.get(host) ?? 1) - 1;
    if (n <= 0) fast.delete(host);
    else fast.set(host, n);
    fastTotal -= 1;
  }

  const queued = (): number => fastLine.size + line.size;

  function handOn(): void {
    handing = false;
    while (inFlight < concurrency && queued() > 0) {
      const next = fastLine.size > 0 ? fastLine.shift() : line.shift();
      inFlight += 1;
      next();
    }
  }

  function scheduleHandOn(): void {
    if (handing || queued() === 0) return;
    handing = true;
    setImmediate(handOn);
  }

  const middleware: RequestHandler = (req, res, next) => {
    const lane = takeFastLane(req);
    if (lane === null && line.size >= maxWaiting && inFlight >= concurrency) {
      refused += 1;
      sendProblem(
        res,
        new HvgError('HVG_ERR_GATEWAY_BUSY', {
          detail: `the gateway is taking in ${inFlight} requests and ${queued()} more are waiting`,
          retryAfterSec: 1,
        }),
        requestIdOf(res),
      );
      return;
    }
    let state: 'waiting' | 'held' | 'done' = 'waiting';
    const release = (): void => {
      if (state === 'done') return;
      if (state === 'held') {
        inFlight -= 1;
        scheduleHandOn();
      }
      if (lane !== null) leaveFastLane(lane);
      state = 'done';
    };
    res.locals[RELEASE] = release;
    res.once('finish', release);
    res.once('close', release);
    const start = (): void => {
      // The caller went away while it waited: its permit goes to the next one at once.
      if (state === 'done') {
        inFlight -= 1;
        scheduleHandOn();
        return;
      }
      state = 'held';
      next();
    };
    if (inFlight < concurrency && queued() === 0) {
      inFlight += 1;
      start();
      return;
    }
    (lane !== null ? fastLine : line).push(start);
    scheduleHandOn();
  };

  return {
    middleware,
    stats: () => ({ inFlight, waiting: queued(), refused, fastLane: fastTotal }),
  };
}

/** An array queue whose shift() is O(1) amortised (a busy line holds thousands of entries). */
class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T {
    const item = this.items[this.head] as T;
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

const HOST_PATH = /^\/v1\/hosts\/([^/?]{1,256})(?:[/?]|$)/;

/** The host a request under `/v1/hosts/{host}` is for; null for any other path. */
export function hostOfApiPath(req: Request): string | null {
  const m = HOST_PATH.exec(req.originalUrl);
  if (!m) return null;
  try {
    return decodeURIComponent(m[1]!);
  } catch {
    return null;
  }
}
