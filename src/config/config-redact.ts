import type { HvgateConfig } from './config-schema';

const REDACTED = '[redacted]';

/**
 * A printable copy of the config (startup log, `hvgate config show`). Secret references (file paths, env
 * var names) stay visible because operators need them to debug; inline secret values never do.
 */
export function redactConfig(config: HvgateConfig): HvgateConfig {
  const copy = structuredClone(config);
  if (copy.auth.hmacSecret !== undefined) copy.auth.hmacSecret = REDACTED;
  if (copy.store.kind === 'postgres' && copy.store.url !== undefined)
    copy.store.url = redactUrl(copy.store.url);
  for (const h of copy.hosts) {
    if (h.password !== undefined) h.password = REDACTED;
  }
  return copy;
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password === '') return url;
    u.password = 'redacted';
    return u.toString();
  } catch {
    return REDACTED;
  }
}
