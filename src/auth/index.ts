export { AUTH_FAILURE_REASONS, AuthError, ForbiddenError, type AuthFailureReason } from './auth-errors';
export { createAuthorizer, type Authorizer } from './authorizer';
export { extractBearerToken, type TokenRequestPieces } from './bearer-token';
export { createKeyResolver, keyFitsAlgorithm, type JwtKeySource } from './jwt-key-source';
export {
  createJwtVerifier,
  createJwtVerifierFromConfig,
  type JwtVerifier,
  type JwtVerifierOptions,
} from './jwt-verifier';
export { isScope, SCOPES, type Principal, type Scope } from './principal';
export { mintDevToken, parseTtl, type DevTokenRequest } from './token-minter';
