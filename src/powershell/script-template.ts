// The constant part of every hvgate script. An operation writes only its core (reading
// `$p.params.<field>`, setting `$result` to an explicit hashtable); the prologue decodes the
// params blob and sets preferences, the epilogue emits exactly one HVGATE-RESULT line.

import { createHash } from 'node:crypto';
import { ScriptRenderError } from './script-errors';

export interface ScriptTemplate {
  /** e.g. `network-adapter.add` */
  readonly opId: string;
  /** Positive integer; bump whenever the body changes. */
  readonly version: number;
  /** Everything after the header line; contains PARAMS_BLOB_MARKER exactly once. */
  readonly body: string;
}

export interface ScriptTemplateSpec {
  opId: string;
  version: number;
  /**
   * The operation's own PowerShell. Runs dot-sourced with stray pipeline output discarded;
   * must set `$result`. Available helpers: Write-HvgateProgress, Stop-HvgateOperation,
   * ConvertTo-HvgateGuid. Never contains caller data.
   */
  core: string;
}

export const OP_ID_PATTERN = /^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$/;
export const PARAMS_BLOB_MARKER = '__HVGATE_PARAMS_BLOB__';
/** The one line that carries caller data; the blob replaces the marker. */
export const PARAMS_LINE_PREFIX =
  "$p = ConvertFrom-Json ([Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('";
export const PARAMS_LINE_SUFFIX = "')))";
export const PARAMS_LINE = `${PARAMS_LINE_PREFIX}${PARAMS_BLOB_MARKER}${PARAMS_LINE_SUFFIX}`;

export function headerLine(opId: string, version: number): string {
  return `# hvgate-op: ${opId}@${version}`;
}

const PREFERENCES = [
  "$ErrorActionPreference = 'Stop'",
  "$ProgressPreference = 'SilentlyContinue'",
  PARAMS_LINE,
];

/** The helper functions a core may call, in dependency order (a helper may call earlier ones). */
const HELPERS: readonly { name: string; lines: readonly string[]; uses: readonly string[] }[] = [
  {
    name: 'Write-HvgateProgress',
    uses: [],
    lines: [
      'function Write-HvgateProgress {',
      "    param([Parameter(Mandatory = $true)][ValidateRange(0, 100)][int]$Percent, [string]$Text = '')",
      "    $line = 'HVGATE-PROGRESS:' + $Percent + ' ' + ($Text -replace '[\\r\\n]', ' ')",
      '    [Console]::Out.Write($line + "`r`n")',
      '    [Console]::Out.Flush()',
      '}',
    ],
  },
  {
    name: 'Stop-HvgateOperation',
    uses: [],
    lines: [
      'function Stop-HvgateOperation {',
      '    param(',
      '        [Parameter(Mandatory = $true)][string]$ErrorId,',
      '        [Parameter(Mandatory = $true)][string]$Message,',
      '        [System.Management.Automation.ErrorCategory]$Category = [System.Management.Automation.ErrorCategory]::InvalidOperation',
      '    )',
      '    $exception = New-Object -TypeName System.InvalidOperationException -ArgumentList $Message',
      '    throw (New-Object -TypeName System.Management.Automation.ErrorRecord -ArgumentList @($exception, $ErrorId, $Category, $null))',
      '}',
    ],
  },
  {
    name: 'ConvertTo-HvgateGuid',
    uses: ['Stop-HvgateOperation'],
    lines: [
      'function ConvertTo-HvgateGuid {',
      '    param($Value, [string]$Name)',
      "    if ($Value -isnot [string] -or $Value -notmatch '^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$') {",
      "        Stop-HvgateOperation -ErrorId 'HVG_INVALID_PARAM' -Message ('parameter ' + $Name + ' is not a GUID') -Category InvalidArgument",
      '    }',
      '    return [guid]$Value',
      '}',
    ],
  },
];

const OPEN_CORE = ['$result = $null', 'try {', '    $null = . {'];

/**
 * The prologue with only the helpers `core` calls. Every byte counts: a script whose encoded
 * command line stays under cmd.exe's 8191 characters goes in one Command instead of a loader plus
 * a Send with the body (one HTTP request and ~9 KB less per operation).
 */
export function scriptPrologue(core: string): string {
  const needed = new Set<string>();
  for (const h of [...HELPERS].reverse()) {
    if (needed.has(h.name) || new RegExp(`\\b${h.name}\\b`).test(core)) {
      needed.add(h.name);
      for (const u of h.uses) needed.add(u);
    }
  }
  const helpers = HELPERS.filter((h) => needed.has(h.name)).flatMap((h) => h.lines);
  return [...PREFERENCES, ...helpers, ...OPEN_CORE].join('\n');
}

/** The prologue with every helper (what a core that calls all of them gets). */
export const SCRIPT_PROLOGUE = scriptPrologue(HELPERS.map((h) => h.name).join(' '));

export const SCRIPT_EPILOGUE = [
  '    }',
  '    $hvgateJson = ConvertTo-Json -InputObject ([ordered]@{ ok = $true; result = $result }) -Depth 6 -Compress',
  '    $hvgateExit = 0',
  '} catch {',
  '    $hvgateError = [ordered]@{',
  '        category = [string]$_.CategoryInfo.Category',
  '        errorId = [string]$_.FullyQualifiedErrorId',
  '        message = [string]$_.Exception.Message',
  '    }',
  '    $hvgateJson = ConvertTo-Json -InputObject ([ordered]@{ ok = $false; error = $hvgateError }) -Depth 6 -Compress',
  '    $hvgateExit = 1',
  '}',
  '[Console]::Out.Write(\'HVGATE-RESULT:\' + [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($hvgateJson)) + "`r`n")',
  '[Console]::Out.Flush()',
  'exit $hvgateExit',
].join('\n');

export function assertOpId(opId: unknown): asserts opId is string {
  if (typeof opId !== 'string' || !OP_ID_PATTERN.test(opId)) {
    throw new ScriptRenderError('INVALID_TEMPLATE', `invalid operation id ${JSON.stringify(opId)}`);
  }
}

export function assertVersion(version: unknown): asserts version is number {
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
    throw new ScriptRenderError('INVALID_TEMPLATE', `invalid template version ${String(version)}`);
  }
}

/**
 * Checks that a body carries the params line exactly once, unindented, and that nothing before it
 * looks like a blob (the simulator takes the first FromBase64String('…') after the header).
 */
export function assertTemplateBody(body: unknown): asserts body is string {
  if (typeof body !== 'string')
    throw new ScriptRenderError('INVALID_TEMPLATE', 'template body is not a string');
  if (body.includes('\0')) throw new ScriptRenderError('INVALID_TEMPLATE', 'template body contains NUL');
  const count = body.split(PARAMS_BLOB_MARKER).length - 1;
  if (count !== 1) {
    throw new ScriptRenderError(
      'INVALID_TEMPLATE',
      `template body must contain the params marker once (found ${count})`,
    );
  }
  const lines = body.split(/\r?\n/);
  const idx = lines.findIndex((l) => l.includes(PARAMS_BLOB_MARKER));
  if (lines[idx] !== PARAMS_LINE) {
    throw new ScriptRenderError(
      'INVALID_TEMPLATE',
      'the params marker must sit alone in the canonical $p = ConvertFrom-Json line',
    );
  }
  const before = lines.slice(0, idx).join('\n');
  if (/\[Convert\]::FromBase64String\('/.test(before)) {
    throw new ScriptRenderError(
      'INVALID_TEMPLATE',
      'no FromBase64String literal may precede the params line',
    );
  }
}

export function defineScriptTemplate(spec: ScriptTemplateSpec): ScriptTemplate {
  assertOpId(spec.opId);
  assertVersion(spec.version);
  if (typeof spec.core !== 'string' || spec.core.trim() === '') {
    throw new ScriptRenderError(
      'INVALID_TEMPLATE',
      `template ${spec.opId}@${spec.version} has an empty core`,
    );
  }
  if (spec.core.includes(PARAMS_BLOB_MARKER) || /HVGATE-RESULT:/.test(spec.core)) {
    throw new ScriptRenderError(
      'INVALID_TEMPLATE',
      'a template core must not touch the params blob or emit the result line',
    );
  }
  const core = spec.core.replace(/\r\n/g, '\n').replace(/\n+$/, '');
  const body = `${scriptPrologue(core)}\n${core}\n${SCRIPT_EPILOGUE}\n`;
  assertTemplateBody(body);
  return Object.freeze({ opId: spec.opId, version: spec.version, body });
}

/** Full template text (header + body, marker in place): what reviewers read and audit hashes. */
export function templateText(template: ScriptTemplate): string {
  return `${headerLine(template.opId, template.version)}\n${template.body}`;
}

export function templateSha256(template: ScriptTemplate): string {
  return createHash('sha256').update(templateText(template), 'utf8').digest('hex');
}
