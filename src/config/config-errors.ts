/** Raised when the configuration cannot be used; every issue names the key it is about. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'HVG_ERR_CONFIG';

  constructor(
    readonly source: string,
    readonly issues: readonly string[],
  ) {
    super(`invalid configuration (${source}):\n${issues.map((i) => `  - ${i}`).join('\n')}`);
  }
}

/** Renders a zod-style path as the operator wrote it in YAML: `hosts[2].maxConcurrent`. */
export function formatConfigPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(root)' : out;
}
