// Prometheus metrics (prom-client) on a registry per gateway, so several gateways in one process
// (tests) do not share counters. Gauges that mirror live state are read at scrape time.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CircuitBreakerRegistry, CircuitStateName } from '../fleet/circuit-breaker';
import type { HostInventory } from '../fleet/host-inventory';
import type { SlotCoordinator } from '../fleet/host-limiter';
import type { JobObserver } from '../jobs/job-service';
import type { IntakeStats } from './intake-gate';

/** Per-host WinRM request counts, if the executors expose them. */
export interface WinRmStatsSource {
  stats(): {
    host: string;
    httpRequests: number;
    commands: number;
    shellsCreated: number;
    exchanges: readonly { action: string; status: string; count: number }[];
  }[];
}

export interface GatewayMetrics {
  readonly registry: Registry;
  readonly observer: JobObserver;
  httpResponse(info: { method: string; route: string; status: number; durationMs: number }): void;
  render(): Promise<string>;
  readonly contentType: string;
}

const CIRCUIT_VALUE: Record<CircuitStateName, number> = { closed: 0, 'half-open': 1, open: 2 };

export function createGatewayMetrics(deps: {
  inventory: HostInventory;
  slots: SlotCoordinator;
  breakers: CircuitBreakerRegistry;
  winrm?: WinRmStatsSource;
  intake?: { stats(): IntakeStats };
  /** Outcome records held for the audit sweep (src/jobs/audit-sweep.ts). */
  heldAudit?: { countHeldAuditEvents(): Promise<number> };
  defaultMetrics?: boolean;
}): GatewayMetrics {
  const registry = new Registry();
  if (deps.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'hvgate_' });

  new Gauge({
    name: 'hvgate_host_jobs_running',
    help: 'Jobs holding a host slot',
    labelNames: ['host'],
    registers: [registry],
    async collect() {
      for (const s of await deps.slots.snapshot()) this.set({ host: s.host }, s.running);
    },
  });
  new Gauge({
    name: 'hvgate_host_jobs_queued',
    help: 'Jobs admitted to a host queue and not yet running',
    labelNames: ['host'],
    registers: [registry],
    async collect() {
      for (const s of await deps.slots.snapshot()) this.set({ host: s.host }, s.queued);
    },
  });
  new Gauge({
    name: 'hvgate_host_slots',
    help: 'Configured maxConcurrent per host',
    labelNames: ['host'],
    registers: [registry],
    collect() {
      for (const h of deps.inventory.list()) this.set({ host: h.name }, h.maxConcurrent);
    },
  });
  new Gauge({
    name: 'hvgate_host_circuit_state',
    help: 'Circuit breaker state per host (0 closed, 1 half-open, 2 open)',
    labelNames: ['host'],
    registers: [registry],
    collect() {
      for (const h of deps.inventory.list())
        this.set({ host: h.name }, CIRCUIT_VALUE[deps.breakers.forHost(h.name).state()]);
    },
  });
  if (deps.heldAudit) {
    const held = deps.heldAudit;
    new Gauge({
      name: 'hvgate_audit_held_records',
      help: 'Outcome records the audit trail refused, held for the audit sweep; above 0 the trail is incomplete until it runs',
      registers: [registry],
      async collect() {
        // A job store that cannot answer must not take /metrics down with it: the last value stays.
        const n = await held.countHeldAuditEvents().catch(() => undefined);
        if (n !== undefined) this.set(n);
      },
    });
  }
  if (deps.winrm) {
    const source = deps.winrm;
    new Gauge({
      name: 'hvgate_winrm_http_requests',
      help: 'WS-Management HTTP requests sent per host since start',
      labelNames: ['host'],
      registers: [registry],
      collect() {
        for (const s of source.stats()) this.set({ host: s.host }, s.httpRequests);
      },
    });
    new Counter({
      name: 'hvgate_winrm_requests_total',
      help: 'WS-Management requests per host by action (create, command, send, receive, signal, delete) and HTTP status of the answer (none: no answer: refused, reset, timed out)',
      labelNames: ['host', 'action', 'status'],
      registers: [registry],
      collect() {
        // The executors keep the counts; each scrape copies them rather than counting twice.
        this.reset();
        for (const s of source.stats())
          for (const e of s.exchanges)
            this.inc({ host: s.host, action: e.action, status: e.status }, e.count);
      },
    });
    new Gauge({
      name: 'hvgate_winrm_commands',
      help: 'WinRS commands run per host since start',
      labelNames: ['host'],
      registers: [registry],
      collect() {
        for (const s of source.stats()) this.set({ host: s.host }, s.commands);
      },
    });
  }

  if (deps.intake) {
    const intake = deps.intake;
    new Gauge({
      name: 'hvgate_http_intake_requests',
      help: 'API requests being taken in (in_flight, fast_lane: for hosts with an idle slot) and waiting for their turn (waiting)',
      labelNames: ['state'],
      registers: [registry],
      collect() {
        const s = intake.stats();
        this.set({ state: 'in_flight' }, s.inFlight);
        this.set({ state: 'waiting' }, s.waiting);
        this.set({ state: 'fast_lane' }, s.fastLane);
      },
    });
    new Gauge({
      name: 'hvgate_http_intake_refused',
      help: 'API requests refused with 503 HVG_ERR_GATEWAY_BUSY since start (intake line full)',
      registers: [registry],
      collect() {
        this.set(intake.stats().refused);
      },
    });
  }

  const duration = new Histogram({
    name: 'hvgate_operation_duration_seconds',
    help: 'Job duration from start on the host to outcome',
    labelNames: ['operation', 'host', 'outcome'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800],
    registers: [registry],
  });
  const jobs = new Counter({
    name: 'hvgate_jobs_total',
    help: 'Jobs finished, by outcome',
    labelNames: ['operation', 'host', 'outcome'],
    registers: [registry],
  });
  const refused = new Counter({
    name: 'hvgate_admission_refused_total',
    help: 'Requests refused at admission (429 host busy, 503 circuit open)',
    labelNames: ['host', 'code'],
    registers: [registry],
  });
  const tooMany = new Counter({
    name: 'hvgate_http_429_total',
    help: 'HTTP 429 responses',
    labelNames: ['host'],
    registers: [registry],
  });
  const http = new Histogram({
    name: 'hvgate_http_request_duration_seconds',
    help: 'HTTP request duration by route template and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [registry],
  });

  return {
    registry,
    contentType: registry.contentType,
    observer: {
      jobFinished(job) {
        const labels = { operation: job.operation, host: job.host, outcome: job.state };
        jobs.inc(labels);
        if (job.durationMs !== null) duration.observe(labels, job.durationMs / 1000);
      },
      refused({ code, host }) {
        refused.inc({ host, code });
        if (code === 'HVG_ERR_HOST_BUSY') tooMany.inc({ host });
      },
    },
    httpResponse({ method, route, status, durationMs }) {
      http.observe({ method, route, status: String(status) }, durationMs / 1000);
    },
    render: () => registry.metrics(),
  };
}
