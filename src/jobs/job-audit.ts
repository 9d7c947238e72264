// The audit event of one job stage. Every stage carries the same actor, source and target blocks so a
// reviewer can follow one job (or one request) through the trail.
import type { AuditEventInput, AuditStage } from '../audit/audit-event';
import type { OperationSpec } from '../operations/operation-spec';
import type { JobRecord } from './job-model';

export type JobAuditSubject = Pick<
  JobRecord,
  'operation' | 'requestId' | 'host' | 'vmId' | 'vmName' | 'actor' | 'source'
> & {
  id: string | null;
  /** What the caller asked for, recorded until the VM is resolved. */
  vmRef?: string | null;
};

export interface JobAuditDetails {
  params?: Record<string, unknown> | null;
  /** Names the fields to redact in `params`. */
  spec?: OperationSpec | undefined;
  script?: { id: string; sha256: string } | null;
  httpStatus?: number | null;
  errorCode?: string | null;
  message?: string | null;
  queueWaitMs?: number | null;
  durationMs?: number | null;
  exitCode?: number | null;
}

/** A deep copy that is plain JSON (drops undefined), as the audit schema requires. */
export function plainJson(value: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
}

export function jobAuditEvent(
  stage: AuditStage,
  job: JobAuditSubject,
  extra: JobAuditDetails = {},
): AuditEventInput {
  const input: AuditEventInput = {
    stage,
    operation: job.operation,
    requestId: job.requestId,
    jobId: job.id,
    actor: { ...job.actor },
    source: { ...job.source },
    target: { host: job.host, vmId: job.vmId, vmName: job.vmName ?? job.vmRef ?? null },
    outcome: {
      httpStatus: extra.httpStatus ?? null,
      errorCode: extra.errorCode ?? null,
      message: extra.message ?? null,
    },
    execution: {
      queueWaitMs: extra.queueWaitMs ?? null,
      durationMs: extra.durationMs ?? null,
      exitCode: extra.exitCode ?? null,
    },
  };
  if (extra.params) {
    input.params = plainJson(extra.params) as AuditEventInput['params'];
    if (extra.spec?.redactFields) input.redaction = { secrets: [...extra.spec.redactFields] };
  }
  if (extra.script) input.script = extra.script;
  return input;
}
