// helmet's headers, worked out once. With the default options every one of helmet's middlewares
// sets a fixed value (no nonces, no per-request directives), so running its chain of a dozen
// middlewares for each request only repeats the same work; this sets the same headers in one step.
import type { RequestHandler } from 'express';
import helmet from 'helmet';

/** What `helmet()` sets (and removes) on a response, read off a recording response. */
export function helmetHeaders(): {
  set: ReadonlyArray<readonly [string, string]>;
  removed: readonly string[];
} {
  const set = new Map<string, string>();
  const removed: string[] = [];
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      set.set(name, String(value));
    },
    removeHeader(name: string) {
      set.delete(name);
      removed.push(name);
    },
  };
  let finished = false;
  let failure: unknown;
  // The directives are static, so helmet never reads the request.
  helmet()({} as never, recorder as never, (err?: unknown) => {
    finished = true;
    failure = err;
  });
  if (!finished || failure !== undefined) throw new Error('helmet did not set its headers synchronously');
  return { set: [...set], removed };
}

export function securityHeaders(): RequestHandler {
  const { set, removed } = helmetHeaders();
  return (_req, res, next) => {
    for (const name of removed) res.removeHeader(name);
    for (const [name, value] of set) res.setHeader(name, value);
    next();
  };
}
