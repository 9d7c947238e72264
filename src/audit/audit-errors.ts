// Typed errors of the audit trail. `code` is the stable HVG_ERR_* value the HTTP layer maps to a
// problem+json response; messages are safe to show callers (no paths, keys or driver text).

export class AuditUnavailableError extends Error {
  readonly code = 'HVG_ERR_AUDIT_UNAVAILABLE';
  readonly httpStatus = 503;
  constructor(message = 'the audit trail cannot record events right now', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AuditUnavailableError';
  }
}

/** The event handed to the writer does not match the audit event schema (a caller bug). */
export class AuditEventInputError extends Error {
  readonly code = 'HVG_ERR_AUDIT_INVALID_EVENT';
  readonly httpStatus = 500;
  constructor(
    message: string,
    readonly issues: readonly string[] = [],
  ) {
    super(message);
    this.name = 'AuditEventInputError';
  }
}

/** Bad reviewer query: unknown filter, malformed time, cursor from another query. */
export class AuditQueryError extends Error {
  readonly code = 'HVG_ERR_AUDIT_BAD_QUERY';
  readonly httpStatus = 400;
  constructor(message: string) {
    super(message);
    this.name = 'AuditQueryError';
  }
}

/** A signing or public key could not be read or is not an Ed25519 key. */
export class AuditKeyError extends Error {
  readonly code = 'HVG_ERR_AUDIT_KEY';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AuditKeyError';
  }
}

/**
 * Raised by a store when another writer advanced the chain head since this writer last read it;
 * the writer reloads the head and re-seals its batch.
 */
export class AuditHeadConflictError extends Error {
  readonly code = 'HVG_ERR_AUDIT_HEAD_CONFLICT';
  constructor(
    readonly expectedSeq: number,
    readonly actualSeq: number,
    readonly what: 'event' | 'checkpoint' = 'event',
  ) {
    super(`audit ${what} head moved: expected seq ${expectedSeq}, store has ${actualSeq}`);
    this.name = 'AuditHeadConflictError';
  }
}
