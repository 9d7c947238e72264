export const AUTH_FAILURE_REASONS = [
  'token-missing',
  'token-too-large',
  'token-in-query',
  'malformed',
  'alg-not-allowed',
  'unknown-kid',
  'bad-signature',
  'expired',
  'not-yet-valid',
  'missing-exp',
  'wrong-issuer',
  'wrong-audience',
  'token-too-old',
  'key-unavailable',
] as const;
export type AuthFailureReason = (typeof AUTH_FAILURE_REASONS)[number];

// Fixed texts: the client-facing message is chosen by reason only, so nothing from the token (or from
// jsonwebtoken's messages, which quote expected issuers and audiences) can leak back to the caller.
const MESSAGES: Record<AuthFailureReason, string> = {
  'token-missing': 'a bearer token is required',
  'token-too-large': 'the bearer token is too large',
  'token-in-query': 'tokens are accepted only in the Authorization header',
  malformed: 'the bearer token is malformed',
  'alg-not-allowed': 'the token signing algorithm is not allowed',
  'unknown-kid': 'the token signing key is not known',
  'bad-signature': 'the token signature is invalid',
  expired: 'the token has expired',
  'not-yet-valid': 'the token is not yet valid',
  'missing-exp': 'the token has no expiry',
  'wrong-issuer': 'the token issuer is not accepted',
  'wrong-audience': 'the token audience is not accepted',
  'token-too-old': 'the token is older than the accepted maximum age',
  'key-unavailable': 'token signing keys are temporarily unavailable',
};

/** Authentication failed (HTTP 401; 503 when the key source itself is down). */
export class AuthError extends Error {
  override readonly name = 'AuthError';
  readonly code = 'HVG_ERR_UNAUTHENTICATED';
  readonly httpStatus: 401 | 503;

  /**
   * @param detail for logs and audit only; callers build it from fixed text and header fields, never the
   * token itself.
   */
  constructor(
    readonly reason: AuthFailureReason,
    readonly detail?: string,
  ) {
    super(MESSAGES[reason]);
    this.httpStatus = reason === 'key-unavailable' ? 503 : 401;
  }
}

/** Authenticated, but the token does not allow this (HTTP 403). `rule` is safe to show the caller. */
export class ForbiddenError extends Error {
  override readonly name = 'ForbiddenError';
  readonly code = 'HVG_ERR_FORBIDDEN';
  readonly httpStatus = 403;

  constructor(readonly rule: string) {
    super(rule);
  }
}
