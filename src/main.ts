// Composition root: builds every service of the gateway from a loaded config. Seams (WinRM
// transport, clock, stores, signer, catalog, runner) can be overridden so tests run the real
// services against the simulator and a temp SQLite file.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import pino from 'pino';
import { createAuditWriter, createStreamSink, type AuditSink, type AuditWriter } from './audit/audit-writer';
import { loadAuditSigner, type AuditSigner } from './audit/audit-signer';
import { createAuthorizer, type Authorizer } from './auth/authorizer';
import { createJwtVerifierFromConfig, type JwtVerifier } from './auth/jwt-verifier';
import type { LoadedConfig } from './config/config-loader';
import { createCircuitBreakerRegistry, type CircuitBreakerRegistry } from './fleet/circuit-breaker';
import { systemClock, type Clock } from './fleet/clock';
import { createFleetScheduler } from './fleet/fleet-scheduler';
import { createHostHealthMonitor, type HostHealthMonitor } from './fleet/host-health';
import { createHostInventory, type HostEntry, type HostInventory } from './fleet/host-inventory';
import { createHostLimiter, type SlotCoordinator } from './fleet/host-limiter';
import { gateHostReads, probeSlot } from './fleet/pg-read-gate';
import { createVmLocks } from './fleet/vm-lock';
import { createApp, type Readiness } from './http/app';
import { createGatewayMetrics, type GatewayMetrics } from './http/metrics';
import { createIntakeGate, hostOfApiPath } from './http/intake-gate';
import { answerClientError } from './http/client-error';
import {
  IDEMPOTENCY_TTL_MS,
  createJobService,
  type JobService,
  type JobServiceOptions,
} from './jobs/job-service';
import { createOperationRunner } from './operations/create-operation-runner';
import { OPERATIONS } from './operations/operation-registry';
import type { OperationRunner } from './operations/operation-runner';
import type { OperationSpec } from './operations/operation-spec';
import type { AuditStore } from './store/audit-store';
import type { JobStore } from './store/job-store';
import { createSqliteAuditStore } from './store/sqlite-audit-store';
import { HA_AUDIT_CONFLICT_RETRIES, createPostgresBackend, type HaTiming } from './store/postgres-backend';
import { openSqliteDatabase, type SqliteDatabase } from './store/sqlite-database';
import { createSqliteJobStore } from './store/sqlite-job-store';
import { createHostExecutor, type HostExecutor } from './winrm/host-executor';
import type { WinRmTransport } from './winrm/winrm-transport';

export interface GatewayLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

export interface GatewayOverrides {
  /** Fleet and job timing (queue deadlines, breaker, waits). */
  clock?: Clock;
  /** JWT verification time, epoch ms. */
  now?: () => number;
  /** WinRM transport per host (tests); default HTTP(S) per the inventory entry. */
  transport?: (host: HostEntry) => WinRmTransport | undefined;
  /** Wraps or replaces the audit store (fail-closed tests make it throw). */
  auditStore?: (db: SqliteDatabase) => AuditStore;
  jobStore?: (db: SqliteDatabase) => JobStore;
  /** store.kind postgres: lease/poll timing and a schema for the tables (tests). */
  ha?: HaTiming & { schema?: string };
  signer?: AuditSigner;
  /** Copy of each audit event as a JSON line; default stdout when audit.stdout is on; null = none. */
  auditSink?: AuditSink | null;
  specs?: readonly OperationSpec[];
  runner?: (deps: {
    inventory: HostInventory;
    executors: ReadonlyMap<string, HostExecutor>;
  }) => OperationRunner;
  executeTimeoutMs?: JobServiceOptions['executeTimeoutMs'];
  auditSweepIntervalMs?: number;
  breaker?: { failureThreshold?: number; probeIntervalMs?: number };
  /** Health probe interval of a healthy host; the open-circuit interval is the breaker's probe interval. */
  healthIntervalMs?: number;
  /** Do not start periodic host probes (tests drive probes themselves). */
  healthProbes?: boolean;
  /** null = silent. Default: pino JSON lines on stdout at LOG_LEVEL. */
  logger?: GatewayLogger | null;
  instance?: string;
  version?: string;
  newJobId?: () => string;
}

export interface GatewayServices {
  inventory: HostInventory;
  authorizer: Authorizer;
  verifier: JwtVerifier;
  audit: AuditWriter;
  auditStore: AuditStore;
  jobStore: JobStore;
  jobs: JobService;
  slots: SlotCoordinator;
  breakers: CircuitBreakerRegistry;
  health: HostHealthMonitor;
  metrics: GatewayMetrics;
  executors: ReadonlyMap<string, HostExecutor>;
  specs: readonly OperationSpec[];
  runner: OperationRunner;
  /** null with store.kind postgres. */
  db: SqliteDatabase | null;
}

export interface Gateway {
  readonly app: Express;
  readonly services: GatewayServices;
  /** Recovers jobs of a previous process (queued resume, running → interrupted), starts probes. */
  start(): Promise<{ interrupted: number; resumed: number }>;
  /** Listens on config server.host/port unless given (port 0 = ephemeral). */
  listen(port?: number, host?: string): Promise<{ url: string; server: http.Server | https.Server }>;
  /** Readiness fails, new jobs get 503, running jobs get `graceMs`, queued ones stay queued. */
  shutdown(graceMs?: number): Promise<void>;
  /** shutdown() then closes the listener, executors, audit writer and database. */
  close(graceMs?: number): Promise<void>;
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../package.json'), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export function createDefaultLogger(): GatewayLogger {
  return pino({
    level: process.env['LOG_LEVEL'] ?? 'info',
    base: { service: 'hvgate' },
    // Second line of defence: nothing below should ever carry these, but if it does it is cut.
    redact: {
      paths: [
        'authorization',
        'headers.authorization',
        'req.headers.authorization',
        'token',
        'password',
        '*.password',
      ],
      censor: '[redacted]',
    },
  });
}

export function createGateway(loaded: LoadedConfig, overrides: GatewayOverrides = {}): Gateway {
  const { config } = loaded;
  const clock = overrides.clock ?? systemClock;
  const version = overrides.version ?? packageVersion();
  const instance = overrides.instance ?? `${os.hostname()}-${process.pid}`;
  const logger: GatewayLogger | undefined =
    overrides.logger === null ? undefined : (overrides.logger ?? createDefaultLogger());

  const inventory = createHostInventory(config.hosts, config.groups ?? []);
  // HA mode: jobs, keys, audit, host slots and VM locks live in PostgreSQL, shared by all replicas.
  let pg: ReturnType<typeof createPostgresBackend> | null = null;
  if (config.store.kind === 'postgres') {
    const url = loaded.secrets.storeUrl?.revealString();
    if (!url) throw new Error('store: no PostgreSQL url resolved (url, urlFile or urlEnv)');
    pg = createPostgresBackend({
      url,
      instance,
      inventory,
      clock,
      ...overrides.ha,
      onError: (err, what) =>
        logger?.warn(
          { err: (err as Error)?.name, detail: String((err as Error)?.message ?? '').slice(0, 200), what },
          'PostgreSQL coordination error',
        ),
      onLeaseLost: () =>
        logger?.error({ instance }, 'replica lease had expired; other replicas may have adopted its jobs'),
    });
  }
  const db = config.store.kind === 'sqlite' ? openSqliteDatabase({ path: config.store.path }) : null;
  // Jobs get a connection of their own that does not wait for the disk: every job transition that
  // matters is followed by an audit append, whose synchronous commit makes the job rows written
  // before it durable too (one WAL, one sync). It keeps ~4 disk syncs per job off the event loop.
  const jobsDb =
    db && config.store.kind === 'sqlite' && config.store.path !== ':memory:'
      ? openSqliteDatabase({ path: config.store.path, synchronous: 'normal' })
      : db;
  const opened: { close(): unknown }[] = [];
  try {
    const auditStore = pg
      ? pg.auditStore
      : overrides.auditStore
        ? overrides.auditStore(db!)
        : createSqliteAuditStore(db!);
    const jobStore = pg
      ? pg.jobStore
      : overrides.jobStore
        ? overrides.jobStore(jobsDb!)
        : createSqliteJobStore(jobsDb!);
    const signer = overrides.signer ?? loadAuditSigner(config.audit.signingKeyFile);
    const sink =
      overrides.auditSink === null
        ? undefined
        : (overrides.auditSink ?? (config.audit.stdout ? createStreamSink(process.stdout) : undefined));
    const audit = createAuditWriter({
      store: auditStore,
      signer,
      checkpointEvery: config.audit.checkpointEvery,
      checkpointIntervalMs: config.audit.checkpointIntervalSec * 1000,
      service: { version, instance },
      ...(pg ? { maxConflictRetries: HA_AUDIT_CONFLICT_RETRIES } : {}),
      ...(sink ? { sink } : {}),
      onSinkError: (err) => logger?.warn({ err: (err as Error)?.name }, 'audit stdout copy failed'),
      // Each signed checkpoint also goes to the log: shipped out of the database owner's reach, it
      // lets `hvgate audit verify --anchor` detect a tail cut together with its checkpoints.
      onCheckpoint: (checkpoint) => logger?.info({ auditCheckpoint: checkpoint }, 'audit checkpoint'),
    });

    const authorizer = createAuthorizer({ inventory });
    const verifier = createJwtVerifierFromConfig(loaded, overrides.now ? { now: overrides.now } : {});
    const breakers = createCircuitBreakerRegistry({
      clock,
      ...(overrides.breaker?.failureThreshold !== undefined
        ? { failureThreshold: overrides.breaker.failureThreshold }
        : {}),
      ...(overrides.breaker?.probeIntervalMs !== undefined
        ? { probeIntervalMs: overrides.breaker.probeIntervalMs }
        : {}),
      onStateChange: (s) => logger?.warn({ host: s.host, circuit: s.state }, 'host circuit changed'),
    });
    const slots = pg ? pg.slots : createHostLimiter({ inventory, clock });
    const vmLocks = pg ? pg.vmLocks : createVmLocks({ clock });
    const scheduler = createFleetScheduler({ slots, vmLocks, breakers });

    const executors = new Map<string, HostExecutor>();
    for (const host of inventory.list()) {
      const cred = loaded.secrets.hostCredentials.get(host.name);
      if (!cred) throw new Error(`hosts: no credentials resolved for ${host.name}`);
      const transport = overrides.transport?.(host);
      const executor = createHostExecutor(
        {
          name: host.name,
          address: host.address,
          port: host.port,
          transport: host.transport,
          auth: host.auth,
          username: cred.username,
          password: cred.password.reveal().toString('utf8'),
          ...(host.caFile !== undefined ? { caFile: host.caFile } : {}),
          ...(host.serverName !== undefined ? { serverName: host.serverName } : {}),
        },
        {
          maxShells: host.maxConcurrent,
          packScripts: host.packScripts,
          ...(transport ? { transport } : {}),
        },
      );
      // HA: per-process shell caps add up across replicas; a global per-host permit does not.
      executors.set(host.name, executor);
      opened.push({ close: () => executor.close() });
    }

    const specs = overrides.specs ?? OPERATIONS;
    const baseRunner = overrides.runner
      ? overrides.runner({ inventory, executors })
      : createOperationRunner({
          inventory,
          clock,
          // Another replica's change to a VM would not drop what this one's last change left.
          ...(pg ? { changeFactsTtlMs: 0 } : {}),
          executorFor: (name) => {
            const e = executors.get(name);
            // Hosts come from the inventory, and every inventory host has an executor.
            if (!e) throw new Error(`no executor for host ${name}`);
            return e;
          },
        });
    // HA: reads outside a job (VM resolution, dry runs) take a global host slot, so every command
    // on a host runs under one of its maxConcurrent slots across all replicas (pg-read-gate.ts).
    const runner = pg ? gateHostReads(baseRunner, slots) : baseRunner;

    const probeIntervalMs = overrides.breaker?.probeIntervalMs ?? 10_000;
    const health = createHostHealthMonitor({
      inventory,
      breakers,
      clock,
      intervalMs: overrides.healthIntervalMs ?? 30_000,
      openIntervalMs: probeIntervalMs,
      probe: async (host, signal) => {
        const executor = executors.get(host.name);
        if (!executor) throw new Error('no executor');
        const ping = () =>
          executor.run({ commandLine: 'hostname' }, { deadline: clock.now() + 5000, signal });
        if (!pg) return void (await ping());
        // HA: the probe's command takes a global slot like every other command on the host. A host
        // whose slots all stay busy for the whole probe is answering its jobs, which is what the
        // probe wanted to know (and their failures feed its circuit breaker anyway).
        const lease = await probeSlot(slots, host.name, signal);
        if (!lease) return;
        try {
          await ping();
        } finally {
          await lease.release();
        }
      },
    });

    const idleSlots = slots.idleSlots?.bind(slots);
    const intake = createIntakeGate({
      concurrency: config.server.intakeConcurrency,
      maxWaiting: config.server.intakeMaxWaiting,
      ...(idleSlots ? { hostOf: hostOfApiPath, idleSlots } : {}),
    });
    const metrics = createGatewayMetrics({
      inventory,
      slots,
      breakers,
      intake,
      heldAudit: jobStore,
      winrm: { stats: () => [...executors.values()].map((e) => e.stats()) },
      defaultMetrics: overrides.logger !== null,
    });

    const jobs = createJobService({
      specs,
      store: jobStore,
      audit,
      authorizer,
      scheduler,
      breakers,
      runner,
      clock,
      observer: metrics.observer,
      ...(logger ? { logger } : {}),
      ...(overrides.executeTimeoutMs ? { executeTimeoutMs: overrides.executeTimeoutMs } : {}),
      ...(overrides.auditSweepIntervalMs ? { auditSweepIntervalMs: overrides.auditSweepIntervalMs } : {}),
      ...(overrides.newJobId ? { newId: overrides.newJobId } : {}),
    });

    let shuttingDown = false;
    const readiness = async (): Promise<Readiness> => {
      const checks: Record<string, string> = {
        config: 'ok',
        shutdown: shuttingDown ? 'shutting down' : 'ok',
      };
      try {
        await jobStore.checkWritable();
        await auditStore.head();
        checks['store'] = 'ok';
      } catch {
        checks['store'] = 'not writable';
      }
      return { ready: Object.values(checks).every((v) => v === 'ok'), checks };
    };

    const app = createApp({
      version,
      bodyLimitBytes: config.server.bodyLimitBytes,
      intake,
      specs,
      jobs,
      verifier,
      authorizer,
      audit,
      auditStore,
      inventory,
      slots,
      breakers,
      health,
      metrics,
      readiness,
      logger,
    });

    let server: http.Server | https.Server | undefined;
    let purgeTimer: NodeJS.Timeout | undefined;
    let shutdownPromise: Promise<void> | undefined;
    let closePromise: Promise<void> | undefined;
    const probesOn = overrides.healthProbes ?? true;

    const gateway: Gateway = {
      app,
      services: {
        inventory,
        authorizer,
        verifier,
        audit,
        auditStore,
        jobStore,
        jobs,
        slots,
        breakers,
        health,
        metrics,
        executors,
        specs,
        runner,
        db,
      },
      async start() {
        // Migrations, the replica lease, and adoption of jobs left by replicas that died.
        if (pg) await pg.start(() => jobs.recover());
        const recovered = await jobs.recover();
        if (probesOn) health.start();
        await jobStore.purgeIdempotency(clock.now() - IDEMPOTENCY_TTL_MS);
        // Expired keys are already ignored on lookup; this only keeps the table small.
        purgeTimer = setInterval(() => {
          jobStore.purgeIdempotency(clock.now() - IDEMPOTENCY_TTL_MS).catch(() => undefined);
        }, 3_600_000);
        purgeTimer.unref();
        logger?.info({ ...recovered, instance, version }, 'gateway started');
        return recovered;
      },
      listen(port = config.server.port, host = config.server.host) {
        return new Promise((resolve, reject) => {
          const tls = config.server.tls;
          server = tls
            ? https.createServer(
                { cert: fs.readFileSync(tls.certFile), key: fs.readFileSync(tls.keyFile) },
                app,
              )
            : http.createServer(app);
          // Bound how long a slow client can hold a connection open.
          server.headersTimeout = 20_000;
          server.requestTimeout = 10 * 60_000;
          server.on('clientError', answerClientError);
          server.once('error', reject);
          server.listen(port, host, () => {
            const addr = server!.address() as AddressInfo;
            const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
            resolve({ url: `${tls ? 'https' : 'http'}://${shown}:${addr.port}`, server: server! });
          });
        });
      },
      shutdown(graceMs = 20_000) {
        shutdownPromise ??= (async () => {
          shuttingDown = true;
          if (purgeTimer) clearInterval(purgeTimer);
          logger?.info({ graceMs }, 'shutting down');
          await jobs.shutdown(graceMs);
          await health.stop();
        })();
        return shutdownPromise;
      },
      close(graceMs = 20_000) {
        closePromise ??= (async () => {
          await gateway.shutdown(graceMs);
          if (server) {
            const s = server;
            await new Promise<void>((resolve) => {
              s.close(() => resolve());
              s.closeAllConnections?.();
            });
          }
          await Promise.all([...executors.values()].map((e) => e.close().catch(() => undefined)));
          await audit
            .close()
            .catch((err: unknown) => logger?.error({ err: (err as Error)?.name }, 'audit close failed'));
          await auditStore.close().catch(() => undefined);
          await jobStore.close();
          await pg?.close();
          if (jobsDb !== db && jobsDb?.open) jobsDb.close();
          if (db?.open) db.close();
        })();
        return closePromise;
      },
    };
    return gateway;
  } catch (err) {
    for (const o of opened) void o.close();
    void pg?.close();
    if (jobsDb !== db && jobsDb?.open) jobsDb.close();
    if (db?.open) db.close();
    throw err;
  }
}
