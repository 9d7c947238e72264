// Intake control for /v1: at most `concurrency` requests are being parsed, authenticated, validated
// and turned into jobs at once; the rest wait in arrival order. Work already holding a host slot
// shares the one event loop with intake, so without this a burst of hundreds of submissions stretched
// every running job's steps (facts read, audit commit, WinRM exchanges) and held its slot longer: the
// burst bench's first round took 2.4 s for a 1 s change. Permits are handed on with setImmediate, so
// the I/O that running jobs are waiting for is served before the next submission starts.
//
// A request gives its permit back when its response ends, or earlier when it only waits for its job
// (`?wait=`): a waiting caller costs nothing, and must not keep others out.
import type { RequestHandler, Response } from 'express';
import { HvgError } from '../errors/hvg-error';
import { sendProblem } from './problem-renderer';
import { requestIdOf } from './request-middleware';

export interface IntakeGateOptions {
  /** Requests processed at once. */
  readonly concurrency: number;
  /** Requests allowed to wait for a permit; beyond that 503 HVG_ERR_GATEWAY_BUSY. */
  readonly maxWaiting: number;
}

export interface IntakeStats {
  inFlight: number;
  waiting: number;
  refused: number;
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
  const waiting: (() => void)[] = [];
  let head = 0;
  let inFlight = 0;
  let refused = 0;
  let handing = false;

  const queued = (): number => waiting.length - head;

  function handOn(): void {
    handing = false;
    while (inFlight < concurrency && queued() > 0) {
      const next = waiting[head]!;
      waiting[head++] = noop;
      if (head > 1024 && head * 2 > waiting.length) {
        waiting.splice(0, head);
        head = 0;
      }
      inFlight += 1;
      next();
    }
  }

  function scheduleHandOn(): void {
    if (handing || queued() === 0) return;
    handing = true;
    setImmediate(handOn);
  }

  const middleware: RequestHandler = (_req, res, next) => {
    if (queued() >= maxWaiting && inFlight >= concurrency) {
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
      if (state === 'held') {
        inFlight -= 1;
        scheduleHandOn();
      }
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
    waiting.push(start);
    scheduleHandOn();
  };

  return {
    middleware,
    stats: () => ({ inFlight, waiting: queued(), refused }),
  };
}

function noop(): void {}
