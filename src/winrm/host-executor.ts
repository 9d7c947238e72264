// Runs commands on one host over WinRS with a small pool of reused shells (one per slot).
// Steady state for a short command: Command + Receive(Done) = 2 HTTP requests. Shells are
// recycled before per-shell budgets bite, reopened when the host lost them, and on deadline or
// abort the command is terminated and its shell deleted before the call settles.

import { setMaxListeners } from 'node:events';
import { CMD_MAX_COMMAND_LINE, encodeCommandLine, type EncodedCommand } from '../powershell/command-line';
import { clixmlToText } from '../powershell/clixml';
import type { RenderedScript } from '../powershell/script-render';
import type { ResultEnvelope, ScriptProgress } from '../powershell/script-output';
import { parseScriptOutput } from '../powershell/script-output';
import type { HostConnection } from './host-connection';
import { validateHostConnection } from './host-connection';
import { createHttpTransport } from './http-transport';
import { createOutputCollector } from './output-collector';
import { createSlotGate } from './slot-gate';
import { SIGNAL, type ActionName } from './soap-messages';
import type { ReceiveResult } from './soap-parser';
import { isInvalidSelectorsFault, isTimedOutFault } from './soap-parser';
import {
  CancelledError,
  InvalidCommandError,
  ProtocolError,
  QuotaExceededError,
  ScriptFailedError,
  TimeoutError,
  WinRmError,
  WsManFaultError,
  backoffDelayMs,
} from './winrm-errors';
import type { WsManCall } from './wsman-client';
import { createWsManClient } from './wsman-client';
import type { Clock, WinRmTransport } from './winrm-transport';
import { systemClock } from './winrm-transport';

export interface QuotaRetryOptions {
  /** Extra Create attempts after a quota fault (0 = fail at once with QuotaExceededError). */
  attempts?: number;
  baseMs?: number;
  maxMs?: number;
  random?: () => number;
}

export interface HostExecutorOptions {
  /** Injected transport (tests); otherwise HTTP(S) per the host entry. */
  transport?: WinRmTransport;
  clock?: Clock;
  /** Shell slots = concurrent commands on this host from this executor. */
  maxShells?: number;
  /** Commands per shell before it is recycled (WinRM allows 1500 operations per user). */
  commandsPerShell?: number;
  /** Idle shells older than this are deleted. */
  shellIdleMs?: number;
  /** rsp:IdleTimeOut requested on Create, so a shell we fail to delete dies on its own. */
  hostShellIdleTimeoutMs?: number;
  /** Receive long-poll window (wsman:OperationTimeout). */
  receiveTimeoutMs?: number;
  /** OperationTimeout for the other messages. */
  requestTimeoutMs?: number;
  /** Wait for the HTTP answer this long past OperationTimeout. */
  networkGraceMs?: number;
  /** Budget for terminate + delete after a failure, independent of the caller's deadline. */
  cleanupTimeoutMs?: number;
  /** Send Signal(terminate) after every completed command, as MS-WSMV 3.1.4.14 asks (+1 request). */
  signalCompletedCommands?: boolean;
  quotaRetry?: QuotaRetryOptions;
  /** Cap on stdout+stderr of one command. */
  maxOutputBytes?: number;
  /** Compressed single-Command delivery for long scripts (command-line.ts). Default true. */
  packScripts?: boolean;
  /** Raw stdin bytes per Send message. */
  sendChunkBytes?: number;
  maxEnvelopeSize?: number;
}

export interface RunCommand {
  commandLine: string;
  /** Delivered with Send after the Command; the last chunk carries End="true". */
  stdin?: Buffer | string;
}

export interface RunOptions {
  /** Absolute time (clock.now() scale, ms since epoch by default). */
  deadline: number;
  signal?: AbortSignal;
  /** Called for each well-formed HVGATE-PROGRESS line as soon as it arrives. */
  onProgress?: (progress: ScriptProgress) => void;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** HTTP requests this call sent (including any shell create/recycle/cleanup it triggered). */
  httpRequests: number;
  durationMs: number;
}

export interface ScriptRunResult extends RunResult {
  envelope: ResultEnvelope;
  progress: ScriptProgress[];
  /** stderr as readable text (CLIXML decoded). */
  stderr: string;
  /** How the script reached powershell.exe (see src/powershell/command-line.ts). */
  delivery: EncodedCommand['mode'];
}

export interface ScriptRunOptions extends RunOptions {
  /** Return `{ok:false}` envelopes instead of throwing ScriptFailedError. */
  allowScriptError?: boolean;
  /** false: never packed for this call, whatever the host's setting (selftest checks stdin with it). */
  packScripts?: boolean;
}

/** Requests that ended with one WS-Management action and HTTP status (`none`: no HTTP answer). */
export interface ExchangeCount {
  action: ActionName;
  status: string;
  count: number;
}

export interface ExecutorStats {
  host: string;
  httpRequests: number;
  exchanges: ExchangeCount[];
  commands: number;
  shellsCreated: number;
  shellsDeleted: number;
  openShells: number;
  idleShells: number;
  busySlots: number;
  waiting: number;
}

export interface HostExecutor {
  readonly host: string;
  run(command: RunCommand, options: RunOptions): Promise<RunResult>;
  runScript(
    script: Pick<RenderedScript, 'text'> & Partial<RenderedScript>,
    options: ScriptRunOptions,
  ): Promise<ScriptRunResult>;
  stats(): ExecutorStats;
  /** Aborts running commands (terminate + delete), deletes idle shells, closes connections. */
  close(): Promise<void>;
}

interface PooledShell {
  id: string;
  commands: number;
  lastUsed: number;
}

interface RunState {
  shell: PooledShell | undefined;
  commandId: string | undefined;
  done: boolean;
}

const DEFAULTS = {
  maxShells: 4,
  commandsPerShell: 100,
  shellIdleMs: 60_000,
  hostShellIdleTimeoutMs: 300_000,
  receiveTimeoutMs: 20_000,
  requestTimeoutMs: 30_000,
  networkGraceMs: 5_000,
  cleanupTimeoutMs: 5_000,
  maxOutputBytes: 8 * 1024 * 1024,
  sendChunkBytes: 32 * 1024,
  maxEnvelopeSize: 153_600,
};

function isFault(err: unknown, test: (f: NonNullable<WinRmError['fault']>) => boolean): boolean {
  return err instanceof WsManFaultError && err.fault !== undefined && test(err.fault);
}

export function createHostExecutor(
  hostConn: HostConnection,
  options: HostExecutorOptions = {},
): HostExecutor {
  validateHostConnection(hostConn);
  const host = hostConn.name;
  const clock = options.clock ?? systemClock;
  const cfg = {
    ...DEFAULTS,
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  } as typeof DEFAULTS & HostExecutorOptions;
  if (!Number.isInteger(cfg.maxShells) || cfg.maxShells < 1)
    throw new RangeError('maxShells must be a positive integer');
  if (!Number.isInteger(cfg.commandsPerShell) || cfg.commandsPerShell < 1) {
    throw new RangeError('commandsPerShell must be a positive integer');
  }
  const quota = { attempts: 3, baseMs: 250, maxMs: 5_000, ...options.quotaRetry };
  const transport =
    options.transport ?? createHttpTransport(hostConn, { clock, maxSockets: cfg.maxShells + 2 });
  const exchanges = new Map<string, ExchangeCount>();
  const client = createWsManClient(transport, {
    host,
    clock,
    onExchange: (action, httpStatus) => {
      const status = httpStatus === null ? 'none' : String(httpStatus);
      const key = `${action} ${status}`;
      const seen = exchanges.get(key);
      if (seen) seen.count += 1;
      else exchanges.set(key, { action, status, count: 1 });
    },
    requestTimeoutMs: cfg.requestTimeoutMs,
    networkGraceMs: cfg.networkGraceMs,
    maxEnvelopeSize: cfg.maxEnvelopeSize,
    codepage: 65001,
    shellIdleTimeoutMs: cfg.hostShellIdleTimeoutMs,
  });

  const lifetime = new AbortController();
  // Every call waiting for a shell listens on the executor's lifetime (close() cancels them) and
  // stops listening once it has one, so the count is bounded by the callers, not leaking; the
  // default cap of 10 would only print MaxListenersExceededWarning under a burst.
  setMaxListeners(0, lifetime.signal);
  const gate = createSlotGate(cfg.maxShells, clock, {
    timeout: () => new TimeoutError(`no free WinRM slot on host ${host} before the deadline`, { host }),
    cancelled: () => new CancelledError(`waiting for a WinRM slot on host ${host} was cancelled`, { host }),
  });
  const idle: PooledShell[] = [];
  const background = new Set<Promise<void>>();
  const active = new Set<Promise<unknown>>();
  const counters = { httpRequests: 0, commands: 0, shellsCreated: 0, shellsDeleted: 0, openShells: 0 };
  let closed = false;
  let closing: Promise<void> | undefined;

  const reaper = setInterval(reapIdle, Math.max(50, Math.min(5_000, Math.floor(cfg.shellIdleMs / 2))));
  reaper.unref();

  function track(p: Promise<void>): void {
    background.add(p);
    void p.finally(() => background.delete(p));
  }

  /** Cleanup gets its own budget and no abort signal: it must run even after a deadline or abort. */
  function cleanupCall(onRequest?: () => void): WsManCall {
    return {
      deadline: clock.now() + cfg.cleanupTimeoutMs,
      onRequest:
        onRequest ??
        (() => {
          counters.httpRequests += 1;
        }),
    };
  }

  /** Best effort: terminate the command if still running, then delete the shell. */
  async function destroyShell(
    shell: PooledShell,
    opts: { commandId?: string; terminate?: boolean; onRequest?: () => void } = {},
  ): Promise<void> {
    const call = cleanupCall(opts.onRequest);
    if (opts.commandId !== undefined && opts.terminate) {
      try {
        await client.signal(call, shell.id, opts.commandId, SIGNAL.terminate);
      } catch {
        // The Delete below ends the command too; a failed Signal changes nothing.
      }
    }
    try {
      await client.deleteShell(call, shell.id);
    } catch {
      // Unreachable host or shell already gone: rsp:IdleTimeOut reclaims it on the host.
    }
    forgetShell();
  }

  function forgetShell(): void {
    counters.openShells = Math.max(0, counters.openShells - 1);
    counters.shellsDeleted += 1;
  }

  function reapIdle(): void {
    const now = clock.now();
    for (let i = idle.length - 1; i >= 0; i -= 1) {
      const s = idle[i] as PooledShell;
      if (now - s.lastUsed >= cfg.shellIdleMs) {
        idle.splice(i, 1);
        track(destroyShell(s));
      }
    }
  }

  function throwIfStopped(call: WsManCall, deadline: number): void {
    if (call.signal?.aborted) throw cancelled();
    if (clock.now() >= deadline)
      throw new TimeoutError(`deadline passed before running on host ${host}`, { host });
  }

  function cancelled(): CancelledError {
    return lifetime.signal.aborted
      ? new CancelledError(`executor for host ${host} was closed`, { host })
      : new CancelledError(`command on host ${host} was cancelled`, { host });
  }

  async function createShell(call: WsManCall, deadline: number): Promise<PooledShell> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        const id = await client.createShell(call);
        counters.openShells += 1;
        counters.shellsCreated += 1;
        return { id, commands: 0, lastUsed: clock.now() };
      } catch (err) {
        if (!(err instanceof QuotaExceededError) || attempt >= quota.attempts) throw err;
        // Our own idle shells count against MaxShellsPerUser: hand them back before retrying.
        const spare = idle.splice(0);
        await Promise.all(spare.map((s) => destroyShell(s, { onRequest: call.onRequest })));
        const wait = backoffDelayMs(attempt, quota);
        if (clock.now() + wait >= deadline) throw err;
        try {
          await clock.sleep(wait, call.signal);
        } catch {
          throw cancelled();
        }
      }
    }
  }

  async function obtainShell(call: WsManCall, deadline: number): Promise<PooledShell> {
    const now = clock.now();
    while (idle.length > 0) {
      const s = idle.pop() as PooledShell;
      if (now - s.lastUsed < cfg.shellIdleMs && s.commands < cfg.commandsPerShell) return s;
      track(destroyShell(s));
    }
    return createShell(call, deadline);
  }

  async function startCommand(
    call: WsManCall,
    st: RunState,
    deadline: number,
    command: RunCommand,
  ): Promise<void> {
    let retried = false;
    for (;;) {
      const shell = st.shell as PooledShell;
      try {
        st.commandId = await client.command(call, shell.id, command.commandLine, command.stdin === undefined);
        shell.commands += 1;
        counters.commands += 1;
        return;
      } catch (err) {
        if (retried) throw err;
        if (isFault(err, isInvalidSelectorsFault)) {
          // The host no longer knows this shell (idle-reaped, service restart); nothing ran.
          st.shell = undefined;
          forgetShell();
        } else if (err instanceof QuotaExceededError) {
          // Operations quota: this shell's completed commands still count; a fresh shell frees them.
          st.shell = undefined;
          await destroyShell(shell, { onRequest: call.onRequest });
        } else {
          throw err;
        }
        retried = true;
        st.shell = await createShell(call, deadline);
      }
    }
  }

  async function sendStdin(call: WsManCall, st: RunState, stdin: Buffer): Promise<void> {
    const shell = st.shell as PooledShell;
    const step = Math.max(1, cfg.sendChunkBytes);
    let offset = 0;
    do {
      const chunk = stdin.subarray(offset, offset + step);
      offset += chunk.length;
      await client.send(call, shell.id, st.commandId as string, chunk, offset >= stdin.length);
    } while (offset < stdin.length);
  }

  async function receiveUntilDone(
    call: WsManCall,
    st: RunState,
    deadline: number,
    onChunks: (r: ReceiveResult) => void,
  ): Promise<number> {
    const shell = st.shell as PooledShell;
    let slowAnswers = 0;
    for (;;) {
      let r: ReceiveResult;
      try {
        r = await client.receive(call, shell.id, st.commandId as string, cfg.receiveTimeoutMs);
        slowAnswers = 0;
      } catch (err) {
        // No output within OperationTimeout: the normal long-poll outcome, ask again.
        if (isFault(err, isTimedOutFault)) continue;
        // The host did not answer the long poll in time; repeating a Receive is safe.
        if (err instanceof TimeoutError && clock.now() < deadline && slowAnswers < 2) {
          slowAnswers += 1;
          continue;
        }
        if (isFault(err, isInvalidSelectorsFault)) {
          throw new ProtocolError(`command vanished on host ${host} while running; its outcome is unknown`, {
            host,
            cause: err,
            fault: (err as WinRmError).fault,
          });
        }
        throw err;
      }
      onChunks(r);
      if (r.state === 'Done') return r.exitCode ?? -1;
    }
  }

  function validateCommand(command: RunCommand, options: RunOptions): Buffer | undefined {
    if (typeof command?.commandLine !== 'string' || command.commandLine.length === 0) {
      throw new InvalidCommandError('command line is empty', { host });
    }
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u0008\u000a-\u001f]/.test(command.commandLine)) {
      throw new InvalidCommandError('command line contains control characters', { host });
    }
    if (command.commandLine.length > CMD_MAX_COMMAND_LINE) {
      throw new InvalidCommandError(
        `command line is ${command.commandLine.length} characters; cmd.exe accepts ${CMD_MAX_COMMAND_LINE}`,
        { host },
      );
    }
    if (typeof options?.deadline !== 'number' || !Number.isFinite(options.deadline)) {
      throw new InvalidCommandError('a finite deadline is required', { host });
    }
    if (command.stdin === undefined) return undefined;
    if (typeof command.stdin === 'string') return Buffer.from(command.stdin, 'utf8');
    if (Buffer.isBuffer(command.stdin)) return command.stdin;
    throw new InvalidCommandError('stdin must be a Buffer or a string', { host });
  }

  async function runInner(
    command: RunCommand,
    options: RunOptions,
    stdin: Buffer | undefined,
  ): Promise<RunResult> {
    const started = clock.now();
    const { deadline } = options;
    const counter = { requests: 0 };
    const signal = options.signal ? AbortSignal.any([options.signal, lifetime.signal]) : lifetime.signal;
    const call: WsManCall = {
      deadline,
      signal,
      onRequest: () => {
        counters.httpRequests += 1;
        counter.requests += 1;
      },
    };
    throwIfStopped(call, deadline);
    await gate.acquire(deadline, signal);
    const st: RunState = { shell: undefined, commandId: undefined, done: false };
    const output = createOutputCollector(cfg.maxOutputBytes, options.onProgress);
    try {
      st.shell = await obtainShell(call, deadline);
      await startCommand(call, st, deadline, command);
      if (stdin !== undefined) await sendStdin(call, st, stdin);
      const exitCode = await receiveUntilDone(call, st, deadline, (r) => output.add(r.streams));
      st.done = true;
      if (cfg.signalCompletedCommands) {
        await client.signal(call, (st.shell as PooledShell).id, st.commandId as string, SIGNAL.terminate);
      }
      const shell = st.shell as PooledShell;
      shell.lastUsed = clock.now();
      if (closed) {
        await destroyShell(shell, { onRequest: call.onRequest });
      } else if (shell.commands >= cfg.commandsPerShell) {
        track(destroyShell(shell));
      } else {
        idle.push(shell);
      }
      st.shell = undefined;
      const { stdout, stderr } = output.finish();
      return { exitCode, stdout, stderr, httpRequests: counter.requests, durationMs: clock.now() - started };
    } catch (err) {
      const failure = classify(err, call, deadline);
      if (st.shell) {
        await destroyShell(st.shell, {
          commandId: st.commandId,
          terminate: !st.done,
          onRequest: call.onRequest,
        });
        st.shell = undefined;
      }
      throw failure;
    } finally {
      gate.release();
    }
  }

  function classify(err: unknown, call: WsManCall, deadline: number): Error {
    if (call.signal?.aborted) return cancelled();
    if (err instanceof TimeoutError || clock.now() >= deadline) {
      if (clock.now() >= deadline) {
        return new TimeoutError(
          `command on host ${host} did not finish before its deadline; it was terminated`,
          {
            host,
            cause: err,
          },
        );
      }
      return err as TimeoutError;
    }
    if (err instanceof ProtocolError && err.host === undefined) {
      return new ProtocolError(`host ${host}: ${err.message}`, { host, cause: err });
    }
    if (err instanceof WinRmError) return err;
    return new ProtocolError(`unexpected failure running a command on host ${host}`, { host, cause: err });
  }

  function run(command: RunCommand, options: RunOptions): Promise<RunResult> {
    if (closed) return Promise.reject(new CancelledError(`executor for host ${host} was closed`, { host }));
    let stdin: Buffer | undefined;
    try {
      stdin = validateCommand(command, options);
    } catch (err) {
      return Promise.reject(err);
    }
    const p = runInner(command, options, stdin);
    active.add(p);
    const remove = (): void => {
      active.delete(p);
    };
    p.then(remove, remove);
    return p;
  }

  async function runScript(
    script: Pick<RenderedScript, 'text'> & Partial<RenderedScript>,
    options: ScriptRunOptions,
  ): Promise<ScriptRunResult> {
    if (typeof script?.text !== 'string' || script.text.length === 0) {
      throw new InvalidCommandError('script text is empty', { host });
    }
    const encoded = encodeCommandLine(script.text, {
      pack: cfg.packScripts !== false && options.packScripts !== false,
      ...(script.scriptId !== undefined ? { scriptId: script.scriptId } : {}),
    });
    const res = await run({ commandLine: encoded.commandLine, stdin: encoded.stdin }, options);
    const stderr = clixmlToText(res.stderr);
    const label = script.scriptId ?? 'script';
    let parsed;
    try {
      parsed = parseScriptOutput(res.stdout);
    } catch (err) {
      throw new ProtocolError(`${label} on host ${host} gave no valid result (exit code ${res.exitCode})`, {
        host,
        cause: err,
        detail: stderr.slice(0, 2000),
      });
    }
    const result: ScriptRunResult = {
      ...res,
      stderr,
      envelope: parsed.envelope,
      progress: parsed.progress,
      delivery: encoded.mode,
    };
    if (parsed.envelope.ok) {
      if (res.exitCode !== 0) {
        throw new ProtocolError(`${label} on host ${host} reported success but exited with ${res.exitCode}`, {
          host,
          detail: stderr.slice(0, 2000),
        });
      }
      return result;
    }
    if (options.allowScriptError) return result;
    throw new ScriptFailedError(parsed.envelope.error, res.exitCode, {
      host,
      outcome: {
        exitCode: res.exitCode,
        stdout: res.stdout,
        stderr,
        httpRequests: res.httpRequests,
        durationMs: res.durationMs,
        progress: parsed.progress,
      },
    });
  }

  return {
    host,
    run,
    runScript,
    stats: () => ({
      host,
      httpRequests: counters.httpRequests,
      exchanges: [...exchanges.values()].map((e) => ({ ...e })),
      commands: counters.commands,
      shellsCreated: counters.shellsCreated,
      shellsDeleted: counters.shellsDeleted,
      openShells: counters.openShells,
      idleShells: idle.length,
      busySlots: gate.inUse,
      waiting: gate.waiting,
    }),
    close() {
      if (closing) return closing;
      closed = true;
      clearInterval(reaper);
      lifetime.abort();
      gate.rejectWaiters(() => new CancelledError(`executor for host ${host} was closed`, { host }));
      closing = (async () => {
        await Promise.allSettled([...active]);
        const spare = idle.splice(0);
        await Promise.allSettled(spare.map((s) => destroyShell(s)));
        while (background.size > 0) await Promise.allSettled([...background]);
        transport.close();
      })();
      return closing;
    },
  };
}
