// Hyper-V-shaped failures of the simulated host. A real hvgate script catches the cmdlet's
// exception and reports `$_.CategoryInfo.Category`, `$_.FullyQualifiedErrorId` and
// `$_.Exception.Message`; these builders produce the same three fields so the gateway's error
// mapping (reference hyperv-operations.md §0.3) can be tested against the simulator.

/** PowerShell `ErrorCategory` names the simulator produces. */
export type ErrorCategory =
  | 'InvalidArgument'
  | 'InvalidData'
  | 'InvalidOperation'
  | 'ObjectNotFound'
  | 'ResourceBusy'
  | 'ResourceExists'
  | 'ResourceUnavailable'
  | 'PermissionDenied'
  | 'NotImplemented'
  | 'NotSpecified'
  | 'OperationStopped'
  | 'ConnectionError'
  | 'AuthenticationError';

/** The error object of the result envelope: `{ok:false, error:{category, errorId, message}}`. */
export interface HyperVErrorRecord {
  category: ErrorCategory;
  errorId: string;
  message: string;
}

export class HyperVError extends Error {
  readonly category: ErrorCategory;
  readonly errorId: string;
  /** WMI return code (root\virtualization\v2) behind the failure, when the failure has one. */
  readonly wmiErrorCode: number | undefined;

  constructor(record: HyperVErrorRecord, wmiErrorCode?: number) {
    super(record.message);
    this.name = 'HyperVError';
    this.category = record.category;
    this.errorId = record.errorId;
    this.wmiErrorCode = wmiErrorCode;
  }

  toRecord(): HyperVErrorRecord {
    return { category: this.category, errorId: this.errorId, message: this.message };
  }
}

/** .NET type names of the cmdlets, as they appear after the comma of a FullyQualifiedErrorId. */
export const CMDLETS = {
  GetVM: 'Microsoft.HyperV.PowerShell.Commands.GetVM',
  GetVMHost: 'Microsoft.HyperV.PowerShell.Commands.GetVMHost',
  SetVM: 'Microsoft.HyperV.PowerShell.Commands.SetVM',
  SetVMMemory: 'Microsoft.HyperV.PowerShell.Commands.SetVMMemory',
  SetVMProcessor: 'Microsoft.HyperV.PowerShell.Commands.SetVMProcessor',
  AddVMNetworkAdapter: 'Microsoft.HyperV.PowerShell.Commands.AddVMNetworkAdapter',
  RemoveVMNetworkAdapter: 'Microsoft.HyperV.PowerShell.Commands.RemoveVMNetworkAdapter',
  GetVMNetworkAdapter: 'Microsoft.HyperV.PowerShell.Commands.GetVMNetworkAdapter',
  AddVMHardDiskDrive: 'Microsoft.HyperV.PowerShell.Commands.AddVMHardDiskDrive',
  RemoveVMHardDiskDrive: 'Microsoft.HyperV.PowerShell.Commands.RemoveVMHardDiskDrive',
  SetVMHardDiskDrive: 'Microsoft.HyperV.PowerShell.Commands.SetVMHardDiskDrive',
  GetVMHardDiskDrive: 'Microsoft.HyperV.PowerShell.Commands.GetVMHardDiskDrive',
  NewVHD: 'Microsoft.Vhd.PowerShell.Cmdlets.NewVHD',
  ResizeVHD: 'Microsoft.Vhd.PowerShell.Cmdlets.ResizeVHD',
  OptimizeVHD: 'Microsoft.Vhd.PowerShell.Cmdlets.OptimizeVHD',
  AddVMDvdDrive: 'Microsoft.HyperV.PowerShell.Commands.AddVMDvdDrive',
  RemoveVMDvdDrive: 'Microsoft.HyperV.PowerShell.Commands.RemoveVMDvdDrive',
  SetVMDvdDrive: 'Microsoft.HyperV.PowerShell.Commands.SetVMDvdDrive',
  CheckpointVM: 'Microsoft.HyperV.PowerShell.Commands.CheckpointVM',
  RemoveVMSnapshot: 'Microsoft.HyperV.PowerShell.Commands.RemoveVMSnapshot',
  GetVMSnapshot: 'Microsoft.HyperV.PowerShell.Commands.GetVMSnapshot',
  ExportVM: 'Microsoft.HyperV.PowerShell.Commands.ExportVM',
  ExportVMSnapshot: 'Microsoft.HyperV.PowerShell.Commands.ExportVMSnapshot',
  MoveVM: 'Microsoft.HyperV.PowerShell.Commands.MoveVM',
  EnableVMReplication: 'Microsoft.HyperV.PowerShell.Commands.EnableVMReplication',
  StartVMInitialReplication: 'Microsoft.HyperV.PowerShell.Commands.StartVMInitialReplication',
  GetVMReplication: 'Microsoft.HyperV.PowerShell.Commands.GetVMReplication',
  RemoveVMReplication: 'Microsoft.HyperV.PowerShell.Commands.RemoveVMReplication',
} as const;

export type CmdletName = keyof typeof CMDLETS;

/**
 * WMI method return codes (reference §0.3) and the Hyper-V module's error identifier and
 * category for each. InvalidState→InvalidOperation (packer#8633), InvalidParameter→InvalidArgument
 * (Get-VM not-found, minikube#8512) and ObjectNotFound→ObjectNotFound (multipass#2867) are seen in
 * the wild; the others follow the same pattern.
 */
export const WMI_ERRORS = {
  32768: { id: 'OperationFailed', category: 'NotSpecified', text: 'Failed' },
  32769: { id: 'AccessDenied', category: 'PermissionDenied', text: 'Access denied' },
  32770: { id: 'NotSupported', category: 'NotImplemented', text: 'Not supported' },
  32773: { id: 'InvalidParameter', category: 'InvalidArgument', text: 'Invalid parameter' },
  32774: { id: 'ObjectInUse', category: 'ResourceBusy', text: 'System in use' },
  32775: { id: 'InvalidState', category: 'InvalidOperation', text: 'Invalid state' },
  32778: { id: 'OutOfMemory', category: 'ResourceUnavailable', text: 'Out of memory' },
  32779: { id: 'ObjectNotFound', category: 'ObjectNotFound', text: 'File not found' },
} as const satisfies Record<number, { id: string; category: ErrorCategory; text: string }>;

export type WmiErrorCode = keyof typeof WMI_ERRORS;

export const WMI = {
  failed: 32768,
  accessDenied: 32769,
  notSupported: 32770,
  invalidParameter: 32773,
  systemInUse: 32774,
  invalidState: 32775,
  outOfMemory: 32778,
  fileNotFound: 32779,
} as const satisfies Record<string, WmiErrorCode>;

/** A cmdlet failure whose identifier and category follow from its WMI return code. */
export function wmiError(cmdlet: CmdletName, code: WmiErrorCode, message: string): HyperVError {
  const entry = WMI_ERRORS[code];
  return new HyperVError(
    { category: entry.category, errorId: `${entry.id},${CMDLETS[cmdlet]}`, message },
    code,
  );
}

/** A failure with an identifier that is not one of the WMI-derived ones (parameter binding etc.). */
export function cmdletError(
  cmdlet: CmdletName,
  errorIdPrefix: string,
  category: ErrorCategory,
  message: string,
): HyperVError {
  return new HyperVError({ category, errorId: `${errorIdPrefix},${CMDLETS[cmdlet]}`, message });
}

export interface VmRef {
  readonly id: string;
  readonly name: string;
}

export type DeviceVerb = 'modify' | 'add' | 'remove';

/**
 * The generic device failure Hyper-V reports: "Failed to modify device 'Memory'." then
 * "'<vm>' failed to modify device 'Memory'. (Virtual machine ID <GUID>)" (packer#8633; reference §0.3,
 * §19), followed by a line saying why. The "why" lines are the simulator's wording: the reference
 * notes that no exact text is published for most of these cases.
 */
export function deviceError(
  cmdlet: CmdletName,
  code: WmiErrorCode,
  verb: DeviceVerb,
  device: string,
  vm: VmRef,
  reason: string,
): HyperVError {
  const summary = `Failed to ${verb} device '${device}'.`;
  const detail = `'${vm.name}' failed to ${verb} device '${device}'. (Virtual machine ID ${vm.id.toUpperCase()})`;
  return wmiError(cmdlet, code, `${summary}\n${detail}\n${reason}`);
}

/** Get-VM -Id with an id no VM on this host has (reference §0.3: InvalidParameter,…GetVM → 404). */
export function vmNotFound(vmId: string): HyperVError {
  return new HyperVError({
    category: 'InvalidArgument',
    errorId: `InvalidParameter,${CMDLETS.GetVM}`,
    message: `Hyper-V was unable to find a virtual machine with id "${vmId}".`,
  });
}

/** The state error the VM management service gives for work a busy or powered VM cannot take. */
export function vmStateError(cmdlet: CmdletName, vm: VmRef, what: string, reason: string): HyperVError {
  return wmiError(
    cmdlet,
    WMI.invalidState,
    `${what}\nThe operation cannot be performed while the virtual machine is in its current state. ` +
      `(Virtual machine ID ${vm.id.toUpperCase()})\n${reason}`,
  );
}

/**
 * A file or folder that is in the way: "The file exists. (0x80070050)" (vagrant#13115, reference §11).
 * No published FullyQualifiedErrorId; the simulator names it ObjectAlreadyExists.
 */
export function alreadyExists(cmdlet: CmdletName, message: string): HyperVError {
  return new HyperVError({
    category: 'ResourceExists',
    errorId: `ObjectAlreadyExists,${CMDLETS[cmdlet]}`,
    message,
  });
}

/** "The operation cannot be performed while the object is in use." (TFHV #121/#188; reference §0.3). */
export function objectInUse(cmdlet: CmdletName, what: string, reason: string): HyperVError {
  return wmiError(
    cmdlet,
    WMI.systemInUse,
    `${what}\nThe operation cannot be performed while the object is in use.\n${reason}`,
  );
}
