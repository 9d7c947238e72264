// RFC 8785 JSON Canonicalization Scheme (JCS) for the values audit records contain.
//
// The hash chain and checkpoint signatures are defined over JCS so any verifier with a JCS library
// can recompute them. The installed `canonicalize` package (v4) is an ES module whose package
// exports offer no `require` entry, so it cannot be loaded from this CommonJS build nor from jest;
// this module implements the same algorithm and test/unit/audit/canonical-json.test.ts checks it
// against that package byte for byte. JCS rules used here: object members sorted by UTF-16 code
// units, ECMAScript number and string serialisation (JSON.stringify), no whitespace, and I-JSON
// restrictions (no NaN/Infinity, no lone surrogates) enforced by throwing.

export class CanonicalJsonError extends Error {
  readonly code = 'HVG_ERR_CANONICAL_JSON';
  constructor(message: string) {
    super(message);
    this.name = 'CanonicalJsonError';
  }
}

const MAX_DEPTH = 64;

// ES2024 String methods, present in Node ≥ 20 but not in this project's ES2023 lib typings.
type WellFormedString = { isWellFormed(): boolean; toWellFormed(): string };

/** False if `s` holds a lone UTF-16 surrogate (which has no UTF-8 encoding). */
export function isWellFormed(s: string): boolean {
  return (s as unknown as WellFormedString).isWellFormed();
}

/** `s` with lone surrogates replaced by U+FFFD. */
export function toWellFormed(s: string): string {
  return (s as unknown as WellFormedString).toWellFormed();
}

function serialise(value: unknown, depth: number): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      if (!isWellFormed(value)) throw new CanonicalJsonError('lone surrogate in string');
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalJsonError('non-finite number');
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      break;
    default:
      throw new CanonicalJsonError(`cannot canonicalise a ${typeof value}`);
  }
  if (depth >= MAX_DEPTH) throw new CanonicalJsonError('value nested too deeply');
  // String concatenation (V8 ropes) beats collecting parts and joining for records this size.
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      // JSON.stringify turns undefined and functions in arrays into null; JCS follows it.
      const v = item === undefined || typeof item === 'function' || typeof item === 'symbol' ? null : item;
      out += (i > 0 ? ',' : '') + serialise(v, depth + 1);
    }
    return `${out}]`;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) {
    throw new CanonicalJsonError('only plain objects, arrays and primitives can be canonicalised');
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length > 1) keys.sort();
  let out = '{';
  let first = true;
  for (const key of keys) {
    const member = record[key];
    if (member === undefined || typeof member === 'function' || typeof member === 'symbol') continue;
    if (!isWellFormed(key)) throw new CanonicalJsonError('lone surrogate in property name');
    out += `${first ? '' : ','}${JSON.stringify(key)}:${serialise(member, depth + 1)}`;
    first = false;
  }
  return `${out}}`;
}

/** RFC 8785 canonical JSON text of `value`; throws CanonicalJsonError on values I-JSON forbids. */
export function canonicalJson(value: unknown): string {
  return serialise(value, 0);
}
