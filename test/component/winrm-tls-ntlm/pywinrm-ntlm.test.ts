// A third-party NTLM client against the simulator's HTTPS listener: Debian's python3-winrm with
// transport='ntlm' (requests_ntlm + ntlm-auth underneath, which add a MIC and channel bindings
// to the AUTHENTICATE message) verifying the certificate with the simulator's CA file.
import { execFile, spawnSync } from 'node:child_process';
import type { Simulator } from '../../../src/simulator/simulator';
import { SIM_PASSWORD, SIM_USER, startSimulator } from '../../helpers/sim-harness';

const PYTHON = '/usr/bin/python3';

const DRIVER = `
import base64, json, sys, winrm
from winrm.exceptions import InvalidCredentialsError
cfg = json.loads(sys.argv[1])
kw = {'server_cert_validation': 'ignore'} if cfg.get('ca') is None else {'ca_trust_path': cfg['ca']}
s = winrm.Session(cfg['url'], auth=(cfg['user'], cfg['password']), transport='ntlm',
                  operation_timeout_sec=20, read_timeout_sec=30, **kw)
try:
    r = s.run_cmd(cfg['command'])
except InvalidCredentialsError as e:
    print(json.dumps({'error': 'InvalidCredentialsError'}))
    sys.exit(0)
print(json.dumps({'status': r.status_code, 'stdout': base64.b64encode(r.std_out).decode()}))
`;

function ntlmClientMissing(): string | undefined {
  const r = spawnSync(PYTHON, ['-c', 'import winrm, requests_ntlm'], { encoding: 'utf8' });
  if (r.error) return `${PYTHON} not runnable`;
  return r.status === 0 ? undefined : (r.stderr.trim().split('\n').pop() ?? 'import failed');
}

interface PyOutcome {
  status?: number;
  stdout?: string;
  error?: string;
}

function pywinrm(cfg: Record<string, unknown>): Promise<PyOutcome> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NO_PROXY: '127.0.0.1,localhost',
    no_proxy: '127.0.0.1,localhost',
  };
  for (const k of [
    'HTTP_PROXY',
    'HTTPS_PROXY',
    'http_proxy',
    'https_proxy',
    'ALL_PROXY',
    'all_proxy',
    'REQUESTS_CA_BUNDLE',
    'CURL_CA_BUNDLE',
  ])
    delete env[k];
  return new Promise((resolve, reject) => {
    execFile(
      PYTHON,
      ['-c', DRIVER, JSON.stringify({ user: SIM_USER, password: SIM_PASSWORD, command: 'hostname', ...cfg })],
      { env, timeout: 25_000 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`pywinrm failed: ${err.message}\n${stderr}`));
        const out = JSON.parse(stdout) as PyOutcome;
        resolve(
          out.stdout === undefined
            ? out
            : { ...out, stdout: Buffer.from(out.stdout, 'base64').toString('utf8') },
        );
      },
    );
  });
}

const missing = ntlmClientMissing();
if (missing !== undefined) {
  console.warn(
    `SKIPPED pywinrm NTLM interop: ${missing} (Debian packages python3-winrm and python3-requests-ntlm)`,
  );
}
const describeIf = missing === undefined ? describe : describe.skip;

describeIf('pywinrm transport=ntlm over HTTPS', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ hosts: 1, tls: true });
  });
  afterAll(async () => {
    await sim?.close();
  });

  test('verifies the certificate with the CA file and runs hostname', async () => {
    const h = sim.host(sim.hosts[0]!.name);
    h.resetCounters();
    const r = await pywinrm({ url: sim.hosts[0]!.url, ca: sim.caFile });
    expect(r).toEqual({ status: 0, stdout: `${h.name}\r\n` });
    const c = h.counters();
    expect(c.authentications['negotiate']).toBeGreaterThanOrEqual(1);
    expect(c.authFailures['wrong-password'] ?? 0).toBe(0);
    expect(c.requests).toMatchObject({ Create: 1, Command: 1, Delete: 1 });
    expect(c.shellsOpen).toBe(0);
  });

  test("with server_cert_validation='ignore' it runs too", async () => {
    const r = await pywinrm({ url: sim.hosts[0]!.url, ca: null });
    expect(r).toEqual({ status: 0, stdout: `${sim.hosts[0]!.name}\r\n` });
  });

  test('a wrong password is rejected (InvalidCredentialsError)', async () => {
    const h = sim.host(sim.hosts[0]!.name);
    h.resetCounters();
    const r = await pywinrm({ url: sim.hosts[0]!.url, ca: sim.caFile, password: 'not-the-password' });
    expect(r).toEqual({ error: 'InvalidCredentialsError' });
    expect(h.counters().authFailures['wrong-password']).toBeGreaterThanOrEqual(1);
    expect(h.counters().requests['Create'] ?? 0).toBe(0);
  });
});
