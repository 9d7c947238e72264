// GET /v1/jobs, GET /v1/jobs/{id}, DELETE /v1/jobs/{id}: a caller sees and cancels only its own jobs.
import { Router } from 'express';
import { HvgError } from '../errors/hvg-error';
import { toJobView } from '../jobs/job-model';
import type { JobService } from '../jobs/job-service';
import { principalOf } from './authenticate';
import { stringQuery } from './query-params';
import { route } from './request-middleware';

const LIST_KEYS = new Set(['status', 'host', 'operation', 'limit', 'cursor']);

export function createJobRouter(deps: { jobs: JobService }): Router {
  const router = Router();
  router.get(
    '/v1/jobs',
    route(async (req, res) => {
      const q = stringQuery(req, LIST_KEYS, 'HVG_ERR_BAD_REQUEST');
      let limit: number | undefined;
      if (q['limit'] !== undefined) {
        if (!/^\d{1,3}$/.test(q['limit']))
          throw new HvgError('HVG_ERR_BAD_REQUEST', { detail: 'limit must be an integer from 1 to 500' });
        limit = Number(q['limit']);
      }
      const page = await deps.jobs.list(principalOf(res), {
        ...(q['status'] !== undefined ? { status: q['status'] } : {}),
        ...(q['host'] !== undefined ? { host: q['host'] } : {}),
        ...(q['operation'] !== undefined ? { operation: q['operation'] } : {}),
        ...(q['cursor'] !== undefined ? { cursor: q['cursor'] } : {}),
        ...(limit !== undefined ? { limit } : {}),
      });
      res.json({ jobs: page.jobs.map(toJobView), nextCursor: page.nextCursor });
    }),
  );
  router.get(
    '/v1/jobs/:id',
    route(async (req, res) => {
      const job = await deps.jobs.get(principalOf(res), String(req.params['id']));
      res.json(toJobView(job));
    }),
  );
  router.delete(
    '/v1/jobs/:id',
    route(async (req, res) => {
      const job = await deps.jobs.cancel(principalOf(res), String(req.params['id']));
      res.json(toJobView(job));
    }),
  );
  return router;
}
