// Per-host fault injection. A fault applies to the next `count` matching requests (or until
// cleared) and can be limited to some WS-Management actions.
import { z } from 'zod';
import { WSMAN_ACTIONS, WsmanActionName } from './wsman-request';

export const FAULT_KINDS = [
  'refuse',
  'hang',
  'slow',
  'http500',
  'soapFault',
  'quota',
  'drop',
  'garbage',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export const faultSpecSchema = z.strictObject({
  /**
   * refuse: connections are reset on accept (no action filter: nothing has been read yet);
   * hang: the request is not answered until the fault is cleared or the client gives up;
   * slow: delayMs before the reply; http500: plain HTTP 500 with a non-SOAP body;
   * soapFault: a Windows-shaped w:InternalError fault; quota: the MaxShellsPerUser (2150859173)
   * or MaxConcurrentOperationsPerUser (2150859174) fault; drop: the request is processed, part
   * of the reply is written, then the socket is destroyed; garbage: 200 with a body that is not XML.
   */
  kind: z.enum(FAULT_KINDS),
  actions: z.array(z.enum(WSMAN_ACTIONS)).min(1).optional(),
  count: z.int().min(1).optional(),
  /** slow: delay before each reply (default 1000). */
  delayMs: z.int().min(0).max(600_000).optional(),
  /** quota: which quota fault (default: shells for Create, operations otherwise). */
  quota: z.enum(['shells', 'operations']).optional(),
  /** soapFault: the f:WSManFault Code and message (default 2147500037 "Unspecified error"). */
  wsmanCode: z.int().min(0).max(4294967295).optional(),
  message: z.string().min(1).max(2000).optional(),
  /** drop: bytes of the reply body written before the socket is destroyed (default: half). */
  bytes: z.int().min(0).optional(),
});

export type FaultSpec = z.infer<typeof faultSpecSchema>;

export class InvalidFaultError extends Error {
  override readonly name = 'InvalidFaultError';
}

export interface ActiveFault {
  readonly id: number;
  readonly spec: FaultSpec;
  remaining: number | undefined;
}

export interface FaultInjector {
  /** Validates and adds a fault; throws InvalidFaultError on bad input. Returns its id. */
  inject(spec: unknown): number;
  /** Removes all faults and releases requests held by `hang`. */
  clear(): void;
  list(): ReadonlyArray<{ id: number; spec: FaultSpec; remaining: number | undefined }>;
  /** Consumes and returns the first fault matching a connection being accepted (kind refuse). */
  takeForConnection(): FaultSpec | undefined;
  /** Consumes and returns the first request-level fault matching the action. */
  takeForRequest(action: WsmanActionName | undefined): FaultSpec | undefined;
  /** Resolves when clear() is called (used by hang) or the signal aborts. */
  whenCleared(signal: AbortSignal): Promise<void>;
}

export function createFaultInjector(): FaultInjector {
  let faults: ActiveFault[] = [];
  let nextId = 1;
  let clearWaiters = new Set<() => void>();

  function take(pred: (f: ActiveFault) => boolean): FaultSpec | undefined {
    const f = faults.find(pred);
    if (!f) return undefined;
    if (f.remaining !== undefined) {
      f.remaining -= 1;
      if (f.remaining <= 0) faults = faults.filter((x) => x !== f);
    }
    return f.spec;
  }

  return {
    inject(input) {
      const parsed = faultSpecSchema.safeParse(input);
      if (!parsed.success) {
        throw new InvalidFaultError(
          parsed.error.issues.map((i) => `${i.path.join('.') || 'fault'}: ${i.message}`).join('; '),
        );
      }
      const id = nextId++;
      faults.push({ id, spec: parsed.data, remaining: parsed.data.count });
      return id;
    },
    clear() {
      faults = [];
      const waiters = clearWaiters;
      clearWaiters = new Set();
      for (const w of waiters) w();
    },
    list() {
      return faults.map((f) => ({ id: f.id, spec: f.spec, remaining: f.remaining }));
    },
    takeForConnection() {
      return take((f) => f.spec.kind === 'refuse');
    },
    takeForRequest(action) {
      return take(
        (f) =>
          f.spec.kind !== 'refuse' &&
          (f.spec.actions === undefined || (action !== undefined && f.spec.actions.includes(action))),
      );
    },
    whenCleared(signal) {
      return new Promise<void>((resolve) => {
        if (signal.aborted) return resolve();
        const done = (): void => {
          clearWaiters.delete(done);
          signal.removeEventListener('abort', done);
          resolve();
        };
        clearWaiters.add(done);
        signal.addEventListener('abort', done, { once: true });
      });
    },
  };
}
