// Runs `hvgate audit ...` in-process with captured output.
import { Readable } from 'node:stream';
import { createAuditCommand } from '../../../src/cli/audit-command';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function capture(): { stream: NodeJS.WritableStream; text(): string } {
  let buf = '';
  const stream = {
    write(chunk: string | Uint8Array) {
      buf += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      return true;
    },
    once() {
      return stream;
    },
  } as unknown as NodeJS.WritableStream;
  return { stream, text: () => buf };
}

export async function runAuditCli(args: string[], stdinText = ''): Promise<CliResult> {
  const out = capture();
  const err = capture();
  const code = await createAuditCommand({
    stdout: out.stream,
    stderr: err.stream,
    stdin: Readable.from([stdinText]),
  }).run(args);
  return { code, stdout: out.text(), stderr: err.text() };
}
