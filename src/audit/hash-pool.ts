// Worker threads that check chain links in bulk while the main thread reads the next batch from
// the store. Hashing every byte is most of a verification's cost; overlapping it with the reads is
// what keeps a million-event verify well above 100k events/s on two cores. Only the fast-path
// question is delegated ("does SHA-256(previous stored hash ‖ body) equal this stored hash?");
// everything else stays in the single-threaded ChainVerifier.
import { Worker } from 'node:worker_threads';

// Plain CommonJS run with eval, so it works the same from compiled output and from ts-jest/swc.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const crypto = require('node:crypto');
const sha = typeof crypto.hash === 'function'
  ? (s) => crypto.hash('sha256', s, 'hex')
  : (s) => crypto.createHash('sha256').update(s, 'utf8').digest('hex');
parentPort.on('message', (m) => {
  const flags = new Uint8Array(m.bodies.length);
  let prev = m.prev;
  for (let i = 0; i < m.bodies.length; i++) {
    const h = m.hashes[i];
    flags[i] = sha(prev + m.bodies[i]) === h ? 1 : 0;
    prev = h;
  }
  parentPort.postMessage({ id: m.id, flags }, [flags.buffer]);
});
`;

export interface ChainCheckPool {
  /**
   * flags[i] is 1 when SHA-256(prev_i ‖ bodies[i]) === hashes[i], with prev_0 = `prev` and
   * prev_i = hashes[i-1]: the same test as the verifier's fast path, over a whole batch.
   */
  check(prev: string, hashes: readonly string[], bodies: readonly string[]): Promise<Uint8Array>;
  close(): Promise<void>;
}

export function createChainCheckPool(size: number): ChainCheckPool {
  const workers = Array.from({ length: Math.max(1, size) }, () => new Worker(WORKER_SOURCE, { eval: true }));
  const pending = new Map<number, { resolve(f: Uint8Array): void; reject(e: unknown): void }>();
  let nextId = 0;
  let failure: unknown = null;
  for (const w of workers) {
    w.unref();
    w.on('message', (m: { id: number; flags: Uint8Array }) => {
      const p = pending.get(m.id);
      pending.delete(m.id);
      p?.resolve(m.flags);
    });
    w.on('error', (err) => {
      failure = err;
      for (const p of pending.values()) p.reject(err);
      pending.clear();
    });
  }
  return {
    check(prev, hashes, bodies) {
      if (failure) return Promise.reject(failure);
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        workers[id % workers.length]!.postMessage({ id, prev, hashes, bodies });
      });
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
