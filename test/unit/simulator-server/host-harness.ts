// Starts one WinRM host (no Hyper-V model) with a scripted PowerShell runner for server tests.
import http from 'node:http';
import { PowerShellRunner } from '../../../src/simulator/sim-process';
import { WsmanHost, WsmanHostOptions, startWsmanHost } from '../../../src/simulator/wsman-server';
import { WsmanTestClient } from './wsman-test-client';

export interface TestHost {
  host: WsmanHost;
  client: WsmanTestClient;
  close(): Promise<void>;
}

/** A runner that understands a few lines of PowerShell, enough for protocol tests. */
export const scriptedRunner: PowerShellRunner = async (script, ctx) => {
  let code = 0;
  for (const statement of script.split(/[;\r\n]+/).map((s) => s.trim())) {
    let m: RegExpExecArray | null;
    if ((m = /^Write-Host\s+"?([^"]*)"?$/i.exec(statement))) ctx.write('stdout', `${m[1]}\n`);
    else if ((m = /^Write-Error\s+"?([^"]*)"?$/i.exec(statement))) {
      ctx.write('stderr', `${m[1]}\r\n`);
      code = 1;
    } else if ((m = /^Start-Sleep\s+(\d+)$/i.exec(statement))) await ctx.sleep(Number(m[1]) * 1000);
    else if ((m = /^exit\s+(-?\d+)$/i.exec(statement))) return Number(m[1]);
  }
  return code;
};

export async function startTestHost(overrides: Partial<WsmanHostOptions> = {}): Promise<TestHost> {
  const host = await startWsmanHost({
    hostName: 'hv-test-01',
    user: 'Administrator',
    password: 'hvgate-sim',
    latencyScale: 0,
    runPowerShell: scriptedRunner,
    ...overrides,
  });
  return { host, client: new WsmanTestClient(host.url), close: () => host.close() };
}

export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Polls until `check` returns true (or fails the test after `timeoutMs`). */
export async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * A raw authenticated SOAP POST the test then gives up on (abort via `signal` or destroy `req`);
 * `gaveUp` resolves once the request has failed on the client side.
 */
export function abandonablePost(
  url: string,
  signal?: AbortSignal,
): { req: http.ClientRequest; gaveUp: Promise<void> } {
  const u = new URL(url);
  const req = http.request({
    host: u.hostname,
    port: u.port,
    path: u.pathname,
    method: 'POST',
    agent: false,
    ...(signal ? { signal } : {}),
    headers: {
      'Content-Type': 'application/soap+xml;charset=UTF-8',
      Authorization: `Basic ${Buffer.from('Administrator:hvgate-sim').toString('base64')}`,
    },
  });
  const gaveUp = new Promise<void>((resolve) => req.on('error', () => resolve()));
  return { req, gaveUp };
}
