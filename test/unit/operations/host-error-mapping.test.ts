// Reference §0.3: Hyper-V error identifiers, WMI 327xx codes and categories → HTTP status and
// HVG_ERR_* code, with the host's message kept; WinRM typed errors → 503/504/502.
import { mapExecutionError, mapScriptError } from '../../../src/operations/host-error-mapping';
import { ScriptRenderError } from '../../../src/powershell/script-errors';
import {
  AuthenticationFailedError,
  CancelledError,
  HostUnreachableError,
  ProtocolError,
  QuotaExceededError,
  ScriptFailedError,
  TimeoutError,
  TlsError,
} from '../../../src/winrm/winrm-errors';

const ctx = { hostName: 'hv-tokyo-01', operation: 'memory.set', vmName: 'web-01' };
const HV = 'Microsoft.HyperV.PowerShell.Commands';

describe('script errors (§0.3)', () => {
  it.each([
    [
      'InvalidOperation',
      `InvalidState,${HV}.SetVMMemory`,
      "Failed to modify device 'Memory'.",
      409,
      'HVG_ERR_CONFLICT',
    ],
    [
      'ResourceBusy',
      'ObjectInUse,Microsoft.Vhd.PowerShell.Cmdlets.GetVHD',
      'The operation cannot be performed while the object is in use.',
      409,
      'HVG_ERR_OBJECT_IN_USE',
    ],
    [
      'InvalidArgument',
      `InvalidParameter,${HV}.GetVM`,
      'Hyper-V was unable to find a virtual machine with name "x".',
      404,
      'HVG_ERR_VM_NOT_FOUND',
    ],
    [
      'ObjectNotFound',
      `ObjectNotFound,${HV}.ConnectVMNetworkAdapter`,
      'not found',
      404,
      'HVG_ERR_DEVICE_NOT_FOUND',
    ],
    [
      'InvalidArgument',
      `InvalidParameter,${HV}.SetVMProcessor`,
      'Invalid parameter',
      422,
      'HVG_ERR_INVALID_VALUE',
    ],
    [
      'PermissionDenied',
      `AccessDenied,${HV}.AddVMHardDiskDrive`,
      'General access denied error (0x80070005)',
      403,
      'HVG_ERR_HOST_ACCESS_DENIED',
    ],
    ['NotImplemented', `NotSupported,${HV}.MoveVM`, 'not supported', 422, 'HVG_ERR_NOT_SUPPORTED'],
    [
      'ResourceUnavailable',
      `OutOfMemory,${HV}.SetVMMemory`,
      'Not enough memory in the system (0x8007000E)',
      409,
      'HVG_ERR_CAPACITY',
    ],
    [
      'NotSpecified',
      `Unexpected,${HV}.AddVMNetworkAdapter`,
      "Failed to add device 'Synthetic Ethernet Port'. ErrorCode[32775]",
      409,
      'HVG_ERR_CONFLICT',
    ],
    ['NotSpecified', `Unexpected,${HV}.AddVMNetworkAdapter`, 'Failed (32774)', 409, 'HVG_ERR_OBJECT_IN_USE'],
    [
      'NotSpecified',
      `OperationFailed,${HV}.CheckpointVM`,
      'already has the maximum number of checkpoints',
      502,
      'HVG_ERR_HOST_FAILURE',
    ],
    [
      'AuthenticationError',
      `OperationFailed,${HV}.MoveVM`,
      'No credentials are available in the security package (0x8009030E).',
      409,
      'HVG_ERR_MIGRATION_DELEGATION',
    ],
    [
      'InvalidArgument',
      `NamedParameterNotFound,${HV}.SetVMMemory`,
      "A parameter cannot be found that matches parameter name 'x'.",
      400,
      'HVG_ERR_VALIDATION',
    ],
    [
      'InvalidArgument',
      'HvgateUnknownOperation',
      "Operation 'x' is not known on this host.",
      502,
      'HVG_ERR_HOST_PROTOCOL',
    ],
  ])('%s %s → %i %s', (category, errorId, message, status, code) => {
    const err = mapScriptError({ category, errorId, message }, ctx);
    expect(err).toMatchObject({ status, code });
    expect(err.extensions.hostError).toEqual({ category, errorId, message });
    expect(err.detail).toContain(message);
    expect(err.detail).toContain('hv-tokyo-01');
  });

  it('unwraps ScriptFailedError from the executor', () => {
    const e = new ScriptFailedError(
      { category: 'InvalidOperation', errorId: `InvalidState,${HV}.SetVM`, message: 'm' },
      1,
    );
    expect(mapExecutionError(e, ctx)).toMatchObject({ code: 'HVG_ERR_CONFLICT', status: 409 });
  });
});

describe('WinRM and local errors', () => {
  it.each([
    [new TimeoutError('t'), 'HVG_ERR_TIMEOUT', 504],
    [new HostUnreachableError('u'), 'HVG_ERR_HOST_UNAVAILABLE', 503],
    [new QuotaExceededError('q'), 'HVG_ERR_HOST_UNAVAILABLE', 503],
    [new AuthenticationFailedError('a'), 'HVG_ERR_HOST_AUTH', 503],
    [new TlsError('t'), 'HVG_ERR_HOST_AUTH', 503],
    [new ProtocolError('p'), 'HVG_ERR_HOST_PROTOCOL', 502],
    [new CancelledError('c'), 'HVG_ERR_CANCELLED', 409],
    [new ScriptRenderError('SCRIPT_TOO_LARGE', 'big'), 'HVG_ERR_VALIDATION', 400],
    [new ScriptRenderError('INVALID_TEMPLATE', 'bad'), 'HVG_ERR_INTERNAL', 500],
    [new Error('boom'), 'HVG_ERR_INTERNAL', 500],
  ])('%p → %s', (err, code, status) => {
    expect(mapExecutionError(err, ctx)).toMatchObject({ code, status });
  });
});
