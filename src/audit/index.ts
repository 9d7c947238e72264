// Public surface of the audit trail for the rest of the gateway (composition root, jobs, HTTP).
export * from './audit-errors';
export * from './audit-event';
export { GENESIS_HASH, chainHash, eventBody, sealEvent } from './audit-chain';
export type { SealedEvent } from './audit-chain';
export * from './audit-checkpoint';
export * from './audit-signer';
export * from './audit-writer';
export * from './audit-verifier';
export * from './audit-query';
export * from './audit-export';
export { canonicalJson, CanonicalJsonError } from './canonical-json';
