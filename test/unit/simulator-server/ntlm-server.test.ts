// The simulator's NTLM acceptor: the MS-NLMP NTLMv2 test vector, full handshakes driven by
// winrm-client's own codec (the client the gateway uses), SPNEGO wrapping, and refusal of wrong
// passwords, unknown users, NTLMv1, replays and garbage.
import fc from 'fast-check';
import {
  AV_ID,
  NTLM_FLAGS,
  buildChallengeMessage,
  createNtlmAcceptor,
  extractNtlmToken,
  fileTime,
  ntProofStr,
  ntowfv2,
  parseAuthenticateMessage,
  spnegoResponse,
  verifyAuthenticate,
} from '../../../src/simulator/ntlm-server';

interface Type2 {
  flags: number;
  encoding: string;
  version: number;
  challenge: Buffer;
  targetName: string;
  targetInfo?: { buffer: Buffer };
}
interface ClientCodec {
  createType1Message(workstation: string, target: string): string;
  decodeType2Message(token: string): Type2;
  createType3Message(
    type2: Type2,
    user: string,
    password: string,
    workstation: string,
    target: string,
  ): string;
}
const client = require('winrm-client/dist/src/utils/ntlm') as ClientCodec;

const HOST = 'hv-test-01.lab.example';
const USER = 'Administrator';
const PASSWORD = 'hvgate-sim';
const NOW = Date.UTC(2026, 10, 27, 12, 0, 0);

const b64 = (token: string): Buffer => Buffer.from(token.replace(/^NTLM\s+/, ''), 'base64');

function acceptor(password = PASSWORD) {
  let n = 0;
  return createNtlmAcceptor({
    user: USER,
    password,
    hostName: HOST,
    now: () => NOW,
    // Deterministic server challenges: 8 bytes of an incrementing counter.
    random: (size) => Buffer.alloc(size, (n += 1)),
  });
}

/** One handshake with winrm-client's codec; returns the acceptor's verdict on the type 3. */
function handshake(user: string, password: string, domain = '') {
  const a = acceptor();
  const challenge = a.step(b64(client.createType1Message('', domain)));
  if (challenge.kind !== 'challenge') throw new Error(`expected a challenge, got ${challenge.kind}`);
  const type2 = client.decodeType2Message(challenge.token.toString('base64'));
  const type3 = client.createType3Message(type2, user, password, '', domain);
  return { type2, result: a.step(b64(type3)), type3: b64(type3), acceptor: a };
}

describe('NTLMv2 primitives', () => {
  // MS-NLMP 4.2.4 (NTLMv2 authentication): User "User", UserDom "Domain", Passwd "Password".
  test('NTOWFv2 and NTProofStr match the MS-NLMP test vector', () => {
    const key = ntowfv2('Password', 'User', 'Domain');
    expect(key.toString('hex')).toBe('0c868a403bfd7a93a3001ef22ef02e3f');
    const avPairs = Buffer.from(
      '02000c0044006f006d00610069006e0001000c005300650072007600650072000000' + '0000',
      'hex',
    );
    const blob = Buffer.concat([
      Buffer.from('0101000000000000', 'hex'),
      Buffer.alloc(8), // timestamp 0
      Buffer.alloc(8, 0xaa), // client challenge
      Buffer.alloc(4),
      avPairs,
      Buffer.alloc(4),
    ]);
    const proof = ntProofStr(key, Buffer.from('0123456789abcdef', 'hex'), blob);
    expect(proof.toString('hex')).toBe('68cd0ab851e51c96aabc927bebef6a1c');
  });

  test('FILETIME counts 100 ns ticks since 1601', () => {
    expect(fileTime(0).readBigUInt64LE()).toBe(116_444_736_000_000_000n);
    expect(fileTime(1).readBigUInt64LE() - fileTime(0).readBigUInt64LE()).toBe(10_000n);
  });
});

describe('CHALLENGE message', () => {
  function avPairs(info: Buffer): Map<number, Buffer> {
    const pairs = new Map<number, Buffer>();
    for (let at = 0; at + 4 <= info.length;) {
      const id = info.readUInt16LE(at);
      const len = info.readUInt16LE(at + 2);
      pairs.set(id, info.subarray(at + 4, at + 4 + len));
      if (id === AV_ID.eol) break;
      at += 4 + len;
    }
    return pairs;
  }

  test('carries the challenge, names and a current timestamp; winrm-client reads it as NTLMv2', () => {
    const challenge = Buffer.from('0102030405060708', 'hex');
    const msg = buildChallengeMessage({
      clientFlags: NTLM_FLAGS.oem | NTLM_FLAGS.extendedSessionSecurity,
      serverChallenge: challenge,
      netbiosName: 'HV-TEST-01',
      dnsName: HOST,
      nowMs: NOW,
    });
    const type2 = client.decodeType2Message(msg.toString('base64'));
    expect(type2.version).toBe(2);
    expect(type2.encoding).toBe('ascii');
    expect(type2.challenge).toEqual(challenge);
    expect(type2.targetName).toBe('HV-TEST-01');
    expect(type2.flags & NTLM_FLAGS.targetInfo).toBeTruthy();
    const pairs = avPairs(type2.targetInfo!.buffer);
    expect(pairs.get(AV_ID.nbComputerName)?.toString('utf16le')).toBe('HV-TEST-01');
    expect(pairs.get(AV_ID.dnsComputerName)?.toString('utf16le')).toBe(HOST);
    expect(pairs.get(AV_ID.timestamp)).toEqual(fileTime(NOW));
    expect(pairs.has(AV_ID.eol)).toBe(true);
  });

  test('answers in Unicode when the client asks for it and grants only what it asked', () => {
    const msg = buildChallengeMessage({
      clientFlags: NTLM_FLAGS.unicode | NTLM_FLAGS.sign,
      serverChallenge: Buffer.alloc(8),
      netbiosName: 'HV',
      dnsName: 'hv',
      nowMs: NOW,
    });
    const flags = msg.readUInt32LE(20);
    expect(flags & NTLM_FLAGS.unicode).toBeTruthy();
    expect(flags & NTLM_FLAGS.oem).toBe(0);
    expect(flags & NTLM_FLAGS.sign).toBeTruthy();
    expect(flags & NTLM_FLAGS.seal).toBe(0);
    expect(msg.subarray(56, 60).toString('utf16le')).toBe('HV');
  });
});

describe('handshake with winrm-client', () => {
  test('the right password authenticates', () => {
    expect(handshake(USER, PASSWORD).result).toEqual({ kind: 'authenticated', user: USER });
  });

  test('user names are case-insensitive; a local domain prefix is accepted', () => {
    expect(handshake('administrator', PASSWORD).result).toMatchObject({ kind: 'authenticated' });
    expect(handshake(USER, PASSWORD, 'HV-TEST-01').result).toMatchObject({ kind: 'authenticated' });
    // winrm-client hashes the upper-cased domain but sends it as written.
    expect(handshake(USER, PASSWORD, 'hv-test-01').result).toMatchObject({ kind: 'authenticated' });
    expect(handshake(USER, PASSWORD, '.').result).toMatchObject({ kind: 'authenticated' });
  });

  test('a wrong password is rejected', () => {
    expect(handshake(USER, 'hvgate-sim!').result).toEqual({ kind: 'rejected', reason: 'wrong-password' });
    expect(handshake(USER, '').result).toEqual({ kind: 'rejected', reason: 'wrong-password' });
  });

  test('an unknown user or a foreign domain is rejected', () => {
    expect(handshake('Guest', PASSWORD).result).toEqual({ kind: 'rejected', reason: 'unknown-user' });
    expect(handshake(USER, PASSWORD, 'CORP').result).toEqual({ kind: 'rejected', reason: 'unknown-user' });
  });

  test('an AUTHENTICATE is good for one challenge only (no replay)', () => {
    const { type3, acceptor: a } = handshake(USER, PASSWORD);
    expect(a.step(type3)).toEqual({ kind: 'rejected', reason: 'AUTHENTICATE without a preceding challenge' });
    // Against a fresh challenge the old proof no longer fits.
    a.step(b64(client.createType1Message('', '')));
    expect(a.step(type3)).toEqual({ kind: 'rejected', reason: 'wrong-password' });
  });

  test('a response tampered with in the blob fails', () => {
    const a = acceptor();
    const c = a.step(b64(client.createType1Message('', '')));
    if (c.kind !== 'challenge') throw new Error('no challenge');
    const type3 = b64(
      client.createType3Message(
        client.decodeType2Message(c.token.toString('base64')),
        USER,
        PASSWORD,
        '',
        '',
      ),
    );
    const parsed = parseAuthenticateMessage(type3);
    const at = type3.indexOf(parsed.ntResponse);
    type3[at + 16 + 8] = (type3[at + 16 + 8] ?? 0) ^ 0xff; // a timestamp byte of the blob
    expect(a.step(type3)).toEqual({ kind: 'rejected', reason: 'wrong-password' });
  });

  test('an NTLMv1 (24-byte) response is refused', () => {
    const type3 = Buffer.alloc(64 + 24);
    Buffer.from('NTLMSSP\0', 'latin1').copy(type3);
    type3.writeUInt32LE(3, 8);
    type3.writeUInt16LE(24, 20);
    type3.writeUInt16LE(24, 22);
    type3.writeUInt32LE(64, 24);
    expect(
      verifyAuthenticate(type3, Buffer.alloc(8), { user: USER, password: PASSWORD, localNames: [''] }),
    ).toEqual({
      ok: false,
      reason: 'ntlmv1',
    });
  });
});

describe('SPNEGO', () => {
  /** GSS InitialContextToken(NegTokenInit{mechTypes: [NTLMSSP], mechToken}) as Windows clients send. */
  function negTokenInit(ntlm: Buffer): Buffer {
    const der = (tag: number, c: Buffer): Buffer => {
      const len =
        c.length < 0x80 ? Buffer.from([c.length]) : Buffer.from([0x82, c.length >> 8, c.length & 0xff]);
      return Buffer.concat([Buffer.from([tag]), len, c]);
    };
    const oid = Buffer.from('060a2b06010401823702020a', 'hex');
    const init = der(0xa0, der(0x30, Buffer.concat([der(0xa0, der(0x30, oid)), der(0xa2, der(0x04, ntlm))])));
    return der(0x60, Buffer.concat([Buffer.from('06062b0601050502', 'hex'), init]));
  }

  test('a wrapped NEGOTIATE gets a wrapped CHALLENGE, a wrapped AUTHENTICATE completes', () => {
    const a = acceptor();
    const c = a.step(negTokenInit(b64(client.createType1Message('', ''))));
    if (c.kind !== 'challenge') throw new Error('no challenge');
    expect(c.token[0]).toBe(0xa1);
    expect(c.token.includes(Buffer.from('2b06010401823702020a', 'hex'))).toBe(true);
    const inner = extractNtlmToken(c.token);
    expect(inner.spnego).toBe(true);
    const type2 = client.decodeType2Message(inner.message.toString('base64'));
    const type3 = b64(client.createType3Message(type2, USER, PASSWORD, '', ''));
    const done = a.step(spnegoResponse('acceptIncomplete', type3));
    expect(done).toEqual({ kind: 'authenticated', user: USER, token: spnegoResponse('acceptCompleted') });
  });

  test('a Kerberos-only SPNEGO token is rejected', () => {
    const krb = Buffer.from('60820100' + '06062b0601050502' + 'a0'.padEnd(40, '0'), 'hex');
    expect(acceptor().step(krb)).toMatchObject({ kind: 'rejected' });
  });
});

test('arbitrary bytes never throw and never authenticate', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 3 }), (tokens) => {
      const a = acceptor();
      for (const t of tokens) {
        const step = a.step(Buffer.from(t));
        expect(step.kind).not.toBe('authenticated');
      }
    }),
  );
  // Structured garbage: a valid signature and type with random fields.
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 200 }), (rest) => {
      const a = acceptor();
      a.step(b64(client.createType1Message('', '')));
      const type3 = Buffer.concat([
        Buffer.from('NTLMSSP\0', 'latin1'),
        Buffer.from([3, 0, 0, 0]),
        Buffer.from(rest),
      ]);
      expect(a.step(type3).kind).toBe('rejected');
    }),
  );
});
