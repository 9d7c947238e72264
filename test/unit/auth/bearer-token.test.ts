// What the Authorization header may look like before any token is decoded: RFC 6750's form, one
// header, a compact JWS, nothing in the query string.
import { AuthError } from '../../../src/auth/auth-errors';
import { extractBearerToken } from '../../../src/auth/bearer-token';

const JWS = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln';
const MAX = 4096;

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof AuthError) return `${err.reason}${err.detail ? `: ${err.detail}` : ''}`;
    throw err;
  }
  return 'accepted';
}

test('the scheme in any case, then one or more spaces (RFC 6750 §2.1 `Bearer 1*SP b64token`)', () => {
  for (const header of [`Bearer ${JWS}`, `bearer ${JWS}`, `BEARER ${JWS}`, `Bearer   ${JWS}`])
    expect(extractBearerToken({ authorization: header }, MAX)).toBe(JWS);
});

test('one header only: a repeated Authorization header is refused, whatever the values', () => {
  expect(reason(() => extractBearerToken({ authorization: [`Bearer ${JWS}`, `Bearer ${JWS}`] }, MAX))).toBe(
    'malformed: more than one Authorization header',
  );
  expect(reason(() => extractBearerToken({ authorization: [] }, MAX))).toBe('token-missing');
});

test('missing, another scheme, empty, not a compact JWS, oversized, or in the query: refused', () => {
  const cases: [Parameters<typeof extractBearerToken>[0], string][] = [
    [{}, 'token-missing'],
    [{ authorization: 'Basic YTpi' }, 'token-missing: Authorization scheme is not Bearer'],
    [{ authorization: 'Bearer' }, 'malformed: empty bearer token'],
    [{ authorization: 'Bearer    ' }, 'malformed: empty bearer token'],
    [{ authorization: `Bearer ${JWS} x` }, 'malformed: not a compact JWS'],
    [{ authorization: `Bearer\t${JWS}` }, 'token-missing: Authorization scheme is not Bearer'],
    [{ authorization: `Bearer ${JWS}=` }, 'malformed: not a compact JWS'],
    [{ authorization: `Bearer ${'a'.repeat(MAX)}.b.c` }, `token-too-large: header of ${MAX + 11} bytes`],
    [{ authorization: `Bearer ${JWS}`, url: `/v1/hosts?access_token=${JWS}` }, 'token-in-query'],
  ];
  for (const [pieces, expected] of cases)
    expect(reason(() => extractBearerToken(pieces, MAX))).toBe(expected);
});
