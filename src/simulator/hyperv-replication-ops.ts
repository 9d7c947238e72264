// Hyper-V Replica from the primary's side (reference §13): enable once, then start the initial
// copy; the replica server must accept replication with the chosen authentication and port.

import { CMDLETS, HyperVError, WMI, wmiError } from './hyperv-errors';
import { LATENCY, transferMs } from './hyperv-latency';
import { vmDiskFiles } from './hyperv-disk-ops';
import { HOST_OS, VirtualMachine } from './hyperv-model';
import { assertVmIdle, findHostByServerName, OpContext, requireVm } from './hyperv-op-context';
import type { ReplicationEnableParams, VmIdParams } from './hyperv-params';
import { replicationFacts, ReplicationFacts } from './hyperv-views';

type ReplicationResult = ReplicationFacts & { vmId: string };

const notEnabled = (
  cmdlet: 'StartVMInitialReplication' | 'RemoveVMReplication',
  vm: VirtualMachine,
): HyperVError =>
  wmiError(
    cmdlet,
    WMI.invalidState,
    `Replication is not enabled for virtual machine '${vm.name}'. (Virtual machine ID ${vm.id.toUpperCase()})`,
  );

function planEnable(ctx: OpContext, p: ReplicationEnableParams) {
  const vm = requireVm(ctx.host, p.vmId);
  const what = `Hyper-V failed to enable replication for virtual machine '${vm.name}'. (Virtual machine ID ${vm.id.toUpperCase()})`;
  assertVmIdle(vm, 'EnableVMReplication', what);
  if (vm.replication) {
    throw wmiError(
      'EnableVMReplication',
      WMI.invalidState,
      `${what}\nReplication is already enabled for virtual machine '${vm.name}' (replica server '${vm.replication.replicaServer}').`,
    );
  }
  const replica = findHostByServerName(ctx.fleet, p.replicaHost);
  if (!replica) {
    throw new HyperVError({
      category: 'ConnectionError',
      errorId: `OperationFailed,${CMDLETS.EnableVMReplication}`,
      message: `${what}\nThe server name or address '${p.replicaHost}' could not be resolved. (0x00002EE7)`,
    });
  }
  if (replica === ctx.host) {
    throw wmiError(
      'EnableVMReplication',
      WMI.invalidParameter,
      `${what}\nThe Replica server must be a different server from the primary server '${ctx.host.name}'.`,
    );
  }
  const server = replica.replicationServer;
  if (!server.replicationEnabled) {
    throw wmiError(
      'EnableVMReplication',
      WMI.invalidState,
      `${what}\nThe server '${replica.name}' is not configured as a Replica server (Set-VMReplicationServer -ReplicationEnabled $true).`,
    );
  }
  const authenticationType = p.authenticationType ?? 'Kerberos';
  const accepts =
    server.allowedAuthenticationType === 'CertificateAndKerberos' ||
    server.allowedAuthenticationType === authenticationType;
  if (!accepts) {
    throw wmiError(
      'EnableVMReplication',
      WMI.invalidState,
      `${what}\nThe Replica server '${replica.name}' does not accept ${authenticationType} authentication (it allows ${server.allowedAuthenticationType}).`,
    );
  }
  const expectedPort =
    authenticationType === 'Kerberos'
      ? server.kerberosAuthenticationPort
      : server.certificateAuthenticationPort;
  const port = p.replicaServerPort ?? expectedPort;
  if (port !== expectedPort) {
    throw new HyperVError({
      category: 'ConnectionError',
      errorId: `OperationFailed,${CMDLETS.EnableVMReplication}`,
      message: `${what}\nA connection with the server '${replica.name}' on port ${port} could not be established. (0x00002EFD)`,
    });
  }
  if (!HOST_OS[replica.os].supportedVmVersions.includes(vm.version)) {
    throw wmiError(
      'EnableVMReplication',
      WMI.notSupported,
      `${what}\nThe Replica server '${replica.name}' does not support virtual machine configuration version ${vm.version}.`,
    );
  }
  return { vm, authenticationType, port };
}

export async function enableReplication(
  ctx: OpContext,
  p: ReplicationEnableParams,
): Promise<ReplicationResult> {
  planEnable(ctx, p);
  await ctx.run.sleep(LATENCY.replicationConfigMs);
  const { vm, authenticationType, port } = planEnable(ctx, p);
  const diskBytes = vmDiskFiles(ctx, vm).reduce((sum, f) => sum + f.fileSizeBytes, 0);
  vm.replication = {
    mode: 'Primary',
    state: 'ReadyForInitialReplication',
    primaryServer: ctx.host.name,
    // As given, like Hyper-V: the name the primary reaches the replica by (its FQDN from hvgate).
    replicaServer: p.replicaHost,
    replicaServerPort: port,
    authenticationType,
    replicationFrequencySec: p.replicationFrequencySec ?? 300,
    recoveryHistory: p.recoveryHistory ?? 0,
    compressionEnabled: p.compressionEnabled ?? true,
    initialReplicationStartedAt: null,
    initialReplicationDurationMs: transferMs(diskBytes, LATENCY.initialReplicationBytesPerSec),
  };
  return { vmId: vm.id, ...replicationFacts(ctx.fleet, vm) };
}

export async function startReplication(ctx: OpContext, p: VmIdParams): Promise<ReplicationResult> {
  await ctx.run.sleep(LATENCY.readMs);
  const vm = requireVm(ctx.host, p.vmId);
  const r = vm.replication;
  if (!r) throw notEnabled('StartVMInitialReplication', vm);
  if (r.initialReplicationStartedAt !== null) {
    const state = replicationFacts(ctx.fleet, vm).replicationState;
    throw wmiError(
      'StartVMInitialReplication',
      WMI.invalidState,
      `Initial replication of virtual machine '${vm.name}' has already been started (replication state ${state}). (Virtual machine ID ${vm.id.toUpperCase()})`,
    );
  }
  // The copy runs in the background on the host; its state follows the fleet clock.
  r.initialReplicationStartedAt = ctx.fleet.clock.now();
  r.state = 'InitialReplicationInProgress';
  return { vmId: vm.id, ...replicationFacts(ctx.fleet, vm) };
}

export async function getReplication(ctx: OpContext, p: VmIdParams): Promise<ReplicationResult> {
  await ctx.run.sleep(LATENCY.readMs);
  const vm = requireVm(ctx.host, p.vmId);
  return { vmId: vm.id, ...replicationFacts(ctx.fleet, vm) };
}

export async function removeReplication(ctx: OpContext, p: VmIdParams): Promise<ReplicationResult> {
  await ctx.run.sleep(LATENCY.replicationConfigMs);
  const vm = requireVm(ctx.host, p.vmId);
  if (!vm.replication) throw notEnabled('RemoveVMReplication', vm);
  assertVmIdle(vm, 'RemoveVMReplication', `Failed to remove replication for '${vm.name}'.`);
  vm.replication = null;
  return { vmId: vm.id, ...replicationFacts(ctx.fleet, vm) };
}
