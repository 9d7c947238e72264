// Hyper-V Replica from the primary's side (reference §13): enable to a replica host of the
// inventory, start the initial copy (job), read the state, remove.

import { z } from 'zod';
import { defineScriptTemplate } from '../powershell/script-template';
import { replicationFactsSchema } from './facts-schemas';
import {
  defineOperation,
  nameText,
  PS_GET_VM,
  refuse,
  rule,
  typedFacts,
  vmIdleRule,
  type Facts,
} from './operation-helpers';
import type { PreconditionRule } from './operation-spec';

export const replicationEnableInput = z.strictObject({
  replicaHost: nameText(63),
  replicaServerPort: z.number().int().min(1).max(65535).optional(),
  authenticationType: z.enum(['Kerberos', 'Certificate']).optional(),
  replicationFrequencySec: z.union([z.literal(30), z.literal(300), z.literal(900)]).optional(),
  recoveryHistory: z.number().int().min(0).max(24).optional(),
  compressionEnabled: z.boolean().optional(),
});
export type ReplicationEnableParams = z.infer<typeof replicationEnableInput>;

const noParams = z.strictObject({});
type NoParams = z.infer<typeof noParams>;

const replicationResult = replicationFactsSchema.extend({ vmId: z.string() });

/**
 * The replica as the primary must name it in `ReplicaServerName`: its FQDN from its own facts,
 * the name its Kerberos SPN and its certificate carry, else its computer name. The caller names
 * an inventory host, and inventory names are the operator's (an alias, a label). Without facts (a
 * dry run that failed earlier), the inventory name.
 */
function replicaServerName(p: ReplicationEnableParams, f: Facts): string {
  const replica = f.peers[p.replicaHost];
  return replica?.fullyQualifiedDomainName || replica?.name || p.replicaHost;
}

const PS_REPLICATION_RESULT = String.raw`
$vm = Get-VM -Id $vm.Id
$replication = [ordered]@{ vmId = ([string]$vm.Id).ToLowerInvariant(); replicationState = [string]$vm.ReplicationState; replicationMode = [string]$vm.ReplicationMode; replicationHealth = [string]$vm.ReplicationHealth; primaryServer = $null; replicaServer = $null; replicaServerPort = $null; authenticationType = $null; replicationFrequencySec = $null; recoveryHistory = $null; compressionEnabled = $null; lastReplicationTime = $null }
if ([string]$vm.ReplicationState -ne 'Disabled') {
    $r = Get-VMReplication -VM $vm
    $replication.primaryServer = [string]$r.PrimaryServer
    $replication.replicaServer = [string]$r.ReplicaServer
    $replication.replicaServerPort = [int]$r.ReplicaServerPort
    $replication.authenticationType = [string]$r.AuthenticationType
    $replication.replicationFrequencySec = [int]$r.ReplicationFrequencySec
    $replication.recoveryHistory = [int]$r.RecoveryHistory
    $replication.compressionEnabled = [bool]$r.CompressionEnabled
    if ($null -ne $r.LastReplicationTime) { $replication.lastReplicationTime = $r.LastReplicationTime.ToUniversalTime().ToString('o') }
}
$result = $replication
`;

function enabledRule<P>(what: string): PreconditionRule<P> {
  return rule<P>('replication-enabled', `Replication is enabled for the VM (${what}).`, (_p, { vm }) =>
    vm.replication.replicationState === 'Disabled'
      ? refuse(
          'HVG_ERR_PRECONDITION',
          `replication is not enabled for ${vm.name}`,
          'Enable it first: PUT …/replication.',
        )
      : null,
  );
}

export const replicationEnable = defineOperation({
  id: 'replication.enable',
  summary: 'Enable Hyper-V Replica to another host of the inventory',
  scope: 'vm:replicate',
  method: 'PUT',
  route: '/v1/hosts/:host/vms/:vm/replication',
  target: 'vm',
  input: replicationEnableInput,
  mutates: true,
  longRunning: false,
  defaultWaitSec: 60,
  example: { replicaHost: 'hv-osaka-02', replicationFrequencySec: 300 },
  facts: { peerHostParam: 'replicaHost' },
  hostParams: (p, f) => ({ replicaHost: replicaServerName(p, typedFacts(f)) }),
  preconditions: [
    vmIdleRule<ReplicationEnableParams>(),
    rule<ReplicationEnableParams>(
      'not-yet-enabled',
      'Replication is not already enabled for the VM.',
      (_p, { vm }) =>
        vm.replication.replicationState === 'Disabled'
          ? null
          : refuse(
              'HVG_ERR_PRECONDITION',
              `replication is already enabled for ${vm.name} (replica ${vm.replication.replicaServer ?? 'unknown'}, state ${vm.replication.replicationState})`,
              'Remove it first (DELETE …/replication) to replicate elsewhere.',
            ),
    ),
    rule<ReplicationEnableParams>('replica-differs', 'The replica is another host.', (p, { inventory }) =>
      p.replicaHost.toLowerCase() === inventory.hostName.toLowerCase()
        ? refuse(
            'HVG_ERR_INVALID_VALUE',
            `the replica server must differ from the primary ${inventory.hostName}`,
          )
        : null,
    ),
    rule<ReplicationEnableParams>(
      'replica-server-ready',
      'The replica host accepts replication with this authentication type.',
      (p, { peers }) => {
        const replica = peers[p.replicaHost];
        if (!replica) return null;
        const server = replica.replicationServer;
        if (!server.replicationEnabled) {
          return refuse(
            'HVG_ERR_PRECONDITION',
            `${replica.name} is not configured as a Replica server`,
            'An operator must run Set-VMReplicationServer -ReplicationEnabled $true on the replica host.',
          );
        }
        const auth = p.authenticationType ?? 'Kerberos';
        if (
          server.allowedAuthenticationType !== 'CertificateAndKerberos' &&
          server.allowedAuthenticationType !== auth
        ) {
          return refuse(
            'HVG_ERR_PRECONDITION',
            `${replica.name} does not accept ${auth} authentication (it allows ${server.allowedAuthenticationType})`,
            `Send authenticationType ${server.allowedAuthenticationType === 'Certificate' ? 'Certificate' : 'Kerberos'}.`,
          );
        }
        return null;
      },
    ),
    rule<ReplicationEnableParams>(
      'replica-supports-version',
      'The replica host runs the VM’s configuration version.',
      (p, { peers, vm }) => {
        const replica = peers[p.replicaHost];
        if (!replica || replica.supportedVmVersions.includes(vm.version)) return null;
        return refuse(
          'HVG_ERR_NOT_SUPPORTED',
          `${replica.name} does not support configuration version ${vm.version} of ${vm.name}`,
        );
      },
    ),
  ],
  template: defineScriptTemplate({
    opId: 'replication.enable',
    version: 1,
    core: String.raw`
${PS_GET_VM}
$authentication = 'Kerberos'
if ($null -ne $p.params.authenticationType) { $authentication = [string]$p.params.authenticationType }
# Hyper-V Replica's default listener ports; asking the replica would be a second hop this session cannot make.
$port = 80
if ($authentication -eq 'Certificate') { $port = 443 }
if ($null -ne $p.params.replicaServerPort) { $port = [int]$p.params.replicaServerPort }
$enableArgs = @{ VM = $vm; ReplicaServerName = [string]$p.params.replicaHost; ReplicaServerPort = $port; AuthenticationType = $authentication }
if ($null -ne $p.params.replicationFrequencySec) { $enableArgs['ReplicationFrequencySec'] = [int]$p.params.replicationFrequencySec }
if ($null -ne $p.params.recoveryHistory) { $enableArgs['RecoveryHistory'] = [int]$p.params.recoveryHistory }
if ($null -ne $p.params.compressionEnabled) { $enableArgs['CompressionEnabled'] = [bool]$p.params.compressionEnabled }
Enable-VMReplication @enableArgs
${PS_REPLICATION_RESULT}
`,
  }),
  result: replicationResult,
});

export const replicationStart = defineOperation({
  id: 'replication.start',
  summary: 'Start the initial replication of a VM whose replication is enabled',
  scope: 'vm:replicate',
  method: 'POST',
  route: '/v1/hosts/:host/vms/:vm/replication/start',
  target: 'vm',
  input: noParams,
  mutates: true,
  longRunning: true,
  defaultWaitSec: 30,
  preconditions: [
    enabledRule<NoParams>('start'),
    rule<NoParams>('ready-for-initial', 'Initial replication has not started yet.', (_p, { vm }) => {
      const state = vm.replication.replicationState;
      return state === 'Disabled' || state === 'ReadyForInitialReplication'
        ? null
        : refuse(
            'HVG_ERR_PRECONDITION',
            `initial replication of ${vm.name} has already been started (state ${state})`,
          );
    }),
  ],
  template: defineScriptTemplate({
    opId: 'replication.start',
    version: 1,
    core: String.raw`
${PS_GET_VM}
Write-HvgateProgress -Percent 0 -Text 'Starting initial replication'
Start-VMInitialReplication -VM $vm
${PS_REPLICATION_RESULT}
`,
  }),
  result: replicationResult,
});

export const replicationGet = defineOperation({
  id: 'replication.get',
  summary: 'Replication state, health, mode and servers of a VM',
  scope: 'vm:read',
  method: 'GET',
  route: '/v1/hosts/:host/vms/:vm/replication',
  target: 'vm',
  input: noParams,
  mutates: false,
  longRunning: false,
  defaultWaitSec: 30,
  preconditions: [],
  template: defineScriptTemplate({
    opId: 'replication.get',
    version: 1,
    core: String.raw`
${PS_GET_VM}
${PS_REPLICATION_RESULT}
`,
  }),
  result: replicationResult,
});

export const replicationRemove = defineOperation({
  id: 'replication.remove',
  summary: 'Remove replication from a VM (the replica copy is kept on the replica host)',
  scope: 'vm:replicate',
  method: 'DELETE',
  route: '/v1/hosts/:host/vms/:vm/replication',
  target: 'vm',
  input: noParams,
  mutates: true,
  longRunning: false,
  defaultWaitSec: 60,
  preconditions: [enabledRule<NoParams>('remove'), vmIdleRule<NoParams>()],
  template: defineScriptTemplate({
    opId: 'replication.remove',
    version: 1,
    core: String.raw`
${PS_GET_VM}
Remove-VMReplication -VM $vm
${PS_REPLICATION_RESULT}
`,
  }),
  result: replicationResult,
});
