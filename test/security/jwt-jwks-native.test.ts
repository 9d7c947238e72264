import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * jwks-rsa 4 → jose 6 is ESM-only, which jest's CommonJS registry cannot load on Node 20 (the other JWKS
 * tests stub jose for that reason). This test runs the verifier in a plain Node child, where require(esm)
 * loads the real jose, against a JWKS endpoint on 127.0.0.1:0 — the path production takes.
 */
const CHILD = String.raw`
const fs = require('node:fs');
const http = require('node:http');
const crypto = require('node:crypto');
const swc = require('@swc/core');
require.extensions['.ts'] = (module, filename) => {
  const out = swc.transformSync(fs.readFileSync(filename, 'utf8'), {
    filename, jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' },
  });
  module._compile(out.code, filename);
};
const { createJwtVerifier } = require(process.env.VERIFIER);
const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'native-1', use: 'sig', alg: 'RS256' };
const b64u = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
const now = Math.floor(Date.now() / 1000);
function token(kid) {
  const input = b64u({ alg: 'RS256', typ: 'JWT', kid }) + '.' + b64u({ sub: 'native', iss: 'iss', aud: 'aud', iat: now, exp: now + 60, scope: 'vm:read' });
  return input + '.' + crypto.sign('sha256', Buffer.from(input), privateKey).toString('base64url');
}
const server = http.createServer((req, res) => { res.writeHead(200, { 'content-type': 'application/json', connection: 'close' }); res.end(JSON.stringify({ keys: [jwk] })); });
server.listen(0, '127.0.0.1', async () => {
  const url = 'http://127.0.0.1:' + server.address().port + '/jwks';
  const v = createJwtVerifier({ algorithms: ['RS256'], issuer: 'iss', audience: 'aud', keys: { kind: 'jwks', url } });
  const result = {};
  try {
    const p = await v.verifyToken(token('native-1'));
    result.sub = p.sub; result.scopes = [...p.scopes];
  } catch (e) { result.error = String(e && e.reason || e); }
  try { await v.verifyToken(token('other')); } catch (e) { result.unknown = e.reason; }
  server.close();
  process.stdout.write(JSON.stringify(result));
});
`;

it('verifies a JWKS-signed token with the real jose under plain Node', async () => {
  const { stdout } = await run(process.execPath, ['-e', CHILD], {
    cwd: resolve(__dirname, '../..'),
    env: { ...process.env, VERIFIER: resolve(__dirname, '../../src/auth/jwt-verifier.ts') },
    timeout: 20_000,
  });
  expect(JSON.parse(stdout)).toEqual({ sub: 'native', scopes: ['vm:read'], unknown: 'unknown-kid' });
});
