// The Dockerfile is checked without a Docker engine: its structure is parsed and held to the image rules
// (pinned base, multi-stage, non-root, read-only friendly, init, health check), its health check command
// is run against a local server, and its build steps are replayed in a clean copy of the build context.
import { execFile, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { builtinModules } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createDockerignoreMatcher } from './dockerignore-matcher';
import {
  byKeyword,
  copySources,
  DockerStage,
  DOCKERIGNORE_PATH,
  externalBase,
  flags,
  healthcheckCommand,
  jsonArgs,
  loadDockerfile,
  ParsedDockerfile,
  parseDockerfileText,
  properties,
  REPO_ROOT,
  runCommands,
  stageByName,
} from './dockerfile-stages';

const execFileP = promisify(execFile);

// A Node 20 Debian bookworm slim image, pinned by exact version and by digest.
const PINNED_BASE = /^node:20\.\d+\.\d+-bookworm-slim@sha256:[0-9a-f]{64}$/;
const STATE_DIR = '/var/lib/hvgate';

const dockerfile = loadDockerfile();
const runtime = lastStage(dockerfile);

function lastStage(parsed: ParsedDockerfile): DockerStage {
  const stage = parsed.stages[parsed.stages.length - 1];
  if (!stage) throw new Error('Dockerfile has no FROM');
  return stage;
}

function only(stage: DockerStage, kw: string): string[] {
  const found = byKeyword(stage, kw);
  expect(found).toHaveLength(1);
  const args = jsonArgs(found[0]!);
  if (!args) throw new Error(`${kw} must use the exec (JSON array) form`);
  return args;
}

function stageRunning(parsed: ParsedDockerfile, command: RegExp): DockerStage {
  const stage = parsed.stages.find((s) => runCommands(s).some((c) => command.test(c)));
  if (!stage) throw new Error(`no stage runs ${command}`);
  return stage;
}

function runtimeUser(stage: DockerStage): { uid: number; gid: number | null } {
  const users = byKeyword(stage, 'USER');
  const last = users[users.length - 1];
  const value = last?.getArgumentsContent()?.trim() ?? '';
  const match = /^(\d+)(?::(\d+))?$/.exec(value);
  if (!match) throw new Error(`runtime stage USER must be numeric uid[:gid], got '${value}'`);
  return { uid: Number(match[1]), gid: match[2] === undefined ? null : Number(match[2]) };
}

describe('Dockerfile structure', () => {
  test('is multi-stage and every external base is the same pinned node:20 bookworm-slim image', () => {
    expect(dockerfile.stages.length).toBeGreaterThanOrEqual(2);
    const bases = dockerfile.stages.map((s) => externalBase(dockerfile, s)).filter((b) => b !== null);
    expect(bases.length).toBeGreaterThanOrEqual(2);
    for (const base of bases) expect(base).toMatch(PINNED_BASE);
    // The native addon built in one stage runs in another: both must be the very same Node build.
    expect(new Set(bases).size).toBe(1);
    expect(dockerfile.text).not.toMatch(/:latest\b/);
    expect(runtime.name).not.toBeNull();
  });

  test('the build stage installs from the lockfile with the native toolchain, then compiles', () => {
    const build = stageRunning(dockerfile, /^npm run build\b/);
    const runs = runCommands(build);
    expect(runs).toContainEqual(expect.stringMatching(/^npm ci\b/));
    expect(runs.join('\n')).not.toMatch(/\bnpm (install|i)\b/);
    const apt = runs.find((c) => /apt-get install/.test(c)) ?? '';
    for (const pkg of ['python3', 'make', 'g++']) expect(apt.split(/\s+/)).toContain(pkg);
    const ciIndex = runs.findIndex((c) => /^npm ci\b/.test(c));
    expect(ciIndex).toBeLessThan(runs.findIndex((c) => /^npm run build\b/.test(c)));
  });

  test('every apt-get install skips recommends and drops the package lists in the same layer', () => {
    const installs = dockerfile.stages.flatMap(runCommands).filter((c) => /apt-get install/.test(c));
    expect(installs.length).toBeGreaterThan(0);
    for (const cmd of installs) {
      expect(cmd).toMatch(/--no-install-recommends/);
      expect(cmd).toMatch(/rm -rf \/var\/lib\/apt\/lists/);
    }
  });

  test('the runtime stage copies only dist, production node_modules and package.json', () => {
    const copies = copySources(runtime);
    const summary = copies.map((c) => ({ from: c.from, sources: c.sources }));
    expect(summary).toHaveLength(3);

    const modules = copies.find((c) => c.sources.some((s) => /(^|\/)node_modules\/?$/.test(s)));
    const dist = copies.find((c) => c.sources.some((s) => /(^|\/)dist\/?$/.test(s)));
    const manifest = copies.find((c) => c.from === null);
    expect(manifest?.sources).toEqual(['package.json']);

    // node_modules comes from a stage that removed the dev dependencies ...
    const depsStage = stageByName(dockerfile, modules?.from ?? '');
    expect(depsStage).toBeDefined();
    expect(runCommands(depsStage!)).toContainEqual(expect.stringMatching(/^npm (prune|ci)\b.*--omit=dev/));
    // ... and dist from the stage that compiled it.
    const distStage = stageByName(dockerfile, dist?.from ?? '');
    expect(distStage).toBeDefined();
    expect(runCommands(distStage!)).toContain('npm run build');

    expect(byKeyword(runtime, 'ADD')).toHaveLength(0);
  });

  test('runs as a numeric non-root user that owns only the state directory', () => {
    const { uid, gid } = runtimeUser(runtime);
    expect(uid).toBeGreaterThan(0);
    expect(gid).not.toBe(0);
    // Nothing may switch back to root after the last USER.
    const instructions = runtime.instructions.map((i) => i.getKeyword().toUpperCase());
    const lastUser = instructions.lastIndexOf('USER');
    expect(instructions.slice(lastUser + 1)).not.toContain('RUN');
    const setup = runCommands(runtime).join('\n');
    expect(setup).toMatch(new RegExp(`useradd\\b[^&]*--uid ${uid}\\b`));
    expect(setup).toMatch(new RegExp(`chown ${uid}(:\\d+)? ${STATE_DIR}(\\s|$)`));
    // Application files stay root-owned, so the runtime user cannot rewrite its own code.
    for (const copy of byKeyword(runtime, 'COPY')) expect(flags(copy)).not.toHaveProperty('chown');
  });

  test('works with a read-only root filesystem: state and temp are volumes', () => {
    const volumes = byKeyword(runtime, 'VOLUME').flatMap((v) => jsonArgs(v) ?? []);
    expect(volumes).toEqual(expect.arrayContaining([STATE_DIR, '/tmp']));
  });

  test('starts node under tini so signals are forwarded and children reaped', () => {
    const entrypoint = only(runtime, 'ENTRYPOINT');
    expect(entrypoint.slice(0, 2)).toEqual(['/usr/bin/tini', '--']);
    expect(entrypoint.slice(2)).toEqual(['node', 'dist/cli.js']);
    const install = runCommands(runtime).find((c) => /apt-get install/.test(c)) ?? '';
    expect(install.split(/\s+/)).toContain('tini');
    const cmd = only(runtime, 'CMD');
    expect(cmd).toEqual(['serve', '--config', expect.stringMatching(/^\/etc\/hvgate\/.+\.yaml$/)]);
  });

  test('declares the port, a node-based HEALTHCHECK, OCI labels and NODE_ENV=production', () => {
    const exposed = byKeyword(runtime, 'EXPOSE').map((e) => e.getArgumentsContent()?.trim());
    expect(exposed).toEqual(['8080']);

    const checks = byKeyword(runtime, 'HEALTHCHECK');
    expect(checks).toHaveLength(1);
    const command = healthcheckCommand(checks[0]!);
    expect(command?.[0]).toBe('node');
    expect(command?.join(' ')).not.toMatch(/\b(curl|wget)\b/);
    expect(Object.keys(flags(checks[0]!))).toEqual(
      expect.arrayContaining(['interval', 'timeout', 'retries']),
    );

    const labels = Object.fromEntries(
      byKeyword(runtime, 'LABEL')
        .flatMap(properties)
        .map((p) => [p.name, p.value]),
    );
    expect(Object.keys(labels)).toEqual(
      expect.arrayContaining(
        ['title', 'description', 'version', 'licenses', 'source'].map((k) => `org.opencontainers.image.${k}`),
      ),
    );
    expect(labels['org.opencontainers.image.title']).toBe('hvgate');

    const env = Object.fromEntries(
      byKeyword(runtime, 'ENV')
        .flatMap(properties)
        .map((p) => [p.name, p.value]),
    );
    expect(env.NODE_ENV).toBe('production');
    // The health check's default target is the port the image exposes.
    expect(new URL(env.HVGATE_HEALTHCHECK_URL ?? '').port).toBe('8080');
    expect(new URL(env.HVGATE_HEALTHCHECK_URL ?? '').pathname).toBe('/healthz');
  });

  test('puts no secrets into ENV, ARG or LABEL and fetches nothing by URL', () => {
    const secretName = /secret|passw|token|credential|private|api_?key|(^|_)key$/i;
    const secretValue = /-----BEGIN|eyJ[A-Za-z0-9_-]{10,}\.|[A-Za-z0-9+/]{40,}={0,2}$/;
    const all = [...dockerfile.preamble, ...dockerfile.stages.flatMap((s) => s.instructions)];
    for (const instruction of all.filter((i) =>
      ['ENV', 'ARG', 'LABEL'].includes(i.getKeyword().toUpperCase()),
    )) {
      for (const { name, value } of properties(instruction)) {
        if (instruction.getKeyword().toUpperCase() !== 'LABEL') expect(name).not.toMatch(secretName);
        // Image digests are long hex strings by design; anything else that long is suspect.
        expect(value.replace(/sha256:[0-9a-f]{64}/g, '')).not.toMatch(secretValue);
      }
    }
    expect(all.filter((i) => i.getKeyword().toUpperCase() === 'ADD')).toHaveLength(0);
    expect(dockerfile.stages.flatMap(runCommands).join('\n')).not.toMatch(/\b(curl|wget)\b/);
  });

  test('the rules reject a Dockerfile that breaks them', () => {
    // Guards the helpers themselves: an unpinned, single-stage, root image must not look compliant.
    const bad = parseDockerfileText(
      'FROM node:20-bookworm-slim\nWORKDIR /app\nCOPY . .\nRUN npm install\nUSER root\nCMD node dist/cli.js\n',
    );
    const stage = lastStage(bad);
    expect(externalBase(bad, stage)).not.toMatch(PINNED_BASE);
    expect(() => runtimeUser(stage)).toThrow(/numeric/);
    expect(jsonArgs(byKeyword(stage, 'CMD')[0]!)).toBeNull();
    expect(copySources(stage)).toEqual([{ from: null, sources: ['.'], destination: '.' }]);
  });
});

describe('HEALTHCHECK command', () => {
  const checks = byKeyword(runtime, 'HEALTHCHECK');
  const command = checks[0] ? healthcheckCommand(checks[0]) : null;
  let server: http.Server;
  let baseUrl: string;
  let status = 200;
  let hang = false;
  const seen: string[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      if (hang) return; // never answers: the check must give up on its own
      res.writeHead(status).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  function runCheck(url: string): Promise<number | null> {
    if (!command) throw new Error('HEALTHCHECK has no exec-form CMD');
    const [bin, ...args] = command;
    // The image's `node` is this Node version; the URL comes from the env the image sets.
    const child = spawn(bin === 'node' ? process.execPath : bin!, args, {
      env: { PATH: process.env.PATH ?? '', HVGATE_HEALTHCHECK_URL: url },
      stdio: 'ignore',
    });
    return new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code) => resolve(code));
    });
  }

  test('is healthy on 200 from /healthz', async () => {
    status = 200;
    hang = false;
    seen.length = 0;
    await expect(runCheck(`${baseUrl}/healthz`)).resolves.toBe(0);
    expect(seen).toEqual(['GET /healthz']);
  });

  test('is unhealthy on any other status', async () => {
    status = 503;
    hang = false;
    await expect(runCheck(`${baseUrl}/healthz`)).resolves.toBe(1);
  });

  test('is unhealthy when nothing listens', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await expect(runCheck(`http://127.0.0.1:${port}/healthz`)).resolves.toBe(1);
  });

  test('is unhealthy, within the HEALTHCHECK timeout, when the server hangs', async () => {
    hang = true;
    const started = Date.now();
    await expect(runCheck(`${baseUrl}/healthz`)).resolves.toBe(1);
    const timeoutSec = Number.parseInt(flags(checks[0]!).timeout ?? '', 10);
    expect(Date.now() - started).toBeLessThan(timeoutSec * 1000);
  }, 15_000);
});

describe('.dockerignore', () => {
  const matcher = createDockerignoreMatcher(fs.readFileSync(DOCKERIGNORE_PATH, 'utf8'));

  test('lets in everything the Dockerfile copies from the build context', () => {
    const contextSources = dockerfile.stages
      .flatMap(copySources)
      .filter((c) => c.from === null)
      .flatMap((c) => c.sources);
    expect(contextSources.length).toBeGreaterThan(0);
    for (const source of contextSources) {
      expect({ source, excluded: matcher.excludes(source) }).toEqual({ source, excluded: false });
    }
    expect(matcher.excludes('src/cli.ts')).toBe(false);
    expect(matcher.excludes('src/config/config-schema.ts')).toBe(false);
  });

  test.each([
    '.hvgate/demo.json',
    '.hvgate/audit-signing-key.pem',
    'node_modules/express/package.json',
    'dist/cli.js',
    '.git/config',
    'test/unit/deploy/dockerfile.test.ts',
    'k8s/base/hvgate.yaml',
    '.env',
    'src/secrets/jwt.key',
    'src/config/.env.local',
    'certs/server.pem',
  ])('keeps %s out of the build context', (file) => {
    expect(matcher.excludes(file)).toBe(true);
  });

  test('matches the way the Docker builder does', () => {
    const m = createDockerignoreMatcher('*/temp*\n**/*.log\n!keep.log\ndocs\n!docs/public\n');
    expect(m.excludes('a/temporary.txt')).toBe(true);
    expect(m.excludes('a/b/temporary.txt')).toBe(false);
    expect(m.excludes('x/y/z.log')).toBe(true);
    expect(m.excludes('keep.log')).toBe(false);
    expect(m.excludes('docs/private/a.md')).toBe(true);
    expect(m.excludes('docs/public/a.md')).toBe(false);
  });
});

describe('build steps replayed in a clean copy of the build context', () => {
  const matcher = createDockerignoreMatcher(fs.readFileSync(DOCKERIGNORE_PATH, 'utf8'));
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
    bin?: Record<string, string>;
  };
  let workdir: string;
  let contextFiles: string[];

  beforeAll(async () => {
    workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'hvgate-docker-context-'));
    // What `docker build .` would send: the work tree (tracked and new files, not git-ignored ones)
    // filtered by .dockerignore.
    const { stdout } = await execFileP(
      'git',
      ['ls-files', '-z', '--cached', '--others', '--exclude-standard'],
      {
        cwd: REPO_ROOT,
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    contextFiles = stdout
      .split('\0')
      .filter((f) => f !== '' && !matcher.excludes(f) && fs.existsSync(path.join(REPO_ROOT, f)));
    for (const file of contextFiles) {
      const target = path.join(workdir, file);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.copyFileSync(path.join(REPO_ROOT, file), target);
    }
  });

  afterAll(() => {
    if (workdir) fs.rmSync(workdir, { recursive: true, force: true });
  });

  test('the context holds the sources and manifests and nothing else', () => {
    const tops = new Set(contextFiles.map((f) => f.split('/')[0]));
    expect([...tops].sort()).toEqual([
      'package-lock.json',
      'package.json',
      'src',
      'tsconfig.build.json',
      'tsconfig.json',
    ]);
  });

  test('the production dependency set resolves from the lockfile alone', async () => {
    // `npm ci --omit=dev` / `npm prune --omit=dev` need exactly this to be consistent.
    await expect(
      execFileP('npm', ['ls', '--omit=dev', '--all', '--package-lock-only'], {
        cwd: workdir,
        maxBuffer: 16 * 1024 * 1024,
      }),
    ).resolves.toBeDefined();
  });

  let built: Promise<void> | undefined;
  /** Runs the build stage's `npm run …` steps once in the copied context, for every test that needs dist/. */
  function build(): Promise<void> {
    built ??= (async () => {
      const stage = stageRunning(dockerfile, /^npm run build\b/);
      // The build stage's `npm ci` compiles native addons for minutes; the repo's installed tree is the
      // same lockfile's result, so it stands in for it.
      fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(workdir, 'node_modules'), 'dir');
      for (const command of runCommands(stage).filter((c) => /^npm run\b/.test(c))) {
        const [, , script] = command.split(/\s+/);
        await execFileP('npm', ['run', script!], { cwd: workdir, maxBuffer: 16 * 1024 * 1024 });
      }
    })();
    return built;
  }

  test("the build stage's build command produces everything the runtime stage copies and runs", async () => {
    await build();
    const entry = only(runtime, 'ENTRYPOINT').find((a) => a.endsWith('.js'));
    expect(entry).toBeDefined();
    expect(fs.existsSync(path.join(workdir, entry!))).toBe(true);
    for (const bin of Object.values(pkg.bin ?? {})) expect(fs.existsSync(path.join(workdir, bin))).toBe(true);

    // The image's CMD names a command the built CLI has.
    const [subcommand] = only(runtime, 'CMD');
    const help = await execFileP(process.execPath, [entry!, subcommand!, '--help'], { cwd: workdir }).catch(
      (err: { stderr?: string }) => ({ stdout: '', stderr: err.stderr ?? String(err) }),
    );
    expect({ subcommand, stderr: help.stderr }).toEqual({ subcommand, stderr: '' });
    expect(help.stdout).toMatch(new RegExp(`usage: hvgate ${subcommand}`));

    // Only production dependencies exist in the image: every package the built code requires must be one.
    const prodDeps = new Set(Object.keys(pkg.dependencies ?? {}));
    const missing = new Set<string>();
    for (const file of listJs(path.join(workdir, 'dist'))) {
      for (const spec of requiredModules(fs.readFileSync(file, 'utf8'))) {
        const name = packageName(spec);
        if (name !== null && !prodDeps.has(name)) missing.add(`${name} (${path.relative(workdir, file)})`);
      }
    }
    expect([...missing]).toEqual([]);
  }, 240_000);

  test('the image command, with the Kubernetes sample config, passes the HEALTHCHECK and stops on SIGTERM', async () => {
    await build();
    // The container's filesystem, rooted in the temp dir: the k8s sample config with its mounted secrets.
    const root = path.join(workdir, 'container-root');
    const sample = fs.readFileSync(path.join(REPO_ROOT, 'k8s/base/hvgate.yaml'), 'utf8');
    const config = sample.replace(/(['"\s])\/(etc|var\/lib)\/hvgate\//g, `$1${root}/$2/hvgate/`);
    const [, , configFile] = only(runtime, 'CMD');
    const configPath = path.join(root, configFile!);
    writeFile(configPath, config);
    const jwt = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFile(
      path.join(root, 'etc/hvgate/secrets/jwt/jwt-public.pem'),
      jwt.publicKey.export({ type: 'spki', format: 'pem' }),
    );
    const audit = crypto.generateKeyPairSync('ed25519');
    writeFile(
      path.join(root, 'etc/hvgate/secrets/audit/signing-key.pem'),
      audit.privateKey.export({ type: 'pkcs8', format: 'pem' }),
    );
    for (const host of ['hv01', 'hv02']) {
      writeFile(path.join(root, `etc/hvgate/secrets/winrm/${host}.username`), 'svc-hvgate\n');
      writeFile(path.join(root, `etc/hvgate/secrets/winrm/${host}.password`), 'sample-password\n');
    }
    const stateDir = path.join(root, 'var/lib/hvgate');
    fs.mkdirSync(stateDir, { recursive: true });
    const appFilesBefore = listFiles(workdir, ['node_modules', 'container-root']);

    // ENTRYPOINT minus tini, then CMD with the config path inside the temp root, on loopback only.
    const entrypoint = only(runtime, 'ENTRYPOINT');
    const nodeArgs = entrypoint.slice(entrypoint.indexOf('node') + 1);
    const args = [...nodeArgs, 'serve', '--config', configPath, '--host', '127.0.0.1', '--port', '0'];
    const child = spawn(process.execPath, args, {
      cwd: workdir,
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', HOME: '/nonexistent', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /"event":"listening","url":"([^"]+)"/.exec(out);
          if (m) resolve(m[1]!);
        });
        void exited.then((code) =>
          reject(new Error(`serve exited with ${code} before listening: ${stderr}`)),
        );
      });
      const check = healthcheckCommand(byKeyword(runtime, 'HEALTHCHECK')[0]!)!;
      const probe = spawn(process.execPath, check.slice(1), {
        env: { PATH: process.env.PATH ?? '', HVGATE_HEALTHCHECK_URL: `${url}/healthz` },
        stdio: 'ignore',
      });
      await expect(new Promise((resolve) => probe.on('exit', resolve))).resolves.toBe(0);
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
    } finally {
      child.kill('SIGTERM');
    }
    await expect(exited).resolves.toBe(0);
    // State went to the volume; nothing was written next to the application (read-only in the image).
    expect(fs.readdirSync(stateDir).length).toBeGreaterThan(0);
    expect(listFiles(workdir, ['node_modules', 'container-root'])).toEqual(appFilesBefore);
  }, 240_000);
});

function writeFile(file: string, data: string | Buffer): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, data);
}

function listFiles(dir: string, skip: string[]): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .filter((rel) => !skip.some((s) => rel === s || rel.startsWith(`${s}/`)))
    .sort();
}

function listJs(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.js'))
    .map((e) => path.join(e.parentPath, e.name));
}

function requiredModules(code: string): string[] {
  return [...code.matchAll(/\brequire\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]!);
}

/** The npm package a bare specifier names, or null for relative paths and Node built-ins. */
function packageName(spec: string): string | null {
  if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:')) return null;
  const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
  return builtinModules.includes(name) ? null : name;
}
