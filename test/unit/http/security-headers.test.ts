import express from 'express';
import helmet from 'helmet';
import request from 'supertest';
import { helmetHeaders, securityHeaders } from '../../../src/http/security-headers';

function appWith(middleware: express.RequestHandler): express.Express {
  const app = express();
  app.use(middleware);
  app.get('/x', (_req, res) => {
    res.json({ ok: true });
  });
  return app;
}

const VARYING = new Set(['date', 'connection', 'keep-alive', 'content-length', 'etag']);
const fixed = (headers: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(headers).filter(([k]) => !VARYING.has(k)));

it('sets exactly the headers helmet() sets on a real response', async () => {
  const viaHelmet = await request(appWith(helmet())).get('/x');
  const viaOnce = await request(appWith(securityHeaders())).get('/x');
  expect(fixed(viaOnce.headers)).toEqual(fixed(viaHelmet.headers));
  expect(viaOnce.headers['content-security-policy']).toContain("default-src 'self'");
  expect(viaOnce.headers['x-powered-by']).toBeUndefined();
});

it('records a dozen fixed headers and the removal of X-Powered-By', () => {
  const { set, removed } = helmetHeaders();
  expect(set.length).toBeGreaterThanOrEqual(12);
  expect(removed).toEqual(['X-Powered-By']);
});
