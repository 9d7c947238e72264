// Routes generated from the operation catalog: validate the query, hand the request to the job
// service with the Principal, map the job to HTTP. No operation logic lives here.
import { Router, type Request, type Response } from 'express';
import { HvgError } from '../errors/hvg-error';
import { fromJobError } from '../jobs/job-errors';
import { toJobView, type JobRecord } from '../jobs/job-model';
import { MAX_WAIT_SEC, type JobService } from '../jobs/job-service';
import type { OperationSpec } from '../operations/operation-spec';
import { principalOf, sourceOf } from './authenticate';
import { releaseIntake } from './intake-gate';
import { sendProblem } from './problem-renderer';
import { requestIdOf, route } from './request-middleware';

const OPERATION_QUERY_KEYS = new Set(['wait', 'dryRun']);

function singleQuery(req: Request, name: string): string | undefined {
  const v = (req.query as Record<string, unknown>)[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string')
    throw new HvgError('HVG_ERR_BAD_REQUEST', { detail: `query parameter ${name} must be given once` });
  return v;
}

export function parseWait(req: Request): number | undefined {
  const raw = singleQuery(req, 'wait');
  if (raw === undefined) return undefined;
  if (!/^\d{1,4}$/.test(raw) || Number(raw) > MAX_WAIT_SEC) {
    throw new HvgError('HVG_ERR_BAD_REQUEST', {
      detail: `wait must be whole seconds from 0 to ${MAX_WAIT_SEC}`,
    });
  }
  return Number(raw);
}

function parseDryRun(req: Request): boolean {
  const raw = singleQuery(req, 'dryRun');
  if (raw === undefined || raw === 'false') return false;
  if (raw === 'true' || raw === '') return true;
  throw new HvgError('HVG_ERR_BAD_REQUEST', { detail: 'dryRun must be true or false' });
}

function checkQueryKeys(req: Request, allowed: ReadonlySet<string>): void {
  for (const key of Object.keys(req.query as Record<string, unknown>)) {
    if (!allowed.has(key)) {
      const shown = /^[A-Za-z0-9_.-]{1,32}$/.test(key) ? key : '(invalid name)';
      throw new HvgError('HVG_ERR_BAD_REQUEST', { detail: `unknown query parameter ${shown}` });
    }
  }
}

/** A job that ended with no error recorded (rows written before cancels recorded theirs). */
function endedWithoutError(job: JobRecord): HvgError {
  const extensions = { jobId: job.id, jobStatus: job.state };
  switch (job.state) {
    case 'cancelled':
      return new HvgError('HVG_ERR_CANCELLED', { detail: `job ${job.id} was cancelled`, extensions });
    case 'interrupted':
      return new HvgError('HVG_ERR_JOB_INTERRUPTED', {
        detail: `job ${job.id} was interrupted; the outcome on the host is unknown`,
        extensions,
      });
    default:
      return new HvgError('HVG_ERR_INTERNAL', { detail: 'the job ended without a result', extensions });
  }
}

/** A finished job answers like the operation itself; an unfinished one with 202 and its URL. */
export function sendJob(
  res: Response,
  job: JobRecord,
  spec: OperationSpec | undefined,
  replayed: boolean,
): void {
  const view = toJobView(job);
  if (replayed) res.setHeader('Idempotent-Replayed', 'true');
  switch (job.state) {
    case 'succeeded':
      res.status(spec?.successStatus ?? 200).json(view);
      return;
    case 'queued':
    case 'running':
      res.status(202).setHeader('Location', view.links.self).json(view);
      return;
    default: {
      const err =
        job.error !== null
          ? fromJobError(job.error, { jobId: job.id, jobStatus: job.state })
          : endedWithoutError(job);
      sendProblem(res, err, requestIdOf(res));
    }
  }
}

export function createOperationRouter(deps: { specs: readonly OperationSpec[]; jobs: JobService }): Router {
  const router = Router();
  for (const spec of deps.specs) {
    const method = spec.method.toLowerCase() as 'get' | 'post' | 'put' | 'delete';
    router[method](
      spec.route,
      route(async (req, res) => {
        checkQueryKeys(req, OPERATION_QUERY_KEYS);
        const { host, vm, ...rest } = req.params as Record<string, string>;
        const key = req.headers['idempotency-key'];
        if (Array.isArray(key))
          throw new HvgError('HVG_ERR_BAD_REQUEST', { detail: 'Idempotency-Key must be given once' });
        const wait = parseWait(req);
        const outcome = await deps.jobs.submit({
          spec,
          principal: principalOf(res),
          host: host ?? '',
          ...(vm !== undefined ? { vmRef: vm } : {}),
          routeParams: rest,
          body: req.body,
          dryRun: spec.mutates && parseDryRun(req),
          ...(wait !== undefined ? { waitSec: wait } : {}),
          ...(typeof key === 'string' ? { idempotencyKey: key } : {}),
          requestId: requestIdOf(res),
          source: sourceOf(req),
          onAccepted: () => releaseIntake(res),
        });
        if (outcome.kind === 'dry-run') {
          res.status(200).json(outcome.report);
          return;
        }
        sendJob(res, outcome.job, spec, outcome.replayed);
      }),
    );
  }
  return router;
}
