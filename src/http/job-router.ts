// GET /v1/jobs, GET /v1/jobs/{id}, DELETE /v1/jobs/{id}: a caller sees and cancels only its own jobs.
import { Router, type Request } from 'express';
import { HvgError } from '../errors/hvg-error';
import { toJobView } from '../jobs/job-model';
import type { JobService } from '../jobs/job-service';
import { principalOf } from './authenticate';
import { route } from './request-middleware';

const LIST_KEYS = new Set(['status', 'host', 'operation', 'limit', 'cursor']);

function listQuery(req: Request): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.query as Record<string, unknown>)) {
    if (!LIST_KEYS.has(k)) {
      throw new HvgError('HVG_ERR_BAD_REQUEST', {
        detail: `unknown query parameter ${/^[A-Za-z0-9_.-]{1,32}$/.test(k) ? k : '(invalid name)'}`,
      });
    }
    if (typeof v !== 'string')
      throw new HvgError('HVG_ERR_BAD_REQUEST', { detail: `query parameter ${k} must be given once` });
    out[k] = v;
  }
  return out;
}

export function createJobRouter(deps: { jobs: JobService }): Router {
  const router = Router();
  router.get(
    '/v1/jobs',
    route(async (req, res) => {
      const q = listQuery(req);
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
