// NDJSON export of a range of the trail, self-contained for offline verification: the selected
// events are widened to the nearest signed checkpoints on both sides, and every checkpoint from
// the first one onwards is included so the checkpoint chain itself can be followed.
import { parseCheckpoint } from './audit-checkpoint';
import { AuditQueryError } from './audit-errors';
import { toJsonLine } from './audit-event';
import { AuditClock, systemClock } from './audit-writer';
import {
  AuditCheckpointRecord,
  AuditEventRecord,
  AuditStore,
  iterateCheckpoints,
  iterateEventBatches,
} from '../store/audit-store';

export const EXPORT_FORMAT = 'hvgate-audit-export';
export const EXPORT_VERSION = 1;

export interface AuditExportRange {
  /** Inclusive, ISO-8601 (or Date). */
  readonly from?: string | Date;
  /** Exclusive, ISO-8601 (or Date). */
  readonly to?: string | Date;
}

function isoOrUndefined(v: string | Date | undefined, name: string): string | undefined {
  if (v === undefined) return undefined;
  const d = v instanceof Date ? v : new Date(v);
  if (Number.isNaN(d.getTime()) || (typeof v === 'string' && !/^\d{4}-\d{2}-\d{2}/.test(v))) {
    throw new AuditQueryError(`${name} is not an ISO-8601 time`);
  }
  return d.toISOString();
}

function eventLine(r: AuditEventRecord): string {
  let event: Record<string, unknown> | null = null;
  try {
    const parsed: unknown = JSON.parse(r.body);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed))
      event = parsed as Record<string, unknown>;
  } catch {
    event = null;
  }
  const integrity = event?.integrity;
  if (!event || integrity === null || typeof integrity !== 'object' || Array.isArray(integrity)) {
    // Exported as found so the offline verifier reports it instead of it silently disappearing.
    return toJsonLine({ type: 'unreadable-event', position: r.seq, hash: r.hash, body: r.body });
  }
  return toJsonLine({ type: 'event', event: { ...event, integrity: { ...integrity, hash: r.hash } } });
}

function checkpointLine(c: AuditCheckpointRecord): string {
  const cp = parseCheckpoint(c.body);
  return toJsonLine(
    cp
      ? { type: 'checkpoint', checkpoint: cp }
      : { type: 'unreadable-checkpoint', position: c.seq, body: c.body },
  );
}

/**
 * Lines (without trailing newline) of an export: a header, the checkpoints before the range,
 * then the range's events with each checkpoint right after the event it signs.
 */
export async function* exportAudit(
  store: AuditStore,
  range: AuditExportRange = {},
  options: { clock?: AuditClock; batchSize?: number } = {},
): AsyncGenerator<string> {
  const from = isoOrUndefined(range.from, 'from');
  const to = isoOrUndefined(range.to, 'to');
  const clock = options.clock ?? systemClock;
  const selected = await store.seqRangeForTime(from, to);
  const header = {
    type: 'header',
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    exportedAt: new Date(clock.now()).toISOString(),
    requested: { from: from ?? null, to: to ?? null },
    selectedFromSeq: selected?.minSeq ?? null,
    selectedToSeq: selected?.maxSeq ?? null,
    fromSeq: null as number | null,
    toSeq: null as number | null,
  };
  if (!selected) {
    yield toJsonLine(header);
    return;
  }
  const before = await store.checkpointBefore(selected.minSeq);
  const after = await store.checkpointAtOrAfter(selected.maxSeq);
  const { maxEventSeq } = await store.bounds();
  header.fromSeq = before ? before.seq + 1 : 1;
  // Without a checkpoint after the range yet, the export ends at the current head (unanchored).
  header.toSeq = after ? after.seq : Math.max(selected.maxSeq, maxEventSeq);
  yield toJsonLine(header);

  for await (const cp of iterateCheckpoints(store, { toSeq: header.fromSeq - 1 })) yield checkpointLine(cp);

  const cps = iterateCheckpoints(store, { afterSeq: header.fromSeq - 1, toSeq: header.toSeq });
  let nextCp = await cps.next();
  for await (const batch of iterateEventBatches(store, {
    afterSeq: header.fromSeq - 1,
    toSeq: header.toSeq,
    batchSize: options.batchSize,
  })) {
    for (const r of batch) {
      while (!nextCp.done && nextCp.value.seq < r.seq) {
        yield checkpointLine(nextCp.value);
        nextCp = await cps.next();
      }
      yield eventLine(r);
    }
  }
  while (!nextCp.done) {
    yield checkpointLine(nextCp.value);
    nextCp = await cps.next();
  }
}
