// The express app: helmet, request id, strict JSON bodies, bearer auth on /v1, routes generated from
// the catalog, problem+json for every error, 404 and 405 for unknown routes and methods.
import express, { Router, type ErrorRequestHandler, type Express } from 'express';
import type { AuditWriter } from '../audit/audit-writer';
import type { Authorizer } from '../auth/authorizer';
import type { JwtVerifier } from '../auth/jwt-verifier';
import { HvgError } from '../errors/hvg-error';
import { toHvgError } from '../jobs/job-errors';
import type { HostHealthMonitor } from '../fleet/host-health';
import type { HostInventory } from '../fleet/host-inventory';
import type { SlotCoordinator } from '../fleet/host-limiter';
import type { CircuitBreakerRegistry } from '../fleet/circuit-breaker';
import type { JobService } from '../jobs/job-service';
import type { OperationSpec } from '../operations/operation-spec';
import type { AuditStore } from '../store/audit-store';
import { createAuditRouter } from './audit-router';
import { securityHeaders } from './security-headers';
import { authenticate, requireScopeAudited } from './authenticate';
import type { IntakeGate } from './intake-gate';
import { createJobRouter } from './job-router';
import type { GatewayMetrics } from './metrics';
import { buildOpenApiDocument, toOpenApiPath } from './openapi';
import { createOperationRouter } from './operation-router';
import { sendProblem } from './problem-renderer';
import {
  jsonBody,
  requestId,
  requestIdOf,
  route,
  routingError,
  strictJsonContentType,
} from './request-middleware';

export interface Readiness {
  ready: boolean;
  checks: Record<string, 'ok' | string>;
}

export interface HttpLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

export interface AppServices {
  version: string;
  bodyLimitBytes: number;
  /** Limits how many /v1 requests are taken in at once (absent: no limit). */
  intake?: IntakeGate | undefined;
  specs: readonly OperationSpec[];
  jobs: JobService;
  verifier: JwtVerifier;
  authorizer: Authorizer;
  audit: AuditWriter;
  auditStore: AuditStore;
  inventory: HostInventory;
  slots: SlotCoordinator;
  breakers: CircuitBreakerRegistry;
  health?: HostHealthMonitor | undefined;
  metrics: GatewayMetrics;
  readiness(): Promise<Readiness>;
  logger?: HttpLogger | undefined;
}

export function createApp(services: AppServices): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', 'simple');
  app.use(securityHeaders());
  app.use(requestId());
  app.use((req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      const routePath = (req.route as { path?: string } | undefined)?.path ?? 'unmatched';
      services.metrics.httpResponse({
        method: req.method,
        route: String(routePath),
        status: res.statusCode,
        durationMs,
      });
      const principal = res.locals['principal'] as { sub?: string } | undefined;
      services.logger?.info(
        {
          requestId: requestIdOf(res),
          method: req.method,
          route: String(routePath),
          status: res.statusCode,
          durationMs: Math.round(durationMs),
          caller: principal?.sub ?? null,
          host: (req.params as Record<string, string> | undefined)?.['host'] ?? null,
        },
        'request',
      );
    });
    next();
  });

  const known = new Map<string, Set<string>>();
  const register = (path: string, method: string) => {
    const set = known.get(path) ?? new Set<string>();
    set.add(method);
    if (method === 'GET') set.add('HEAD');
    known.set(path, set);
  };

  const openapi = buildOpenApiDocument(services.specs, { version: services.version });
  const pub = Router();
  pub.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  pub.get(
    '/readyz',
    route(async (_req, res) => {
      const r = await services.readiness();
      if (r.ready) {
        res.json({ status: 'ready', checks: r.checks });
        return;
      }
      const shutting = r.checks['shutdown'] !== undefined && r.checks['shutdown'] !== 'ok';
      sendProblem(
        res,
        new HvgError(shutting ? 'HVG_ERR_SHUTTING_DOWN' : 'HVG_ERR_INTERNAL', {
          status: 503,
          detail: 'not ready',
          extensions: { checks: r.checks },
        }),
        requestIdOf(res),
      );
    }),
  );
  pub.get(
    '/metrics',
    route(async (_req, res) => {
      res.type(services.metrics.contentType).send(await services.metrics.render());
    }),
  );
  pub.get('/openapi.json', (_req, res) => {
    res.json(openapi);
  });
  for (const p of ['/healthz', '/readyz', '/metrics', '/openapi.json']) register(p, 'GET');
  app.use(pub);

  // Probes and metrics above stay answerable however long the intake line is.
  if (services.intake) app.use('/v1', services.intake.middleware);
  app.use(strictJsonContentType());
  app.use(jsonBody(services.bodyLimitBytes));
  app.use(
    '/v1',
    authenticate({
      verifier: services.verifier,
      audit: services.audit,
      onError: (err) =>
        services.logger?.error({ err: (err as Error)?.name }, 'authentication infrastructure error'),
    }),
  );

  const hosts = Router();
  hosts.get(
    '/v1/hosts',
    route(async (req, res) => {
      const principal = await requireScopeAudited(services, req, res, 'vm:read', 'host.list');
      const visible = services.authorizer.visibleHosts(principal);
      const snapshots = new Map((await services.slots.snapshot()).map((s) => [s.host, s]));
      res.json({
        hosts: visible.map((h) => {
          const s = snapshots.get(h.name);
          const health = services.health?.status(h.name);
          return {
            name: h.name,
            groups: h.groups,
            health: health?.status ?? 'unknown',
            circuit: services.breakers.forHost(h.name).state(),
            lastOkAt: health?.lastOkAt ? new Date(health.lastOkAt).toISOString() : null,
            slots: {
              max: h.maxConcurrent,
              inUse: s?.running ?? 0,
              queued: s?.queued ?? 0,
              maxQueue: h.maxQueue,
              retryAfterSec: s?.retryAfterSec ?? null,
            },
          };
        }),
      });
    }),
  );
  register('/v1/hosts', 'GET');
  app.use(hosts);

  app.use(createJobRouter({ jobs: services.jobs }));
  register('/v1/jobs', 'GET');
  register('/v1/jobs/:id', 'GET');
  register('/v1/jobs/:id', 'DELETE');

  app.use(
    createAuditRouter({
      store: services.auditStore,
      writer: services.audit,
      authorizer: services.authorizer,
    }),
  );
  for (const p of ['/v1/audit', '/v1/audit/export', '/v1/audit/verify', '/v1/audit/keys']) register(p, 'GET');

  app.use(createOperationRouter({ specs: services.specs, jobs: services.jobs }));
  for (const spec of services.specs) register(spec.route, spec.method);

  // Known paths with another method: 405 and Allow. Sorted longest first is not needed: a path
  // only reaches here when no route of it matched the method.
  const methodRouter = Router();
  for (const [path, methods] of known) {
    methodRouter.all(path, (_req, res) => {
      res.setHeader('Allow', [...methods].sort().join(', '));
      sendProblem(
        res,
        new HvgError('HVG_ERR_METHOD_NOT_ALLOWED', {
          detail: `${toOpenApiPath(path).path} accepts ${[...methods].sort().join(', ')}`,
        }),
        requestIdOf(res),
      );
    });
  }
  app.use(methodRouter);

  app.use((req, res) => {
    sendProblem(res, new HvgError('HVG_ERR_NOT_FOUND', { detail: 'no such route' }), requestIdOf(res));
    void req;
  });

  const onError: ErrorRequestHandler = (err: unknown, _req, res, _next) => {
    void _next;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const e = routingError(err) ?? toHvgError(err);
    // Unexpected errors are logged by name only (messages can carry paths or driver text).
    if (e.code === 'HVG_ERR_INTERNAL') {
      services.logger?.error(
        { requestId: requestIdOf(res), err: (err as Error)?.name ?? typeof err },
        'request failed',
      );
    }
    sendProblem(res, e, requestIdOf(res));
  };
  app.use(onError);
  return app;
}
