// The audit event: one record per stage of an operation (DESIGN.md "Audit trail",
// reference/audit-security-style.md §A.6). Callers hand the writer an AuditEventInput; the writer
// adds identity, time, sequence and integrity. Every block is always present (leaves may be
// null) so reviewers and log shippers see one fixed shape.
import { z } from 'zod';
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

// Values that come from callers (headers, token claims, VM names) are cut, not refused: losing a
// record because a user agent was long would be worse than shortening it.
function bounded(max: number, opts: { scrub?: boolean } = {}) {
  return z.string().transform((raw) => {
    let s = toWellFormed(raw);
    if (opts.scrub) s = scrubSecrets(s);
    return s.length > max ? `${s.slice(0, max - 1)}…` : s;
  });
}

const nullableBounded = (max: number, opts: { scrub?: boolean } = {}) =>
  bounded(max, opts)
    .nullable()
    .optional()
    .transform((v) => v ?? null);

const nullableMs = z
  .number()
  .finite()
  .nonnegative()
  .nullable()
  .optional()
  .transform((v) => (v === undefined || v === null ? null : Math.round(v)));

const HEX64 = /^[0-9a-f]{64}$/;

export const auditEventInputSchema = z
  .strictObject({
    stage: z.enum(AUDIT_STAGES),
    operation: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[A-Za-z0-9][A-Za-z0-9._:@-]*$/, 'operation must be a catalog name')
      .nullable()
      .optional(),
    requestId: nullableBounded(128),
    jobId: nullableBounded(128),
    actor: z
      .strictObject({
        sub: nullableBounded(256),
        iss: nullableBounded(512),
        clientId: nullableBounded(256),
        tokenId: nullableBounded(256),
        scopes: z
          .array(bounded(128))
          .optional()
          .transform((s) => (s ?? []).slice(0, 64)),
      })
      .optional(),
    source: z
      .strictObject({
        ip: nullableBounded(64),
        userAgent: nullableBounded(512, { scrub: true }),
      })
      .optional(),
    target: z
      .strictObject({
        host: nullableBounded(253),
        vmId: nullableBounded(64),
        vmName: nullableBounded(256),
      })
      .optional(),
    params: z.record(z.string(), z.json()).nullable().optional(),
    redaction: z
      .strictObject({
        secrets: z.array(z.string()).optional(),
        freeForm: z.array(z.string()).optional(),
        maxStringLength: z.number().int().positive().optional(),
      })
      .optional(),
    script: z
      .strictObject({ id: z.string().min(1).max(128), sha256: z.string().regex(HEX64) })
      .nullable()
      .optional(),
    outcome: z
      .strictObject({
        httpStatus: z.number().int().min(100).max(599).nullable().optional(),
        errorCode: z
          .string()
          .regex(/^HVG_ERR_[A-Z0-9_]{1,56}$/)
          .nullable()
          .optional(),
        message: nullableBounded(1024, { scrub: true }),
      })
      .optional(),
    execution: z
      .strictObject({
        queueWaitMs: nullableMs,
        durationMs: nullableMs,
        exitCode: z
          .number()
          .int()
          .min(-(2 ** 31))
          .max(2 ** 32 - 1)
          .nullable()
          .optional(),
      })
      .optional(),
  })
  .superRefine((v, ctx) => {
    if (v.stage === 'denied' && !v.outcome?.errorCode) {
      ctx.addIssue({
        code: 'custom',
        path: ['outcome', 'errorCode'],
        message: 'a denied event needs a reason code',
      });
    }
  });

export type AuditEventInput = z.input<typeof auditEventInputSchema>;

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
  const parsed = auditEventInputSchema.safeParse(input);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new AuditEventInputError(`invalid audit event: ${issues.join('; ')}`, issues);
  }
  const v = parsed.data;
  let params: JsonObject | null = null;
  let sha: string | null = null;
  if (v.params) {
    const raw = deepWellFormed(v.params as JsonObject) as JsonObject;
    sha = hashParams(raw);
    params = redactParams(raw, (v.redaction ?? {}) as RedactionSpec);
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
    operation: v.operation ?? null,
    actor: {
      sub: v.actor?.sub ?? null,
      iss: v.actor?.iss ?? null,
      clientId: v.actor?.clientId ?? null,
      tokenId: v.actor?.tokenId ?? null,
      scopes: v.actor?.scopes ?? [],
    },
    source: { ip: v.source?.ip ?? null, userAgent: v.source?.userAgent ?? null },
    target: { host: v.target?.host ?? null, vmId: v.target?.vmId ?? null, vmName: v.target?.vmName ?? null },
    params,
    paramsSha256: sha,
    script: { id: v.script?.id ?? null, sha256: v.script?.sha256 ?? null },
    outcome: {
      status: STAGE_OUTCOME[v.stage],
      httpStatus: v.outcome?.httpStatus ?? null,
      errorCode: v.outcome?.errorCode ?? null,
      message: v.outcome?.message ?? null,
    },
    execution: {
      queueWaitMs: v.execution?.queueWaitMs ?? null,
      durationMs: v.execution?.durationMs ?? null,
      exitCode: v.execution?.exitCode ?? null,
    },
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
