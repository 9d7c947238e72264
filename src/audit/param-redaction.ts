// What of an operation's parameters may enter the audit record. The operation catalog names its
// secret and free-form fields; on top of that, key names that look like credentials and strings
// that look like tokens are always redacted, so a catalog mistake does not leak a secret.
import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Replaces secrets: says nothing about the value, not even its length. */
export const REDACTED_SECRET = '[REDACTED]';
/** Replaces free-form blobs (scripts, notes, long text) that reviewers do not need verbatim. */
export const REDACTED_FREE_FORM = '[REDACTED:free-form]';

export interface RedactionSpec {
  /** Dot paths of secret fields; `*` matches any key or array index (e.g. `disks.*.password`). */
  readonly secrets?: readonly string[];
  /** Dot paths of free-form fields, replaced whatever their length. */
  readonly freeForm?: readonly string[];
  /** Longer strings anywhere in the params are treated as free-form. Default 512. */
  readonly maxStringLength?: number;
}

export const DEFAULT_MAX_PARAM_STRING = 512;

const SECRET_KEY_RE =
  /password|passphrase|passwd|^pass$|^pwd$|secret|token|credential|authorization|api[-_]?key|private[-_]?key|cookie/i;
// A compact JWS/JWT, or an HTTP auth scheme followed by its credentials.
const TOKEN_VALUE_RE =
  /\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*|\b(?:Bearer|Basic|Negotiate|NTLM)\s+[A-Za-z0-9._~+/=-]{8,}/;
const TOKEN_VALUE_RE_GLOBAL = new RegExp(TOKEN_VALUE_RE.source, 'g');

function splitPath(p: string): string[] {
  return p.split('.').filter((s) => s.length > 0);
}

function matches(patterns: readonly string[][], path: readonly string[]): boolean {
  return patterns.some(
    (pat) => pat.length === path.length && pat.every((seg, i) => seg === '*' || seg === path[i]),
  );
}

/**
 * Returns a copy of `params` with secrets and free-form blobs replaced by markers. The input is
 * not modified. Non-JSON values (functions, undefined) are dropped as JSON would drop them.
 */
export function redactParams(params: JsonObject, spec: RedactionSpec = {}): JsonObject {
  const secrets = (spec.secrets ?? []).map(splitPath);
  const freeForm = (spec.freeForm ?? []).map(splitPath);
  const maxLen = spec.maxStringLength ?? DEFAULT_MAX_PARAM_STRING;

  const walk = (value: JsonValue, path: string[], key: string | null): JsonValue => {
    if (matches(secrets, path) || (key !== null && SECRET_KEY_RE.test(key))) return REDACTED_SECRET;
    if (matches(freeForm, path)) return REDACTED_FREE_FORM;
    if (typeof value === 'string') {
      if (TOKEN_VALUE_RE.test(value)) return REDACTED_SECRET;
      return value.length > maxLen ? REDACTED_FREE_FORM : value;
    }
    if (Array.isArray(value)) return value.map((v, i) => walk(v, [...path, String(i)], null));
    if (value !== null && typeof value === 'object') {
      const out: JsonObject = {};
      for (const [k, v] of Object.entries(value)) {
        if (v === undefined) continue;
        out[k] = walk(v, [...path, k], k);
      }
      return out;
    }
    return value;
  };
  return walk(params, [], null) as JsonObject;
}

/** SHA-256 (hex) of the canonical JSON of the *unredacted* params, so equal requests compare equal. */
export function paramsSha256(params: JsonObject): string {
  return createHash('sha256').update(canonicalJson(params), 'utf8').digest('hex');
}

/** Masks token-like substrings in free text (error messages, user agents) before they are stored. */
export function scrubSecrets(text: string): string {
  return text.replace(TOKEN_VALUE_RE_GLOBAL, REDACTED_SECRET);
}
