// The gateway's executor against the simulator over HTTPS (CA made at start) and with both
// authentication schemes: Basic and NTLMv2 run commands; a wrong password, an untrusted
// certificate, a host-name mismatch and NTLM over plain HTTP each fail with their own typed error.
import type { Simulator } from '../../../src/simulator/simulator';
import { createSimTlsMaterial } from '../../../src/simulator/sim-tls';
import type { HostConnection } from '../../../src/winrm/host-connection';
import type { HostExecutor } from '../../../src/winrm/host-executor';
import { createHostExecutor } from '../../../src/winrm/host-executor';
import { AuthenticationFailedError, TlsError, WinRmError } from '../../../src/winrm/winrm-errors';
import { SIM_PASSWORD, SIM_USER, startSimulator } from '../../helpers/sim-harness';

const WRONG_PASSWORD = 'Wr0ng-pa55word!';

let tlsSim: Simulator;
let otherNameSim: Simulator;
let httpSim: Simulator;
let httpLabSim: Simulator;
const executors: HostExecutor[] = [];

beforeAll(async () => {
  [tlsSim, otherNameSim, httpSim, httpLabSim] = await Promise.all([
    startSimulator({ hosts: 1, tls: true }),
    startSimulator({ hosts: 1, tls: true, serverName: 'hv-elsewhere.example' }),
    startSimulator({ hosts: 1 }),
    startSimulator({ hosts: 1, allowUnencrypted: true }),
  ]);
});

afterEach(async () => {
  await Promise.all(executors.splice(0).map((e) => e.close()));
  for (const s of [tlsSim, otherNameSim, httpSim, httpLabSim]) {
    const c = s.host(s.hosts[0]!.name).counters();
    // Nothing leaks whatever the outcome.
    expect(c.shellsOpen).toBe(0);
    expect(c.commandsRunning).toBe(0);
  }
});

afterAll(async () => {
  await Promise.all([tlsSim, otherNameSim, httpSim, httpLabSim].map((s) => s?.close()));
});

function conn(s: Simulator, over: Partial<HostConnection> = {}): HostConnection {
  const h = s.hosts[0]!;
  const secure = h.url.startsWith('https:');
  return {
    name: h.name,
    address: '127.0.0.1',
    port: h.port,
    transport: secure ? 'https' : 'http',
    auth: 'basic',
    username: SIM_USER,
    password: SIM_PASSWORD,
    ...(secure && s.caFile ? { caFile: s.caFile } : {}),
    ...over,
  };
}

function executor(c: HostConnection): HostExecutor {
  const e = createHostExecutor(c, { quotaRetry: { attempts: 0 } });
  executors.push(e);
  return e;
}

const soon = (): number => Date.now() + 10_000;

async function failure(c: HostConnection): Promise<WinRmError> {
  const err: unknown = await executor(c)
    .run({ commandLine: 'hostname' }, { deadline: soon() })
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(err).toBeInstanceOf(WinRmError);
  const e = err as WinRmError;
  for (const text of [e.message, String(e.detail ?? ''), JSON.stringify(e)]) {
    expect(text).not.toContain(c.password);
  }
  return e;
}

describe('HTTPS with the simulator CA', () => {
  test('the CA file and host URL are exposed', () => {
    expect(tlsSim.hosts[0]!.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/wsman$/);
    expect(tlsSim.caFile).toEqual(expect.any(String));
    expect(tlsSim.caPem).toMatch(/^-----BEGIN CERTIFICATE-----/);
  });

  test('Basic over HTTPS runs hostname', async () => {
    const h = tlsSim.host(tlsSim.hosts[0]!.name);
    h.resetCounters();
    const r = await executor(conn(tlsSim)).run({ commandLine: 'hostname' }, { deadline: soon() });
    expect(r).toMatchObject({ exitCode: 0, stdout: `${h.name}\r\n` });
    expect(h.counters().authentications['basic']).toBeGreaterThanOrEqual(2);
  });

  test('NTLM over HTTPS runs commands, authenticating the connection once', async () => {
    const h = tlsSim.host(tlsSim.hosts[0]!.name);
    h.resetCounters();
    const e = executor(conn(tlsSim, { auth: 'ntlm' }));
    const first = await e.run({ commandLine: 'hostname' }, { deadline: soon() });
    expect(first).toMatchObject({ exitCode: 0, stdout: `${h.name}\r\n` });
    for (let i = 0; i < 5; i += 1) {
      const r = await e.run({ commandLine: `echo ntlm ${i}` }, { deadline: soon() });
      expect(r).toMatchObject({ exitCode: 0, stdout: `ntlm ${i}\r\n`, httpRequests: 2 });
    }
    const c = h.counters();
    expect(c.authentications).toEqual({ negotiate: 1 });
    expect(c.authFailures).toEqual({});
  });

  test('NTLM with a domain-qualified user name runs', async () => {
    const h = tlsSim.hosts[0]!;
    const netbios = h.name.toUpperCase().slice(0, 15);
    const r = await executor(conn(tlsSim, { auth: 'ntlm', username: `${netbios}\\${SIM_USER}` })).run(
      { commandLine: 'hostname' },
      { deadline: soon() },
    );
    expect(r.exitCode).toBe(0);
  });

  test.each(['basic', 'ntlm'] as const)('a wrong password (%s) → AuthenticationFailedError', async (auth) => {
    const h = tlsSim.host(tlsSim.hosts[0]!.name);
    h.resetCounters();
    const err = await failure(conn(tlsSim, { auth, password: WRONG_PASSWORD }));
    expect(err).toBeInstanceOf(AuthenticationFailedError);
    expect(err.httpStatus).toBe(401);
    expect(h.counters().authFailures).toEqual({ 'wrong-password': 1 });
    expect(h.counters().requests['Create'] ?? 0).toBe(0);
  });

  test('an unknown user (NTLM) → AuthenticationFailedError', async () => {
    const err = await failure(conn(tlsSim, { auth: 'ntlm', username: 'nobody' }));
    expect(err).toBeInstanceOf(AuthenticationFailedError);
  });
});

describe("winrm-client's own NTLM path", () => {
  // Its one-shot helper picks NTLM for a DOMAIN\\user name and does probe + type 1 + type 3 on a
  // fresh connection for every message; it takes no CA, only rejectUnauthorized.
  test('runCommand with a domain-qualified user over HTTPS runs hostname', async () => {
    const { runCommand } = require('winrm-client') as {
      runCommand(
        command: string,
        host: string,
        username: string,
        password: string,
        port: number,
        usePowershell?: boolean,
        useHttps?: boolean,
        rejectUnauthorized?: boolean,
      ): Promise<string>;
    };
    const h = tlsSim.host(tlsSim.hosts[0]!.name);
    h.resetCounters();
    const user = `${h.name.toUpperCase().slice(0, 15)}\\${SIM_USER}`;
    const out = await runCommand('hostname', '127.0.0.1', user, SIM_PASSWORD, h.port, false, true, false);
    expect(out.trim()).toBe(h.name);
    // One handshake per WS-Man message: Create, Command, Receive, Delete at least.
    expect(h.counters().authentications['negotiate']).toBeGreaterThanOrEqual(3);
    expect(h.counters().authFailures['wrong-password'] ?? 0).toBe(0);
  });
});

describe('certificate checks', () => {
  test('no CA configured (system store only) → TlsError: untrusted', async () => {
    const c = conn(tlsSim);
    delete c.caFile;
    const err = await failure(c);
    expect(err).toBeInstanceOf(TlsError);
    expect(err.message).toMatch(/not trusted/i);
    expect(err.message).not.toMatch(/does not match/i);
  });

  test('another CA → TlsError: untrusted', async () => {
    const other = await createSimTlsMaterial();
    const c = conn(tlsSim, { ca: other.caPem });
    const err = await failure(c);
    expect(err).toBeInstanceOf(TlsError);
    expect(err.message).toMatch(/not trusted/i);
  });

  test('certificate issued for another name → TlsError: name mismatch', async () => {
    const err = await failure(conn(otherNameSim));
    expect(err).toBeInstanceOf(TlsError);
    expect(err.message).toMatch(/does not match/i);
    expect(err.message).not.toMatch(/not trusted/i);
  });

  test('client expects another server name → TlsError: name mismatch', async () => {
    const err = await failure(conn(tlsSim, { serverName: 'hv-expected.example' }));
    expect(err).toBeInstanceOf(TlsError);
    expect(err.message).toMatch(/does not match/i);
  });

  test('serverName matching the certificate passes the name check', async () => {
    const r = await executor(conn(otherNameSim, { serverName: 'hv-elsewhere.example', auth: 'ntlm' })).run(
      { commandLine: 'hostname' },
      { deadline: soon() },
    );
    expect(r.exitCode).toBe(0);
  });
});

describe('NTLM over plain HTTP', () => {
  test('without AllowUnencrypted → AuthenticationFailedError that says why', async () => {
    const h = httpSim.host(httpSim.hosts[0]!.name);
    h.resetCounters();
    const err = await failure(conn(httpSim, { auth: 'ntlm' }));
    expect(err).toBeInstanceOf(AuthenticationFailedError);
    expect(err.message).toMatch(/unencrypted/i);
    expect(err.message).toMatch(/https/i);
    expect(h.counters().authFailures).toEqual({ unencrypted: 1 });
    expect(h.counters().requests['Create'] ?? 0).toBe(0);
  });

  test('with AllowUnencrypted (lab) → runs', async () => {
    const r = await executor(conn(httpLabSim, { auth: 'ntlm' })).run(
      { commandLine: 'hostname' },
      { deadline: soon() },
    );
    expect(r).toMatchObject({ exitCode: 0, stdout: `${httpLabSim.hosts[0]!.name}\r\n` });
  });

  test('Basic over plain HTTP is still served', async () => {
    const r = await executor(conn(httpSim)).run({ commandLine: 'hostname' }, { deadline: soon() });
    expect(r.exitCode).toBe(0);
  });
});
