import type { CircuitBreakerRegistry, CircuitStateName } from './circuit-breaker';
import { systemClock, type Clock, type ClockTimer } from './clock';
import type { HostEntry, HostInventory } from './host-inventory';

/** Checks that a host answers (e.g. a WinRM Identify or a trivial command). Rejects when it does not. */
export type HostProbe = (host: HostEntry, signal: AbortSignal) => Promise<void>;

export interface HostHealth {
  host: string;
  status: 'unknown' | 'up' | 'down';
  circuit: CircuitStateName;
  lastProbeAt: number | null;
  lastOkAt: number | null;
  latencyMs: number | null;
  /** Error name or code only: probe errors can carry addresses or user names. */
  lastError: string | null;
}

export interface HostHealthMonitor {
  /** Starts periodic probing of every inventory host. */
  start(): void;
  /** Stops timers and waits for probes in flight. */
  stop(): Promise<void>;
  probeNow(host: string): Promise<HostHealth>;
  probeAll(): Promise<HostHealth[]>;
  status(host: string): HostHealth;
  statuses(): HostHealth[];
}

export interface HostHealthOptions {
  inventory: HostInventory;
  breakers: CircuitBreakerRegistry;
  probe: HostProbe;
  clock?: Clock;
  /** Between probes of a healthy host. Default 30 s. */
  intervalMs?: number;
  /** Between probes of a host whose circuit is open; keep equal to the breaker's probeIntervalMs. Default 10 s. */
  openIntervalMs?: number;
  /** Per probe. Default 5 s. */
  timeoutMs?: number;
}

interface ProbeRecord {
  lastProbeAt: number | null;
  lastOkAt: number | null;
  latencyMs: number | null;
  lastError: string | null;
  ok: boolean | null;
}

export function createHostHealthMonitor(options: HostHealthOptions): HostHealthMonitor {
  const clock = options.clock ?? systemClock;
  const intervalMs = options.intervalMs ?? 30_000;
  const openIntervalMs = options.openIntervalMs ?? 10_000;
  const timeoutMs = options.timeoutMs ?? 5_000;
  const records = new Map<string, ProbeRecord>();
  const inFlight = new Map<string, Promise<HostHealth>>();
  const timers = new Map<string, ClockTimer>();
  let running = false;

  function record(host: string): ProbeRecord {
    let r = records.get(host);
    if (!r) {
      r = { lastProbeAt: null, lastOkAt: null, latencyMs: null, lastError: null, ok: null };
      records.set(host, r);
    }
    return r;
  }

  function status(host: string): HostHealth {
    options.inventory.require(host);
    const r = record(host);
    return {
      host,
      status: r.ok === null ? 'unknown' : r.ok ? 'up' : 'down',
      circuit: options.breakers.forHost(host).state(),
      lastProbeAt: r.lastProbeAt,
      lastOkAt: r.lastOkAt,
      latencyMs: r.latencyMs,
      lastError: r.lastError,
    };
  }

  async function runProbe(entry: HostEntry): Promise<HostHealth> {
    const r = record(entry.name);
    const controller = new AbortController();
    const started = clock.now();
    let timer: ClockTimer | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = clock.setTimeout(() => {
        const err = new Error('probe timed out');
        err.name = 'ProbeTimeout';
        controller.abort(err);
        reject(err);
      }, timeoutMs);
    });
    try {
      await Promise.race([options.probe(entry, controller.signal), deadline]);
      r.ok = true;
      r.lastOkAt = clock.now();
      r.lastError = null;
    } catch (err) {
      r.ok = false;
      r.lastError = describe(err);
    } finally {
      if (timer) clock.clearTimeout(timer);
      // Keeps a late rejection of the losing race from surfacing as unhandled.
      deadline.catch(() => undefined);
    }
    r.lastProbeAt = clock.now();
    r.latencyMs = r.lastProbeAt - started;
    options.breakers.forHost(entry.name).recordProbe(r.ok);
    return status(entry.name);
  }

  function probeNow(host: string): Promise<HostHealth> {
    const existing = inFlight.get(host);
    if (existing) return existing;
    const entry = options.inventory.require(host);
    const p = runProbe(entry).finally(() => inFlight.delete(host));
    inFlight.set(host, p);
    return p;
  }

  function schedule(host: string) {
    if (!running) return;
    const open = options.breakers.forHost(host).state() === 'open';
    timers.set(
      host,
      clock.setTimeout(
        () => {
          timers.delete(host);
          void probeNow(host).finally(() => schedule(host));
        },
        open ? openIntervalMs : intervalMs,
      ),
    );
  }

  return {
    start() {
      if (running) return;
      running = true;
      for (const h of options.inventory.list()) schedule(h.name);
    },
    async stop() {
      running = false;
      for (const t of timers.values()) clock.clearTimeout(t);
      timers.clear();
      await Promise.allSettled([...inFlight.values()]);
    },
    probeNow,
    probeAll: () => Promise.all(options.inventory.list().map((h) => probeNow(h.name))),
    status,
    statuses: () => options.inventory.list().map((h) => status(h.name)),
  };
}

function describe(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as { code?: unknown; name?: unknown };
    if (typeof e.code === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(e.code)) return e.code;
    if (typeof e.name === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(e.name)) return e.name;
  }
  return 'Error';
}
