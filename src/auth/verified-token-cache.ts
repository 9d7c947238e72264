// Verified tokens, so a caller that sends the same bearer token with every request pays for one
// signature check per token, not per request (an RS256 verify is most of the authentication cost).
// Only tokens that passed every check are kept, and never past the moment any of those checks
// would fail (exp, the maximum token age) nor longer than the TTL; a refused token is checked
// again each time and refused again, with its own audit record.
import type { Principal } from './principal';

export interface VerifiedTokenCacheOptions {
  /** Tokens kept at most; the least recently verified go first. 0 turns the cache off. */
  maxEntries: number;
  /** How long a verified token is trusted without checking its signature again. */
  ttlMs: number;
  now: () => number;
}

export interface VerifiedTokenCache {
  get(token: string): Principal | undefined;
  /**
   * `validUntilMs`: the first instant at which a fresh verification would refuse the token. The
   * principal is handed to every later request with this token, so it should be frozen.
   */
  set(token: string, principal: Principal, validUntilMs: number): void;
  readonly size: number;
}

interface Entry {
  principal: Principal;
  until: number;
}

export function createVerifiedTokenCache(options: VerifiedTokenCacheOptions): VerifiedTokenCache {
  const { maxEntries, ttlMs, now } = options;
  // A Map iterates in insertion order: the first key is the oldest entry.
  const entries = new Map<string, Entry>();
  return {
    get(token) {
      const entry = entries.get(token);
      if (!entry) return undefined;
      if (now() >= entry.until) {
        entries.delete(token);
        return undefined;
      }
      return entry.principal;
    },
    set(token, principal, validUntilMs) {
      if (maxEntries <= 0) return;
      const until = Math.min(validUntilMs, now() + ttlMs);
      if (!(until > now())) return;
      entries.delete(token);
      while (entries.size >= maxEntries) {
        const oldest = entries.keys().next().value as string;
        entries.delete(oldest);
      }
      entries.set(token, { principal, until });
    },
    get size() {
      return entries.size;
    },
  };
}
