// The seam between the simulator's WinRM server (shells, commands, streams) and what a command
// does on the simulated host (cmd.exe built-ins, powershell.exe running an hvgate script).
// The server owns one SimProcessContext per WinRM command; programs only write bytes and wait.

export type OutputStreamName = 'stdout' | 'stderr';

export interface SimProcessContext {
  /** Name of the simulated Hyper-V host the command runs on (the inventory name, e.g. hv-tokyo-01). */
  readonly hostName: string;
  /** WinRM user that owns the shell. */
  readonly user: string;
  /** Appends bytes to a stream; the server turns them into base64 rsp:Stream elements. */
  write(stream: OutputStreamName, data: Buffer | string): void;
  /** Resolves with all of stdin once the client has sent a Send with End="true". */
  readStdinToEnd(): Promise<Buffer>;
  /** Aborted when the client signals terminate/ctrl_c or deletes the shell. */
  readonly signal: AbortSignal;
  /**
   * Waits `ms` of simulated time (multiplied by the simulator's latency scale; 0 returns at once).
   * Rejects with an AbortError when `signal` aborts.
   */
  sleep(ms: number): Promise<void>;
}

/** A program run for one WinRM command; resolves to the process exit code. */
export type SimProgram = (ctx: SimProcessContext) => Promise<number>;

/**
 * Runs a PowerShell script (already decoded from -EncodedCommand, or read by the hvgate loader)
 * on one simulated host. Implemented by powershell-host.ts on top of the Hyper-V model.
 */
export type PowerShellRunner = (scriptText: string, ctx: SimProcessContext) => Promise<number>;
