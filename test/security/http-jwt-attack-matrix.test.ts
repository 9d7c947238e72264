// The JWT attack matrix over HTTP, against the real app configured for RS256 with a PEM key: every
// forged, expired or misplaced token is 401, each one is audited as `denied`, and none of them makes
// the gateway talk to the (real, simulated) Hyper-V host.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AuditEvent } from '../../src/audit/audit-event';
import { createSimulator, type Simulator } from '../../src/simulator/simulator';
import { startKit, type GatewayKit } from '../component/gateway/gateway-kit';
import {
  AUDIENCE,
  ISSUER,
  NOW,
  NOW_MS,
  baseClaims,
  hs256WithSecret,
  makeKeys,
  rawToken,
  sign,
  type TestKeys,
} from './jwt-test-kit';

const HOST = 'hv-tokyo-01';
const MEMORY = `/v1/hosts/${HOST}/vms/web-01/memory`;
const KID = 'gw-rsa-1';

let keys: TestKeys;
let sim: Simulator;
let kit: GatewayKit;
let keyDir: string;

beforeAll(async () => {
  keys = makeKeys();
  keyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hvgate-jwtkeys-'));
  const pem = path.join(keyDir, 'idp.pub.pem');
  fs.writeFileSync(pem, keys.rsa.publicPem);
  sim = await createSimulator({ latencyScale: 0, controlPort: false });
  kit = await startKit({
    simulator: sim,
    auth: {
      algorithms: ['RS256'],
      issuer: ISSUER,
      audience: AUDIENCE,
      publicKeyFiles: [{ file: pem, kid: KID }],
      maxTokenBytes: 4096,
    },
    overrides: { now: () => NOW_MS },
  });
});
afterAll(async () => {
  await kit?.close();
  await sim?.close();
  fs.rmSync(keyDir, { recursive: true, force: true });
});

const claims = (o: Record<string, unknown> = {}) =>
  baseClaims({ scope: 'vm:read vm:hotplug', hosts: [HOST], ...o });
const valid = () => sign(claims(), keys.rsa.privateKey, 'RS256', { kid: KID });

function tamperPayload(token: string): string {
  const [h, , s] = token.split('.');
  const forged = Buffer.from(
    JSON.stringify(claims({ scope: 'vm:read vm:hotplug audit:read', hosts: ['*'] })),
  ).toString('base64url');
  return `${h}.${forged}.${s}`;
}

function tamperSignature(token: string): string {
  const [h, p, s] = token.split('.') as [string, string, string];
  const bytes = Buffer.from(s, 'base64url');
  bytes[10] = bytes[10]! ^ 0x01;
  return `${h}.${p}.${bytes.toString('base64url')}`;
}

/** `second`: another Authorization header after the first (Node's req.headers keeps only one). */
type Attack = [name: string, build: () => { header?: string; second?: string; query?: string }];

const attacks: Attack[] = [
  ['alg none', () => ({ header: rawToken({ alg: 'none', typ: 'JWT' }, claims()) })],
  ['alg NoNe (case games)', () => ({ header: rawToken({ alg: 'NoNe', typ: 'JWT' }, claims()) })],
  [
    'HS256 signed with the RSA public key (key confusion)',
    () => ({ header: hs256WithSecret({ alg: 'HS256', typ: 'JWT', kid: KID }, claims(), keys.rsa.publicPem) }),
  ],
  [
    'wrong issuer',
    () => ({
      header: sign(claims({ iss: 'https://evil.example/' }), keys.rsa.privateKey, 'RS256', { kid: KID }),
    }),
  ],
  [
    'wrong audience',
    () => ({
      header: sign(claims({ aud: 'some-other-service' }), keys.rsa.privateKey, 'RS256', { kid: KID }),
    }),
  ],
  [
    'expired',
    () => ({
      header: sign(claims({ iat: NOW - 7200, exp: NOW - 3600 }), keys.rsa.privateKey, 'RS256', { kid: KID }),
    }),
  ],
  [
    'no exp',
    () => ({ header: sign(claims({ exp: undefined }), keys.rsa.privateKey, 'RS256', { kid: KID }) }),
  ],
  [
    'nbf in the future',
    () => ({ header: sign(claims({ nbf: NOW + 3600 }), keys.rsa.privateKey, 'RS256', { kid: KID }) }),
  ],
  ['tampered payload', () => ({ header: tamperPayload(valid()) })],
  ['tampered signature', () => ({ header: tamperSignature(valid()) })],
  [
    'unknown kid (another key)',
    () => ({ header: sign(claims(), keys.rsaOther.privateKey, 'RS256', { kid: 'not-a-known-kid' }) }),
  ],
  [
    'right kid, wrong key',
    () => ({ header: sign(claims(), keys.rsaOther.privateKey, 'RS256', { kid: KID }) }),
  ],
  [
    'oversized token',
    () => ({ header: sign(claims({ pad: 'x'.repeat(6000) }), keys.rsa.privateKey, 'RS256', { kid: KID }) }),
  ],
  ['token in the query string', () => ({ query: valid() })],
  ['token in the query string and the header', () => ({ header: valid(), query: valid() })],
  [
    'a valid token, then a second Authorization header',
    () => ({ header: valid(), second: `Bearer ${tamperPayload(valid())}` }),
  ],
  [
    'a second Authorization header with the same token',
    () => ({ header: valid(), second: `Bearer ${valid()}` }),
  ],
];

describe('JWT attack matrix over HTTP', () => {
  const requestIds: string[] = [];

  test.each(attacks)('%s → 401, audited, host untouched', async (_name, build) => {
    sim.host(HOST).resetCounters();
    const { header, second, query } = build();
    const url = query ? `${MEMORY}?access_token=${query}` : MEMORY;
    let req = kit.api.put(url).send({ priority: 70 });
    // superagent hands an array to Node as repeated header lines; its types allow that only for Cookie.
    if (header)
      req = req.set('Authorization', (second ? [`Bearer ${header}`, second] : `Bearer ${header}`) as string);
    const res = await req;
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('HVG_ERR_UNAUTHENTICATED');
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    const rid = res.headers['x-request-id']!;
    requestIds.push(rid);
    const events = kit.lines.audit.map((l) => JSON.parse(l) as AuditEvent).filter((e) => e.requestId === rid);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      stage: 'denied',
      operation: 'auth.token',
      outcome: { status: 'denied', httpStatus: 401, errorCode: 'HVG_ERR_UNAUTHENTICATED' },
      actor: { sub: null, tokenId: null },
    });
    expect(events[0]!.outcome.message).toMatch(/^token rejected: [a-z-]+$/);
    // Nothing reached the host.
    const c = sim.host(HOST).counters();
    expect(Object.values(c.requests).reduce((a, b) => a + b, 0)).toBe(0);
    expect(c.commandsStarted).toBe(0);
  });

  test('the control: the same request with a valid token succeeds', async () => {
    const res = await kit.api.put(MEMORY).set('Authorization', `Bearer ${valid()}`).send({ priority: 70 });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('succeeded');
  });

  test('no response or audit record echoes a token', () => {
    const tokenish = /eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/;
    for (const line of kit.lines.audit) expect(line).not.toMatch(tokenish);
    for (const line of kit.lines.logs) expect(line).not.toMatch(tokenish);
  });
});
