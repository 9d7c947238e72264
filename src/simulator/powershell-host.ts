// powershell.exe on a simulated Hyper-V host. It never runs PowerShell: it recognises hvgate's
// operation scripts and loader, applies the operation to the Hyper-V model and prints what the real
// script would print. Anything else fails the way Windows PowerShell does for an unknown command,
// with the CLIXML error stream a cmd shell shows (winrm-protocol.md §8).

import type { HyperVFleet, OperationOutcome } from './hyperv-fleet';
import { LATENCY } from './hyperv-latency';
import { isAbortError } from './hyperv-op-context';
import type { PowerShellRunner, SimProcessContext } from './sim-process';
import { abortableSleep } from './winrs-shells';
import {
  classifyScript,
  CommandToken,
  decodeLoaderPayload,
  unpackScript,
  decodeParamsBlob,
  progressLine,
  resultLine,
} from './script-decoder';

/** STATUS_CONTROL_C_EXIT as a signed int: a console program stopped by Ctrl+C / terminate. */
export const EXIT_CODE_STOPPED = -1073741510;

export interface PowerShellRunnerOptions {
  /**
   * Writes the "Preparing modules for first use." progress record to stderr before each
   * operation, as Windows PowerShell does under a cmd shell even on success (pywinrm#245).
   */
  moduleProgressNoise?: boolean;
  /**
   * Fixed wall-clock milliseconds an operation script holds its command, by operation id, before
   * the model applies it; not multiplied by the latency scale. Gives benchmarks a known service
   * time per change (e.g. `{ 'memory.set': 1000 }` with latency scale 0).
   */
  serviceTimeMs?: Readonly<Record<string, number>>;
}

const CLIXML_HEADER = '#< CLIXML\r\n';
const OBJS_OPEN = '<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">';

export function createPowerShellRunner(
  fleet: HyperVFleet,
  options: PowerShellRunnerOptions = {},
): PowerShellRunner {
  return async (scriptText, ctx) => {
    try {
      await ctx.sleep(LATENCY.processStartMs);
      return await runScript(fleet, options, scriptText, ctx, false);
    } catch (err) {
      if (isAbortError(err, ctx.signal)) return EXIT_CODE_STOPPED;
      // An unexpected fault inside the simulator still ends like a crashed script, never crashes the server.
      ctx.write(
        'stderr',
        clixmlError([
          `${err instanceof Error ? err.message : String(err)}`,
          '    + CategoryInfo          : NotSpecified: (:) [], RuntimeException',
          '    + FullyQualifiedErrorId : RuntimeException',
        ]),
      );
      return 1;
    }
  };
}

async function runScript(
  fleet: HyperVFleet,
  options: PowerShellRunnerOptions,
  text: string,
  ctx: SimProcessContext,
  viaLoader: boolean,
): Promise<number> {
  const script = classifyScript(text);
  switch (script.kind) {
    case 'empty':
      return 0;
    case 'other':
      ctx.write('stderr', commandNotFound(script.command));
      return 1;
    case 'loader': {
      // A loader delivered through a loader would read stdin a second time and find it empty.
      const stdin = viaLoader ? Buffer.alloc(0) : await ctx.readStdinToEnd();
      if (stdin.length === 0) return 0;
      const decoded = decodeLoaderPayload(stdin);
      if (!decoded.ok) {
        ctx.write('stderr', base64FormatError(text));
        return 1;
      }
      return runScript(fleet, options, decoded.script, ctx, true);
    }
    case 'packed': {
      const unpacked =
        script.literal === null
          ? ({ ok: false, call: 'FromBase64String', reason: 'no literal' } as const)
          : unpackScript(script.literal);
      if (!unpacked.ok) {
        ctx.write(
          'stderr',
          unpacked.call === 'FromBase64String' ? base64FormatError(text) : inflateError(text),
        );
        return 1;
      }
      return runScript(fleet, options, unpacked.script, ctx, viaLoader);
    }
    case 'bad-header':
      return finish(ctx, {
        ok: false,
        error: {
          category: 'InvalidArgument',
          errorId: 'HvgateUnknownOperation',
          message: `The script header '${script.header.slice(0, 120)}' does not name an operation as '# hvgate-op: <id>@<version>'.`,
        },
      });
    case 'operation': {
      if (!fleet.supports(script.operation, script.version)) {
        return finish(ctx, await fleet.apply(ctx.hostName, script.operation, script.version, undefined));
      }
      const decoded = script.blob === null ? null : decodeParamsBlob(script.blob);
      if (decoded === null || !decoded.ok) {
        return finish(ctx, {
          ok: false,
          error: {
            category: 'InvalidArgument',
            errorId: 'HvgateInvalidParamsBlob',
            message:
              decoded === null
                ? `The script for ${script.operation}@${script.version} carries no [Convert]::FromBase64String('<blob>') params blob.`
                : `The params blob of ${script.operation}@${script.version} cannot be read: ${decoded.reason}.`,
          },
        });
      }
      if (options.moduleProgressNoise) ctx.write('stderr', moduleProgressRecord());
      await ctx.sleep(LATENCY.moduleLoadMs);
      const serviceMs = options.serviceTimeMs?.[script.operation];
      if (serviceMs !== undefined) await abortableSleep(serviceMs, ctx.signal);
      const outcome = await fleet.apply(
        ctx.hostName,
        script.operation,
        script.version,
        decoded.params,
        decoded.meta,
        {
          sleep: (ms) => ctx.sleep(ms),
          progress: (percent, text) => ctx.write('stdout', progressLine(percent, text)),
          signal: ctx.signal,
        },
      );
      return finish(ctx, outcome);
    }
  }
}

function finish(ctx: SimProcessContext, outcome: OperationOutcome): number {
  ctx.write('stdout', resultLine(outcome));
  return outcome.ok ? 0 : 1;
}

// ---- CLIXML error stream ----

/** Escapes text for a CLIXML <S> element: XML entities, and control characters as _xHHHH_. */
export function clixmlEscape(text: string): string {
  let out = '';
  for (const ch of text.replace(/_(x[0-9A-Fa-f]{4}_)/g, '_x005F_$1')) {
    const code = ch.codePointAt(0)!;
    if (ch === '&') out += '&amp;';
    else if (ch === '<') out += '&lt;';
    else if (ch === '>') out += '&gt;';
    else if (code < 0x20) out += `_x${code.toString(16).toUpperCase().padStart(4, '0')}_`;
    else out += ch;
  }
  return out;
}

/** Console width of the host's error view; longer lines wrap as in the pywinrm fixture. */
const CONSOLE_WIDTH = 80;

function wrap(line: string): string[] {
  if (line.length <= CONSOLE_WIDTH - 1) return [line];
  const parts: string[] = [];
  let rest = line;
  let prefix = '';
  while (prefix.length + rest.length > CONSOLE_WIDTH - 1) {
    const take = CONSOLE_WIDTH - 1 - prefix.length;
    parts.push(`${prefix}${rest.slice(0, take)} `);
    rest = rest.slice(take);
    prefix = '   ';
  }
  parts.push(`${prefix}${rest}`);
  return parts;
}

/** `#< CLIXML` + one `<S S="Error">` record per console line, each ending in an escaped CRLF. */
export function clixmlError(lines: readonly string[]): string {
  const records = [...lines.flatMap(wrap), ' ']
    .map((l) => `<S S="Error">${clixmlEscape(`${l}\r\n`)}</S>`)
    .join('');
  return `${CLIXML_HEADER}${OBJS_OPEN}${records}</Objs>`;
}

function commandNotFound(cmd: CommandToken): string {
  const underline = '~'.repeat(Math.max(1, cmd.name.length));
  return clixmlError([
    `${cmd.name} : The term '${cmd.name}' is not recognized as the name of a cmdlet, function, script file, or operable program. Check the spelling of the name, or if a path was included, verify that the path is correct and try again.`,
    `At line:${cmd.line} char:${cmd.column}`,
    `+ ${cmd.lineText}`,
    `+ ${' '.repeat(cmd.column - 1)}${underline}`,
    `    + CategoryInfo          : ObjectNotFound: (${cmd.name}:String) [], CommandNotFoundException`,
    '    + FullyQualifiedErrorId : CommandNotFoundException',
  ]);
}

/**
 * A .NET method call of a script throwing, as PowerShell reports it: the message, then the first
 * line holding `call`, underlined.
 */
function methodCallError(scriptText: string, call: string, message: string, exception: string): string {
  const lines = scriptText.split(/\r?\n/);
  const index = Math.max(
    0,
    lines.findIndex((l) => l.includes(call)),
  );
  const lineText = lines[index] ?? '';
  const column = Math.max(0, lineText.indexOf(call));
  return clixmlError([
    message,
    `At line:${index + 1} char:${column + 1}`,
    `+ ${lineText}`,
    `+ ${' '.repeat(column)}${'~'.repeat(call.length)}`,
    '    + CategoryInfo          : NotSpecified: (:) [], MethodInvocationException',
    `    + FullyQualifiedErrorId : ${exception}`,
  ]);
}

/** The loader's or unpacker's FromBase64String call failing on a bad payload. */
function base64FormatError(scriptText: string): string {
  return methodCallError(
    scriptText,
    '[Convert]::FromBase64String',
    'Exception calling "FromBase64String" with "1" argument(s): "The input is not a valid Base-64 string as it contains a non-base 64 character, more than two padding characters, or an illegal character among the padding characters. "',
    'FormatException',
  );
}

/** DeflateStream failing on bytes that are not raw DEFLATE, at the unpacker's ReadToEnd call. */
function inflateError(packedText: string): string {
  return methodCallError(
    packedText,
    '(New-Object IO.StreamReader($hvgateStream, [Text.Encoding]::UTF8)).ReadToEnd()',
    'Exception calling "ReadToEnd" with "0" argument(s): "Block length does not match with its complement."',
    'InvalidDataException',
  );
}

/** The progress record Windows PowerShell writes while auto-loading modules (pywinrm#245). */
function moduleProgressRecord(): string {
  return (
    `${CLIXML_HEADER}${OBJS_OPEN}<Obj S="progress" RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T>` +
    '<T>System.Object</T></TN><MS><I64 N="SourceId">1</I64><PR N="Record"><AV>Preparing modules for first use.</AV>' +
    '<AI>0</AI><Nil /><PI>-1</PI><PC>-1</PC><T>Completed</T><SR>-1</SR><SD> </SD></PR></MS></Obj></Objs>'
  );
}
