// The callers of the burst bench, in a process of their own so their HTTP client work does not run
// on the gateway's event loop (the naive pool is its own process too). Reads one JSON job from
// stdin, prints one JSON line: the ids of accepted jobs, the other outcomes, the submission time.
//   stdin: { base, token, concurrency, timeoutMs, requests: [{ path, body }] }
import http from 'node:http';
import { randomUUID } from 'node:crypto';

interface Input {
  base: string;
  token: string;
  concurrency: number;
  timeoutMs: number;
  requests: { path: string; body: unknown }[];
}

function put(agent: http.Agent, base: URL, token: string, path: string, body: unknown, timeoutMs: number) {
  const payload = JSON.stringify(body);
  return new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
    const req = http.request(
      {
        host: base.hostname,
        port: base.port,
        path,
        method: 'PUT',
        agent,
        timeout: timeoutMs,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
          // Retries below must never run a change twice.
          'idempotency-key': randomUUID(),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: Record<string, unknown> = {};
          try {
            parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
          } catch {
            parsed = { text };
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(payload);
  });
}

async function main(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const input = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Input;
  const base = new URL(input.base);
  const agent = new http.Agent({ keepAlive: true, maxSockets: input.concurrency });
  const ids: string[] = [];
  const outcomes: Record<string, number> = {};
  const bump = (k: string): void => void (outcomes[k] = (outcomes[k] ?? 0) + 1);
  let next = 0;
  const t0 = Date.now();
  const deadline = t0 + input.timeoutMs;
  await Promise.all(
    Array.from({ length: Math.min(input.concurrency, input.requests.length) }, async () => {
      while (next < input.requests.length && Date.now() < deadline) {
        const r = input.requests[next++]!;
        try {
          let res;
          try {
            res = await put(agent, base, input.token, r.path, r.body, input.timeoutMs);
          } catch (err) {
            // A keep-alive socket the server just closed fails before any answer: send it again.
            if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET') throw err;
            res = await put(agent, base, input.token, r.path, r.body, input.timeoutMs);
          }
          if (res.status === 200 || res.status === 202) ids.push(String(res.body['id']));
          else bump(`HTTP ${res.status} ${String(res.body['code'] ?? '')}`);
        } catch (err) {
          bump(`client ${(err as Error).message}`);
        }
      }
    }),
  );
  agent.destroy();
  const cpu = process.cpuUsage();
  const cpuSec = (cpu.user + cpu.system) / 1e6;
  process.stdout.write(`${JSON.stringify({ ids, outcomes, submittedMs: Date.now() - t0, t0, cpuSec })}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
