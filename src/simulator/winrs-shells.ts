// The remote-shell state of one simulated host: shells, their commands, output queues, stdin,
// quotas and idle expiry. The HTTP/SOAP layer (wsman-server.ts) only translates to and from this.
import { CodePage, encodeForCodePage } from './code-page';
import { createCmdProgram } from './cmd-shell';
import { HostCounters } from './host-counters';
import { OutputStreamName, PowerShellRunner, SimProcessContext } from './sim-process';
import { StreamPiece, newGuid } from './soap-reply';

/** STATUS_CONTROL_C_EXIT as a signed int: what a console program killed by Ctrl+C exits with. */
export const CTRL_C_EXIT = -1073741510;
/** Exit code reported for programs killed by terminate, shell deletion or shutdown. */
export const TERMINATED_EXIT = 1;

/** Output pieces are split at this size so clients must reassemble several Stream elements. */
const STREAM_PIECE_BYTES = 1024;

export interface WinrsOptions {
  hostName: string;
  latencyScale: number;
  maxShellsPerUser: number;
  maxOperationsPerUser: number;
  defaultIdleTimeoutMs: number;
  runPowerShell: PowerShellRunner;
  counters: HostCounters;
}

export type WaitResult = 'changed' | 'timeout' | 'superseded' | 'cancelled';

function abortError(): Error {
  return new DOMException('The operation was aborted.', 'AbortError');
}

/** Waits `ms` of real time; rejects with an AbortError when `signal` aborts. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(abortError());
  if (!(ms > 0)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError());
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export class SimCommand {
  state: 'running' | 'done' = 'running';
  exitCode = 0;
  readonly abort = new AbortController();
  private readonly output: Array<{ name: OutputStreamName; data: Buffer }> = [];
  private readonly stdin: Buffer[] = [];
  private stdinEnded = false;
  private stdinPromise: Promise<Buffer> | undefined;
  private stdinSettle: { resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  private waiter: ((r: WaitResult) => void) | undefined;

  constructor(
    readonly id: string,
    readonly shell: SimShell,
    private readonly onEnd: () => void,
  ) {}

  append(name: OutputStreamName, data: Buffer): void {
    if (this.state === 'done' || data.length === 0) return;
    const last = this.output[this.output.length - 1];
    if (last && last.name === name) last.data = Buffer.concat([last.data, data]);
    else this.output.push({ name, data: Buffer.from(data) });
    this.notify();
  }

  finish(exitCode: number): void {
    if (this.state === 'done') return;
    this.state = 'done';
    this.exitCode = exitCode;
    this.onEnd();
    if (this.stdinSettle) {
      this.stdinSettle.reject(abortError());
      this.stdinSettle = undefined;
    }
    this.notify();
  }

  kill(exitCode: number): void {
    this.finish(exitCode);
    this.abort.abort();
  }

  sendStdin(data: Buffer, end: boolean): void {
    if (this.stdinEnded) return;
    if (data.length > 0) this.stdin.push(Buffer.from(data));
    if (end) {
      this.stdinEnded = true;
      this.stdinSettle?.resolve(Buffer.concat(this.stdin));
      // Settled: a later finish() must not build an AbortError for a promise that ignores it.
      this.stdinSettle = undefined;
    }
  }

  readStdinToEnd(): Promise<Buffer> {
    if (!this.stdinPromise) {
      this.stdinPromise = new Promise<Buffer>((resolve, reject) => {
        if (this.stdinEnded) return resolve(Buffer.concat(this.stdin));
        if (this.abort.signal.aborted || this.state === 'done') return reject(abortError());
        this.stdinSettle = { resolve, reject };
      });
    }
    return this.stdinPromise;
  }

  /** True when a Receive for these streams can answer now. */
  hasDeliverable(streams: ReadonlySet<string>): boolean {
    return this.state === 'done' || this.output.some((o) => streams.has(o.name));
  }

  /** Resolves on new output or completion, on timeout, or when a newer Receive takes over. */
  waitForChange(timeoutMs: number, signal: AbortSignal): Promise<WaitResult> {
    this.waiter?.('superseded');
    return new Promise((resolve) => {
      const settle = (r: WaitResult): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        if (this.waiter === settle) this.waiter = undefined;
        resolve(r);
      };
      const onAbort = (): void => settle('cancelled');
      const timer = setTimeout(() => settle('timeout'), Math.max(0, timeoutMs));
      if (signal.aborted) return settle('cancelled');
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiter = settle;
    });
  }

  /**
   * Takes up to `budget` bytes of queued output for the wanted streams, in write order, split
   * into Stream pieces: the first line apart from the rest and nothing over 1 KiB.
   * `complete` is true once the program has ended and nothing is left.
   */
  take(streams: ReadonlySet<string>, budget: number): { pieces: StreamPiece[]; complete: boolean } {
    const taken: StreamPiece[] = [];
    let room = budget;
    for (let i = 0; i < this.output.length && room > 0;) {
      const item = this.output[i] as { name: OutputStreamName; data: Buffer };
      if (!streams.has(item.name)) {
        i++;
        continue;
      }
      const part = item.data.subarray(0, room);
      taken.push({ name: item.name, data: part });
      room -= part.length;
      if (part.length === item.data.length) this.output.splice(i, 1);
      else item.data = item.data.subarray(part.length);
    }
    const pieces: StreamPiece[] = [];
    taken.forEach((piece, idx) => {
      let data = piece.data;
      if (idx === 0) {
        const nl = data.indexOf(0x0a);
        const cut = nl > 0 && data[nl - 1] === 0x0d ? nl - 1 : nl;
        if (cut > 0 && cut < data.length) {
          pieces.push({ name: piece.name, data: data.subarray(0, cut) });
          data = data.subarray(cut);
        }
      }
      for (let off = 0; off < data.length; off += STREAM_PIECE_BYTES) {
        pieces.push({ name: piece.name, data: data.subarray(off, off + STREAM_PIECE_BYTES) });
      }
    });
    const complete = this.state === 'done' && !this.output.some((o) => streams.has(o.name));
    return { pieces, complete };
  }

  private notify(): void {
    this.waiter?.('changed');
  }
}

export interface CreateShellParams {
  owner: string;
  clientIp: string;
  codePage: CodePage;
  idleTimeoutMs: number | undefined;
  shellId: string | undefined;
  inputStreams: string;
  outputStreams: string;
}

export class SimShell {
  readonly commands = new Map<string, SimCommand>();
  commandsCreated = 0;
  activeRequests = 0;
  idleTimer: NodeJS.Timeout | undefined;
  readonly createdAt = Date.now();
  lastActivity = Date.now();

  constructor(
    readonly id: string,
    readonly ownerKey: string,
    readonly p: CreateShellParams,
    readonly idleTimeoutMs: number,
  ) {}
}

export type QuotaKind = 'shells' | 'operations';

export interface WinrsHost {
  createShell(p: CreateShellParams): { shell: SimShell } | { quota: QuotaKind };
  getShell(id: string): SimShell | undefined;
  getCommand(shell: SimShell, commandId: string): SimCommand | undefined;
  startCommand(
    shell: SimShell,
    commandLine: string,
    opts: { commandId?: string; skipCmdShell?: boolean },
  ): { command: SimCommand } | { quota: QuotaKind } | { duplicate: true };
  /** Signal: ends the program (if running) and forgets the command. */
  signal(shell: SimShell, command: SimCommand, code: 'ctrl_c' | 'terminate'): void;
  deleteShell(shell: SimShell): void;
  /** Brackets every request on a shell so idle expiry only counts time without client activity. */
  beginRequest(shell: SimShell): void;
  endRequest(shell: SimShell): void;
  shellCount(): number;
  /** Kills every program and forgets every shell (simulator shutdown). */
  closeAll(): void;
}

export function createWinrsHost(opts: WinrsOptions): WinrsHost {
  const shells = new Map<string, SimShell>();

  const userShells = (ownerKey: string): SimShell[] =>
    [...shells.values()].filter((s) => s.ownerKey === ownerKey);
  // Each open shell and every command ever started in it count as one operation until the shell
  // is deleted: hosts accept ~1500 commands per shell before 2150859174 (test-kitchen#851, winrmcp).
  const operationsInUse = (ownerKey: string): number =>
    userShells(ownerKey).reduce((n, s) => n + 1 + s.commandsCreated, 0);

  function armIdle(shell: SimShell): void {
    if (shell.idleTimer) clearTimeout(shell.idleTimer);
    shell.idleTimer = undefined;
    if (shell.activeRequests > 0 || !shells.has(shell.id)) return;
    shell.idleTimer = setTimeout(() => host.deleteShell(shell), shell.idleTimeoutMs);
    shell.idleTimer.unref();
  }

  const host: WinrsHost = {
    createShell(p) {
      const ownerKey = p.owner.toLowerCase();
      if (userShells(ownerKey).length >= opts.maxShellsPerUser) return { quota: 'shells' };
      if (operationsInUse(ownerKey) + 1 > opts.maxOperationsPerUser) return { quota: 'operations' };
      let id = p.shellId?.trim().toUpperCase();
      if (!id || shells.has(id)) id = newGuid();
      const shell = new SimShell(id, ownerKey, p, p.idleTimeoutMs ?? opts.defaultIdleTimeoutMs);
      shells.set(id, shell);
      opts.counters.shellOpened();
      armIdle(shell);
      return { shell };
    },
    getShell(id) {
      return shells.get(id.trim().toUpperCase());
    },
    getCommand(shell, commandId) {
      return shell.commands.get(commandId.trim().toUpperCase());
    },
    startCommand(shell, commandLine, o) {
      if (operationsInUse(shell.ownerKey) + 1 > opts.maxOperationsPerUser) return { quota: 'operations' };
      const id = o.commandId?.trim().toUpperCase() || newGuid();
      if (shell.commands.has(id)) return { duplicate: true };
      shell.commandsCreated += 1;
      const command = new SimCommand(id, shell, () => opts.counters.commandEnded());
      shell.commands.set(id, command);
      opts.counters.commandStarted();
      const ctx: SimProcessContext = {
        hostName: opts.hostName,
        user: shell.p.owner,
        write: (stream, data) =>
          command.append(stream, typeof data === 'string' ? encodeForCodePage(data, shell.p.codePage) : data),
        readStdinToEnd: () => command.readStdinToEnd(),
        signal: command.abort.signal,
        sleep: (ms) => abortableSleep(ms * opts.latencyScale, command.abort.signal),
      };
      const program = createCmdProgram(
        commandLine,
        { runPowerShell: opts.runPowerShell, codePage: shell.p.codePage },
        { skipCmdShell: o.skipCmdShell },
      );
      void Promise.resolve()
        .then(() => program(ctx))
        .then(
          (code) => command.finish(Number.isFinite(code) ? code | 0 : 1),
          (err: unknown) => {
            if (command.state === 'done') return;
            // A program that throws is a crashed process: its message on stderr, exit 1.
            const text = err instanceof Error ? err.message : String(err);
            command.append('stderr', encodeForCodePage(`${text}\r\n`, shell.p.codePage));
            command.finish(1);
          },
        );
      return { command };
    },
    signal(shell, command, code) {
      command.kill(code === 'ctrl_c' ? CTRL_C_EXIT : TERMINATED_EXIT);
      shell.commands.delete(command.id);
    },
    deleteShell(shell) {
      if (!shells.delete(shell.id)) return;
      if (shell.idleTimer) clearTimeout(shell.idleTimer);
      shell.idleTimer = undefined;
      for (const c of shell.commands.values()) c.kill(TERMINATED_EXIT);
      shell.commands.clear();
      opts.counters.shellClosed();
    },
    beginRequest(shell) {
      shell.activeRequests += 1;
      shell.lastActivity = Date.now();
      armIdle(shell);
    },
    endRequest(shell) {
      shell.activeRequests = Math.max(0, shell.activeRequests - 1);
      shell.lastActivity = Date.now();
      armIdle(shell);
    },
    shellCount: () => shells.size,
    closeAll() {
      for (const s of [...shells.values()]) host.deleteShell(s);
    },
  };
  return host;
}
