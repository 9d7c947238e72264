// A small JSON API on its own loopback listener so tests and benchmarks in other processes can
// read a host's counters and inject faults:
//   GET    /hosts                       [{name, url, port}]
//   GET    /hosts/:name/counters        counters (incl. operationsApplied)
//   POST   /hosts/:name/counters/reset  204
//   GET    /hosts/:name/faults          active faults
//   POST   /hosts/:name/faults          body = fault spec → 201 {id}
//   DELETE /hosts/:name/faults          204 (also releases requests held by `hang`)
//   GET    /hosts/:name/applied         operations the Hyper-V model applied on that host
import http from 'node:http';
import { AddressInfo, Socket } from 'node:net';
import { FaultSpec, InvalidFaultError } from './fault-injector';

export interface ControlHost {
  counters(): unknown;
  resetCounters(): void;
  faults: {
    inject(spec: FaultSpec): number;
    clear(): void;
    list(): unknown;
  };
  applied(): unknown;
}

export interface ControlTarget {
  hosts(): Array<{ name: string; url: string; port: number }>;
  host(name: string): ControlHost | undefined;
}

export interface ControlServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const MAX_BODY = 64 * 1024;

export async function startControlServer(target: ControlTarget, port = 0): Promise<ControlServer> {
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) =>
      json(res, 500, { error: 'internal', message: err instanceof Error ? err.message : String(err) }),
    );
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('clientError', (_e, s) => s.destroy());

  function json(res: http.ServerResponse, status: number, value?: unknown): void {
    if (res.headersSent || res.destroyed) return;
    if (value === undefined) {
      res.writeHead(status).end();
      return;
    }
    const body = JSON.stringify(value);
    res
      .writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) })
      .end(body);
  }

  async function readJson(
    req: http.IncomingMessage,
  ): Promise<{ ok: true; value: unknown } | { ok: false; error: string }> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req as AsyncIterable<Buffer>) {
      size += c.length;
      if (size > MAX_BODY) return { ok: false, error: 'body too large' };
      chunks.push(c);
    }
    try {
      return { ok: true, value: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') as unknown };
    } catch {
      return { ok: false, error: 'body is not JSON' };
    }
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://control').pathname;
    const method = req.method ?? 'GET';
    if (path === '/hosts' || path === '/hosts/') {
      if (method !== 'GET') return json(res, 405, { error: 'method not allowed' });
      return json(res, 200, target.hosts());
    }
    const m = /^\/hosts\/([^/]+)\/(counters|counters\/reset|faults|applied)$/.exec(path);
    if (!m) return json(res, 404, { error: 'not found' });
    const name = decodeURIComponent(m[1] as string);
    const host = target.host(name);
    if (!host) return json(res, 404, { error: 'unknown host', host: name });
    const route = `${method} ${m[2]}`;
    switch (route) {
      case 'GET counters':
        return json(res, 200, host.counters());
      case 'POST counters/reset':
        host.resetCounters();
        return json(res, 204);
      case 'GET faults':
        return json(res, 200, host.faults.list());
      case 'POST faults': {
        const body = await readJson(req);
        if (!body.ok) return json(res, 400, { error: body.error });
        try {
          return json(res, 201, { id: host.faults.inject(body.value as FaultSpec) });
        } catch (err) {
          if (err instanceof InvalidFaultError)
            return json(res, 400, { error: 'invalid fault', message: err.message });
          throw err;
        }
      }
      case 'DELETE faults':
        host.faults.clear();
        return json(res, 204);
      case 'GET applied':
        return json(res, 200, host.applied());
      default:
        return json(res, 405, { error: 'method not allowed' });
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const actualPort = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actualPort}`,
    port: actualPort,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
