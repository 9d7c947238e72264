// Base64 checks for the simulator's hot paths: Send streams and the loader's stdin payload
// (~10-20 KB per WinRM command) and params blobs. Regular expressions over that much text cost
// ~0.1 ms a time; decoding and re-encoding with Buffer costs a tenth of that. Text that is the
// canonical encoding of its bytes matches every pattern below, so it takes the fast path; any
// other text goes through the patterns themselves, so results are those of the patterns alone.

/**
 * The decoded bytes when `text` is exactly Buffer's base64 encoding of them (alphabet characters,
 * '=' padding to a multiple of 4, zero trailing bits), else undefined.
 */
function canonicalBase64(text: string): Buffer | undefined {
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const RELAXED_BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** `/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)`. */
export function isStrictBase64(text: string): boolean {
  return canonicalBase64(text) !== undefined || STRICT_BASE64.test(text);
}

/**
 * A Send stream's bytes: the text with all whitespace (\s) removed must match
 * `/^[A-Za-z0-9+/]*={0,2}$/` and is then decoded; null when it does not match.
 */
export function decodeRelaxedBase64(text: string): Buffer | null {
  const fast = canonicalBase64(text);
  if (fast !== undefined) return fast;
  const compact = text.replace(/\s+/g, '');
  return RELAXED_BASE64.test(compact) ? Buffer.from(compact, 'base64') : null;
}

export type LoaderBase64Result = { ok: true; bytes: Buffer } | { ok: false; reason: 'non-ascii' | 'invalid' };

/**
 * The loader's stdin payload decoded: any byte over 0x7F is 'non-ascii' (checked over the whole
 * payload first); CR, LF, tab and space are dropped; what is left must match STRICT_BASE64, else
 * 'invalid'.
 */
export function decodeLoaderBase64(stdin: Buffer): LoaderBase64Result {
  const fast = canonicalBase64(stdin.toString('latin1'));
  if (fast !== undefined) return { ok: true, bytes: fast };
  for (let i = 0; i < stdin.length; i++) {
    if (stdin[i]! > 0x7f) return { ok: false, reason: 'non-ascii' };
  }
  const text = stdin.toString('latin1').replace(/[\r\n\t ]/g, '');
  if (!STRICT_BASE64.test(text)) return { ok: false, reason: 'invalid' };
  return { ok: true, bytes: Buffer.from(text, 'base64') };
}
