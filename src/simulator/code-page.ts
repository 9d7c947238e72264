// Console output code pages of a WinRM shell (WINRS_CODEPAGE). With 437, Windows converts the
// program's text to the OEM code page on the host, so characters outside it arrive as '?' and the
// client can never recover them (WinRb#125, pywinrm#288); with 65001 the bytes are UTF-8.

export type CodePage = 437 | 65001;

// CP437 bytes 0x80..0xFF in order.
const CP437_HIGH =
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀' +
  'αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0';

const cp437Map: ReadonlyMap<number, number> = new Map(
  Array.from(CP437_HIGH).map((ch, i) => [ch.codePointAt(0) as number, 0x80 + i]),
);

const QUESTION_MARK = 0x3f;

/** Parses the WINRS_CODEPAGE option; anything but 65001 falls back to the host's OEM page 437. */
export function parseCodePage(value: string | undefined): CodePage {
  return value !== undefined && value.trim() === '65001' ? 65001 : 437;
}

/** Encodes program text the way the host's console would for the shell's code page. */
export function encodeForCodePage(text: string, codePage: CodePage): Buffer {
  if (codePage === 65001) return Buffer.from(text, 'utf8');
  const out = Buffer.allocUnsafe(text.length);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) {
      out[n++] = unit;
      continue;
    }
    // Each UTF-16 unit that has no OEM equivalent becomes one '?' (a surrogate pair gives "??").
    const mapped = cp437Map.get(unit);
    out[n++] = mapped ?? QUESTION_MARK;
  }
  return out.subarray(0, n);
}

/** Decodes bytes a client sent (stdin) in the shell's code page. */
export function decodeFromCodePage(bytes: Buffer, codePage: CodePage): string {
  if (codePage === 65001) return bytes.toString('utf8');
  let s = '';
  for (const b of bytes) s += b < 0x80 ? String.fromCharCode(b) : (CP437_HIGH[b - 0x80] ?? '?');
  return s;
}
