// TLS material for the simulator's HTTPS listeners: a throw-away CA made at start and one server
// certificate signed by it, so clients can be tested the production way (CA file + name check)
// instead of with verification switched off.
import { KeyObject, generateKeyPair, randomBytes, sign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import forge from 'node-forge';

export interface SimTlsOptions {
  /**
   * Name the server certificate is issued for (CN and first SAN). Default `localhost`, with
   * `127.0.0.1` and `::1` as further SANs; any other name replaces all three, which is how a
   * host-name mismatch is produced.
   */
  serverName?: string;
  /** Certificate lifetime in days (default 7: long enough for a session, short enough to be obviously disposable). */
  validDays?: number;
}

export interface SimTlsMaterial {
  caPem: string;
  certPem: string;
  keyPem: string;
  /** Names the server certificate is valid for (DNS names and IPs). */
  altNames: string[];
}

export class SimTlsError extends Error {
  override readonly name = 'SimTlsError';
}

const DEFAULT_NAMES = ['localhost', '127.0.0.1', '::1'];

interface RsaKeys {
  privateKey: KeyObject;
  publicKey: forge.pki.rsa.PublicKey;
}

const generateRsa = promisify(generateKeyPair);

/**
 * Keys and signatures come from node:crypto (native, off the main thread in the libuv pool):
 * forge's pure-JS RSA takes seconds per key and ~0.4 s per signature; forge only builds the DER.
 */
async function rsaKeyPair(): Promise<RsaKeys> {
  const { privateKey, publicKey } = await generateRsa('rsa', { modulusLength: 2048 });
  const spki = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return { privateKey, publicKey: forge.pki.publicKeyFromPem(spki) as forge.pki.rsa.PublicKey };
}

// Missing from @types/node-forge, present in node-forge since 0.x.
const getTbsCertificate = (
  forge.pki as unknown as { getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1 }
).getTBSCertificate;

// One server key per process is enough (every certificate still differs); the CA key is always
// fresh, or one simulator's CA would vouch for another's certificates.
let serverKeys: Promise<RsaKeys> | undefined;
function serverKeyPair(): Promise<RsaKeys> {
  serverKeys ??= rsaKeyPair().catch((err: unknown) => {
    serverKeys = undefined;
    throw err;
  });
  return serverKeys;
}

function signCertificate(cert: forge.pki.Certificate, key: KeyObject): void {
  // What forge's cert.sign does, with the RSA operation done natively.
  const withSig = cert as forge.pki.Certificate & { tbsCertificate: forge.asn1.Asn1 };
  cert.signatureOid = forge.pki.oids['sha256WithRSAEncryption'] as string;
  cert.siginfo.algorithmOid = cert.signatureOid;
  withSig.tbsCertificate = getTbsCertificate(cert);
  const tbs = Buffer.from(forge.asn1.toDer(withSig.tbsCertificate).getBytes(), 'binary');
  cert.signature = sign('sha256', tbs, key).toString('binary');
}

function serial(): string {
  // Positive 16-byte serial: RFC 5280 allows up to 20 octets and forbids negative values.
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

function validity(cert: forge.pki.Certificate, days: number): void {
  const now = Date.now();
  // Backdated an hour so a client whose clock runs slightly behind still accepts it.
  cert.validity.notBefore = new Date(now - 3_600_000);
  cert.validity.notAfter = new Date(now + days * 86_400_000);
}

function validServerName(name: string): boolean {
  return isIP(name) !== 0 || /^(?=.{1,253}$)[A-Za-z0-9*]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(name);
}

export async function createSimTlsMaterial(opts: SimTlsOptions = {}): Promise<SimTlsMaterial> {
  const days = opts.validDays ?? 7;
  if (!Number.isInteger(days) || days < 1 || days > 3650)
    throw new SimTlsError('validDays must be an integer from 1 to 3650');
  if (opts.serverName !== undefined && !validServerName(opts.serverName))
    throw new SimTlsError('serverName must be a DNS name or an IP address');
  const altNames = opts.serverName === undefined ? DEFAULT_NAMES : [opts.serverName];
  const commonName = altNames[0] as string;

  const [caKeys, leafKeys] = await Promise.all([rsaKeyPair(), serverKeyPair()]);
  const ca = forge.pki.createCertificate();
  ca.publicKey = caKeys.publicKey;
  ca.serialNumber = serial();
  validity(ca, days);
  const caSubject = [
    { name: 'commonName', value: 'hvgate simulator CA' },
    { name: 'organizationName', value: 'hvgate' },
  ];
  ca.setSubject(caSubject);
  ca.setIssuer(caSubject);
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true, pathLenConstraint: 0 },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  signCertificate(ca, caKeys.privateKey);

  const cert = forge.pki.createCertificate();
  cert.publicKey = leafKeys.publicKey;
  cert.serialNumber = serial();
  validity(cert, days);
  cert.setSubject([{ name: 'commonName', value: commonName }]);
  cert.setIssuer(caSubject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: altNames.map((n) => (isIP(n) !== 0 ? { type: 7, ip: n } : { type: 2, value: n })),
    },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.generateSubjectKeyIdentifier().getBytes() },
  ]);
  signCertificate(cert, caKeys.privateKey);

  return {
    caPem: forge.pki.certificateToPem(ca),
    certPem: forge.pki.certificateToPem(cert),
    keyPem: leafKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    altNames: [...altNames],
  };
}

export interface WrittenCaFile {
  path: string;
  /** Removes the file (and the directory it was put in when no path was chosen). Idempotent. */
  remove(): void;
}

/**
 * Writes the CA certificate PEM to `file`, or to a fresh private directory under the OS temp dir.
 * Only the certificate is written: the keys never leave the process.
 */
export function writeCaFile(caPem: string, file?: string): WrittenCaFile {
  if (file !== undefined) {
    const target = path.resolve(file);
    return writtenCaFile(target, caPem, () => rmSync(target, { force: true }));
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hvgate-sim-ca-'));
  return writtenCaFile(path.join(dir, 'ca.pem'), caPem, () => rmSync(dir, { recursive: true, force: true }));
}

/** Writes the certificate; remove() runs the cleanup at most once. */
function writtenCaFile(target: string, caPem: string, cleanup: () => void): WrittenCaFile {
  writeFileSync(target, caPem, { mode: 0o644 });
  let removed = false;
  return {
    path: target,
    remove() {
      if (removed) return;
      removed = true;
      cleanup();
    },
  };
}
