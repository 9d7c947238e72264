import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { stringify } from 'yaml';
import {
  ConfigError,
  loadConfig,
  parseConfig,
  redactConfig,
  resolveConfig,
  resolveConfigPath,
  SecretValue,
  validateConfig,
} from '../../../src/config';

const HMAC = 'k'.repeat(40);

// Tests reach into arbitrary depths of the raw document to break one key at a time.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type RawDoc = Record<string, any>;

/** A valid config as a plain object; tests mutate a deep copy. */
function sample(): RawDoc {
  return {
    server: { host: '0.0.0.0', port: 8443, bodyLimitBytes: 65536 },
    auth: {
      algorithms: ['RS256'],
      issuer: 'https://idp.example.com/',
      audience: 'hvgate',
      publicKeyFiles: ['keys/idp.pem'],
      clockToleranceSec: 30,
      maxTokenAgeSec: 3600,
      maxTokenBytes: 8192,
      hostsClaim: 'hosts',
      scopesClaim: 'scope',
    },
    store: { kind: 'sqlite', path: 'state/hvgate.db' },
    audit: {
      signingKeyFile: 'keys/audit.key',
      checkpointEvery: 100,
      checkpointIntervalSec: 60,
      stdout: true,
    },
    groups: [{ name: 'tokyo' }, { name: 'osaka', description: 'Osaka DC' }],
    hosts: [
      {
        name: 'hv-tokyo-01',
        address: 'hv-tokyo-01.corp.example',
        transport: 'https',
        auth: 'ntlm',
        usernameFile: 'secrets/tokyo-user',
        passwordFile: 'secrets/tokyo-pass',
        caFile: 'keys/ca.pem',
        serverName: 'hv-tokyo-01.corp.example',
        groups: ['tokyo'],
        storageRoots: ['D:\\Hyper-V\\Disks'],
        exportRoots: ['\\\\backup01\\exports'],
      },
      {
        name: 'hv-osaka-01',
        address: '10.20.0.11',
        transport: 'http',
        usernameEnv: 'HV_OSAKA_USER',
        passwordEnv: 'HV_OSAKA_PASS',
        groups: ['osaka'],
        maxConcurrent: 2,
        maxQueue: 10,
        queueTimeoutSec: 60,
      },
      {
        name: 'hv-osaka-02',
        address: 'hv-osaka-02.corp.example',
        username: 'svc-hvgate',
        passwordEnv: 'HV_OSAKA_PASS',
        groups: ['osaka'],
      },
    ],
  };
}

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigError).issues];
  }
  throw new Error('expected a ConfigError');
}

describe('config schema', () => {
  it('accepts the sample YAML and fills documented defaults', () => {
    const cfg = parseConfig(stringify(sample()), 'sample.yaml');
    const [tokyo, osaka1, osaka2] = cfg.hosts;
    expect(tokyo).toMatchObject({ port: 5986, transport: 'https', maxConcurrent: 4, maxQueue: 100 });
    expect(osaka1).toMatchObject({
      port: 5985,
      transport: 'http',
      maxConcurrent: 2,
      maxQueue: 10,
      queueTimeoutSec: 60,
    });
    expect(osaka2).toMatchObject({ transport: 'https', auth: 'basic', storageRoots: [], exportRoots: [] });
    expect(cfg.allowInlineSecrets).toBe(false);
    expect(cfg.auth.jwksRequestsPerMinute).toBe(10);
  });

  it('fills server defaults when the section is absent', () => {
    const s = sample();
    delete s.server;
    const cfg = validateConfig(s);
    expect(cfg.server).toEqual({
      host: '127.0.0.1',
      port: 8080,
      bodyLimitBytes: 65536,
      intakeConcurrency: 8,
      intakeMaxWaiting: 2048,
    });
  });

  type Case = [string, (c: RawDoc) => void, RegExp];
  const cases: Case[] = [
    [
      'wrong type deep in a list',
      (c) => (c.hosts[2].maxConcurrent = '8'),
      /^hosts\[2\]\.maxConcurrent: expected number, received string$/,
    ],
    [
      'limit above the WinRM-safe maximum',
      (c) => (c.hosts[0].maxConcurrent = 40),
      /^hosts\[0\]\.maxConcurrent: /,
    ],
    [
      'unknown transport',
      (c) => (c.hosts[0].transport = 'ftp'),
      /^hosts\[0\]\.transport: expected one of "https", "http"$/,
    ],
    [
      'no intake place at all',
      (c) => (c.server = { ...c.server, intakeConcurrency: 0 }),
      /^server\.intakeConcurrency: /,
    ],
    ['unknown top-level key', (c) => (c.colour = 'red'), /^colour: unknown key$/],
    ['unknown nested key', (c) => (c.hosts[1].extra = true), /^hosts\[1\]\.extra: unknown key$/],
    ['unknown key in server', (c) => (c.server.tlsCert = 'x'), /^server\.tlsCert: unknown key$/],
    ['port out of range', (c) => (c.server.port = 70000), /^server\.port: /],
    [
      'algorithm not allowed',
      (c) => (c.auth.algorithms = ['none']),
      /^auth\.algorithms\[0\]: expected one of "RS256", "PS256", "ES256", "HS256"$/,
    ],
    [
      'store kind unknown',
      (c) => (c.store = { kind: 'mysql', path: 'x' }),
      /^store\.kind: expected one of "sqlite", "postgres"$/,
    ],
    ['missing section', (c) => delete c.auth, /^auth: required \(expected object\)$/],
    ['missing host address', (c) => delete c.hosts[1].address, /^hosts\[1\]\.address: required/],
    [
      'UNC address',
      (c) => (c.hosts[0].address = '\\\\attacker\\share'),
      /^hosts\[0\]\.address: expected a DNS name or an IP address/,
    ],
    ['address with scheme', (c) => (c.hosts[0].address = 'https://hv01'), /^hosts\[0\]\.address: /],
    [
      'traversal in storage root',
      (c) => (c.hosts[0].storageRoots = ['D:\\VMs\\..\\Windows']),
      /^hosts\[0\]\.storageRoots\[0\]: expected an absolute Windows path/,
    ],
    [
      'device path export root',
      (c) => (c.hosts[0].exportRoots = ['\\\\?\\C:\\x']),
      /^hosts\[0\]\.exportRoots\[0\]: /,
    ],
    [
      'host name with a colon',
      (c) => (c.hosts[0].name = 'group:x'),
      /^hosts\[0\]\.name: expected 1-63 letters/,
    ],
    ['empty host list', (c) => (c.hosts = []), /^hosts: /],
  ];
  it.each(cases)('names the key: %s', (_label, mutate, expected) => {
    const c = sample();
    mutate(c);
    const issues = issuesOf(() => validateConfig(c, 'test.yaml'));
    expect(issues).toEqual(expect.arrayContaining([expect.stringMatching(expected)]));
  });

  const crossField: Case[] = [
    [
      'duplicate host names',
      (c) => (c.hosts[2].name = 'hv-osaka-01'),
      /^hosts\[2\]\.name: duplicate host name 'hv-osaka-01'$/,
    ],
    [
      'HS256 mixed with RS256',
      (c) => (c.auth.algorithms = ['RS256', 'HS256']),
      /^auth\.algorithms: HS256 cannot be combined/,
    ],
    [
      'HS256 without a secret file',
      (c) => {
        c.auth.algorithms = ['HS256'];
        delete c.auth.publicKeyFiles;
      },
      /^auth\.hmacSecretFile: HS256 requires exactly one of/,
    ],
    [
      'asymmetric without keys',
      (c) => delete c.auth.publicKeyFiles,
      /^auth\.publicKeyFiles: asymmetric algorithms require exactly one of/,
    ],
    ['both key sources', (c) => (c.auth.jwksUrl = 'https://idp.example.com/jwks'), /^auth\.publicKeyFiles: /],
    [
      'plain-http JWKS off loopback',
      (c) => {
        delete c.auth.publicKeyFiles;
        c.auth.jwksUrl = 'http://idp.example.com/jwks';
      },
      /^auth\.jwksUrl: expected an https URL/,
    ],
    [
      'two password sources',
      (c) => (c.hosts[0].passwordEnv = 'X'),
      /^hosts\[0\]\.passwordFile: expected exactly one of/,
    ],
    [
      'no username source',
      (c) => delete c.hosts[2].username,
      /^hosts\[2\]\.usernameFile: expected exactly one of/,
    ],
    [
      'CA file on an http host',
      (c) => (c.hosts[1].caFile = 'ca.pem'),
      /^hosts\[1\]\.transport: caFile and serverName apply only to transport: https$/,
    ],
    [
      'undeclared group',
      (c) => (c.hosts[0].groups = ['tokyo', 'kyoto']),
      /^hosts\[0\]\.groups\[1\]: unknown group 'kyoto'/,
    ],
    [
      'postgres without url',
      (c) => (c.store = { kind: 'postgres' }),
      /^store\.url: postgres requires exactly one of/,
    ],
  ];
  it.each(crossField)('names the key: %s', (_label, mutate, expected) => {
    const c = sample();
    mutate(c);
    const issues = issuesOf(() => validateConfig(c));
    expect(issues).toEqual(expect.arrayContaining([expect.stringMatching(expected)]));
  });

  it('reports several problems at once and puts them in the message', () => {
    const c = sample();
    c.hosts[0].transport = 'ftp';
    c.hosts[2].maxQueue = -1;
    c.server.port = 'http';
    try {
      validateConfig(c, 'hvgate.yaml');
      throw new Error('expected failure');
    } catch (err) {
      const e = err as ConfigError;
      expect(e.issues).toHaveLength(3);
      expect(e.message).toContain('invalid configuration (hvgate.yaml)');
      expect(e.message).toContain('hosts[2].maxQueue');
    }
  });

  it('refuses YAML with duplicate keys or syntax errors', () => {
    expect(issuesOf(() => parseConfig('server:\n  port: 1\n  port: 2\n'))[0]).toMatch(/^yaml: /);
    expect(issuesOf(() => parseConfig('hosts: [\n'))[0]).toMatch(/^yaml: /);
  });

  it('refuses an empty document by naming the required sections', () => {
    const issues = issuesOf(() => parseConfig(''));
    expect(issues).toEqual(
      expect.arrayContaining(['auth: required (expected object)', 'hosts: required (expected array)']),
    );
  });
});

describe('inline secrets', () => {
  it('refuses an inline host password and says how to allow it', () => {
    const c = sample();
    delete c.hosts[2].passwordEnv;
    c.hosts[2].password = 'hunter2';
    const [issue] = issuesOf(() => validateConfig(c));
    expect(issue).toMatch(
      /^hosts\[2\]\.password: inline secrets are refused; use passwordFile or passwordEnv/,
    );
    expect(issue).toContain('allowInlineSecrets: true');
    expect(issue).not.toContain('hunter2');
  });

  it('refuses an inline HMAC secret and a postgres url carrying a password', () => {
    const c = sample();
    c.auth = { algorithms: ['HS256'], issuer: 'i', audience: 'a', hmacSecret: HMAC };
    c.store = { kind: 'postgres', url: 'postgres://hv:s3cret@db:5432/hvgate' };
    const issues = issuesOf(() => validateConfig(c));
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^auth\.hmacSecret: inline secrets are refused.*allowInlineSecrets: true/),
        expect.stringMatching(/^store\.url: inline secrets are refused.*allowInlineSecrets: true/),
      ]),
    );
    expect(issues.join('\n')).not.toContain('s3cret');
  });

  it('accepts a postgres url without a password inline', () => {
    const c = sample();
    c.store = { kind: 'postgres', url: 'postgres://db:5432/hvgate' };
    expect(validateConfig(c).store).toMatchObject({ kind: 'postgres' });
  });

  it('accepts inline secrets with allowInlineSecrets: true, and redactConfig hides them', async () => {
    const c = sample();
    c.allowInlineSecrets = true;
    c.auth = { algorithms: ['HS256'], issuer: 'i', audience: 'a', hmacSecret: HMAC };
    c.store = { kind: 'postgres', url: 'postgres://hv:s3cret@db:5432/hvgate' };
    c.hosts = [
      { name: 'lab', address: '127.0.0.1', transport: 'http', username: 'admin', password: 'hunter2' },
    ];
    const cfg = validateConfig(c);
    const loaded = await resolveConfig(cfg, { env: {}, checkFiles: false });
    expect(loaded.secrets.hmacSecret?.revealString()).toBe(HMAC);
    expect(loaded.secrets.storeUrl?.revealString()).toBe('postgres://hv:s3cret@db:5432/hvgate');
    expect(loaded.secrets.hostCredentials.get('lab')?.password.revealString()).toBe('hunter2');

    const printed = JSON.stringify(redactConfig(loaded.config));
    expect(printed).not.toContain('hunter2');
    expect(printed).not.toContain('s3cret');
    expect(printed).not.toContain(HMAC);
    expect(printed).toContain('admin');
    // The original is untouched.
    expect(cfg.hosts[0]!.password).toBe('hunter2');
  });
});

describe('loading from disk and env', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hvgate-config-'));
    const files: Record<string, string> = {
      'keys/idp.pem': '-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n',
      'keys/audit.key': 'audit-key\n',
      'keys/ca.pem': 'ca\n',
      'secrets/tokyo-user': 'CORP\\svc-hvgate\n',
      'secrets/tokyo-pass': 'p@ss word\r\n',
      'secrets/short': 'tooshort\n',
    };
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(dir, 'keys'));
    await mkdir(join(dir, 'secrets'));
    for (const [name, body] of Object.entries(files)) await writeFile(join(dir, name), body);
    await writeFile(join(dir, 'hvgate.yaml'), stringify(sample()));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const env = { HV_OSAKA_USER: 'osaka-admin', HV_OSAKA_PASS: 'env-secret' };

  it('reads secrets from files (relative to the config) and env vars, without trailing newlines', async () => {
    const loaded = await loadConfig(join(dir, 'hvgate.yaml'), { env });
    const creds = loaded.secrets.hostCredentials;
    expect(creds.get('hv-tokyo-01')?.username).toBe('CORP\\svc-hvgate');
    expect(creds.get('hv-tokyo-01')?.password.revealString()).toBe('p@ss word');
    expect(creds.get('hv-osaka-01')?.username).toBe('osaka-admin');
    expect(creds.get('hv-osaka-01')?.password.revealString()).toBe('env-secret');
    expect(creds.get('hv-osaka-02')?.username).toBe('svc-hvgate');
    expect(loaded.publicKeys).toHaveLength(1);
    expect(loaded.config.audit.signingKeyFile).toBe(join(dir, 'keys/audit.key'));
    expect(loaded.config.store).toEqual({ kind: 'sqlite', path: join(dir, 'state/hvgate.db') });
    expect(loaded.config.hosts[0]!.caFile).toBe(join(dir, 'keys/ca.pem'));
  });

  it('names the key and the variable or file when a secret is missing, never a value', async () => {
    const c = sample();
    c.hosts[0].passwordFile = 'secrets/absent';
    await writeFile(join(dir, 'missing.yaml'), stringify(c));
    const err = await loadConfig(join(dir, 'missing.yaml'), { env: { HV_OSAKA_USER: 'u' } }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    const issues = (err as ConfigError).issues;
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^hosts\[0\]\.passwordFile: cannot read .*secrets\/absent \(ENOENT\)$/),
        'hosts[1].passwordEnv: environment variable HV_OSAKA_PASS is not set or empty',
        'hosts[2].passwordEnv: environment variable HV_OSAKA_PASS is not set or empty',
      ]),
    );
    expect((err as Error).message).not.toContain('p@ss');
  });

  it('refuses an HMAC secret shorter than 32 bytes', async () => {
    const c = sample();
    c.auth = { algorithms: ['HS256'], issuer: 'i', audience: 'a', hmacSecretFile: 'secrets/short' };
    await writeFile(join(dir, 'short.yaml'), stringify(c));
    const err = (await loadConfig(join(dir, 'short.yaml'), { env }).catch((e: unknown) => e)) as ConfigError;
    expect(err.issues).toEqual(['auth.hmacSecret: secret must be at least 32 bytes']);
  });

  it('reports a missing referenced file such as the audit key', async () => {
    const c = sample();
    c.audit.signingKeyFile = 'keys/none.key';
    await writeFile(join(dir, 'noaudit.yaml'), stringify(c));
    const err = (await loadConfig(join(dir, 'noaudit.yaml'), { env }).catch(
      (e: unknown) => e,
    )) as ConfigError;
    expect(err.issues).toEqual([
      expect.stringMatching(/^audit\.signingKeyFile: cannot read .*keys\/none\.key \(ENOENT\)$/),
    ]);
  });

  it('reports an unreadable config file', async () => {
    const err = (await loadConfig(join(dir, 'nope.yaml')).catch((e: unknown) => e)) as ConfigError;
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.issues).toEqual(['(root): cannot read config file (ENOENT)']);
  });
});

describe('resolveConfigPath', () => {
  it('prefers --config over HVGATE_CONFIG', () => {
    expect(resolveConfigPath(['serve', '--config', '/etc/a.yaml'], { HVGATE_CONFIG: '/b.yaml' })).toBe(
      '/etc/a.yaml',
    );
    expect(resolveConfigPath(['--config=/etc/c.yaml'], {})).toBe('/etc/c.yaml');
    expect(resolveConfigPath(['serve'], { HVGATE_CONFIG: '/b.yaml' })).toBe('/b.yaml');
    expect(resolveConfigPath(['serve'], {})).toBeUndefined();
  });

  it('refuses --config without a value', () => {
    expect(() => resolveConfigPath(['--config'], {})).toThrow(ConfigError);
    expect(() => resolveConfigPath(['--config', '--verbose'], {})).toThrow(/--config: expected a file path/);
  });
});

describe('SecretValue', () => {
  it('never prints its value by accident', () => {
    const s = new SecretValue('hunter2');
    expect(`${s}`).toBe('[redacted]');
    expect(JSON.stringify({ s })).toBe('{"s":"[redacted]"}');
    expect(inspect({ s })).not.toContain('hunter2');
    expect(s.revealString()).toBe('hunter2');
  });
});
