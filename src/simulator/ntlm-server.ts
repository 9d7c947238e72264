// Server side of NTLM (MS-NLMP) as a WinRM host runs it under the Negotiate scheme: read the
// client's NEGOTIATE, answer with a CHALLENGE (server challenge + target info with a timestamp),
// and verify the AUTHENTICATE message's NTLMv2 response against the configured password. Tokens
// may come raw (winrm-client, requests_ntlm) or wrapped in SPNEGO (Windows clients); a wrapped
// request gets a wrapped answer. No session key is derived, so a client's MIC and channel
// bindings are carried but not checked, and message sealing is not offered by the listener.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

// js-md4 ships no typings; OpenSSL 3 dropped MD4, so node:crypto cannot compute the NT hash.
interface Md4 {
  arrayBuffer(message: Uint8Array): ArrayBuffer;
}
const md4 = require('js-md4') as Md4;

const SIGNATURE = Buffer.from('NTLMSSP\0', 'latin1');

export const NTLM_FLAGS = {
  unicode: 0x00000001,
  oem: 0x00000002,
  requestTarget: 0x00000004,
  sign: 0x00000010,
  seal: 0x00000020,
  ntlm: 0x00000200,
  alwaysSign: 0x00008000,
  targetTypeServer: 0x00020000,
  extendedSessionSecurity: 0x00080000,
  targetInfo: 0x00800000,
  version: 0x02000000,
  key128: 0x20000000,
  keyExchange: 0x40000000,
  key56: 0x80000000,
} as const;

/** MS-NLMP 2.2.2.1 AV_PAIR ids. */
export const AV_ID = {
  eol: 0,
  nbComputerName: 1,
  nbDomainName: 2,
  dnsComputerName: 3,
  dnsDomainName: 4,
  flags: 6,
  timestamp: 7,
  channelBindings: 10,
} as const;

// SPNEGO (RFC 4178) pieces: the NTLMSSP mechanism OID and NegTokenResp states.
const NTLMSSP_OID = Buffer.from('060a2b06010401823702020a', 'hex');
const NEG_STATE = { acceptCompleted: 0, acceptIncomplete: 1, reject: 2 } as const;

export class NtlmMessageError extends Error {
  override readonly name = 'NtlmMessageError';
}

export interface NtlmToken {
  /** The NTLMSSP message (from its signature on). */
  message: Buffer;
  /** True when the client wrapped it in SPNEGO, so the answer must be wrapped too. */
  spnego: boolean;
}

/**
 * Finds the NTLMSSP message in a Negotiate token. SPNEGO wraps it in DER, but an NTLM message's
 * offsets are relative to its own signature, so slicing from the signature is enough to read it.
 */
export function extractNtlmToken(token: Buffer): NtlmToken {
  if (token.subarray(0, SIGNATURE.length).equals(SIGNATURE)) return { message: token, spnego: false };
  const first = token[0];
  // 0x60: GSS InitialContextToken carrying NegTokenInit; 0xa1: NegTokenResp.
  if (first === 0x60 || first === 0xa1) {
    const at = token.indexOf(SIGNATURE);
    if (at > 0) return { message: token.subarray(at), spnego: true };
    throw new NtlmMessageError('SPNEGO token offers no NTLMSSP mechanism token');
  }
  throw new NtlmMessageError('not an NTLMSSP or SPNEGO token');
}

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function der(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
}

/** SPNEGO NegTokenResp (RFC 4178 4.2.2) with the given state, mechanism and NTLM token. */
export function spnegoResponse(state: keyof typeof NEG_STATE, ntlmMessage?: Buffer): Buffer {
  const fields = [der(0xa0, der(0x0a, Buffer.from([NEG_STATE[state]])))];
  if (state === 'acceptIncomplete') fields.push(der(0xa1, NTLMSSP_OID));
  if (ntlmMessage) fields.push(der(0xa2, der(0x04, ntlmMessage)));
  return der(0xa1, der(0x30, Buffer.concat(fields)));
}

interface SecurityBuffer {
  length: number;
  offset: number;
}

function readSecurityBuffer(msg: Buffer, at: number): SecurityBuffer {
  if (msg.length < at + 8) throw new NtlmMessageError('NTLM message truncated');
  const length = msg.readUInt16LE(at);
  const offset = msg.readUInt32LE(at + 4);
  if (length > 0 && offset + length > msg.length)
    throw new NtlmMessageError('NTLM field points past the message');
  return { length, offset };
}

function field(msg: Buffer, sb: SecurityBuffer): Buffer {
  return sb.length === 0 ? Buffer.alloc(0) : msg.subarray(sb.offset, sb.offset + sb.length);
}

function messageType(msg: Buffer): number {
  if (msg.length < 12 || !msg.subarray(0, 8).equals(SIGNATURE))
    throw new NtlmMessageError('missing NTLMSSP signature');
  return msg.readUInt32LE(8);
}

export interface NegotiateMessage {
  flags: number;
}

export function parseNegotiateMessage(msg: Buffer): NegotiateMessage {
  if (messageType(msg) !== 1) throw new NtlmMessageError('expected an NTLM NEGOTIATE (type 1) message');
  if (msg.length < 16) throw new NtlmMessageError('NTLM NEGOTIATE truncated');
  return { flags: msg.readUInt32LE(12) };
}

export interface AuthenticateMessage {
  flags: number;
  lmResponse: Buffer;
  ntResponse: Buffer;
  domain: string;
  user: string;
  workstation: string;
}

export function parseAuthenticateMessage(msg: Buffer): AuthenticateMessage {
  if (messageType(msg) !== 3) throw new NtlmMessageError('expected an NTLM AUTHENTICATE (type 3) message');
  if (msg.length < 64) throw new NtlmMessageError('NTLM AUTHENTICATE truncated');
  const flags = msg.readUInt32LE(60);
  const text = (b: Buffer): string =>
    flags & NTLM_FLAGS.unicode ? b.toString('utf16le') : b.toString('latin1');
  return {
    flags,
    lmResponse: field(msg, readSecurityBuffer(msg, 12)),
    ntResponse: field(msg, readSecurityBuffer(msg, 20)),
    domain: text(field(msg, readSecurityBuffer(msg, 28))),
    user: text(field(msg, readSecurityBuffer(msg, 36))),
    workstation: text(field(msg, readSecurityBuffer(msg, 44))),
  };
}

/** Windows FILETIME: 100 ns ticks since 1601-01-01, little-endian 64-bit. */
export function fileTime(ms: number): Buffer {
  const buf = Buffer.alloc(8);
  buf.writeBigUInt64LE((BigInt(Math.round(ms)) + 11_644_473_600_000n) * 10_000n);
  return buf;
}

function avPair(id: number, value: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt16LE(id, 0);
  head.writeUInt16LE(value.length, 2);
  return Buffer.concat([head, value]);
}

export interface ChallengeOptions {
  /** Flags of the client's NEGOTIATE; the answer keeps the ones a server may grant. */
  clientFlags: number;
  serverChallenge: Buffer;
  /** NetBIOS computer name (upper case, at most 15 characters). */
  netbiosName: string;
  dnsName: string;
  nowMs: number;
}

export function buildChallengeMessage(o: ChallengeOptions): Buffer {
  if (o.serverChallenge.length !== 8) throw new RangeError('server challenge must be 8 bytes');
  const unicode = (o.clientFlags & NTLM_FLAGS.unicode) !== 0;
  const granted =
    o.clientFlags &
    (NTLM_FLAGS.sign | NTLM_FLAGS.seal | NTLM_FLAGS.key128 | NTLM_FLAGS.key56 | NTLM_FLAGS.keyExchange);
  const flags =
    (unicode ? NTLM_FLAGS.unicode : NTLM_FLAGS.oem) |
    NTLM_FLAGS.requestTarget |
    NTLM_FLAGS.ntlm |
    NTLM_FLAGS.alwaysSign |
    NTLM_FLAGS.targetTypeServer |
    NTLM_FLAGS.extendedSessionSecurity |
    NTLM_FLAGS.targetInfo |
    NTLM_FLAGS.version |
    granted;
  const targetName = Buffer.from(o.netbiosName, unicode ? 'utf16le' : 'latin1');
  const u16 = (s: string): Buffer => Buffer.from(s, 'utf16le');
  const targetInfo = Buffer.concat([
    avPair(AV_ID.nbDomainName, u16(o.netbiosName)),
    avPair(AV_ID.nbComputerName, u16(o.netbiosName)),
    avPair(AV_ID.dnsDomainName, u16(o.dnsName)),
    avPair(AV_ID.dnsComputerName, u16(o.dnsName)),
    avPair(AV_ID.timestamp, fileTime(o.nowMs)),
    avPair(AV_ID.eol, Buffer.alloc(0)),
  ]);
  const header = Buffer.alloc(56);
  SIGNATURE.copy(header, 0);
  header.writeUInt32LE(2, 8);
  header.writeUInt16LE(targetName.length, 12);
  header.writeUInt16LE(targetName.length, 14);
  header.writeUInt32LE(56, 16);
  header.writeUInt32LE(flags >>> 0, 20);
  o.serverChallenge.copy(header, 24);
  header.writeUInt16LE(targetInfo.length, 40);
  header.writeUInt16LE(targetInfo.length, 42);
  header.writeUInt32LE(56 + targetName.length, 44);
  // Version: Windows 10/Server 2016+ (10.0 build 17763), NTLM revision 15.
  Buffer.from([10, 0, 0x03, 0x45, 0, 0, 0, 15]).copy(header, 48);
  return Buffer.concat([header, targetName, targetInfo]);
}

/** NTOWFv2 (MS-NLMP 3.3.2): HMAC-MD5(MD4(UTF-16LE password), UTF-16LE(UPPER(user) + domain)). */
export function ntowfv2(password: string, user: string, domain: string): Buffer {
  const ntHash = Buffer.from(md4.arrayBuffer(Buffer.from(password, 'utf16le')));
  return createHmac('md5', ntHash)
    .update(Buffer.from(user.toUpperCase() + domain, 'utf16le'))
    .digest();
}

/** NTProofStr = HMAC-MD5(NTOWFv2, serverChallenge ‖ blob). */
export function ntProofStr(key: Buffer, serverChallenge: Buffer, blob: Buffer): Buffer {
  return createHmac('md5', key)
    .update(Buffer.concat([serverChallenge, blob]))
    .digest();
}

export type NtlmVerdict =
  | { ok: true; user: string; domain: string }
  | { ok: false; reason: 'malformed' | 'ntlmv1' | 'anonymous' | 'unknown-user' | 'wrong-password' };

export interface NtlmAccount {
  user: string;
  password: string;
  /** Domains a local account may be named with: '', '.', the NetBIOS and DNS names (case-insensitive). */
  localNames: string[];
}

/**
 * Verifies an AUTHENTICATE message against the account. The NTLMv2 hash is computed with the
 * domain exactly as sent and, failing that, upper-cased: clients differ here (winrm-client hashes
 * the upper-cased domain but sends it as typed) and Samba's checker is lenient the same way.
 */
export function verifyAuthenticate(msg: Buffer, serverChallenge: Buffer, account: NtlmAccount): NtlmVerdict {
  let auth: AuthenticateMessage;
  try {
    auth = parseAuthenticateMessage(msg);
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (auth.user === '' && auth.ntResponse.length === 0) return { ok: false, reason: 'anonymous' };
  // NTLMv1 answers are exactly 24 bytes; Windows hosts refuse them by default (LmCompatibilityLevel 5).
  if (auth.ntResponse.length === 24) return { ok: false, reason: 'ntlmv1' };
  // NTProofStr (16) + blob header (28) at least, blob starting with RespType/HiRespType 1/1.
  if (auth.ntResponse.length < 16 + 28 || auth.ntResponse[16] !== 1 || auth.ntResponse[17] !== 1) {
    return { ok: false, reason: 'malformed' };
  }
  const localDomain = account.localNames.some((n) => n.toLowerCase() === auth.domain.toLowerCase());
  if (auth.user.toLowerCase() !== account.user.toLowerCase() || !localDomain) {
    return { ok: false, reason: 'unknown-user' };
  }
  const proof = auth.ntResponse.subarray(0, 16);
  const blob = auth.ntResponse.subarray(16);
  const domains =
    auth.domain === auth.domain.toUpperCase() ? [auth.domain] : [auth.domain, auth.domain.toUpperCase()];
  for (const domain of domains) {
    const expected = ntProofStr(ntowfv2(account.password, auth.user, domain), serverChallenge, blob);
    if (timingSafeEqual(expected, proof)) return { ok: true, user: auth.user, domain: auth.domain };
  }
  return { ok: false, reason: 'wrong-password' };
}

export type NtlmStep =
  | { kind: 'challenge'; token: Buffer }
  | { kind: 'authenticated'; user: string; token?: Buffer }
  | { kind: 'rejected'; reason: string };

export interface NtlmAcceptorOptions {
  user: string;
  password: string;
  hostName: string;
  now?: () => number;
  random?: (n: number) => Buffer;
}

/** State of one connection's handshake: NEGOTIATE → CHALLENGE → AUTHENTICATE. */
export interface NtlmAcceptor {
  step(token: Buffer): NtlmStep;
}

function netbiosName(hostName: string): string {
  return (hostName.split('.')[0] ?? hostName).toUpperCase().slice(0, 15);
}

export function createNtlmAcceptor(opts: NtlmAcceptorOptions): NtlmAcceptor {
  const now = opts.now ?? Date.now;
  const random = opts.random ?? randomBytes;
  const netbios = netbiosName(opts.hostName);
  const account: NtlmAccount = {
    user: opts.user,
    password: opts.password,
    localNames: ['', '.', netbios, opts.hostName],
  };
  let pending: { challenge: Buffer; spnego: boolean } | undefined;

  return {
    step(token) {
      let parsed: NtlmToken;
      try {
        parsed = extractNtlmToken(token);
      } catch (err) {
        pending = undefined;
        return { kind: 'rejected', reason: (err as Error).message };
      }
      let type: number;
      try {
        type = messageType(parsed.message);
      } catch (err) {
        pending = undefined;
        return { kind: 'rejected', reason: (err as Error).message };
      }
      if (type === 1) {
        let negotiate: NegotiateMessage;
        try {
          negotiate = parseNegotiateMessage(parsed.message);
        } catch (err) {
          pending = undefined;
          return { kind: 'rejected', reason: (err as Error).message };
        }
        const challenge = random(8);
        pending = { challenge, spnego: parsed.spnego };
        const message = buildChallengeMessage({
          clientFlags: negotiate.flags,
          serverChallenge: challenge,
          netbiosName: netbios,
          dnsName: opts.hostName,
          nowMs: now(),
        });
        return {
          kind: 'challenge',
          token: parsed.spnego ? spnegoResponse('acceptIncomplete', message) : message,
        };
      }
      if (type === 3) {
        const context = pending;
        // A challenge answers exactly one AUTHENTICATE: no replay on the same connection.
        pending = undefined;
        if (!context) return { kind: 'rejected', reason: 'AUTHENTICATE without a preceding challenge' };
        const verdict = verifyAuthenticate(parsed.message, context.challenge, account);
        if (!verdict.ok) return { kind: 'rejected', reason: verdict.reason };
        return context.spnego
          ? { kind: 'authenticated', user: verdict.user, token: spnegoResponse('acceptCompleted') }
          : { kind: 'authenticated', user: verdict.user };
      }
      pending = undefined;
      return { kind: 'rejected', reason: `unexpected NTLM message type ${type}` };
    },
  };
}
