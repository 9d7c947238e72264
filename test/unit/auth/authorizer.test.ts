import {
  AuthError,
  createAuthorizer,
  createJwtVerifier,
  ForbiddenError,
  mintDevToken,
  type Principal,
  type Scope,
} from '../../../src/auth';
import { createHostInventory, UnknownHostError } from '../../../src/fleet';

const inventory = createHostInventory(
  [
    { name: 'hv-tokyo-01', address: '10.0.0.1', groups: ['tokyo'] },
    { name: 'hv-tokyo-02', address: '10.0.0.2', groups: ['tokyo', 'gpu'] },
    { name: 'hv-osaka-01', address: '10.0.1.1', groups: ['osaka'] },
    { name: 'hv-osaka-02', address: '10.0.1.2', groups: ['osaka'] },
  ],
  [{ name: 'tokyo' }, { name: 'osaka' }, { name: 'gpu' }],
);
const authz = createAuthorizer({ inventory });

function principal(scopes: Scope[], hostGrants: string[]): Principal {
  return { sub: 'svc', iss: 'i', clientId: null, tokenId: null, scopes: new Set(scopes), hostGrants };
}

function forbidden(fn: () => unknown): ForbiddenError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ForbiddenError);
    return err as ForbiddenError;
  }
  throw new Error('expected ForbiddenError');
}

describe('scopes', () => {
  it('allows a held scope and names the missing one', () => {
    const p = principal(['vm:read'], ['*']);
    expect(() => authz.requireScope(p, 'vm:read')).not.toThrow();
    const err = forbidden(() => authz.requireScope(p, 'vm:hotplug'));
    expect(err.rule).toBe('token lacks scope vm:hotplug');
    expect(err.httpStatus).toBe(403);
  });

  it('checks scope before host, so the message names the scope', () => {
    const p = principal(['vm:read'], ['hv-tokyo-01']);
    expect(forbidden(() => authz.authorize(p, { scope: 'vm:migrate', host: 'hv-osaka-02' })).rule).toBe(
      'token lacks scope vm:migrate',
    );
    expect(authz.authorize(p, { scope: 'vm:read', host: 'hv-tokyo-01' }).name).toBe('hv-tokyo-01');
  });
});

describe('host grants', () => {
  it('grants by host name only that host', () => {
    const p = principal(['vm:read'], ['hv-tokyo-01']);
    expect(authz.requireHost(p, 'hv-tokyo-01').address).toBe('10.0.0.1');
    expect(forbidden(() => authz.requireHost(p, 'hv-osaka-02')).rule).toBe(
      'token is not granted host hv-osaka-02',
    );
  });

  it('grants by group: every host in the group, nothing else', () => {
    const p = principal(['vm:read'], ['group:osaka']);
    expect(authz.isHostGranted(p, 'hv-osaka-01')).toBe(true);
    expect(authz.isHostGranted(p, 'hv-osaka-02')).toBe(true);
    expect(authz.isHostGranted(p, 'hv-tokyo-01')).toBe(false);
    expect(authz.visibleHosts(p).map((h) => h.name)).toEqual(['hv-osaka-01', 'hv-osaka-02']);
    expect(authz.visibleHosts(principal([], ['group:gpu'])).map((h) => h.name)).toEqual(['hv-tokyo-02']);
  });

  it('a group grant is not a host grant and vice versa', () => {
    expect(authz.isHostGranted(principal([], ['group:hv-tokyo-01']), 'hv-tokyo-01')).toBe(false);
    expect(authz.isHostGranted(principal([], ['tokyo']), 'hv-tokyo-01')).toBe(false);
  });

  it('* grants every inventory host', () => {
    const p = principal(['vm:read'], ['*']);
    expect(authz.visibleHosts(p)).toHaveLength(4);
  });

  it('an ungranted unknown host looks exactly like an ungranted known host (no inventory probing)', () => {
    const p = principal(['vm:read'], ['hv-tokyo-01']);
    const unknown = forbidden(() => authz.requireHost(p, 'hv-secret-99'));
    const known = forbidden(() => authz.requireHost(p, 'hv-osaka-01'));
    expect(unknown.constructor).toBe(known.constructor);
    expect(unknown.rule).toBe('token is not granted host hv-secret-99');
  });

  it('a granted but unknown host is 404', () => {
    expect(() => authz.requireHost(principal([], ['*']), 'hv-nowhere')).toThrow(UnknownHostError);
    const err = (() => {
      try {
        authz.requireHost(principal([], ['hv-nowhere']), 'hv-nowhere');
      } catch (e) {
        return e as UnknownHostError;
      }
      throw new Error('expected UnknownHostError');
    })();
    expect(err.httpStatus).toBe(404);
  });

  it('host names that could never be inventory names are granted to nobody and not echoed', () => {
    for (const name of ['\\\\attacker\\share', '169.254.169.254:80', 'a b', '*', 'group:osaka']) {
      const err = forbidden(() => authz.requireHost(principal([], ['*']), name));
      expect(err.rule).toBe('token is not granted host (invalid host name)');
    }
  });
});

describe('401 versus 403 end to end', () => {
  const secret = Buffer.alloc(32, 9);
  const now = 1_700_000_000_000;
  const verifier = createJwtVerifier({
    algorithms: ['HS256'],
    issuer: 'hvgate-dev',
    audience: 'hvgate',
    keys: { kind: 'hmac', secret },
    now: () => now,
  });
  const mint = (scopes: Scope[], hosts: string[]) =>
    mintDevToken({
      sub: 'svc',
      scopes,
      hosts,
      issuer: 'hvgate-dev',
      audience: 'hvgate',
      ttlSec: 300,
      secret,
      now,
    });

  async function decide(authorization: string | undefined, scope: Scope, host: string): Promise<number> {
    try {
      const p = await verifier.authenticate({ authorization, url: `/v1/hosts/${host}` });
      authz.authorize(p, { scope, host });
      return 200;
    } catch (err) {
      if (err instanceof AuthError || err instanceof ForbiddenError || err instanceof UnknownHostError)
        return err.httpStatus;
      throw err;
    }
  }

  it('maps each situation to its status', async () => {
    const token = mint(['vm:hotplug'], ['group:tokyo']);
    expect(await decide(undefined, 'vm:hotplug', 'hv-tokyo-01')).toBe(401);
    expect(await decide(`Bearer ${token}x`, 'vm:hotplug', 'hv-tokyo-01')).toBe(401);
    expect(await decide(`Bearer ${token}`, 'vm:hotplug', 'hv-tokyo-01')).toBe(200);
    expect(await decide(`Bearer ${token}`, 'vm:migrate', 'hv-tokyo-01')).toBe(403);
    expect(await decide(`Bearer ${token}`, 'vm:hotplug', 'hv-osaka-01')).toBe(403);
    expect(await decide(`Bearer ${mint(['vm:read'], ['*'])}`, 'vm:read', 'hv-unknown')).toBe(404);
  });
});
