// The audit event: one record per stage of an operation (DESIGN.md "Audit trail",
// reference/audit-security-style.md §A.6). Callers hand the writer an AuditEventInput; the writer
// adds identity, time, sequence and integrity. Every block is always present (leaves may be
// null) so reviewers and log shippers see one fixed shape.
import { AuditEventInputError } from './audit-errors';
import { canonicalJson, toWellFormed } from './canonical-json';
import {
  JsonObject,
  JsonValue,
  RedactionSpec,
  paramsSha256 as hashParams,
  redactParams,
  scrubSecrets,
} from './param-redaction';

export {
  REDACTED_FREE_FORM,
  REDACTED_SECRET,
  redactParams,
  paramsSha256,
  scrubSecrets,
} from './param-redaction';
export type { JsonObject, JsonValue, RedactionSpec } from './param-redaction';

/** major.minor: major changes break readers, minor ones only add fields (CloudTrail rules). */
export const AUDIT_SCHEMA_VERSION = '1.0';

export const AUDIT_STAGES = [
  'requested',
  'denied',
  'started',
  'succeeded',
  'failed',
  'cancelled',
  'interrupted',
] as const;
export type AuditStage = (typeof AUDIT_STAGES)[number];

export const AUDIT_OUTCOME_STATUSES = [
  'pending',
  'denied',
  'running',
  'succeeded',
  'failed',
  'cancelled',
  'unknown',
] as const;
export type AuditOutcomeStatus = (typeof AUDIT_OUTCOME_STATUSES)[number];

/** The outcome status each stage implies; `interrupted` means the host result is unknown. */
export const STAGE_OUTCOME: Readonly<Record<AuditStage, AuditOutcomeStatus>> = Object.freeze({
  requested: 'pending',
  denied: 'denied',
  started: 'running',
  succeeded: 'succeeded',
  failed: 'failed',
  cancelled: 'cancelled',
  interrupted: 'unknown',
});

/** Operation name used for refused bearer tokens (the request never reached an operation). */
export const TOKEN_REJECTED_OPERATION = 'auth.token';

export interface AuditActor {
  sub: string | null;
  iss: string | null;
  clientId: string | null;
  tokenId: string | null;
  scopes: string[];
}

export interface AuditEvent {
  schemaVersion: string;
  eventId: string;
  seq: number;
  time: string;
  requestId: string | null;
  jobId: string | null;
  stage: AuditStage;
  operation: string | null;
  actor: AuditActor;
  source: { ip: string | null; userAgent: string | null };
  target: { host: string | null; vmId: string | null; vmName: string | null };
  params: JsonObject | null;
  paramsSha256: string | null;
  script: { id: string | null; sha256: string | null };
  outcome: {
    status: AuditOutcomeStatus;
    httpStatus: number | null;
    errorCode: string | null;
    message: string | null;
  };
  execution: { queueWaitMs: number | null; durationMs: number | null; exitCode: number | null };
  service: { version: string; instance: string };
  integrity: { prevHash: string; hash: string };
}

/** An event as durably stored: every field set, including the chain hash. */
export type StoredEvent = AuditEvent;

/** An event before the writer assigns its place in the chain. */
export type UnsealedEvent = Omit<AuditEvent, 'seq' | 'integrity'>;

/** What callers hand the writer; every block and leaf may be left out (it is recorded as null). */
export interface AuditEventInput {
  stage: AuditStage;
  operation?: string | null | undefined;
  requestId?: string | null | undefined;
  jobId?: string | null | undefined;
  actor?:
    | {
        sub?: string | null | undefined;
        iss?: string | null | undefined;
        clientId?: string | null | undefined;
        tokenId?: string | null | undefined;
        scopes?: string[] | undefined;
      }
    | undefined;
  source?: { ip?: string | null | undefined; userAgent?: string | null | undefined } | undefined;
  target?:
    | {
        host?: string | null | undefined;
        vmId?: string | null | undefined;
        vmName?: string | null | undefined;
      }
    | undefined;
  params?: Record<string, JsonValue> | null | undefined;
  redaction?:
    | {
        secrets?: string[] | undefined;
        freeForm?: string[] | undefined;
        maxStringLength?: number | undefined;
      }
    | undefined;
  script?: { id: string; sha256: string } | null | undefined;
  outcome?:
    | {
        httpStatus?: number | null | undefined;
        errorCode?: string | null | undefined;
        message?: string | null | undefined;
      }
    | undefined;
  execution?:
    | {
        queueWaitMs?: number | null | undefined;
        durationMs?: number | null | undefined;
        exitCode?: number | null | undefined;
      }
    | undefined;
}

// The writer checks every event on the hot path (three per operation), so the rules are plain code
// rather than a schema library: the same checks at a tenth of the cost. Values that come from
// callers (headers, token claims, VM names) are cut, not refused: losing a record because a user
// agent was long would be worse than shortening it.

const STAGE_SET: ReadonlySet<string> = new Set(AUDIT_STAGES);
const OPERATION_NAME = /^[A-Za-z0-9][A-Za-z0-9._:@-]*$/;
const ERROR_CODE = /^HVG_ERR_[A-Z0-9_]{1,56}$/;
const HEX64 = /^[0-9a-f]{64}$/;
const MAX_SCOPES = 64;
/** Deeper params than this are refused here (canonical JSON would refuse them further on anyway). */
const MAX_PARAMS_DEPTH = 200;

/** Collects every problem of one event, as `path: message`, before refusing it. */
class Issues {
  readonly list: string[] = [];
  add(path: string, message: string): void {
    this.list.push(`${path || '(root)'}: ${message}`);
  }
}

type Fields = Record<string, unknown>;

function isPlainObject(v: unknown): v is Fields {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** An optional block: absent → undefined; otherwise a plain object with only `keys`. */
function block(
  parent: Fields,
  key: string,
  keys: ReadonlySet<string>,
  issues: Issues,
  nullable = false,
): Fields | undefined {
  const v = parent[key];
  if (v === undefined || (nullable && v === null)) return undefined;
  if (!isPlainObject(v)) {
    issues.add(key, 'expected an object');
    return undefined;
  }
  for (const k of Object.keys(v)) if (!keys.has(k)) issues.add(`${key}.${k}`, 'unrecognized key');
  return v;
}

function cut(raw: string, max: number, scrub: boolean): string {
  let s = toWellFormed(raw);
  if (scrub) s = scrubSecrets(s);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** A caller-controlled string: well-formed, secrets scrubbed if asked, cut to `max`; absent → null. */
function text(
  obj: Fields | undefined,
  key: string,
  path: string,
  max: number,
  issues: Issues,
  scrub = false,
): string | null {
  const v = obj?.[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') {
    issues.add(path, 'expected a string');
    return null;
  }
  return cut(v, max, scrub);
}

function integer(
  obj: Fields | undefined,
  key: string,
  path: string,
  min: number,
  max: number,
  issues: Issues,
): number | null {
  const v = obj?.[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    issues.add(path, `expected an integer from ${min} to ${max}`);
    return null;
  }
  return v;
}

function millis(obj: Fields | undefined, key: string, path: string, issues: Issues): number | null {
  const v = obj?.[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    issues.add(path, 'expected a finite number of milliseconds, not negative');
    return null;
  }
  return Math.round(v);
}

function stringList(
  obj: Fields | undefined,
  key: string,
  path: string,
  issues: Issues,
): string[] | undefined {
  const v = obj?.[key];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
    issues.add(path, 'expected an array of strings');
    return undefined;
  }
  return v as string[];
}

function checkJson(value: unknown, path: string, depth: number, issues: Issues): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) issues.add(path, 'expected a finite number');
    return;
  }
  if (depth >= MAX_PARAMS_DEPTH) {
    issues.add(path, `params nest deeper than ${MAX_PARAMS_DEPTH}`);
    return;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) checkJson(value[i], `${path}.${i}`, depth + 1, issues);
    return;
  }
  if (isPlainObject(value)) {
    for (const k of Object.keys(value)) checkJson(value[k], `${path}.${k}`, depth + 1, issues);
    return;
  }
  issues.add(path, 'expected a JSON value');
}

const ROOT_KEYS = new Set([
  'stage',
  'operation',
  'requestId',
  'jobId',
  'actor',
  'source',
  'target',
  'params',
  'redaction',
  'script',
  'outcome',
  'execution',
]);
const ACTOR_KEYS = new Set(['sub', 'iss', 'clientId', 'tokenId', 'scopes']);
const SOURCE_KEYS = new Set(['ip', 'userAgent']);
const TARGET_KEYS = new Set(['host', 'vmId', 'vmName']);
const REDACTION_KEYS = new Set(['secrets', 'freeForm', 'maxStringLength']);
const SCRIPT_KEYS = new Set(['id', 'sha256']);
const OUTCOME_KEYS = new Set(['httpStatus', 'errorCode', 'message']);
const EXECUTION_KEYS = new Set(['queueWaitMs', 'durationMs', 'exitCode']);

interface CheckedInput {
  stage: AuditStage;
  operation: string | null;
  requestId: string | null;
  jobId: string | null;
  actor: AuditActor;
  source: AuditEvent['source'];
  target: AuditEvent['target'];
  params: JsonObject | null;
  redaction: RedactionSpec;
  script: AuditEvent['script'];
  outcome: Omit<AuditEvent['outcome'], 'status'>;
  execution: AuditEvent['execution'];
}

/** Checks an event input against the rules of the record and normalises it; throws with every issue. */
function checkAuditEventInput(input: unknown): CheckedInput {
  const issues = new Issues();
  if (!isPlainObject(input))
    throw new AuditEventInputError('invalid audit event: (root): expected an object');
  for (const k of Object.keys(input)) if (!ROOT_KEYS.has(k)) issues.add(k, 'unrecognized key');

  const stage = input['stage'];
  if (typeof stage !== 'string' || !STAGE_SET.has(stage))
    issues.add('stage', `expected one of ${AUDIT_STAGES.join('|')}`);
  let operation: string | null = null;
  const op = input['operation'];
  if (op !== undefined && op !== null) {
    if (typeof op !== 'string' || op.length < 1 || op.length > 128) {
      issues.add('operation', 'expected a string of 1 to 128 characters');
    } else if (!OPERATION_NAME.test(op)) {
      issues.add('operation', 'operation must be a catalog name');
    } else {
      operation = op;
    }
  }

  const actorIn = block(input, 'actor', ACTOR_KEYS, issues);
  const scopesIn = stringList(actorIn, 'scopes', 'actor.scopes', issues) ?? [];
  const sourceIn = block(input, 'source', SOURCE_KEYS, issues);
  const targetIn = block(input, 'target', TARGET_KEYS, issues);
  const redactionIn = block(input, 'redaction', REDACTION_KEYS, issues);
  const scriptIn = block(input, 'script', SCRIPT_KEYS, issues, true);
  const outcomeIn = block(input, 'outcome', OUTCOME_KEYS, issues);
  const executionIn = block(input, 'execution', EXECUTION_KEYS, issues);

  let params: JsonObject | null = null;
  const paramsIn = input['params'];
  if (paramsIn !== undefined && paramsIn !== null) {
    if (!isPlainObject(paramsIn)) issues.add('params', 'expected an object');
    else {
      checkJson(paramsIn, 'params', 0, issues);
      params = paramsIn as JsonObject;
    }
  }

  const redaction: { -readonly [K in keyof RedactionSpec]: RedactionSpec[K] } = {};
  const secrets = stringList(redactionIn, 'secrets', 'redaction.secrets', issues);
  if (secrets) redaction.secrets = secrets;
  const freeForm = stringList(redactionIn, 'freeForm', 'redaction.freeForm', issues);
  if (freeForm) redaction.freeForm = freeForm;
  const maxLen = redactionIn?.['maxStringLength'];
  if (maxLen !== undefined) {
    if (typeof maxLen !== 'number' || !Number.isInteger(maxLen) || maxLen <= 0)
      issues.add('redaction.maxStringLength', 'expected a positive integer');
    else redaction.maxStringLength = maxLen;
  }

  let script: AuditEvent['script'] = { id: null, sha256: null };
  if (scriptIn) {
    const { id, sha256 } = scriptIn;
    if (typeof id !== 'string' || id.length < 1 || id.length > 128)
      issues.add('script.id', 'expected a string of 1 to 128 characters');
    if (typeof sha256 !== 'string' || !HEX64.test(sha256))
      issues.add('script.sha256', 'expected 64 lowercase hex digits');
    script = { id: id as string, sha256: sha256 as string };
  }

  let errorCode: string | null = null;
  const code = outcomeIn?.['errorCode'];
  if (code !== undefined && code !== null) {
    if (typeof code !== 'string' || !ERROR_CODE.test(code))
      issues.add('outcome.errorCode', 'expected an HVG_ERR_* code');
    else errorCode = code;
  }
  if (stage === 'denied' && errorCode === null)
    issues.add('outcome.errorCode', 'a denied event needs a reason code');

  const checked: CheckedInput = {
    stage: stage as AuditStage,
    operation,
    requestId: text(input, 'requestId', 'requestId', 128, issues),
    jobId: text(input, 'jobId', 'jobId', 128, issues),
    actor: {
      sub: text(actorIn, 'sub', 'actor.sub', 256, issues),
      iss: text(actorIn, 'iss', 'actor.iss', 512, issues),
      clientId: text(actorIn, 'clientId', 'actor.clientId', 256, issues),
      tokenId: text(actorIn, 'tokenId', 'actor.tokenId', 256, issues),
      scopes: scopesIn.slice(0, MAX_SCOPES).map((sc) => cut(sc, 128, false)),
    },
    source: {
      ip: text(sourceIn, 'ip', 'source.ip', 64, issues),
      userAgent: text(sourceIn, 'userAgent', 'source.userAgent', 512, issues, true),
    },
    target: {
      host: text(targetIn, 'host', 'target.host', 253, issues),
      vmId: text(targetIn, 'vmId', 'target.vmId', 64, issues),
      vmName: text(targetIn, 'vmName', 'target.vmName', 256, issues),
    },
    params,
    redaction,
    script,
    outcome: {
      httpStatus: integer(outcomeIn, 'httpStatus', 'outcome.httpStatus', 100, 599, issues),
      errorCode,
      message: text(outcomeIn, 'message', 'outcome.message', 1024, issues, true),
    },
    execution: {
      queueWaitMs: millis(executionIn, 'queueWaitMs', 'execution.queueWaitMs', issues),
      durationMs: millis(executionIn, 'durationMs', 'execution.durationMs', issues),
      exitCode: integer(executionIn, 'exitCode', 'execution.exitCode', -(2 ** 31), 2 ** 32 - 1, issues),
    },
  };
  if (issues.list.length > 0) {
    throw new AuditEventInputError(`invalid audit event: ${issues.list.join('; ')}`, issues.list);
  }
  return checked;
}

/** Largest canonical size of the redacted params kept in a record. */
export const MAX_PARAMS_BYTES = 32 * 1024;

function deepWellFormed(value: JsonValue): JsonValue {
  if (typeof value === 'string') return toWellFormed(value);
  if (Array.isArray(value)) return value.map(deepWellFormed);
  if (value !== null && typeof value === 'object') {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(value)) out[toWellFormed(k)] = deepWellFormed(v);
    return out;
  }
  return value;
}

export interface EventContext {
  readonly eventId: string;
  readonly time: string;
  readonly service: { readonly version: string; readonly instance: string };
}

/** Validates caller input and fills in every field except seq and integrity. */
export function buildUnsealedEvent(input: AuditEventInput, ctx: EventContext): UnsealedEvent {
  try {
    return build(input, ctx);
  } catch (err) {
    if (err instanceof AuditEventInputError) throw err;
    // e.g. params nested deeper than canonical JSON allows, or too deep for the validator itself
    throw new AuditEventInputError(
      `invalid audit event: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

function build(input: AuditEventInput, ctx: EventContext): UnsealedEvent {
  const v = checkAuditEventInput(input);
  let params: JsonObject | null = null;
  let sha: string | null = null;
  if (v.params) {
    const raw = deepWellFormed(v.params) as JsonObject;
    sha = hashParams(raw);
    params = redactParams(raw, v.redaction);
    if (Buffer.byteLength(canonicalJson(params), 'utf8') > MAX_PARAMS_BYTES) {
      throw new AuditEventInputError(
        `invalid audit event: params exceed ${MAX_PARAMS_BYTES} bytes after redaction`,
      );
    }
  }
  return {
    schemaVersion: AUDIT_SCHEMA_VERSION,
    eventId: ctx.eventId,
    time: ctx.time,
    requestId: v.requestId,
    jobId: v.jobId,
    stage: v.stage,
    operation: v.operation,
    actor: v.actor,
    source: v.source,
    target: v.target,
    params,
    paramsSha256: sha,
    script: v.script,
    outcome: { status: STAGE_OUTCOME[v.stage], ...v.outcome },
    execution: v.execution,
    service: { version: ctx.service.version, instance: ctx.service.instance },
  };
}

export interface TokenRejection {
  /** Stable code, e.g. HVG_ERR_TOKEN_EXPIRED. */
  readonly errorCode: string;
  /** Short reason safe to store: never the token or a claim copied from an unverified token. */
  readonly reason: string;
  readonly httpStatus?: number;
  readonly requestId?: string | null;
  readonly source?: { ip?: string | null; userAgent?: string | null };
  readonly operation?: string | null;
  readonly target?: { host?: string | null; vmId?: string | null; vmName?: string | null };
}

/** The `denied` event for a bearer token that failed verification. */
export function tokenRejectedEvent(r: TokenRejection): AuditEventInput {
  return {
    stage: 'denied',
    operation: r.operation ?? TOKEN_REJECTED_OPERATION,
    requestId: r.requestId ?? null,
    source: r.source,
    target: r.target,
    outcome: { httpStatus: r.httpStatus ?? 401, errorCode: r.errorCode, message: r.reason },
  };
}

const LINE_BREAKS_JSON_KEEPS = /[\u2028\u2029]/g;

/**
 * One JSON line for log shippers and exports. JSON escapes \n and \r; U+2028/2029 are legal raw
 * in JSON but some line splitters break on them, so they are escaped too (same parsed value).
 */
export function toJsonLine(value: unknown): string {
  return canonicalJson(value).replace(LINE_BREAKS_JSON_KEEPS, (c) =>
    c === '\u2028' ? '\\u2028' : '\\u2029',
  );
}
