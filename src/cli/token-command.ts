import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { mintDevToken, parseTtl } from '../auth/token-minter';
import { isScope, SCOPES, type Scope } from '../auth/principal';
import { NAME_PATTERN } from '../config/config-schema';
import { stripTrailingNewline } from '../config/secret-value';
import type { CliCommand } from './cli-command';

export const DEV_TOKEN_DEFAULTS = { issuer: 'hvgate-dev', audience: 'hvgate', ttl: '1h' } as const;

const USAGE = `usage: hvgate token --sub <subject> --secret-file <path> [options]

Mints an HS256 development token. The gateway must be configured with auth.algorithms [HS256] and the
same secret, issuer and audience.

options:
  --sub <subject>        token subject (required)
  --scope <scope>        repeatable or comma-separated; one of ${SCOPES.join(', ')}
  --hosts <grants>       repeatable or comma-separated host names, group:<name> or *
  --ttl <duration>       lifetime: 900, 15m, 8h, 1d (default ${DEV_TOKEN_DEFAULTS.ttl})
  --secret-file <path>   HMAC secret, at least 32 bytes (required)
  --issuer <iss>         default ${DEV_TOKEN_DEFAULTS.issuer}
  --audience <aud>       default ${DEV_TOKEN_DEFAULTS.audience}
  --client-id <id>       optional client_id claim
`;

class UsageError extends Error {}

export const tokenCommand: CliCommand = {
  async run(args: string[]): Promise<number> {
    try {
      process.stdout.write(`${await mintFromArgs(args)}\n`);
      return 0;
    } catch (err) {
      if (err instanceof UsageError) {
        process.stderr.write(`hvgate token: ${err.message}\n\n${USAGE}`);
        return 2;
      }
      process.stderr.write(`hvgate token: ${err instanceof Error ? err.message : String(err)}\n`);
      return 1;
    }
  },
};

/** Parses the command line and returns the token; exported for tests. */
export async function mintFromArgs(args: string[], now?: number): Promise<string> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        sub: { type: 'string' },
        scope: { type: 'string', multiple: true },
        hosts: { type: 'string', multiple: true },
        ttl: { type: 'string' },
        'secret-file': { type: 'string' },
        issuer: { type: 'string' },
        audience: { type: 'string' },
        'client-id': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  if (values.help) throw new UsageError('help requested');
  if (!values.sub) throw new UsageError('--sub is required');
  if (!values['secret-file']) throw new UsageError('--secret-file is required');

  const scopes = splitList(values.scope);
  for (const s of scopes) if (!isScope(s)) throw new UsageError(`unknown scope '${s}'`);
  const hosts = splitList(values.hosts);
  for (const h of hosts) {
    const name = h.startsWith('group:') ? h.slice('group:'.length) : h;
    if (h !== '*' && !NAME_PATTERN.test(name)) throw new UsageError(`invalid host grant '${h}'`);
  }
  let ttlSec: number;
  try {
    ttlSec = parseTtl(values.ttl ?? DEV_TOKEN_DEFAULTS.ttl);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }

  let secret: Buffer;
  try {
    secret = stripTrailingNewline(await readFile(values['secret-file']));
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'unreadable';
    throw new Error(`cannot read secret file ${values['secret-file']} (${code})`);
  }
  if (secret.length < 32) throw new Error('the secret must be at least 32 bytes');

  return mintDevToken({
    sub: values.sub,
    scopes: scopes as Scope[],
    hosts,
    issuer: values.issuer ?? DEV_TOKEN_DEFAULTS.issuer,
    audience: values.audience ?? DEV_TOKEN_DEFAULTS.audience,
    ttlSec,
    secret,
    ...(values['client-id'] !== undefined ? { clientId: values['client-id'] } : {}),
    ...(now !== undefined ? { now } : {}),
  });
}

function splitList(values: string[] | undefined): string[] {
  const out = (values ?? []).flatMap((v) => v.split(',')).map((v) => v.trim());
  return [...new Set(out.filter((v) => v !== ''))];
}
