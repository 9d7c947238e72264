// A request's params: body fields merged with route parameters, validated strictly against the
// operation's schema (unknown fields → 400 naming them), and the hash idempotency keys compare.
import { createHash } from 'node:crypto';
import { canonicalJson } from '../audit/canonical-json';
import { HvgError } from '../errors/hvg-error';
import type { OperationSpec } from '../operations/operation-spec';
import { plainJson } from './job-audit';

export function validateInput(
  spec: OperationSpec,
  rawBody: unknown,
  routeParams: Record<string, string>,
): Record<string, unknown> {
  const body = rawBody ?? {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HvgError('HVG_ERR_VALIDATION', {
      detail: 'the request body must be a JSON object',
      extensions: { errors: [{ path: '', message: 'expected an object' }] },
    });
  }
  const mapping = spec.routeParams;
  const fromRoute = mapping ? mapping.parse(routeParams[mapping.param]) : {};
  const errors: { path: string; message: string }[] = [];
  for (const key of mapping?.fields ?? []) {
    if (Object.hasOwn(body, key))
      errors.push({ path: key, message: 'comes from the URL and may not be repeated in the body' });
  }
  if (Object.hasOwn(body, 'vmId')) errors.push({ path: 'vmId', message: 'the VM comes from the URL' });
  const merged = { ...(body as Record<string, unknown>), ...fromRoute };
  const parsed = spec.input.safeParse(merged);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      errors.push({ path: issue.path.map(String).join('.'), message: issue.message });
    }
  }
  if (errors.length > 0 || !parsed.success) {
    throw new HvgError('HVG_ERR_VALIDATION', {
      detail: `the request does not match the ${spec.id} schema: ${errors.map((e) => `${e.path || '(body)'}: ${e.message}`).join('; ')}`,
      extensions: { errors },
    });
  }
  return plainJson(parsed.data as Record<string, unknown>);
}

/** What an Idempotency-Key is bound to: operation, target and params. */
export function requestHash(spec: OperationSpec, host: string, vmRef: string | null, input: unknown): string {
  return createHash('sha256')
    .update(canonicalJson({ operation: spec.id, host, vmRef, input }))
    .digest('hex');
}
