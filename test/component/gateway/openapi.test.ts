// The OpenAPI document is generated from the catalog and must be valid OpenAPI 3.1: linted with
// Redocly's recommended rules (in a child process, the package is ESM-only) without errors.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { buildOpenApiDocument, toOpenApiPath } from '../../../src/http/openapi';
import { OPERATIONS } from '../../../src/operations/operation-registry';

const LINTER = path.resolve(__dirname, 'openapi-lint.mjs');
const redoclyInstalled = fs.existsSync(
  path.resolve(__dirname, '../../../node_modules/@redocly/openapi-core/package.json'),
);
if (!redoclyInstalled) console.warn('SKIPPED OpenAPI lint: @redocly/openapi-core is not installed');

const doc = buildOpenApiDocument(OPERATIONS, { version: '1.2.3' }) as {
  openapi: string;
  paths: Record<
    string,
    Record<string, { security?: unknown; responses: Record<string, unknown>; requestBody?: unknown }>
  >;
  components: { securitySchemes: Record<string, unknown> };
};

test('every catalog operation is a documented path with its method, security and problem responses', () => {
  expect(doc.openapi).toBe('3.1.0');
  expect(doc.components.securitySchemes['bearerAuth']).toMatchObject({ type: 'http', scheme: 'bearer' });
  for (const spec of OPERATIONS) {
    const op = doc.paths[toOpenApiPath(spec.route).path]?.[spec.method.toLowerCase()];
    expect(op).toBeDefined();
    expect(op!.security).toEqual([{ bearerAuth: [] }]);
    expect(Object.keys(op!.responses)).toEqual(expect.arrayContaining(['202', '401', '403', '429', '503']));
    if (spec.method === 'PUT' || spec.method === 'POST') expect(op!.requestBody).toBeDefined();
  }
  for (const p of [
    '/v1/jobs',
    '/v1/jobs/{id}',
    '/v1/audit',
    '/v1/audit/verify',
    '/healthz',
    '/readyz',
    '/metrics',
  ]) {
    expect(doc.paths[p]).toBeDefined();
  }
});

test('a body never documents, let alone requires, a field the URL fills', () => {
  type Body = { properties?: Record<string, unknown>; required?: string[] };
  type Op = {
    parameters: { name: string; in: string; description: string }[];
    requestBody?: { content: { 'application/json': { schema: Body } } };
  };
  const mapped = OPERATIONS.filter((spec) => spec.routeParams);
  expect(mapped.map((s) => s.id).sort()).toEqual([
    'checkpoint.remove',
    'dvd-drive.remove',
    'dvd-drive.set-media',
    'hard-disk.remove',
    'hard-disk.set-qos',
    'network-adapter.remove',
    'vhd.resize',
  ]);
  for (const spec of mapped) {
    const mapping = spec.routeParams!;
    const op = doc.paths[toOpenApiPath(spec.route).path]![spec.method.toLowerCase()] as unknown as Op;
    const param = op.parameters.find((p) => p.in === 'path' && p.name === mapping.param);
    expect(param?.description).toBe(mapping.description);
    const body = op.requestBody?.content['application/json'].schema;
    for (const field of mapping.fields) {
      expect(Object.keys(body?.properties ?? {})).not.toContain(field);
      expect(body?.required ?? []).not.toContain(field);
    }
  }
});

(redoclyInstalled ? test : test.skip)(
  'Redocly lint (recommended rules) reports no errors and no warnings',
  () => {
    const run = spawnSync(process.execPath, [LINTER], {
      input: JSON.stringify(doc),
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const problems = JSON.parse(run.stdout) as {
      ruleId: string;
      severity: string;
      message: string;
      pointer: string;
    }[];
    expect(problems).toEqual([]);
  },
);

(redoclyInstalled ? test : test.skip)('the linter does catch a broken document (the check can fail)', () => {
  const broken = {
    ...doc,
    paths: { '/x': { get: { responses: { '200': { $ref: '#/components/schemas/Nope' } } } } },
  };
  const run = spawnSync(process.execPath, [LINTER], {
    input: JSON.stringify(broken),
    encoding: 'utf8',
    timeout: 60_000,
  });
  const problems = JSON.parse(run.stdout) as { severity: string }[];
  expect(problems.some((p) => p.severity === 'error')).toBe(true);
});
