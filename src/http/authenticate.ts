// Bearer authentication for /v1: verified token → Principal on res.locals. Every rejected token is
// audited as `denied` with the fixed reason only, never the token or a claim copied from it.
import type { Request, RequestHandler, Response } from 'express';
import { tokenRejectedEvent } from '../audit/audit-event';
import type { AuditWriter } from '../audit/audit-writer';
import { AuthError, ForbiddenError } from '../auth/auth-errors';
import type { Authorizer } from '../auth/authorizer';
import type { JwtVerifier } from '../auth/jwt-verifier';
import type { Principal, Scope } from '../auth/principal';
import { HvgError } from '../errors/hvg-error';
import { requestIdOf } from './request-middleware';

export function sourceOf(req: Request): { ip: string | null; userAgent: string | null } {
  const ua = req.headers['user-agent'];
  return { ip: req.socket.remoteAddress ?? null, userAgent: typeof ua === 'string' ? ua : null };
}

/**
 * Every Authorization header the request carried. `req.headers` keeps only the first of repeated
 * ones (Node discards the rest), so a request with two would be judged on one of them while a proxy
 * in front may have judged it on the other; the extractor refuses more than one instead.
 */
function authorizationHeaders(req: Request): string | readonly string[] | undefined {
  const all = req.headersDistinct['authorization'];
  return all && all.length === 1 ? all[0] : all;
}

export function principalOf(res: Response): Principal {
  const p = res.locals['principal'] as Principal | undefined;
  if (!p) throw new HvgError('HVG_ERR_UNAUTHENTICATED', { detail: 'a bearer token is required' });
  return p;
}

export function authenticate(deps: {
  verifier: JwtVerifier;
  audit: AuditWriter;
  onError?: (err: unknown) => void;
}): RequestHandler {
  return (req, res, next) => {
    deps.verifier
      .authenticate({ authorization: authorizationHeaders(req), url: req.originalUrl })
      .then((principal) => {
        res.locals['principal'] = principal;
        next();
      })
      .catch(async (err: unknown) => {
        if (!(err instanceof AuthError)) {
          deps.onError?.(err);
          next(new HvgError('HVG_ERR_UNAUTHENTICATED', { detail: 'the bearer token could not be verified' }));
          return;
        }
        try {
          await deps.audit.append(
            tokenRejectedEvent({
              errorCode: 'HVG_ERR_UNAUTHENTICATED',
              reason: `token rejected: ${err.reason}`,
              httpStatus: err.httpStatus,
              requestId: requestIdOf(res),
              source: sourceOf(req),
            }),
          );
        } catch (auditErr) {
          // The request is refused either way; the outage shows in logs and readiness.
          deps.onError?.(auditErr);
        }
        next(new HvgError('HVG_ERR_UNAUTHENTICATED', { detail: err.message, status: err.httpStatus }));
      });
  };
}

/**
 * Scope check for the gateway's own routes (hosts list, reviewer API); a refusal is audited as
 * `denied` like an operation's, then rethrown for the renderer.
 */
export async function requireScopeAudited(
  deps: { authorizer: Authorizer; audit: AuditWriter },
  req: Request,
  res: Response,
  scope: Scope,
  operation: string,
): Promise<Principal> {
  const principal = principalOf(res);
  try {
    deps.authorizer.requireScope(principal, scope);
  } catch (err) {
    if (err instanceof ForbiddenError) {
      await deps.audit
        .append({
          stage: 'denied',
          operation,
          requestId: requestIdOf(res),
          actor: {
            sub: principal.sub,
            iss: principal.iss,
            clientId: principal.clientId,
            tokenId: principal.tokenId,
            scopes: [...principal.scopes],
          },
          source: sourceOf(req),
          outcome: { httpStatus: 403, errorCode: 'HVG_ERR_FORBIDDEN', message: err.rule },
        })
        .catch(() => undefined);
    }
    throw err;
  }
  return principal;
}
