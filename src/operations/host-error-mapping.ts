// Host failures → HvgError. Script errors follow reference §0.3: the FullyQualifiedErrorId prefix
// (Hyper-V's error identifier), then a WMI 327xx code in the message, then the PowerShell
// category. WinRM failures become 503/504/502. The host's own message is kept verbatim in
// `extensions.hostError` and in the detail, so a caller sees what Hyper-V said.

import type { ErrorCode } from '../errors/error-codes';
import { HvgError, isHvgError } from '../errors/hvg-error';
import { ScriptRenderError } from '../powershell/script-errors';
import {
  AuthenticationFailedError,
  CancelledError,
  HostUnreachableError,
  InvalidCommandError,
  InvalidHostConfigError,
  ProtocolError,
  QuotaExceededError,
  ScriptErrorInfo,
  ScriptFailedError,
  TimeoutError,
  TlsError,
  WinRmError,
  WsManFaultError,
} from '../winrm/winrm-errors';

export interface ErrorContext {
  hostName: string;
  operation: string;
  vmName?: string | undefined;
}

interface Mapped {
  code: ErrorCode;
  hint?: string;
}

const NOT_FOUND_HINT =
  'The host could not find an object the request names (see `detail`); GET the VM or host to list what exists.';

/** WMI method return codes (root\virtualization\v2, reference §0.3). */
const WMI_CODES: Record<number, Mapped> = {
  32769: { code: 'HVG_ERR_HOST_ACCESS_DENIED' },
  32770: { code: 'HVG_ERR_NOT_SUPPORTED' },
  32773: { code: 'HVG_ERR_INVALID_VALUE' },
  32774: { code: 'HVG_ERR_OBJECT_IN_USE' },
  32775: { code: 'HVG_ERR_CONFLICT' },
  32778: { code: 'HVG_ERR_CAPACITY' },
  32779: { code: 'HVG_ERR_DEVICE_NOT_FOUND', hint: NOT_FOUND_HINT },
};

const BINDING_ERRORS = new Set([
  'MissingMandatoryParameter',
  'NamedParameterNotFound',
  'CannotConvertArgumentNoMessage',
  'CannotConvertArgument',
  'ParameterArgumentValidationError',
  'ParameterArgumentValidationErrorNullNotAllowed',
  'ParameterArgumentValidationErrorEmptyStringNotAllowed',
  'AmbiguousParameterSet',
  'ParameterArgumentTransformationError',
]);

/** Failures of hvgate's own envelope on the host: the gateway and host disagree about the script. */
const ENVELOPE_ERRORS = new Set([
  'HvgateUnknownOperation',
  'HvgateUnsupportedTemplateVersion',
  'HvgateInvalidParamsBlob',
  'HVG_INVALID_PARAM',
]);

const DELEGATION_MARKERS = [
  /0x8009030E/i,
  /No credentials are available in the security package/i,
  /no suitable credentials/i,
];

function isGetVm(errorId: string): boolean {
  return /,Microsoft\.HyperV\.PowerShell\.Commands\.GetVM$/.test(errorId);
}

function classify(e: ScriptErrorInfo): Mapped {
  const prefix = e.errorId.split(',', 1)[0] ?? '';
  if (ENVELOPE_ERRORS.has(prefix)) return { code: 'HVG_ERR_HOST_PROTOCOL' };
  if (DELEGATION_MARKERS.some((re) => re.test(e.message))) return { code: 'HVG_ERR_MIGRATION_DELEGATION' };
  if (BINDING_ERRORS.has(prefix)) return { code: 'HVG_ERR_VALIDATION' };
  switch (prefix) {
    case 'InvalidState':
      return { code: 'HVG_ERR_CONFLICT' };
    case 'ObjectInUse':
      return { code: 'HVG_ERR_OBJECT_IN_USE' };
    case 'OutOfMemory':
      return { code: 'HVG_ERR_CAPACITY' };
    case 'AccessDenied':
      return { code: 'HVG_ERR_HOST_ACCESS_DENIED' };
    case 'NotSupported':
      return { code: 'HVG_ERR_NOT_SUPPORTED' };
    case 'ObjectAlreadyExists':
      return { code: 'HVG_ERR_CONFLICT' };
    case 'InvalidParameter':
      // "Hyper-V was unable to find a virtual machine…" is InvalidParameter on Get-VM (§0.3).
      return isGetVm(e.errorId) ? { code: 'HVG_ERR_VM_NOT_FOUND' } : { code: 'HVG_ERR_INVALID_VALUE' };
    case 'ObjectNotFound':
      return isGetVm(e.errorId)
        ? { code: 'HVG_ERR_VM_NOT_FOUND' }
        : { code: 'HVG_ERR_DEVICE_NOT_FOUND', hint: NOT_FOUND_HINT };
    default:
      break;
  }
  const wmi = /ErrorCode\[(327\d\d)\]|\((327\d\d)\)|error code (327\d\d)/i.exec(e.message);
  const wmiCode = wmi ? Number(wmi[1] ?? wmi[2] ?? wmi[3]) : undefined;
  if (wmiCode !== undefined && WMI_CODES[wmiCode]) return WMI_CODES[wmiCode]!;
  switch (e.category) {
    case 'PermissionDenied':
      return { code: 'HVG_ERR_HOST_ACCESS_DENIED' };
    case 'ObjectNotFound':
      return { code: 'HVG_ERR_DEVICE_NOT_FOUND', hint: NOT_FOUND_HINT };
    case 'ResourceBusy':
      return { code: 'HVG_ERR_OBJECT_IN_USE' };
    case 'ResourceExists':
      return { code: 'HVG_ERR_CONFLICT' };
    case 'NotImplemented':
      return { code: 'HVG_ERR_NOT_SUPPORTED' };
    default:
      return { code: 'HVG_ERR_HOST_FAILURE' };
  }
}

/** The HvgError for a script that reported `{ok:false, error}`. */
export function mapScriptError(error: ScriptErrorInfo, ctx: ErrorContext): HvgError {
  const mapped = classify(error);
  const target = ctx.vmName ? ` on VM ${ctx.vmName}` : '';
  return new HvgError(mapped.code, {
    detail: `${ctx.hostName} refused ${ctx.operation}${target}: ${error.message}`,
    hint: mapped.hint,
    extensions: {
      hostError: { category: error.category, errorId: error.errorId, message: error.message },
    },
  });
}

function winRmExtensions(err: WinRmError): Record<string, unknown> {
  const ext: Record<string, unknown> = { winrmError: err.code };
  if (err.fault) ext.wsmanFault = { code: err.fault.code, message: err.fault.message };
  if (err.httpStatus !== undefined) ext.httpStatus = err.httpStatus;
  return ext;
}

/** Maps anything an execution threw to an HvgError (HvgErrors pass through unchanged). */
export function mapExecutionError(err: unknown, ctx: ErrorContext): HvgError {
  if (isHvgError(err)) return err;
  if (err instanceof ScriptFailedError) return mapScriptError(err.scriptError, ctx);
  const what = `${ctx.operation} on ${ctx.hostName}`;
  if (err instanceof TimeoutError) {
    return new HvgError('HVG_ERR_TIMEOUT', {
      detail: `${what} did not finish before its deadline; the command was stopped on the host`,
      extensions: winRmExtensions(err),
      cause: err,
    });
  }
  if (err instanceof CancelledError) {
    return new HvgError('HVG_ERR_CANCELLED', {
      detail: `${what} was cancelled while it ran; the command was stopped on the host`,
      hint: 'The outcome on the host is unknown; GET the VM to check before retrying.',
      extensions: winRmExtensions(err),
      cause: err,
    });
  }
  if (err instanceof QuotaExceededError) {
    return new HvgError('HVG_ERR_HOST_UNAVAILABLE', {
      detail: `${ctx.hostName} refused a new WinRM shell or operation (quota exceeded)`,
      extensions: winRmExtensions(err),
      retryAfterSec: 5,
      cause: err,
    });
  }
  if (err instanceof HostUnreachableError) {
    return new HvgError('HVG_ERR_HOST_UNAVAILABLE', {
      detail: `${ctx.hostName} could not be reached over WinRM: ${err.message}`,
      extensions: winRmExtensions(err),
      retryAfterSec: 10,
      cause: err,
    });
  }
  if (
    err instanceof AuthenticationFailedError ||
    err instanceof TlsError ||
    err instanceof InvalidHostConfigError
  ) {
    return new HvgError('HVG_ERR_HOST_AUTH', {
      detail: `hvgate could not authenticate to ${ctx.hostName}: ${err.message}`,
      extensions: winRmExtensions(err),
      cause: err,
    });
  }
  if (err instanceof ProtocolError || err instanceof WsManFaultError || err instanceof InvalidCommandError) {
    return new HvgError('HVG_ERR_HOST_PROTOCOL', {
      detail: `${what}: ${err.message}`,
      extensions: winRmExtensions(err),
      cause: err,
    });
  }
  if (err instanceof WinRmError) {
    return new HvgError('HVG_ERR_HOST_PROTOCOL', {
      detail: `${what}: ${err.message}`,
      extensions: winRmExtensions(err),
      cause: err,
    });
  }
  if (err instanceof ScriptRenderError) {
    if (err.code === 'INVALID_TEMPLATE') {
      return new HvgError('HVG_ERR_INTERNAL', {
        detail: `the ${ctx.operation} script template is invalid`,
        cause: err,
      });
    }
    return new HvgError('HVG_ERR_VALIDATION', {
      detail: `${ctx.operation}: ${err.message}`,
      extensions: { errors: [{ path: '', message: err.message }] },
      cause: err,
    });
  }
  return new HvgError('HVG_ERR_INTERNAL', { detail: `${what} failed unexpectedly`, cause: err });
}
