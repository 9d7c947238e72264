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
import { AUDIT_FILTER_KEYS, stringQuery } from './query-params';
import { route } from './request-middleware';

const PAGE_KEYS = ['limit', 'cursor', 'order'];
const QUERY_KEYS = new Set<string>([...AUDIT_FILTER_KEYS, ...PAGE_KEYS]);
const EXPORT_KEYS = new Set(['from', 'to']);

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
      const q = stringQuery(req, QUERY_KEYS, 'HVG_ERR_AUDIT_BAD_QUERY');
      const filters: Record<string, string> = {};
      for (const k of AUDIT_FILTER_KEYS) if (q[k] !== undefined) filters[k] = q[k];
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
      const q = stringQuery(req, EXPORT_KEYS, 'HVG_ERR_AUDIT_BAD_QUERY');
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
