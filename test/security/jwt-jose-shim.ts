import { createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';

/**
 * Stand-in for `jose` inside jest only. jwks-rsa 4 imports jose 6, which is ESM-only; Node ≥ 20.19 loads it
 * natively (require(esm)) but jest 30's CommonJS registry cannot on Node 20. jwks-rsa uses just these two
 * functions, to turn a JWK into a public key; everything else under test (fetch, cache, rate limit, kid
 * lookup, our alg checks) is the real code. jwt-jwks-native.test.ts covers the real jose in a Node child.
 */
export async function importJWK(jwk: Record<string, unknown>): Promise<KeyObject> {
  const material = { ...jwk };
  for (const k of ['ext', 'alg', 'use', 'kid', 'key_ops']) delete material[k];
  if ('d' in material) return createPrivateKey({ key: material as JsonWebKey, format: 'jwk' });
  return createPublicKey({ key: material as JsonWebKey, format: 'jwk' });
}

export async function exportSPKI(key: KeyObject): Promise<string> {
  return key.export({ type: 'spki', format: 'pem' }).toString();
}
