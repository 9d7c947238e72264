// Bad input gets a 4xx, never a 500 and never a crash. Requests are generated from the gateway's own
// OpenAPI document (every route, every declared path, query and header parameter and body field)
// with hostile values: broken percent-encoding, full unicode, boundary numbers, wrong types, unknown
// fields, malformed JSON. Each answer must be a registry problem+json below 500, a body made of the
// fields the document lists is never refused for naming them or for lacking one; afterwards no job
// may have ended in an internal error, the audit chain must verify and the gateway must be alive.
// The seed is fixed so CI is repeatable; HVG_FUZZ_SEED and HVG_FUZZ_RUNS explore further, and
// HVG_FUZZ_SHOW=1 prints how many answers each status and code got.
import fc from 'fast-check';
import { errorCodes } from '../../../src/errors/error-codes';
import { startKit, type GatewayKit } from './gateway-kit';

const SEED = Number(process.env['HVG_FUZZ_SEED'] ?? 20261128);
const RUNS = Number(process.env['HVG_FUZZ_RUNS'] ?? 1000);
const HOST = 'hv-tokyo-01';

interface OpenApiParameter {
  name: string;
  in: 'path' | 'query' | 'header';
}
interface PropertySchema {
  type?: string;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
}
interface BodySchema {
  properties: Record<string, PropertySchema>;
  required: string[];
}
interface Route {
  method: 'get' | 'put' | 'post' | 'delete';
  path: string;
  params: OpenApiParameter[];
  body: BodySchema | null;
}

let kit: GatewayKit;
let routes: Route[];
beforeAll(async () => {
  kit = await startKit();
  const doc = (await kit.api.get('/openapi.json')).body as {
    paths: Record<string, Record<string, unknown>>;
  };
  routes = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of ['get', 'put', 'post', 'delete'] as const) {
      const op = item[method] as
        | {
            parameters?: OpenApiParameter[];
            requestBody?: { content: Record<string, { schema?: Partial<BodySchema> }> };
          }
        | undefined;
      if (!op) continue;
      const schema = op.requestBody?.content['application/json']?.schema;
      routes.push({
        method,
        path,
        params: op.parameters ?? [],
        body: schema ? { properties: schema.properties ?? {}, required: schema.required ?? [] } : null,
      });
    }
  }
});
afterAll(async () => {
  await kit?.close();
});

const text = fc.string({ unit: 'binary', maxLength: 24 });
const number = fc.oneof(
  fc.integer(),
  fc.constantFrom(0, -1, 1, 2 ** 31, 2 ** 53, -(2 ** 53), 1e308, 0.5, 4 * 1024 ** 4, 512 * 1024 ** 2),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);
const anyJson = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    text,
    number,
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(text, tie('value'), { maxKeys: 3 }),
  ),
})).value;

/** A path segment: the usual names, or hostile text; mostly encoded, sometimes raw and broken. */
const segment = (name: string): fc.Arbitrary<string> => {
  const known =
    name === 'host'
      ? fc.constantFrom(HOST, 'hv-osaka-02', 'unknown-host')
      : name === 'vm'
        ? fc.constantFrom('web-01', 'db-01', '00000000-0000-0000-0000-000000000000', 'web*')
        : fc.constantFrom('0:1', '1', 'x');
  return fc.oneof(
    { weight: 4, arbitrary: known.map(encodeURIComponent) },
    { weight: 3, arbitrary: text.filter((s) => s.length > 0).map(encodeURIComponent) },
    { weight: 1, arbitrary: fc.constantFrom('%', '%ZZ', '%C0%AF', '%E0%A4%A', 'a%2', '%00', '..') },
  );
};

const queryValue = (name: string): fc.Arbitrary<string> =>
  name === 'wait'
    ? fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom('0', '1', '5') },
        {
          weight: 1,
          arbitrary: fc.oneof(fc.constantFrom('300', '301', '-1', '1.5', 'NaN', '1e3', ''), text),
        },
      )
    : name === 'dryRun'
      ? fc.oneof(
          { weight: 4, arbitrary: fc.constantFrom('true', 'false') },
          { weight: 1, arbitrary: fc.oneof(fc.constantFrom('1', 'yes', ''), text) },
        )
      : text;

const idempotencyKey = fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(/^[A-Za-z0-9._:-]{1,16}$/) },
  { weight: 1, arbitrary: text },
);

/** Plausible strings for the catalog's string fields: names the simulated hosts know, allowed roots. */
const PLAUSIBLE = [
  'External-LAN',
  'Internal',
  'D:\\Hyper-V\\fuzz.vhdx',
  'D:\\Hyper-V\\..\\..\\Windows\\x.vhdx',
  '\\\\hv-fs01\\vmstore\\fuzz.vhdx',
  '\\\\hv-fs01\\backups\\fuzz',
  'C:\\Windows\\System32\\x.iso',
  'hv-osaka-02',
  'hv-nagoya-03',
  'fuzz-check',
  '00:15:5D:00:00:01',
];

/** A value the field's schema allows (mostly), so requests get past validation to rules and hosts. */
function fieldValue(schema: PropertySchema): fc.Arbitrary<unknown> {
  if (schema.enum) return fc.constantFrom(...schema.enum);
  if (schema.type === 'boolean') return fc.boolean();
  if (schema.type === 'integer' || schema.type === 'number') {
    const min = schema.minimum ?? -(2 ** 40);
    const max = schema.maximum ?? 2 ** 40;
    return fc.oneof(
      fc.constantFrom(min, max, Math.min(max, Math.max(min, 2 * 1024 ** 3)), Math.min(max, min + 1)),
      fc.bigInt({ min: BigInt(Math.ceil(min)), max: BigInt(Math.floor(max)) }).map(Number),
    );
  }
  if (schema.type === 'string') return fc.oneof(fc.constantFrom(...PLAUSIBLE), text);
  return anyJson;
}

/** `documented`: only fields the OpenAPI body schema lists, every required one among them. */
type Body =
  { kind: 'none' } | { kind: 'json'; value: unknown; documented?: boolean } | { kind: 'raw'; text: string };

function bodyFor(schema: BodySchema): fc.Arbitrary<Body> {
  const fields = Object.keys(schema.properties);
  const optional = fields.filter((f) => !schema.required.includes(f));
  // Required fields present with allowed values, a subset of the optional ones: past validation.
  const plausible = fc
    .tuple(fc.tuple(...schema.required.map((f) => fieldValue(schema.properties[f]!))), fc.subarray(optional))
    .chain(([required, picked]) =>
      fc.tuple(...picked.map((f) => fieldValue(schema.properties[f]!))).map((values) => {
        const body: Record<string, unknown> = {};
        schema.required.forEach((f, i) => (body[f] = required[i]));
        picked.forEach((f, i) => (body[f] = values[i]));
        return body;
      }),
    );
  // Declared fields with values of any type, and sometimes a field nobody declared.
  const hostile = fc
    .tuple(
      fc.subarray(fields),
      fc.array(anyJson, { minLength: fields.length, maxLength: fields.length }),
      fc.option(fc.tuple(text, anyJson), { nil: undefined }),
    )
    .map(([keys, values, extra]) => {
      const body: Record<string, unknown> = {};
      keys.forEach((k, i) => (body[k] = values[i]));
      if (extra) body[extra[0]] = extra[1];
      return body;
    });
  return fc.oneof(
    { weight: 5, arbitrary: plausible.map((value): Body => ({ kind: 'json', value, documented: true })) },
    { weight: 3, arbitrary: hostile.map((value): Body => ({ kind: 'json', value })) },
    { weight: 1, arbitrary: anyJson.map((value): Body => ({ kind: 'json', value })) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom('{', '{"a":1,}', '\u0000', '[1,2', '{"__proto__":{"polluted":true}}', 'null')
        .map((t): Body => ({ kind: 'raw', text: t })),
    },
    { weight: 1, arbitrary: fc.constant<Body>({ kind: 'none' }) },
  );
}

interface Sample {
  route: Route;
  url: string;
  idempotencyKey: string | undefined;
  body: Body;
}

const sample: fc.Arbitrary<Sample> = fc
  .integer({ min: 0, max: 1_000_000 })
  .chain((i) => {
    const route = routes[i % routes.length]!;
    const pathParams = route.params.filter((p) => p.in === 'path');
    const queryParams = route.params.filter((p) => p.in === 'query');
    const hasKey = route.params.some((p) => p.in === 'header' && p.name === 'Idempotency-Key');
    return fc.record({
      route: fc.constant(route),
      path: fc.tuple(...pathParams.map((p) => segment(p.name))).map((values) => {
        let path = route.path;
        pathParams.forEach((p, k) => (path = path.replace(`{${p.name}}`, values[k]!)));
        return path;
      }),
      query: fc.array(
        fc.oneof(
          ...(queryParams.length > 0
            ? [
                {
                  weight: 6,
                  arbitrary: fc
                    .constantFrom(...queryParams)
                    .chain((p) => queryValue(p.name).map((v) => [p.name, v])),
                },
              ]
            : []),
          { weight: 1, arbitrary: fc.tuple(text, text) },
        ),
        { maxLength: 2 },
      ),
      idempotencyKey: hasKey ? fc.option(idempotencyKey, { nil: undefined }) : fc.constant(undefined),
      body: route.body ? bodyFor(route.body) : fc.constant<Body>({ kind: 'none' }),
    });
  })
  .map(({ route, path, query, idempotencyKey, body }) => {
    const qs = (query as string[][])
      .map(([k, v]) => `${encodeURIComponent(k!)}=${encodeURIComponent(v!)}`)
      .join('&');
    return { route, url: qs ? `${path}?${qs}` : path, idempotencyKey, body };
  });

test('every route answers hostile input with a registry problem below 500', async () => {
  const token = kit.token();
  const seen = new Map<string, number>();
  await fc.assert(
    fc.asyncProperty(sample, async (s) => {
      let req = kit.api[s.route.method](s.url).set('Authorization', `Bearer ${token}`);
      // Idempotency keys must be header-safe; a key the client library refuses is not a request.
      if (s.idempotencyKey !== undefined && /^[\x20-\x7e]*$/.test(s.idempotencyKey))
        req = req.set('Idempotency-Key', s.idempotencyKey);
      if (s.body.kind !== 'none') {
        req = req
          .set('Content-Type', 'application/json')
          .send(s.body.kind === 'json' ? JSON.stringify(s.body.value) : s.body.text);
      }
      const res = await req;
      const status = `${res.status} ${(res.body as { code?: string }).code ?? ''}`.trim();
      seen.set(status, (seen.get(status) ?? 0) + 1);
      const where = `${s.route.method.toUpperCase()} ${s.url} → ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`;
      if (res.status >= 500) throw new Error(`server error: ${where}`);
      expect(res.headers['x-request-id']).toBeTruthy();
      if (res.status >= 400) {
        expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
        const code = (res.body as { code?: string }).code ?? '';
        if (!Object.hasOwn(errorCodes, code)) throw new Error(`unregistered code: ${where}`);
        expect(JSON.stringify(res.body)).not.toMatch(/\bat [^ ]+ \(|node_modules|Error:/);
        // The document and the gateway agree on which fields a body has.
        if (s.body.kind === 'json' && s.body.documented && code === 'HVG_ERR_VALIDATION') {
          const errors = (res.body as { errors?: { message: string }[] }).errors ?? [];
          if (
            errors.some((e) =>
              /^Unrecognized key|comes from the URL|^Invalid input: expected \w+, received undefined/.test(
                e.message,
              ),
            )
          )
            throw new Error(`a body as /openapi.json documents it was refused for its fields: ${where}`);
        }
      }
    }),
    { seed: SEED, numRuns: RUNS, endOnFailure: true },
  );
  if (process.env['HVG_FUZZ_SHOW']) console.log(JSON.stringify([...seen].sort()));
  // The generator reached past validation too: some requests were accepted, some refused.
  const count = (match: (status: number) => boolean): number =>
    [...seen].filter(([s]) => match(Number(s.slice(0, 3)))).reduce((n, [, c]) => n + c, 0);
  const ok = count((s) => s < 300);
  const refused = count((s) => s >= 400);
  expect(ok).toBeGreaterThan(RUNS / 20);
  expect(refused).toBeGreaterThan(RUNS / 4);

  // Jobs the fuzzing started end in a state a caller can act on, never an internal error.
  await kit.gateway.services.audit.flush();
  const internal: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await kit.api
      .get(`/v1/jobs?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
      .set('Authorization', `Bearer ${token}`);
    expect(page.status).toBe(200);
    const body = page.body as {
      jobs: { id: string; error?: { code?: string } | null }[];
      nextCursor?: string;
    };
    for (const job of body.jobs) if (job.error?.code === 'HVG_ERR_INTERNAL') internal.push(job.id);
    cursor = body.nextCursor ?? undefined;
  } while (cursor);
  expect(internal).toEqual([]);
  // Refusals and jobs alike went on the trail, and the chain holds.
  const verify = await kit.api.get('/v1/audit/verify').set('Authorization', `Bearer ${token}`);
  expect(verify.status).toBe(200);
  expect(verify.body).toMatchObject({ ok: true, problems: [] });
  expect(verify.body.eventsChecked).toBeGreaterThan(RUNS / 4);
  expect((await kit.api.get('/healthz')).status).toBe(200);
}, 120_000);
