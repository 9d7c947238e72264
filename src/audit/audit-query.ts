// Reviewer queries: filters over the stored events with opaque cursor paging. Written so the HTTP
// router only parses the query string with auditQueryFiltersSchema and maps AuditQueryError to 400.
import crypto from 'node:crypto';
import { z } from 'zod';
import { AuditQueryError } from './audit-errors';
import { AUDIT_OUTCOME_STATUSES, AUDIT_STAGES, StoredEvent } from './audit-event';
import { canonicalJson } from './canonical-json';
import type { AuditEventFilter, AuditEventRecord, AuditStore } from '../store/audit-store';

const isoTime = z
  .union([z.iso.datetime({ offset: true }), z.date()])
  .transform((v) => new Date(v).toISOString());
const term = z.string().min(1).max(256);

export const auditQueryFiltersSchema = z.strictObject({
  /** Inclusive. */
  from: isoTime.optional(),
  /** Exclusive. */
  to: isoTime.optional(),
  actorSub: term.optional(),
  host: term.optional(),
  vmId: term.optional(),
  operation: term.optional(),
  stage: z.enum(AUDIT_STAGES).optional(),
  status: z.enum(AUDIT_OUTCOME_STATUSES).optional(),
  requestId: term.optional(),
  jobId: term.optional(),
});

export type AuditQueryFilters = z.input<typeof auditQueryFiltersSchema>;

export const DEFAULT_QUERY_LIMIT = 100;
export const MAX_QUERY_LIMIT = 1000;

export interface AuditQueryPageRequest {
  /** 1..1000, default 100. */
  readonly limit?: number;
  /** nextCursor of the previous page of the same query. */
  readonly cursor?: string | null;
  /** Newest first by default. */
  readonly order?: 'asc' | 'desc';
}

export interface AuditQueryResult {
  events: StoredEvent[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
  /** Seqs of matching records that could not be read (run `hvgate audit verify`). */
  unreadable: number[];
}

interface CursorState {
  v: 1;
  /** Last seq returned. */
  s: number;
  o: 'asc' | 'desc';
  /** Binds the cursor to its filters so it cannot page through a different query. */
  f: string;
}

function filterDigest(filter: AuditEventFilter): string {
  return crypto.createHash('sha256').update(canonicalJson(filter)).digest('base64url').slice(0, 16);
}

function encodeCursor(state: CursorState): string {
  return Buffer.from(JSON.stringify(state), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): CursorState {
  let state: unknown;
  try {
    if (!/^[A-Za-z0-9_-]{1,512}$/.test(cursor)) throw new Error('charset');
    state = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new AuditQueryError('invalid cursor');
  }
  const c = state as Partial<CursorState> | null;
  if (
    !c ||
    c.v !== 1 ||
    typeof c.s !== 'number' ||
    !Number.isSafeInteger(c.s) ||
    c.s < 0 ||
    (c.o !== 'asc' && c.o !== 'desc') ||
    typeof c.f !== 'string'
  ) {
    throw new AuditQueryError('invalid cursor');
  }
  return c as CursorState;
}

/** Parses reviewer filters (e.g. from a query string) into the store's filter shape. */
export function parseAuditFilters(filters: AuditQueryFilters | undefined): AuditEventFilter {
  const parsed = auditQueryFiltersSchema.safeParse(filters ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new AuditQueryError(`invalid filter ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const { from, to, ...rest } = parsed.data;
  const out: Record<string, string> = {};
  if (from !== undefined) out.fromTime = from;
  if (to !== undefined) out.toTime = to;
  for (const [k, v] of Object.entries(rest)) if (v !== undefined) out[k] = v;
  return out as AuditEventFilter;
}

/** Turns a stored record back into the event it is (body plus its hash); null if unreadable. */
export function recordToEvent(record: AuditEventRecord): StoredEvent | null {
  try {
    const parsed = JSON.parse(record.body) as StoredEvent;
    if (
      parsed === null ||
      typeof parsed !== 'object' ||
      typeof parsed.integrity !== 'object' ||
      !parsed.integrity
    ) {
      return null;
    }
    return { ...parsed, integrity: { ...parsed.integrity, hash: record.hash } };
  } catch {
    return null;
  }
}

export async function queryAudit(
  store: AuditStore,
  filters: AuditQueryFilters = {},
  page: AuditQueryPageRequest = {},
): Promise<AuditQueryResult> {
  const filter = parseAuditFilters(filters);
  const limit = page.limit ?? DEFAULT_QUERY_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_QUERY_LIMIT) {
    throw new AuditQueryError(`limit must be an integer from 1 to ${MAX_QUERY_LIMIT}`);
  }
  const digest = filterDigest(filter);
  let order = page.order ?? 'desc';
  let after: number | undefined;
  let before: number | undefined;
  if (page.cursor) {
    const c = decodeCursor(page.cursor);
    if (c.f !== digest || (page.order !== undefined && page.order !== c.o)) {
      throw new AuditQueryError('cursor belongs to a different query');
    }
    order = c.o;
    if (order === 'asc') after = c.s;
    else before = c.s;
  }
  // One extra row says whether another page exists without a COUNT.
  const rows = await store.queryEvents(filter, {
    afterSeq: after,
    beforeSeq: before,
    limit: limit + 1,
    order,
  });
  const pageRows = rows.slice(0, limit);
  const events: StoredEvent[] = [];
  const unreadable: number[] = [];
  for (const r of pageRows) {
    const e = recordToEvent(r);
    if (e) events.push(e);
    else unreadable.push(r.seq);
  }
  const last = pageRows[pageRows.length - 1];
  return {
    events,
    nextCursor: rows.length > limit && last ? encodeCursor({ v: 1, s: last.seq, o: order, f: digest }) : null,
    unreadable,
  };
}
