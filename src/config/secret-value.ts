import { inspect } from 'node:util';

const REDACTED = '[redacted]';

/**
 * A secret held in memory. Every accidental route to a log line (string interpolation, JSON.stringify,
 * util.inspect/pino) prints "[redacted]"; only an explicit reveal() hands out the value.
 */
export class SecretValue {
  readonly #value: Buffer;

  constructor(value: Buffer | string) {
    this.#value = Buffer.isBuffer(value) ? Buffer.from(value) : Buffer.from(value, 'utf8');
  }

  reveal(): Buffer {
    return Buffer.from(this.#value);
  }

  revealString(): string {
    return this.#value.toString('utf8');
  }

  get byteLength(): number {
    return this.#value.length;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return `SecretValue(${REDACTED})`;
  }
}

/**
 * Secret files are often written with `echo` or by Kubernetes tooling that appends a newline; the
 * newline is never part of the secret. Only one trailing line break is dropped so both the config loader
 * and the token CLI derive the same key from the same file.
 */
export function stripTrailingNewline(raw: Buffer): Buffer {
  let end = raw.length;
  if (end > 0 && raw[end - 1] === 0x0a) end -= 1;
  if (end > 0 && raw[end - 1] === 0x0d) end -= 1;
  return raw.subarray(0, end);
}
