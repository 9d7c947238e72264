// The intake gate on a real express app over loopback sockets: how many requests are taken in at
// once, that a request waiting only for its job gives its place back, the 503 when the line is
// full, and that callers who leave while waiting do not keep a place.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import {
  createIntakeGate,
  hostOfApiPath,
  releaseIntake,
  type IntakeGateOptions,
} from '../../../src/http/intake-gate';

interface Served {
  url: string;
  order: string[];
  inside: { now: number; max: number };
  gate: ReturnType<typeof createIntakeGate>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function serve(options: IntakeGateOptions): Promise<Served> {
  const gate = createIntakeGate(options);
  const inside = { now: 0, max: 0 };
  const app = express();
  app.use('/v1', gate.middleware);
  const order: string[] = [];
  app.get(['/v1/work', '/v1/hosts/:host/work'], async (req, res) => {
    order.push(String(req.query['tag'] ?? ''));
    inside.now += 1;
    inside.max = Math.max(inside.max, inside.now);
    const ms = Number(req.query['ms'] ?? 20);
    if (req.query['release'] === '1') {
      // Like an operation with ?wait=: accepted, now only waiting for its job.
      inside.now -= 1;
      releaseIntake(res);
      await sleep(ms);
    } else {
      await sleep(ms);
      inside.now -= 1;
    }
    res.json({ ok: true, at: Date.now() });
  });
  app.get('/healthz', (_req, res) => res.json({ status: 'ok' }));
  const server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    order,
    inside,
    gate,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

async function get(url: string, signal?: AbortSignal) {
  const res = await fetch(url, signal ? { signal } : {});
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

describe('intake gate', () => {
  it('takes in at most `concurrency` requests at once and serves every one of them', async () => {
    const s = await serve({ concurrency: 3, maxWaiting: 100 });
    try {
      const results = await Promise.all(Array.from({ length: 30 }, () => get(`${s.url}/v1/work?ms=15`)));
      expect(results.every((r) => r.status === 200)).toBe(true);
      expect(s.inside.max).toBe(3);
      expect(s.gate.stats()).toEqual({ inFlight: 0, waiting: 0, refused: 0, fastLane: 0 });
    } finally {
      await s.close();
    }
  });

  it('a request that only waits for its job gives its place back, so a long wait keeps no one out', async () => {
    const s = await serve({ concurrency: 1, maxWaiting: 100 });
    try {
      const long = get(`${s.url}/v1/work?ms=1500&release=1`);
      await sleep(50);
      const t0 = Date.now();
      const quick = await get(`${s.url}/v1/work?ms=5`);
      expect(quick.status).toBe(200);
      expect(Date.now() - t0).toBeLessThan(1000);
      expect((await long).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('answers 503 HVG_ERR_GATEWAY_BUSY with Retry-After when the line is full; paths outside /v1 stay open', async () => {
    const s = await serve({ concurrency: 1, maxWaiting: 1 });
    try {
      const first = get(`${s.url}/v1/work?ms=400`);
      await sleep(50);
      const second = get(`${s.url}/v1/work?ms=5`);
      await sleep(50);
      const third = await get(`${s.url}/v1/work?ms=5`);
      expect(third.status).toBe(503);
      expect(third.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(third.headers.get('retry-after')).toBe('1');
      expect(third.body).toMatchObject({ code: 'HVG_ERR_GATEWAY_BUSY', status: 503 });
      expect((await get(`${s.url}/healthz`)).status).toBe(200);
      expect((await first).status).toBe(200);
      expect((await second).status).toBe(200);
      expect(s.gate.stats().refused).toBe(1);
    } finally {
      await s.close();
    }
  });

  it('fast lane: a request for a host with an idle slot goes ahead of requests for busy hosts', async () => {
    const idle: Record<string, number> = { quiet: 1, busy: 0 };
    const s = await serve({
      concurrency: 1,
      maxWaiting: 100,
      hostOf: hostOfApiPath,
      idleSlots: (h) => idle[h] ?? 0,
    });
    try {
      const holder = get(`${s.url}/v1/work?ms=200&tag=holder`);
      await sleep(30);
      const busy = [1, 2, 3].map((i) => get(`${s.url}/v1/hosts/busy/work?ms=5&tag=busy${i}`));
      await sleep(30);
      // One idle slot on `quiet`: the first request for it takes the fast lane, the second does not.
      const quiet = get(`${s.url}/v1/hosts/quiet/work?ms=5&tag=quiet1`);
      const quiet2 = get(`${s.url}/v1/hosts/quiet/work?ms=5&tag=quiet2`);
      await sleep(30);
      expect(s.gate.stats()).toMatchObject({ inFlight: 1, waiting: 5, fastLane: 1 });
      await Promise.all([holder, quiet, quiet2, ...busy]);
      expect(s.order).toEqual(['holder', 'quiet1', 'busy1', 'busy2', 'busy3', 'quiet2']);
      expect(s.gate.stats()).toMatchObject({ inFlight: 0, waiting: 0, fastLane: 0 });
    } finally {
      await s.close();
    }
  });

  it('finds the host of /v1/hosts/{host} paths only', () => {
    const of = (originalUrl: string) => hostOfApiPath({ originalUrl } as express.Request);
    expect(of('/v1/hosts/hv-01/vms/x/memory?wait=0')).toBe('hv-01');
    expect(of('/v1/hosts/hv-01')).toBe('hv-01');
    expect(of('/v1/hosts/hv%2D01?x=1')).toBe('hv-01');
    expect(of('/v1/hosts/%E0%A4%A')).toBeNull();
    expect(of('/v1/hosts')).toBeNull();
    expect(of('/v1/jobs/abc')).toBeNull();
  });

  it('a caller who leaves while waiting does not keep a place', async () => {
    const s = await serve({ concurrency: 1, maxWaiting: 100 });
    try {
      const first = get(`${s.url}/v1/work?ms=300`);
      await sleep(30);
      const ctl = new AbortController();
      const gone = get(`${s.url}/v1/work?ms=5000`, ctl.signal).catch((e: unknown) => e);
      await sleep(30);
      ctl.abort();
      expect(await gone).toMatchObject({ name: 'AbortError' });
      expect((await first).status).toBe(200);
      // Had the departed caller kept the place, this would wait the 5 s it asked for.
      const t0 = Date.now();
      expect((await get(`${s.url}/v1/work?ms=5`)).status).toBe(200);
      expect(Date.now() - t0).toBeLessThan(2000);
      await sleep(20);
      expect(s.gate.stats()).toMatchObject({ inFlight: 0, waiting: 0 });
    } finally {
      await s.close();
    }
  });
});
