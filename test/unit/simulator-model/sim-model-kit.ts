// Test kit for the Hyper-V model and the PowerShell host: builds scripts by hand from the
// envelope contract (not from the gateway renderer), a fake SimProcessContext, small fleets with
// fixed GUIDs, and apply helpers that assert the outcome.

import type { HyperVErrorRecord } from '../../../src/simulator/hyperv-errors';
import { createFleet, FleetSpec, HostSpec, HyperVFleet, VmSpec } from '../../../src/simulator/hyperv-fleet';
import type { OperationRunContext } from '../../../src/simulator/hyperv-op-context';
import type { SimProcessContext } from '../../../src/simulator/sim-process';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export const GiB = 1024 ** 3;
export const MiB = 1024 ** 2;

/** Fixed, readable VM GUIDs. */
export const id = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

export function host(
  name: string,
  os: HostSpec['os'],
  vms: VmSpec[],
  extra: Partial<HostSpec> = {},
): HostSpec {
  return { name, os, vms, ...extra };
}

export function fleetOf(hosts: HostSpec[], extra: Partial<FleetSpec> = {}): HyperVFleet {
  return createFleet({ seed: 7, hosts, ...extra });
}

/** A one-host fleet (`hv-a`, Windows Server 2019) with the given VMs. */
export function singleHost(vms: VmSpec[], extra: Partial<HostSpec> = {}): HyperVFleet {
  return fleetOf([host('hv-a', '2019', vms, extra)]);
}

export async function ok(
  fleet: HyperVFleet,
  hostName: string,
  operation: string,
  params: unknown,
  run?: OperationRunContext,
): Promise<Json> {
  const outcome = await fleet.apply(hostName, operation, 1, params, { jobId: null, requestId: null }, run);
  if (!outcome.ok) throw new Error(`expected ${operation} to succeed, got ${JSON.stringify(outcome.error)}`);
  return outcome.result;
}

export async function fail(
  fleet: HyperVFleet,
  hostName: string,
  operation: string,
  params: unknown,
  run?: OperationRunContext,
): Promise<HyperVErrorRecord> {
  const outcome = await fleet.apply(hostName, operation, 1, params, { jobId: null, requestId: null }, run);
  if (outcome.ok) throw new Error(`expected ${operation} to fail, got ${JSON.stringify(outcome.result)}`);
  return outcome.error;
}

export function vm(fleet: HyperVFleet, vmId: string): Json {
  const facts = fleet.getVm(vmId);
  if (!facts) throw new Error(`no VM ${vmId}`);
  return facts;
}

// ---- Scripts by hand, following the envelope contract ----

export interface Meta {
  jobId: string | null;
  requestId: string | null;
}

export function blobOf(params: unknown, meta: Meta = { jobId: null, requestId: null }): string {
  return Buffer.from(JSON.stringify({ params, meta }), 'utf8').toString('base64');
}

/** An operation script shaped like the gateway's templates: header, prefs, blob line, try/catch, result. */
export function opScript(operation: string, version: number, params: unknown, meta?: Meta): string {
  return scriptWithBlob(`# hvgate-op: ${operation}@${version}`, blobOf(params, meta));
}

export function scriptWithBlob(header: string, blob: string | null): string {
  const lines = [
    header,
    "$ErrorActionPreference = 'Stop'",
    "$ProgressPreference = 'SilentlyContinue'",
    'try {',
    blob === null
      ? '  $p = $null'
      : `  $p = ConvertFrom-Json ([Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('${blob}')))`,
    '  $r = @{ ok = $true; result = @{} }',
    '} catch {',
    '  $r = @{ ok = $false; error = @{ category = [string]$_.CategoryInfo.Category; errorId = $_.FullyQualifiedErrorId; message = $_.Exception.Message } }',
    '}',
    '$json = ConvertTo-Json -InputObject $r -Depth 6 -Compress',
    "Write-Output ('HVGATE-RESULT:' + [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($json)))",
    'if ($r.ok) { exit 0 } else { exit 1 }',
  ];
  return lines.join('\r\n');
}

export const LOADER_SCRIPT = [
  '# hvgate-loader@1',
  '$s = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String([Console]::In.ReadToEnd()))',
  '& ([ScriptBlock]::Create($s))',
].join('\r\n');

/** What the gateway Sends as stdin for a loader: base64 of the UTF-8 script, wrapped with CRLF. */
export function loaderStdin(script: string, lineLength = 76): Buffer {
  const b64 = Buffer.from(script, 'utf8').toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += lineLength) lines.push(b64.slice(i, i + lineLength));
  return Buffer.from(lines.join('\r\n'), 'ascii');
}

// ---- Fake process context ----

export interface FakeProcess {
  ctx: SimProcessContext;
  stdout(): string;
  stderr(): string;
  /** Every sleep the program asked for, in ms of simulated time. */
  sleeps: number[];
  abort(): void;
  stdinReads(): number;
}

export interface FakeProcessOptions {
  hostName?: string;
  stdin?: Buffer;
  /** Called on each write to stdout; lets a test abort when a given line appears. */
  onStdout?: (text: string, proc: FakeProcess) => void;
}

function abortError(): Error {
  return new DOMException('The operation was aborted.', 'AbortError');
}

export function fakeProcess(options: FakeProcessOptions = {}): FakeProcess {
  const controller = new AbortController();
  const out: string[] = [];
  const err: string[] = [];
  const sleeps: number[] = [];
  let stdinReads = 0;
  const proc: FakeProcess = {
    ctx: {
      hostName: options.hostName ?? 'hv-a',
      user: 'hvgate',
      signal: controller.signal,
      write(stream, data) {
        const text = typeof data === 'string' ? data : data.toString('utf8');
        if (stream === 'stdout') {
          out.push(text);
          options.onStdout?.(text, proc);
        } else {
          err.push(text);
        }
      },
      readStdinToEnd() {
        stdinReads++;
        return Promise.resolve(options.stdin ?? Buffer.alloc(0));
      },
      // Latency scale 0: returns at once, but records what was asked and honours abort.
      sleep(ms) {
        sleeps.push(ms);
        if (controller.signal.aborted) return Promise.reject(abortError());
        return new Promise((resolve, reject) =>
          setImmediate(() => (controller.signal.aborted ? reject(abortError()) : resolve())),
        );
      },
    },
    stdout: () => out.join(''),
    stderr: () => err.join(''),
    sleeps,
    abort: () => controller.abort(),
    stdinReads: () => stdinReads,
  };
  return proc;
}

export function resultOf(stdout: string): Json {
  const lines = stdout.split('\r\n').filter((l) => l.startsWith('HVGATE-RESULT:'));
  if (lines.length !== 1) throw new Error(`expected exactly one result line, got ${lines.length}: ${stdout}`);
  return JSON.parse(Buffer.from(lines[0]!.slice('HVGATE-RESULT:'.length), 'base64').toString('utf8'));
}

export function progressOf(stdout: string): { percent: number; text: string }[] {
  return stdout
    .split('\r\n')
    .filter((l) => l.startsWith('HVGATE-PROGRESS:'))
    .map((l) => {
      const m = /^HVGATE-PROGRESS:(\d+) (.*)$/.exec(l);
      if (!m) throw new Error(`malformed progress line ${l}`);
      return { percent: Number(m[1]), text: m[2]! };
    });
}

/** A run context that records progress and can snapshot state at a given step. */
export function recordingRun(onProgress?: (percent: number, text: string) => void): OperationRunContext & {
  progress: OperationRunContext['progress'];
  steps: { percent: number; text: string }[];
  slept: number;
} {
  const steps: { percent: number; text: string }[] = [];
  const run = {
    steps,
    slept: 0,
    sleep(ms: number) {
      run.slept += ms;
      return Promise.resolve();
    },
    progress(percent: number, text: string) {
      steps.push({ percent, text });
      onProgress?.(percent, text);
    },
  };
  return run;
}
