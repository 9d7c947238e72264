// The demo's edges, in-process: a taken port (fallback only for the default port), flag errors,
// --config / HVGATE_CONFIG handing over to `hvgate serve`, and the tour without a running demo.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createDemoCommand } from '../../../src/cli/demo-command';
import { createTourCommand } from '../../../src/cli/tour-command';
import { DemoAlreadyRunningError, DemoPortInUseError, startDemo } from '../../../src/demo/demo-runner';

let dir: string;
let blocker: net.Server;
let takenPort: number;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hvgate-demo-opt-'));
  blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  takenPort = (blocker.address() as net.AddressInfo).port;
});

afterAll(async () => {
  await new Promise((resolve) => blocker.close(resolve));
  fs.rmSync(dir, { recursive: true, force: true });
});

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: {
      stdout: { write: (s: string) => out.push(s) },
      stderr: { write: (s: string) => err.push(s) },
    },
  };
}

describe('demo port handling', () => {
  it('falls back to a free port when asked to, and says so', async () => {
    const demo = await startDemo({
      stateDir: path.join(dir, 'fallback'),
      port: takenPort,
      fallbackToEphemeral: true,
      latencyScale: 0,
      logger: null,
    });
    try {
      expect(demo.fellBack).toBe(true);
      expect(demo.info.url).not.toContain(`:${takenPort}`);
      const res = await fetch(`${demo.info.url}/healthz`);
      expect(res.status).toBe(200);
    } finally {
      await demo.close(0);
    }
  }, 20_000);

  it('refuses a taken port without fallback, closing what it started', async () => {
    await expect(
      startDemo({ stateDir: path.join(dir, 'strict'), port: takenPort, latencyScale: 0, logger: null }),
    ).rejects.toBeInstanceOf(DemoPortInUseError);
  }, 20_000);

  it('exits 1 with a clear message when an explicit --port is taken', async () => {
    const c = capture();
    const code = await createDemoCommand({ ...c.io, env: {}, stopSignal: new Promise(() => undefined) }).run([
      '--port',
      String(takenPort),
      '--latency-scale',
      '0',
      '--state-dir',
      path.join(dir, 'cli'),
    ]);
    expect(code).toBe(1);
    expect(c.err.join('')).toContain(`port ${takenPort} on 127.0.0.1 is already in use`);
  }, 20_000);
});

describe('one demo per state directory', () => {
  it('refuses to wipe the state of a demo that is still running', async () => {
    const stateDir = path.join(dir, 'busy');
    fs.mkdirSync(stateDir, { recursive: true });
    const demoFile = path.join(stateDir, 'demo.json');
    // This test process stands in for the running demo.
    fs.writeFileSync(demoFile, JSON.stringify({ pid: process.pid, url: 'http://127.0.0.1:1' }));
    await expect(startDemo({ stateDir, port: 0, latencyScale: 0, logger: null })).rejects.toBeInstanceOf(
      DemoAlreadyRunningError,
    );
    expect(fs.existsSync(demoFile)).toBe(true);
  });

  it('takes over the directory of a demo that was killed', async () => {
    const stateDir = path.join(dir, 'stale');
    fs.mkdirSync(stateDir, { recursive: true });
    // pid_max on Linux is at most 2^22, so this pid cannot be alive.
    fs.writeFileSync(path.join(stateDir, 'demo.json'), JSON.stringify({ pid: 2 ** 22 + 7, url: 'x' }));
    const demo = await startDemo({ stateDir, port: 0, latencyScale: 0, logger: null });
    try {
      expect(demo.info.pid).toBe(process.pid);
    } finally {
      await demo.close(0);
    }
  }, 20_000);
});

describe('demo flags and hand-over to serve', () => {
  it.each([
    [['--port', '70000'], '--port must be 0-65535'],
    [['--latency-scale', 'fast'], '--latency-scale must be a number'],
    [['--config', 'x.yaml', '--latency-scale', '0'], 'apply to the simulated fleet'],
    [['--host', '0.0.0.0'], '--host and --grace-sec apply only with --config'],
    [['--bogus'], "Unknown option '--bogus'"],
  ])('%j is a usage error', async (args, message) => {
    const c = capture();
    expect(await createDemoCommand({ ...c.io, env: {} }).run(args)).toBe(2);
    expect(c.err.join('')).toContain(message);
  });

  it('serves the configured fleet when --config is given', async () => {
    const c = capture();
    const missing = path.join(dir, 'missing.yaml');
    expect(await createDemoCommand({ ...c.io, env: {} }).run(['--config', missing])).toBe(2);
    expect(c.out.join('')).toContain('hvgate serve');
    expect(c.err.join('')).toContain('hvgate serve:');
    expect(c.err.join('')).toContain('cannot read config file');
  });

  it('serves the configured fleet when HVGATE_CONFIG is set', async () => {
    const c = capture();
    const code = await createDemoCommand({
      ...c.io,
      env: { HVGATE_CONFIG: path.join(dir, 'nope.yaml') },
    }).run([]);
    expect(code).toBe(2);
    expect(c.err.join('')).toContain('hvgate serve:');
  });
});

describe('tour without a demo', () => {
  it('says to start the demo first (exit 2)', async () => {
    const c = capture();
    const code = await createTourCommand(c.io).run(['--state-dir', path.join(dir, 'empty')]);
    expect(code).toBe(2);
    expect(c.err.join('')).toContain('start the demo first (npm start)');
  });
});
