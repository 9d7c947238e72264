// PowerShell-style parameter binding of the JSON params: a real script passes these values to
// cmdlet parameters, so a bad value fails the way binding fails: NamedParameterNotFound,
// MissingMandatoryParameter, CannotConvertArgumentNoMessage, ParameterArgumentValidationError.

import { CmdletName, cmdletError, HyperVError } from './hyperv-errors';

export type FieldKind =
  | { type: 'guid' }
  | { type: 'string'; maxLength: number }
  | { type: 'int'; min: number; max: number; psType: 'System.Int32' | 'System.Int64' | 'System.UInt64' }
  | { type: 'bool' }
  | { type: 'enum'; values: readonly string[]; psType: string };

export interface FieldSpec {
  /** PowerShell parameter name used in binding errors. */
  ps: string;
  kind: FieldKind;
  required?: boolean;
  nullable?: boolean;
}

export interface ParamSpec<T> {
  /** Cmdlet the values are bound to; names the errors. */
  cmdlet: CmdletName;
  fields: { [K in keyof Required<T>]: FieldSpec };
  /** Checks across fields (parameter sets). */
  check?: (params: T) => void;
}

const INT64_MAX = Number.MAX_SAFE_INTEGER;
const INT32_MAX = 2_147_483_647;

export const guid = (ps: string, required = true): FieldSpec => ({ ps, kind: { type: 'guid' }, required });
export const str = (ps: string, maxLength: number, required = false, nullable = false): FieldSpec => ({
  ps,
  kind: { type: 'string', maxLength },
  required,
  nullable,
});
export const int64 = (ps: string, min = 0, max = INT64_MAX, required = false): FieldSpec => ({
  ps,
  kind: { type: 'int', min, max, psType: 'System.Int64' },
  required,
});
export const uint64 = (ps: string, required = false): FieldSpec => ({
  ps,
  kind: { type: 'int', min: 0, max: INT64_MAX, psType: 'System.UInt64' },
  required,
});
export const int32 = (
  ps: string,
  min: number,
  max: number,
  required = false,
  nullable = false,
): FieldSpec => ({
  ps,
  kind: { type: 'int', min, max, psType: 'System.Int32' },
  required,
  nullable,
});
export const bool = (ps: string): FieldSpec => ({ ps, kind: { type: 'bool' } });
export const enumOf = (
  ps: string,
  psType: string,
  values: readonly string[],
  required = false,
): FieldSpec => ({
  ps,
  kind: { type: 'enum', values, psType },
  required,
});

const GUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** Binds raw JSON params to a typed object, failing like PowerShell parameter binding. */
export function bindParams<T>(spec: ParamSpec<T>, raw: unknown): T {
  const { cmdlet } = spec;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw cmdletError(
      cmdlet,
      'CannotConvertArgumentNoMessage',
      'InvalidArgument',
      'Cannot bind the params document: a JSON object of named parameters is required.',
    );
  }
  const input = raw as Record<string, unknown>;
  const fields = spec.fields as Record<string, FieldSpec>;
  for (const key of Object.keys(input)) {
    if (!Object.hasOwn(fields, key)) {
      throw cmdletError(
        cmdlet,
        'NamedParameterNotFound',
        'InvalidArgument',
        `A parameter cannot be found that matches parameter name '${key}'.`,
      );
    }
  }
  const missing = Object.entries(fields)
    .filter(([key, f]) => f.required && input[key] === undefined)
    .map(([, f]) => f.ps);
  if (missing.length > 0) {
    throw cmdletError(
      cmdlet,
      'MissingMandatoryParameter',
      'InvalidArgument',
      `Cannot process command because of one or more missing mandatory parameters: ${missing.join(' ')}.`,
    );
  }
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(fields)) {
    const value = input[key];
    if (value === undefined) continue;
    out[key] = bindValue(cmdlet, field, value);
  }
  const bound = out as T;
  spec.check?.(bound);
  return bound;
}

function bindValue(cmdlet: CmdletName, field: FieldSpec, value: unknown): unknown {
  const { ps, kind } = field;
  if (value === null) {
    if (field.nullable) return null;
    throw cmdletError(
      cmdlet,
      'ParameterArgumentValidationErrorNullNotAllowed',
      'InvalidData',
      `Cannot bind argument to parameter '${ps}' because it is null.`,
    );
  }
  const cannotConvert = (psType: string, why: string): HyperVError =>
    cmdletError(
      cmdlet,
      'CannotConvertArgumentNoMessage',
      'InvalidArgument',
      `Cannot bind parameter '${ps}'. Cannot convert value "${describe(value)}" to type "${psType}". Error: "${why}"`,
    );
  const invalid = (why: string): HyperVError =>
    cmdletError(
      cmdlet,
      'ParameterArgumentValidationError',
      'InvalidData',
      `Cannot validate argument on parameter '${ps}'. ${why}`,
    );
  switch (kind.type) {
    case 'guid':
      if (typeof value !== 'string' || !GUID_RE.test(value)) {
        throw cannotConvert('System.Guid', 'Guid should contain 32 digits with 4 dashes.');
      }
      return value.toLowerCase();
    case 'string':
      if (typeof value !== 'string') throw cannotConvert('System.String', 'A string value is required.');
      if (value.length === 0) {
        throw invalid(
          'The argument is null or empty. Provide an argument that is not null or empty, and then try the command again.',
        );
      }
      if (value.length > kind.maxLength) {
        throw invalid(
          `The character length of the ${value.length} argument is too long. Shorten the character length of the argument so it is fewer than or equal to "${kind.maxLength}" characters, and then try the command again.`,
        );
      }
      return value;
    case 'bool':
      if (typeof value !== 'boolean') {
        throw cannotConvert(
          'System.Boolean',
          'Boolean parameters accept only Boolean values and numbers, such as $True, $False, 1 or 0.',
        );
      }
      return value;
    case 'int': {
      const limit = kind.psType === 'System.Int32' ? INT32_MAX : INT64_MAX;
      if (typeof value !== 'number' || !Number.isInteger(value) || Math.abs(value) > limit) {
        throw cannotConvert(kind.psType, 'Input string was not in a correct format.');
      }
      if (value < kind.min) {
        throw invalid(
          `The ${value} argument is less than the minimum allowed range of ${kind.min}. Supply an argument that is greater than or equal to ${kind.min} and then try the command again.`,
        );
      }
      if (value > kind.max) {
        throw invalid(
          `The ${value} argument is greater than the maximum allowed range of ${kind.max}. Supply an argument that is less than or equal to ${kind.max} and then try the command again.`,
        );
      }
      return value;
    }
    case 'enum': {
      const match =
        typeof value === 'string'
          ? kind.values.find((v) => v.toLowerCase() === value.toLowerCase())
          : undefined;
      if (match === undefined) {
        throw cannotConvert(
          kind.psType,
          `Unable to match the identifier name ${describe(value)} to a valid enumerator name. Specify one of the following enumerator names and try again:\n${kind.values.join(', ')}`,
        );
      }
      return match;
    }
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return value.length > 64 ? `${value.slice(0, 64)}…` : value;
  if (typeof value === 'object')
    return Array.isArray(value) ? 'System.Object[]' : 'System.Management.Automation.PSCustomObject';
  return String(value);
}
