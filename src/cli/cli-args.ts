// Option parsing shared by the CLI commands: strict flags, no positionals, and a parse failure
// becomes a UsageError so each command prints its usage instead of a stack trace.

import { parseArgs, type ParseArgsConfig } from 'node:util';

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** The caller gave flags the command cannot use; the command prints the message and its usage. */
export class UsageError extends Error {}

export function parseOptions<const O extends OptionsConfig>(args: string[], options: O) {
  try {
    return parseArgs<{ args: string[]; strict: true; allowPositionals: false; options: O }>({
      args,
      strict: true,
      allowPositionals: false,
      options,
    }).values;
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}
