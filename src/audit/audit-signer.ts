// Ed25519 keys for signed checkpoints. The private key lives in its own PEM file, apart from the
// store, so whoever can rewrite the database still cannot re-sign a rewritten chain head.
// Key id = first 16 hex of SHA-256 over the raw 32-byte public key; verifiers recompute it from
// the key they were given and never trust a key id that arrives with a key.
import crypto, { KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { AuditKeyError } from './audit-errors';

export interface AuditPublicJwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  kid: string;
  alg: 'EdDSA';
  use: 'sig';
}

/** What `GET /v1/audit/keys` serves: enough for an offline verifier to check checkpoints. */
export interface AuditPublicKeyInfo {
  keyId: string;
  alg: 'Ed25519';
  publicKeyPem: string;
  jwk: AuditPublicJwk;
}

export interface AuditSigner {
  readonly keyId: string;
  /** Detached Ed25519 signature over the UTF-8 bytes of `message`, base64url. */
  sign(message: string): string;
  /** The current key first, then any retired keys still needed to verify older checkpoints. */
  publicKeys(): AuditPublicKeyInfo[];
}

function rawPublicKey(key: KeyObject): Buffer {
  const jwk = key.export({ format: 'jwk' }) as { x?: string };
  if (!jwk.x) throw new AuditKeyError('not an Ed25519 public key');
  return Buffer.from(jwk.x, 'base64url');
}

function assertEd25519(key: KeyObject, what: string): void {
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new AuditKeyError(`${what} must be an Ed25519 key (got ${key.asymmetricKeyType ?? key.type})`);
  }
}

export function keyIdOf(publicKey: KeyObject): string {
  return crypto.createHash('sha256').update(rawPublicKey(publicKey)).digest('hex').slice(0, 16);
}

export function describePublicKey(publicKey: KeyObject): AuditPublicKeyInfo {
  assertEd25519(publicKey, 'audit public key');
  const keyId = keyIdOf(publicKey);
  return {
    keyId,
    alg: 'Ed25519',
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    jwk: {
      kty: 'OKP',
      crv: 'Ed25519',
      x: rawPublicKey(publicKey).toString('base64url'),
      kid: keyId,
      alg: 'EdDSA',
      use: 'sig',
    },
  };
}

export type PublicKeyInput =
  KeyObject | string | AuditPublicKeyInfo | { kty: string; crv?: string; x?: string };

function toPublicKey(input: PublicKeyInput): KeyObject {
  try {
    if (input instanceof KeyObject) {
      return input.type === 'private' ? crypto.createPublicKey(input) : input;
    }
    if (typeof input === 'string') return crypto.createPublicKey(input);
    if ('publicKeyPem' in input) return crypto.createPublicKey(input.publicKeyPem);
    return crypto.createPublicKey({ key: { kty: input.kty, crv: input.crv, x: input.x }, format: 'jwk' });
  } catch (err) {
    throw new AuditKeyError('unreadable audit public key', { cause: err });
  }
}

export interface AuditSignerOptions {
  /** Ed25519 private key: a KeyObject or PKCS#8 PEM text. */
  readonly privateKey: KeyObject | string;
  /** Retired public keys to keep publishing after a rotation. */
  readonly retiredPublicKeys?: readonly PublicKeyInput[];
}

export function createAuditSigner(options: AuditSignerOptions): AuditSigner {
  let privateKey: KeyObject;
  try {
    privateKey =
      options.privateKey instanceof KeyObject
        ? options.privateKey
        : crypto.createPrivateKey(options.privateKey);
  } catch (err) {
    throw new AuditKeyError('unreadable audit signing key', { cause: err });
  }
  if (privateKey.type !== 'private') throw new AuditKeyError('audit signing key must be a private key');
  assertEd25519(privateKey, 'audit signing key');
  const current = describePublicKey(crypto.createPublicKey(privateKey));
  const retired = (options.retiredPublicKeys ?? [])
    .map((k) => describePublicKey(toPublicKey(k)))
    .filter((k) => k.keyId !== current.keyId);
  return {
    keyId: current.keyId,
    sign: (message) => crypto.sign(null, Buffer.from(message, 'utf8'), privateKey).toString('base64url'),
    publicKeys: () => [current, ...retired],
  };
}

/** Reads the signing key from its PEM file (path from configuration). */
export function loadAuditSigner(
  privateKeyFile: string,
  retiredPublicKeys?: readonly PublicKeyInput[],
): AuditSigner {
  let pem: string;
  try {
    pem = fs.readFileSync(privateKeyFile, 'utf8');
  } catch (err) {
    throw new AuditKeyError(`cannot read audit signing key file ${privateKeyFile}`, { cause: err });
  }
  return createAuditSigner({ privateKey: pem, retiredPublicKeys });
}

export const SIGNING_KEY_FILE = 'audit-signing-key.pem';
export const PUBLIC_KEY_FILE = 'audit-signing-key.pub.pem';

export interface GeneratedSigningKey {
  privateKeyPath: string;
  publicKeyPath: string;
  keyId: string;
  /** false when the key already existed and was reused. */
  created: boolean;
}

/**
 * Creates an Ed25519 key pair in `dir` (private key mode 0600), or returns the existing one so a
 * demo keeps verifying its earlier checkpoints across restarts.
 */
export function generateSigningKey(dir: string): GeneratedSigningKey {
  const privateKeyPath = path.join(dir, SIGNING_KEY_FILE);
  const publicKeyPath = path.join(dir, PUBLIC_KEY_FILE);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (fs.existsSync(privateKeyPath)) {
    const signer = loadAuditSigner(privateKeyPath);
    if (!fs.existsSync(publicKeyPath)) {
      fs.writeFileSync(publicKeyPath, signer.publicKeys()[0]!.publicKeyPem, { mode: 0o644 });
    }
    return { privateKeyPath, publicKeyPath, keyId: signer.keyId, created: false };
  }
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ed25519');
  // 'wx' fails instead of overwriting if another process created the key meanwhile.
  fs.writeFileSync(privateKeyPath, privateKey.export({ format: 'pem', type: 'pkcs8' }), {
    mode: 0o600,
    flag: 'wx',
  });
  fs.writeFileSync(publicKeyPath, publicKey.export({ format: 'pem', type: 'spki' }), { mode: 0o644 });
  return { privateKeyPath, publicKeyPath, keyId: keyIdOf(publicKey), created: true };
}

/** Verification keys by key id. */
export interface AuditKeyRing {
  get(keyId: string): KeyObject | undefined;
  readonly keyIds: readonly string[];
}

export function createKeyRing(keys: readonly PublicKeyInput[]): AuditKeyRing {
  const map = new Map<string, KeyObject>();
  for (const input of keys) {
    const key = toPublicKey(input);
    assertEd25519(key, 'audit public key');
    map.set(keyIdOf(key), key);
  }
  return { get: (id) => map.get(id), keyIds: [...map.keys()] };
}

const PEM_BLOCK_RE = /-----BEGIN ([A-Z ]+)-----[\s\S]+?-----END \1-----/g;

/**
 * Public keys from a file: one or more PEM blocks (public keys, or a private key whose public half
 * is taken), a JWK, a JWK set ({keys:[...]}) or the JSON served by GET /v1/audit/keys.
 */
export function loadPublicKeyFile(file: string): KeyObject[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new AuditKeyError(`cannot read public key file ${file}`, { cause: err });
  }
  const keys: KeyObject[] = [];
  const trimmed = text.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    let doc: unknown;
    try {
      doc = JSON.parse(trimmed);
    } catch (err) {
      throw new AuditKeyError(`public key file ${file} is not valid JSON`, { cause: err });
    }
    const list = Array.isArray(doc)
      ? doc
      : (doc as { keys?: unknown[] }).keys
        ? (doc as { keys: unknown[] }).keys
        : [doc];
    for (const item of list) {
      const entry = item as { jwk?: object; publicKeyPem?: string; kty?: string };
      if (entry.publicKeyPem) keys.push(toPublicKey(entry.publicKeyPem));
      else if (entry.jwk) keys.push(toPublicKey(entry.jwk as PublicKeyInput));
      else if (entry.kty) keys.push(toPublicKey(entry as PublicKeyInput));
    }
  } else {
    for (const match of trimmed.matchAll(PEM_BLOCK_RE)) {
      const block = match[0];
      try {
        keys.push(
          match[1]!.includes('PRIVATE')
            ? crypto.createPublicKey(crypto.createPrivateKey(block))
            : crypto.createPublicKey(block),
        );
      } catch (err) {
        throw new AuditKeyError(`unreadable key in ${file}`, { cause: err });
      }
    }
  }
  if (keys.length === 0) throw new AuditKeyError(`no public key found in ${file}`);
  for (const k of keys) assertEd25519(k, `key in ${file}`);
  return keys;
}
