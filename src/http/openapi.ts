// OpenAPI 3.1 document generated from the operation catalog (zod 4 → JSON Schema 2020-12, which
// OpenAPI 3.1 uses as is). Only the gateway's own routes (jobs, audit, health) are written here.
import { z } from 'zod';
import { errorCodes } from '../errors/error-codes';
import { JOB_STATES } from '../jobs/job-model';
import type { OperationSpec } from '../operations/operation-spec';
import { AUDIT_FILTER_KEYS } from './query-params';

type Json = Record<string, unknown>;

export interface OpenApiOptions {
  version: string;
  title?: string;
}

/** `/v1/hosts/:host/vms/:vm` → `/v1/hosts/{host}/vms/{vm}` and the parameter names in order. */
export function toOpenApiPath(route: string): { path: string; params: string[] } {
  const params: string[] = [];
  const path = route.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, (_m, name: string) => {
    params.push(name);
    return `{${name}}`;
  });
  return { path, params };
}

function schemaOf(type: z.ZodType, io: 'input' | 'output'): Json {
  try {
    const s = z.toJSONSchema(type, { target: 'draft-2020-12', unrepresentable: 'any', io }) as Json;
    delete s['$schema'];
    return s;
  } catch {
    return {};
  }
}

const problemRef = { $ref: '#/components/schemas/Problem' };

function problemResponse(description: string, codes: string[]): Json {
  return {
    description,
    content: {
      'application/problem+json': {
        schema: problemRef,
        example: {
          type: `urn:hvgate:problem:${codes[0]}`,
          title: errorCodes[codes[0] as keyof typeof errorCodes]?.title ?? description,
          status: errorCodes[codes[0] as keyof typeof errorCodes]?.status ?? 500,
          detail: description,
          code: codes[0],
          requestId: '3f1b7a9e-0c1d-4d2e-9f10-5a6b7c8d9e0f',
        },
      },
    },
  };
}

const COMMON_ERRORS: Json = {
  '401': problemResponse('Missing or invalid bearer token', ['HVG_ERR_UNAUTHENTICATED']),
  '403': problemResponse('Scope or host grant missing', ['HVG_ERR_FORBIDDEN']),
  '500': problemResponse('Internal error', ['HVG_ERR_INTERNAL']),
};

function operationErrors(spec: OperationSpec): Json {
  const out: Json = {
    '400': problemResponse('Invalid parameters or body', ['HVG_ERR_VALIDATION']),
    ...COMMON_ERRORS,
    '404': problemResponse('Unknown host or VM', ['HVG_ERR_UNKNOWN_HOST', 'HVG_ERR_VM_NOT_FOUND']),
    '409': problemResponse('A precondition failed', ['HVG_ERR_PRECONDITION']),
    '429': {
      ...problemResponse('Host busy; retry after Retry-After seconds', ['HVG_ERR_HOST_BUSY']),
      headers: { 'Retry-After': { schema: { type: 'integer', minimum: 1 }, description: 'Seconds to wait' } },
    },
    '502': problemResponse('The host failed the operation', ['HVG_ERR_HOST_FAILURE']),
    '503': {
      ...problemResponse('Host, audit trail or gateway intake unavailable; retry after Retry-After', [
        'HVG_ERR_HOST_UNAVAILABLE',
        'HVG_ERR_AUDIT_UNAVAILABLE',
        'HVG_ERR_GATEWAY_BUSY',
        'HVG_ERR_QUEUE_TIMEOUT',
        'HVG_ERR_SHUTTING_DOWN',
      ]),
      headers: { 'Retry-After': { schema: { type: 'integer', minimum: 1 }, description: 'Seconds to wait' } },
    },
    '504': problemResponse('The host did not finish in time', ['HVG_ERR_TIMEOUT']),
  };
  if (spec.method !== 'GET') {
    out['413'] = problemResponse('Body larger than 64 KiB', ['HVG_ERR_PAYLOAD_TOO_LARGE']);
    out['415'] = problemResponse('Body is not application/json', ['HVG_ERR_UNSUPPORTED_MEDIA_TYPE']);
    out['422'] = problemResponse('Idempotency-Key reused with another request', [
      'HVG_ERR_IDEMPOTENCY_MISMATCH',
    ]);
  }
  return out;
}

function jobSchemaWithResult(result: Json): Json {
  return { allOf: [{ $ref: '#/components/schemas/Job' }, { type: 'object', properties: { result } }] };
}

function operationObject(spec: OperationSpec, params: string[]): Json {
  const input = schemaOf(spec.input, 'input');
  // Route parameters, and the fields a route parameter fills (a disk slot's controller fields), are
  // merged into the params by the gateway; the body must not repeat them.
  const fromRoute = new Set([...params, ...(spec.routeParams?.fields ?? [])]);
  const bodySchema: Json = { ...input };
  if (bodySchema['properties']) {
    const props = { ...(bodySchema['properties'] as Json) };
    const required = ((bodySchema['required'] as string[] | undefined) ?? []).filter(
      (r) => !fromRoute.has(r),
    );
    for (const p of fromRoute) delete props[p];
    bodySchema['properties'] = props;
    if (required.length > 0) bodySchema['required'] = required;
    else delete bodySchema['required'];
  }
  const parameters: Json[] = params.map((name) => ({
    name,
    in: 'path',
    required: true,
    schema: { type: 'string', minLength: 1, maxLength: 256 },
    description:
      name === 'host'
        ? 'Host name from the inventory (GET /v1/hosts)'
        : name === 'vm'
          ? 'VM GUID or exact name (no wildcards)'
          : name === spec.routeParams?.param
            ? spec.routeParams.description
            : `Route parameter ${name}`,
  }));
  parameters.push({
    name: 'wait',
    in: 'query',
    required: false,
    schema: { type: 'integer', minimum: 0, maximum: 300, default: spec.defaultWaitSec },
    description: 'Seconds to wait for the job before answering 202 with a Location',
  });
  if (spec.mutates) {
    parameters.push(
      {
        name: 'dryRun',
        in: 'query',
        required: false,
        schema: { type: 'boolean', default: false },
        description: 'Evaluate preconditions and return the script that would run; nothing is executed',
      },
      {
        name: 'Idempotency-Key',
        in: 'header',
        required: false,
        schema: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,128}$' },
        description: 'Same caller + key + request within 24 h returns the original job',
      },
    );
  }
  const result = schemaOf(spec.result, 'output');
  const successStatus = String(spec.successStatus ?? 200);
  const op: Json = {
    operationId: spec.id.replace(/[.-]([a-z])/g, (_m, c: string) => c.toUpperCase()),
    summary: spec.summary,
    description: `${spec.summary}. Scope \`${spec.scope}\`.${spec.longRunning ? ' Long-running: usually answered with 202 and a job URL.' : ''}`,
    tags: [spec.id.split('.')[0]],
    security: [{ bearerAuth: [] }],
    parameters,
    'x-hvgate-scope': spec.scope,
    'x-hvgate-preconditions': spec.preconditions.map((r) => ({ id: r.id, description: r.description })),
    responses: {
      [successStatus]: {
        description: 'The job finished successfully',
        content: { 'application/json': { schema: jobSchemaWithResult(result) } },
      },
      '202': {
        description: 'Accepted; poll the job at Location',
        headers: { Location: { schema: { type: 'string' }, description: '/v1/jobs/{id}' } },
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Job' } } },
      },
      ...operationErrors(spec),
    },
  };
  if (spec.method !== 'GET' && spec.method !== 'DELETE') {
    // Declared per operation (a test dry-runs each one): a body built from the schema's types alone
    // would show paths outside every root and sizes no VM accepts.
    op['requestBody'] = {
      required: false,
      content: {
        'application/json': { schema: bodySchema, ...(spec.example ? { example: spec.example } : {}) },
      },
    };
  }
  return op;
}

const problemSchema: Json = {
  type: 'object',
  required: ['type', 'title', 'status', 'detail', 'code'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string', enum: Object.keys(errorCodes) },
    hint: { type: 'string' },
    requestId: { type: ['string', 'null'] },
    jobId: { type: 'string' },
    instance: { type: 'string' },
  },
  additionalProperties: true,
};

const jobSchema: Json = {
  type: 'object',
  required: ['id', 'status', 'operation', 'host', 'createdAt', 'links'],
  properties: {
    id: { type: 'string' },
    status: { type: 'string', enum: [...JOB_STATES] },
    operation: { type: 'string' },
    host: { type: 'string' },
    vm: {
      type: ['object', 'null'],
      properties: {
        ref: { type: ['string', 'null'] },
        id: { type: ['string', 'null'] },
        name: { type: ['string', 'null'] },
      },
    },
    requestId: { type: ['string', 'null'] },
    createdAt: { type: 'string', format: 'date-time' },
    startedAt: { type: ['string', 'null'], format: 'date-time' },
    finishedAt: { type: ['string', 'null'], format: 'date-time' },
    queueWaitMs: { type: ['integer', 'null'] },
    durationMs: { type: ['integer', 'null'] },
    progress: {
      type: ['object', 'null'],
      properties: { percent: { type: 'integer' }, text: { type: 'string' } },
    },
    result: {},
    error: { type: ['object', 'null'] },
    links: { type: 'object', properties: { self: { type: 'string' } } },
  },
};

function simple(summary: string, scope: string | null, ok: Json, extra: Json = {}): Json {
  return {
    summary,
    operationId: summary.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) =>
      c ? c.toUpperCase() : '',
    ),
    tags: [scope === 'audit:read' ? 'audit' : scope ? 'jobs' : 'service'],
    ...(scope ? { security: [{ bearerAuth: [] }], 'x-hvgate-scope': scope } : { security: [] }),
    responses: {
      '200': ok,
      ...(scope
        ? COMMON_ERRORS
        : { '405': problemResponse('Method not allowed', ['HVG_ERR_METHOD_NOT_ALLOWED']) }),
    },
    ...extra,
  };
}

const jsonOk = (schema: Json, description = 'OK'): Json => ({
  description,
  content: { 'application/json': { schema } },
});

const auditFilterParams: Json[] = AUDIT_FILTER_KEYS.map((name) => ({
  name,
  in: 'query',
  required: false,
  schema: name === 'from' || name === 'to' ? { type: 'string', format: 'date-time' } : { type: 'string' },
}));

export function buildOpenApiDocument(specs: readonly OperationSpec[], options: OpenApiOptions): Json {
  const paths: Record<string, Json> = {};
  for (const spec of specs) {
    const { path, params } = toOpenApiPath(spec.route);
    const item = (paths[path] ??= {});
    item[spec.method.toLowerCase()] = operationObject(spec, params);
  }
  const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
  paths['/v1/hosts'] = {
    get: simple(
      'List hosts',
      'vm:read',
      jsonOk({ type: 'object', properties: { hosts: { type: 'array', items: { type: 'object' } } } }),
    ),
  };
  paths['/v1/jobs'] = {
    get: simple(
      'List jobs',
      'any',
      jsonOk({
        type: 'object',
        properties: {
          jobs: { type: 'array', items: { $ref: '#/components/schemas/Job' } },
          nextCursor: { type: ['string', 'null'] },
        },
      }),
      {
        parameters: [
          { name: 'status', in: 'query', required: false, schema: { type: 'string' } },
          { name: 'host', in: 'query', required: false, schema: { type: 'string' } },
          { name: 'operation', in: 'query', required: false, schema: { type: 'string' } },
          {
            name: 'limit',
            in: 'query',
            required: false,
            schema: { type: 'integer', minimum: 1, maximum: 500 },
          },
          { name: 'cursor', in: 'query', required: false, schema: { type: 'string' } },
        ],
      },
    ),
  };
  paths['/v1/jobs/{id}'] = {
    get: simple('Get job', 'any', jsonOk({ $ref: '#/components/schemas/Job' }), { parameters: [idParam] }),
    delete: simple(
      'Cancel job',
      'any',
      jsonOk({ $ref: '#/components/schemas/Job' }, 'The job was cancelled'),
      {
        parameters: [idParam],
      },
    ),
  };
  paths['/v1/audit'] = {
    get: simple('Query audit events', 'audit:read', jsonOk({ type: 'object' }), {
      parameters: [
        ...auditFilterParams,
        {
          name: 'limit',
          in: 'query',
          required: false,
          schema: { type: 'integer', minimum: 1, maximum: 1000 },
        },
        { name: 'cursor', in: 'query', required: false, schema: { type: 'string' } },
        { name: 'order', in: 'query', required: false, schema: { type: 'string', enum: ['asc', 'desc'] } },
      ],
    }),
  };
  paths['/v1/audit/export'] = {
    get: simple(
      'Export audit events',
      'audit:read',
      {
        description: 'NDJSON export with the checkpoints needed to verify it',
        content: { 'application/x-ndjson': { schema: { type: 'string' } } },
      },
      { parameters: auditFilterParams.slice(0, 2) },
    ),
  };
  paths['/v1/audit/verify'] = { get: simple('Verify audit trail', 'audit:read', jsonOk({ type: 'object' })) };
  paths['/v1/audit/keys'] = { get: simple('Audit public keys', 'audit:read', jsonOk({ type: 'object' })) };
  paths['/healthz'] = { get: simple('Liveness', null, jsonOk({ type: 'object' })) };
  paths['/readyz'] = {
    get: simple('Readiness', null, jsonOk({ type: 'object' }), {
      responses: {
        '200': jsonOk({ type: 'object' }),
        '405': problemResponse('Method not allowed', ['HVG_ERR_METHOD_NOT_ALLOWED']),
        '503': problemResponse('Not ready', ['HVG_ERR_SHUTTING_DOWN']),
      },
    }),
  };
  paths['/metrics'] = {
    get: simple('Prometheus metrics', null, {
      description: 'Prometheus text format',
      content: { 'text/plain': { schema: { type: 'string' } } },
    }),
  };
  paths['/openapi.json'] = { get: simple('OpenAPI document', null, jsonOk({ type: 'object' })) };

  const tags = [
    ...new Set(
      Object.values(paths).flatMap((item) =>
        Object.values(item).flatMap((op) => (op as Json)['tags'] as string[]),
      ),
    ),
  ]
    .sort()
    .map((name) => ({ name, description: `${name} operations` }));

  return {
    openapi: '3.1.0',
    info: {
      title: options.title ?? 'hvgate',
      version: options.version,
      license: { name: 'Proprietary', identifier: 'LicenseRef-Proprietary' },
      description:
        'Authenticated, audited gateway for Hyper-V hot-plug operations over WinRM. Errors are application/problem+json (RFC 9457) with a stable `code`.',
    },
    servers: [{ url: '/' }],
    tags,
    security: [{ bearerAuth: [] }],
    paths,
    components: {
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'JWT with scopes and host grants',
        },
      },
      schemas: { Problem: problemSchema, Job: jobSchema },
    },
  };
}
