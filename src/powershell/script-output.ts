// Reading what an hvgate script printed. Strict: exactly one well-formed HVGATE-RESULT line, or
// the run is a protocol error (never a silent success). Progress lines must be well-formed too.

import { z } from 'zod';
import { ProtocolError } from '../winrm/winrm-errors';
import type { ScriptErrorInfo } from '../winrm/winrm-errors';

export const RESULT_PREFIX = 'HVGATE-RESULT:';
export const PROGRESS_PREFIX = 'HVGATE-PROGRESS:';

export interface ScriptProgress {
  percent: number;
  text: string;
}

export type ResultEnvelope = { ok: true; result: unknown } | { ok: false; error: ScriptErrorInfo };

export interface ParsedScriptOutput {
  progress: ScriptProgress[];
  envelope: ResultEnvelope;
  /** Lines that are neither progress nor result (stray host output), for diagnostics. */
  otherLines: string[];
}

const errorSchema = z.strictObject({ category: z.string(), errorId: z.string(), message: z.string() });
const envelopeSchema = z.union([
  z.strictObject({ ok: z.literal(true), result: z.unknown() }),
  z.strictObject({ ok: z.literal(false), error: errorSchema }),
]);

const PROGRESS_LINE = /^HVGATE-PROGRESS:(0|[1-9][0-9]{0,2}) (.*)$/s;
// Canonical base64: whole quads, padding only at the end. Checked as length plus one character
// class, which matches exactly what the quad-grouping pattern matches at a fraction of its cost
// on the long result lines of facts reads.
const BASE64_CHARS = /^[A-Za-z0-9+/]*={0,2}$/;
const isStrictBase64 = (s: string): boolean => s.length % 4 === 0 && BASE64_CHARS.test(s);
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Splits console output into lines: BOM dropped, CRLF or LF endings, trailing empty line ignored. */
export function splitLines(stdout: string): string[] {
  const text = stdout.charCodeAt(0) === 0xfeff ? stdout.slice(1) : stdout;
  const lines = text.split('\n').map((l) => l.replace(/\r+$/, ''));
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** undefined for non-progress lines; throws for a progress line that breaks the contract. */
export function parseProgressLine(line: string): ScriptProgress | undefined {
  if (!line.startsWith(PROGRESS_PREFIX)) return undefined;
  const m = PROGRESS_LINE.exec(line);
  const percent = m ? Number(m[1]) : NaN;
  if (!m || percent > 100) throw new ProtocolError('malformed HVGATE-PROGRESS line');
  return { percent, text: m[2] ?? '' };
}

export function decodeResultPayload(payload: string): ResultEnvelope {
  if (payload.length === 0 || !isStrictBase64(payload)) {
    throw new ProtocolError('HVGATE-RESULT payload is not base64');
  }
  let json: unknown;
  try {
    json = JSON.parse(utf8.decode(Buffer.from(payload, 'base64')));
  } catch (err) {
    throw new ProtocolError('HVGATE-RESULT payload is not UTF-8 JSON', { cause: err });
  }
  const parsed = envelopeSchema.safeParse(json);
  if (!parsed.success) throw new ProtocolError('HVGATE-RESULT payload does not match the result envelope');
  if (parsed.data.ok && !Object.prototype.hasOwnProperty.call(json, 'result')) {
    throw new ProtocolError('HVGATE-RESULT success envelope has no result');
  }
  return parsed.data as ResultEnvelope;
}

export function parseScriptOutput(stdout: string): ParsedScriptOutput {
  const progress: ScriptProgress[] = [];
  const otherLines: string[] = [];
  let envelope: ResultEnvelope | undefined;
  let results = 0;
  for (const line of splitLines(stdout)) {
    if (line.startsWith(RESULT_PREFIX)) {
      results += 1;
      if (results > 1) throw new ProtocolError('script printed more than one HVGATE-RESULT line');
      envelope = decodeResultPayload(line.slice(RESULT_PREFIX.length));
      continue;
    }
    const p = parseProgressLine(line);
    if (p) progress.push(p);
    else otherLines.push(line);
  }
  if (envelope === undefined) throw new ProtocolError('script printed no HVGATE-RESULT line');
  return { progress, envelope, otherLines };
}

/** The result line a script prints for `envelope` (used by tests and the simulator's hosts). */
export function formatResultLine(envelope: ResultEnvelope): string {
  return `${RESULT_PREFIX}${Buffer.from(JSON.stringify(envelope), 'utf8').toString('base64')}\r\n`;
}

export function formatProgressLine(percent: number, text: string): string {
  return `${PROGRESS_PREFIX}${percent} ${text.replace(/[\r\n]/g, ' ')}\r\n`;
}
