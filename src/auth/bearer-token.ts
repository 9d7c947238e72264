import { AuthError } from './auth-errors';

/** The raw pieces of an HTTP request the verifier needs; keeps the auth layer free of express types. */
export interface TokenRequestPieces {
  /** Authorization header value(s) exactly as received (Node gives an array when repeated). */
  authorization?: string | readonly string[] | undefined;
  /** Request target (path and query), e.g. `req.originalUrl`. */
  url?: string | undefined;
}

// Compact JWS only (RFC 8725bis §3.12): three base64url segments; JSON serialisation, whitespace and
// padding are refused before anything is decoded.
export const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const JWT_LIKE_VALUE = /^[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*$/;
const TOKEN_QUERY_KEYS = new Set([
  'access_token',
  'token',
  'id_token',
  'jwt',
  'bearer',
  'auth',
  'authorization',
]);

/**
 * Returns the bearer token of a request or throws AuthError. A token offered in the query string is refused
 * even when a header is also present: URLs end up in proxy and access logs, so such a token counts as leaked.
 */
export function extractBearerToken(pieces: TokenRequestPieces, maxTokenBytes: number): string {
  if (pieces.url !== undefined && queryCarriesToken(pieces.url)) throw new AuthError('token-in-query');

  const header = pieces.authorization;
  if (header === undefined) throw new AuthError('token-missing');
  if (typeof header !== 'string') {
    if (header.length === 0) throw new AuthError('token-missing');
    throw new AuthError('malformed', 'more than one Authorization header');
  }
  // Size first: nothing about an oversized value is parsed.
  if (header.length > maxTokenBytes + 'Bearer '.length)
    throw new AuthError('token-too-large', `header of ${header.length} bytes`);
  const space = header.indexOf(' ');
  const scheme = space === -1 ? header : header.slice(0, space);
  if (scheme.toLowerCase() !== 'bearer') {
    throw new AuthError('token-missing', 'Authorization scheme is not Bearer');
  }
  // RFC 6750 §2.1: `Bearer 1*SP b64token`, so more than one space may separate them.
  const token = header.slice(space + 1).replace(/^ +/, '');
  if (space === -1 || token === '') throw new AuthError('malformed', 'empty bearer token');
  if (Buffer.byteLength(token, 'utf8') > maxTokenBytes)
    throw new AuthError('token-too-large', `token of ${token.length} bytes`);
  if (!COMPACT_JWS.test(token)) throw new AuthError('malformed', 'not a compact JWS');
  return token;
}

function queryCarriesToken(url: string): boolean {
  const q = url.indexOf('?');
  if (q === -1) return false;
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(url.slice(q + 1).split('#')[0]);
  } catch {
    return false;
  }
  for (const [key, value] of params) {
    if (TOKEN_QUERY_KEYS.has(key.toLowerCase())) return true;
    if (JWT_LIKE_VALUE.test(value.trim())) return true;
  }
  return false;
}
