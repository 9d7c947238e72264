// The reviewer API (scope audit:read): query with filters and cursor paging, NDJSON export with the
// checkpoints needed offline, whole-trail verification, and the checkpoint public keys.
import { Router, type Request, type Response } from 'express';
import { exportAudit } from '../audit/audit-export';
import { queryAudit, type AuditQueryFilters } from '../audit/audit-query';
import { verifyAuditTrail } from '../audit/audit-verifier';
import type { AuditWriter } from '../audit/audit-writer';
import type { Authorizer } from '../auth/authorizer';
import { HvgError } from '../errors/hvg-error';
import type { AuditStore } from '../store/audit-store';
import { requireScopeAudited } from './authenticate';
import { route } from './request-middleware';

const FILTER_KEYS = [
  'from',
  'to',
  'actorSub',
  'host',
  'vmId',
  'operation',
  'stage',
  'status',
  'requestId',
  'jobId',
];
const PAGE_KEYS = ['limit', 'cursor', 'order'];

function stringQuery(req: Request, allowed: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.query as Record<string, unknown>)) {
    if (!allowed.includes(k)) {
      throw new HvgError('HVG_ERR_AUDIT_BAD_QUERY', {
        detail: `unknown query parameter ${/^[A-Za-z0-9_.-]{1,32}$/.test(k) ? k : '(invalid name)'}`,
      });
    }
    if (typeof v !== 'string')
      throw new HvgError('HVG_ERR_AUDIT_BAD_QUERY', { detail: `query parameter ${k} must be given once` });
    out[k] = v;
  }
  return out;
}

export function createAuditRouter(deps: {
  store: AuditStore;
  writer: AuditWriter;
  authorizer: Authorizer;
}): Router {
  const router = Router();
  const reviewer = (req: Request, res: Response, what: string) =>
    requireScopeAudited({ authorizer: deps.authorizer, audit: deps.writer }, req, res, 'audit:read', what);

  router.get(
    '/v1/audit',
    route(async (req, res) => {
      await reviewer(req, res, 'audit.query');
      const q = stringQuery(req, [...FILTER_KEYS, ...PAGE_KEYS]);
      const filters: Record<string, string> = {};
      for (const k of FILTER_KEYS) if (q[k] !== undefined) filters[k] = q[k];
      let limit: number | undefined;
      if (q['limit'] !== undefined) {
        if (!/^\d{1,4}$/.test(q['limit']))
          throw new HvgError('HVG_ERR_AUDIT_BAD_QUERY', { detail: 'limit must be an integer' });
        limit = Number(q['limit']);
      }
      const order = q['order'];
      if (order !== undefined && order !== 'asc' && order !== 'desc') {
        throw new HvgError('HVG_ERR_AUDIT_BAD_QUERY', { detail: 'order must be asc or desc' });
      }
      const result = await queryAudit(deps.store, filters as AuditQueryFilters, {
        ...(limit !== undefined ? { limit } : {}),
        ...(q['cursor'] !== undefined ? { cursor: q['cursor'] } : {}),
        ...(order !== undefined ? { order } : {}),
      });
      res.json(result);
    }),
  );

  router.get(
    '/v1/audit/export',
    route(async (req, res) => {
      await reviewer(req, res, 'audit.export');
      const q = stringQuery(req, ['from', 'to']);
      await deps.writer.flush();
      const lines = exportAudit(deps.store, {
        ...(q['from'] !== undefined ? { from: q['from'] } : {}),
        ...(q['to'] !== undefined ? { to: q['to'] } : {}),
      });
      // The first line is produced before any header is sent, so a bad range is still a clean 400.
      const first = await lines.next();
      res.status(200).type('application/x-ndjson');
      if (!first.done) res.write(`${first.value}\n`);
      for await (const line of lines) {
        if (!res.write(`${line}\n`)) await new Promise((r) => res.once('drain', r));
      }
      res.end();
    }),
  );

  router.get(
    '/v1/audit/verify',
    route(async (req, res) => {
      await reviewer(req, res, 'audit.verify');
      await deps.writer.flush();
      const result = await verifyAuditTrail(deps.store, { publicKeys: deps.writer.publicKeys() });
      res.json(result);
    }),
  );

  router.get(
    '/v1/audit/keys',
    route(async (req, res) => {
      await reviewer(req, res, 'audit.keys');
      res.json({ keys: deps.writer.publicKeys() });
    }),
  );
  return router;
}
