// Joins rsp:Stream chunks as bytes (a character or a line may be split anywhere), enforces an
// output cap, and reports HVGATE-PROGRESS lines as soon as their newline arrives.

import type { ScriptProgress } from '../powershell/script-output';
import { parseProgressLine } from '../powershell/script-output';
import type { StreamChunk } from './soap-parser';
import { ProtocolError } from './winrm-errors';

export interface OutputCollector {
  add(chunks: StreamChunk[]): void;
  readonly bytes: number;
  /** UTF-8 decoded (invalid bytes become U+FFFD; a leading BOM is dropped). */
  finish(): { stdout: string; stderr: string };
}

const lenientUtf8 = (buf: Buffer): string => new TextDecoder('utf-8').decode(buf);

export function createOutputCollector(
  maxBytes: number,
  onProgress?: (progress: ScriptProgress) => void,
): OutputCollector {
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  let bytes = 0;
  let carry: Buffer = Buffer.alloc(0);

  function scan(chunk: Buffer): void {
    if (!onProgress) return;
    const buf = carry.length === 0 ? chunk : Buffer.concat([carry, chunk]);
    const lastNl = buf.lastIndexOf(0x0a);
    if (lastNl < 0) {
      carry = buf;
      return;
    }
    carry = Buffer.from(buf.subarray(lastNl + 1));
    for (const raw of lenientUtf8(buf.subarray(0, lastNl)).split('\n')) {
      const line = raw.replace(/^\uFEFF/, '').replace(/\r+$/, '');
      let progress: ScriptProgress | undefined;
      try {
        progress = parseProgressLine(line);
      } catch {
        // The final strict parse reports malformed lines; live progress just skips them.
        progress = undefined;
      }
      if (progress) {
        try {
          onProgress(progress);
        } catch {
          // A failing listener must not break the command it observes.
        }
      }
    }
  }

  return {
    get bytes() {
      return bytes;
    },
    add(chunks) {
      for (const c of chunks) {
        if (c.data.length === 0) continue;
        bytes += c.data.length;
        if (bytes > maxBytes) throw new ProtocolError(`command output exceeds ${maxBytes} bytes`);
        if (c.name === 'stdout') {
          stdout.push(c.data);
          scan(c.data);
        } else if (c.name === 'stderr') {
          stderr.push(c.data);
        }
      }
    },
    finish() {
      return { stdout: lenientUtf8(Buffer.concat(stdout)), stderr: lenientUtf8(Buffer.concat(stderr)) };
    },
  };
}
