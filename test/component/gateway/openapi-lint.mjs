// Lints an OpenAPI document read from stdin with Redocly's recommended ruleset and prints the
// problems as JSON. Run as a child process: @redocly/openapi-core is ESM-only and jest loads
// test code as CommonJS.
import { createConfig, lintFromString } from '@redocly/openapi-core';

const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const source = Buffer.concat(chunks).toString('utf8');
const config = await createConfig({ extends: ['recommended'] });
const problems = await lintFromString({ source, absoluteRef: 'openapi.json', config });
process.stdout.write(
  JSON.stringify(
    problems.map((p) => ({
      ruleId: p.ruleId,
      severity: p.severity,
      message: p.message,
      pointer: p.location?.[0]?.pointer ?? null,
    })),
  ),
);
