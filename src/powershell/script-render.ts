// Template + caller params → the exact script text sent to a host. Caller data only ever enters
// as base64 of UTF-8 JSON inside one single-quoted literal, whose alphabet cannot end the literal.

import { createHash } from 'node:crypto';
import { ScriptRenderError } from './script-errors';
import type { ScriptTemplate } from './script-template';
import {
  PARAMS_BLOB_MARKER,
  assertOpId,
  assertTemplateBody,
  assertVersion,
  headerLine,
  templateSha256,
} from './script-template';

export interface ScriptMeta {
  jobId?: string | null;
  requestId?: string | null;
}

export interface ParamsDocument {
  params: Record<string, unknown>;
  meta: { jobId: string | null; requestId: string | null };
}

export interface RenderedScript {
  opId: string;
  version: number;
  /** `<opId>@<version>`, the script id recorded in audit events. */
  scriptId: string;
  /** Complete UTF-8 script text. */
  text: string;
  /** SHA-256 (hex) of `text` as UTF-8. */
  sha256: string;
  /** SHA-256 (hex) of the template text, identical for every render of the template. */
  templateSha256: string;
  /** Base64 of the UTF-8 JSON params document. */
  blob: string;
}

export const BLOB_PATTERN = /^[A-Za-z0-9+/=]*$/;
/** How the simulator (and our tests) locate the blob: first match after the header line. */
export const BLOB_LOCATOR = /\[Convert\]::FromBase64String\('([A-Za-z0-9+/=]*)'\)/;

/** Windows PowerShell's JSON reader gives up below this nesting depth (JavaScriptSerializer limit 100). */
const MAX_DEPTH = 64;
const DEFAULT_MAX_PARAMS_BYTES = 256 * 1024;

function checkJsonValue(value: unknown, path: string, depth: number): void {
  if (depth > MAX_DEPTH)
    throw new ScriptRenderError('INVALID_PARAMS', `params nest deeper than ${MAX_DEPTH} at ${path}`);
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value))
      throw new ScriptRenderError('INVALID_PARAMS', `params value at ${path} is not a finite number`);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => checkJsonValue(v, `${path}[${i}]`, depth + 1));
    return;
  }
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) {
      throw new ScriptRenderError('INVALID_PARAMS', `params value at ${path} is not a plain object`);
    }
    // ConvertFrom-Json builds case-insensitive property bags: "a" and "A" collide on the host.
    const seen = new Set<string>();
    for (const key of Object.keys(value)) {
      if (key === '')
        throw new ScriptRenderError('INVALID_PARAMS', `params object at ${path} has an empty key`);
      const folded = key.toLowerCase();
      if (seen.has(folded)) {
        throw new ScriptRenderError(
          'INVALID_PARAMS',
          `params object at ${path} has keys differing only in case`,
        );
      }
      seen.add(folded);
      checkJsonValue((value as Record<string, unknown>)[key], `${path}.${key}`, depth + 1);
    }
    return;
  }
  throw new ScriptRenderError('INVALID_PARAMS', `params value at ${path} is not JSON (${typeof value})`);
}

function normaliseMeta(meta: ScriptMeta | undefined): ParamsDocument['meta'] {
  const pick = (v: unknown, name: string): string | null => {
    if (v === undefined || v === null) return null;
    if (typeof v !== 'string')
      throw new ScriptRenderError('INVALID_PARAMS', `meta.${name} must be a string or null`);
    return v;
  };
  return { jobId: pick(meta?.jobId, 'jobId'), requestId: pick(meta?.requestId, 'requestId') };
}

export function encodeParamsBlob(
  params: Record<string, unknown>,
  meta?: ScriptMeta,
  maxBytes: number = DEFAULT_MAX_PARAMS_BYTES,
): string {
  if (typeof params !== 'object' || params === null || Array.isArray(params)) {
    throw new ScriptRenderError('INVALID_PARAMS', 'params must be a JSON object');
  }
  checkJsonValue(params, 'params', 0);
  const doc: ParamsDocument = { params, meta: normaliseMeta(meta) };
  // Well-formed JSON.stringify escapes lone surrogates, so the UTF-8 below is always valid.
  const json = Buffer.from(JSON.stringify(doc), 'utf8');
  if (json.length > maxBytes) {
    throw new ScriptRenderError(
      'SCRIPT_TOO_LARGE',
      `params document is ${json.length} bytes (limit ${maxBytes})`,
    );
  }
  return json.toString('base64');
}

export function decodeParamsBlob(blob: string): ParamsDocument {
  if (!BLOB_PATTERN.test(blob)) throw new ScriptRenderError('INVALID_PARAMS', 'blob is not base64');
  const text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(blob, 'base64'));
  return JSON.parse(text) as ParamsDocument;
}

/** The blob of a rendered script, found the way the simulator finds it. */
export function extractParamsBlob(scriptText: string): string | undefined {
  const nl = scriptText.indexOf('\n');
  const afterHeader = nl < 0 ? '' : scriptText.slice(nl + 1);
  return BLOB_LOCATOR.exec(afterHeader)?.[1];
}

/** Templates already checked, with their hash: a frozen template cannot change after the check. */
const checkedTemplates = new WeakMap<ScriptTemplate, string>();

function checkedTemplateSha256(template: ScriptTemplate): string {
  const known = template ? checkedTemplates.get(template) : undefined;
  if (known !== undefined) return known;
  assertOpId(template?.opId);
  assertVersion(template.version);
  assertTemplateBody(template.body);
  const sha = templateSha256(template);
  if (Object.isFrozen(template)) checkedTemplates.set(template, sha);
  return sha;
}

export function renderScript(
  template: ScriptTemplate,
  params: Record<string, unknown>,
  meta?: ScriptMeta,
  options: { maxParamsBytes?: number } = {},
): RenderedScript {
  const templateSha = checkedTemplateSha256(template);
  const blob = encodeParamsBlob(params, meta, options.maxParamsBytes);
  if (!BLOB_PATTERN.test(blob))
    throw new ScriptRenderError('INVALID_PARAMS', 'blob escaped the base64 alphabet');
  const at = template.body.indexOf(PARAMS_BLOB_MARKER);
  const body = template.body.slice(0, at) + blob + template.body.slice(at + PARAMS_BLOB_MARKER.length);
  const text = `${headerLine(template.opId, template.version)}\n${body}`;
  return {
    opId: template.opId,
    version: template.version,
    scriptId: `${template.opId}@${template.version}`,
    text,
    sha256: createHash('sha256').update(text, 'utf8').digest('hex'),
    templateSha256: templateSha,
    blob,
  };
}
