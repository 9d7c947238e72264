// vm.migrate (job): live migration to another inventory host (never a caller-supplied address),
// optionally with storage (reference §12). The gateway's WinRM session holds no delegable
// credentials, so the source host reaches the destination only through Kerberos constrained
// delegation ("use any authentication protocol"); CredSSP and missing delegation are the
// "double hop" failures, recognised here and in the host-error mapping.

import { z } from 'zod';
import { defineScriptTemplate } from '../powershell/script-template';
import { normaliseWindowsPath, isUnderRoot } from './path-policy';
import {
  defineOperation,
  mb,
  nameText,
  pathText,
  PS_GET_VM,
  psAwaitJob,
  refuse,
  rule,
  typedFacts,
  vmIdleRule,
} from './operation-helpers';
import type { Facts } from './operation-helpers';
import type { HostFacts } from './facts-schemas';

export const vmMigrateInput = z
  .strictObject({
    destinationHost: nameText(63),
    includeStorage: z.boolean().optional(),
    destinationStoragePath: pathText().optional(),
  })
  .superRefine((p, ctx) => {
    if (p.includeStorage === true && p.destinationStoragePath === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['destinationStoragePath'],
        message: 'required with includeStorage',
      });
    }
    if (p.includeStorage !== true && p.destinationStoragePath !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['destinationStoragePath'],
        message: 'only with includeStorage: true',
      });
    }
  });
export type VmMigrateParams = z.infer<typeof vmMigrateInput>;

const DELEGATION_HINT =
  'On the source host’s computer account, configure Kerberos constrained delegation to the destination’s `cifs` and `Microsoft Virtual System Migration Service` SPNs with “use any authentication protocol”, and set VirtualMachineMigrationAuthenticationType to Kerberos (reference §12).';

function destination(p: VmMigrateParams, f: Facts): HostFacts | undefined {
  return f.peers[p.destinationHost];
}

/**
 * The destination as the source host knows it: its computer name from its own facts. The caller
 * names an inventory host, and inventory names are the operator's (an alias, an FQDN); Kerberos
 * delegation and Move-VM need the computer. Without facts (a dry run that failed earlier), the
 * inventory name.
 */
function destinationComputer(p: VmMigrateParams, f: Facts): string {
  return destination(p, f)?.name ?? p.destinationHost;
}

/** `HV02.contoso.com` and `hv02` are one computer: delegation entries are read as short names. */
const shortName = (name: string): string => name.split('.')[0]!.toLowerCase();

export const vmMigrate = defineOperation({
  id: 'vm.migrate',
  summary: 'Live-migrate the VM to another host of the inventory, optionally moving its storage',
  scope: 'vm:migrate',
  method: 'POST',
  route: '/v1/hosts/:host/vms/:vm/migrate',
  target: 'vm',
  input: vmMigrateInput,
  mutates: true,
  longRunning: true,
  defaultWaitSec: 5,
  example: { destinationHost: 'hv-osaka-02' },
  pathFields: [{ field: 'destinationStoragePath', roots: 'storage', hostParam: 'destinationHost' }],
  facts: { peerHostParam: 'destinationHost' },
  preconditions: [
    vmIdleRule<VmMigrateParams>(),
    rule<VmMigrateParams>(
      'destination-differs',
      'The destination is another host.',
      (p, { host, inventory }) =>
        p.destinationHost.toLowerCase() === inventory.hostName.toLowerCase()
          ? refuse(
              'HVG_ERR_INVALID_VALUE',
              `${p.destinationHost} is the host the VM is already on (${host.name})`,
            )
          : null,
    ),
    rule<VmMigrateParams>('migration-enabled', 'Live migration is enabled on both hosts.', (p, f) => {
      const dest = destination(p, f);
      for (const h of [f.host, dest]) {
        if (h && !h.virtualMachineMigrationEnabled) {
          return refuse(
            'HVG_ERR_PRECONDITION',
            `live migration is not enabled on ${h.name} (VirtualMachineMigrationEnabled is false)`,
            'An operator must run Enable-VMMigration on that host.',
          );
        }
      }
      return null;
    }),
    rule<VmMigrateParams>(
      'kerberos-delegation',
      'The source may delegate to the destination with Kerberos (double hop, §12).',
      (p, f) => {
        const { host } = f;
        const computer = destinationComputer(p, f);
        if (shortName(computer) === shortName(host.name)) return null;
        if (host.virtualMachineMigrationAuthenticationType !== 'Kerberos') {
          return refuse(
            'HVG_ERR_MIGRATION_DELEGATION',
            `${host.name} authenticates migrations with ${host.virtualMachineMigrationAuthenticationType}; CredSSP needs a session signed in on ${host.name} with delegable credentials, which a WinRM session from hvgate does not carry`,
            DELEGATION_HINT,
          );
        }
        const allowed = host.kerberosDelegationTo;
        if (allowed === undefined) return null;
        const named =
          computer.toLowerCase() === p.destinationHost.toLowerCase() ? '' : ` (${p.destinationHost})`;
        return allowed.some((h) => shortName(h) === shortName(computer))
          ? null
          : refuse(
              'HVG_ERR_MIGRATION_DELEGATION',
              `${host.name} has no Kerberos constrained delegation to ${computer}${named} (it may delegate to: ${allowed.join(', ') || 'none'})`,
              DELEGATION_HINT,
              { delegationTo: allowed },
            );
      },
    ),
    rule<VmMigrateParams>(
      'version-supported',
      'The destination runs the VM’s configuration version.',
      (p, f) => {
        const dest = destination(p, f);
        if (!dest || dest.supportedVmVersions.includes(f.vm.version)) return null;
        return refuse(
          'HVG_ERR_NOT_SUPPORTED',
          `${dest.name} (${dest.osName}) does not support configuration version ${f.vm.version}; it supports ${dest.supportedVmVersions.join(', ')}`,
        );
      },
    ),
    rule<VmMigrateParams>(
      'processor-compatible',
      'Same CPU vendor; another CPU generation only with processor compatibility mode.',
      (p, f) => {
        const dest = destination(p, f);
        if (!dest) return null;
        const { host, vm } = f;
        if (host.processorVendor !== dest.processorVendor) {
          return refuse(
            'HVG_ERR_NOT_SUPPORTED',
            `${host.name} (${host.processorVendor}) and ${dest.name} (${dest.processorVendor}) have processors from different vendors`,
          );
        }
        const carriesState = vm.state !== 'Off' || vm.checkpoints.length > 0;
        if (
          host.processorFamily !== dest.processorFamily &&
          carriesState &&
          !vm.processor.compatibilityForMigrationEnabled
        ) {
          return refuse(
            'HVG_ERR_NOT_SUPPORTED',
            `${vm.name} runs on ${host.processorFamily} and ${dest.name} has ${dest.processorFamily}; without processor compatibility mode it cannot move there`,
            'Turn the VM off and run Set-VMProcessor -CompatibilityForMigrationEnabled $true (hvgate does not power-cycle VMs).',
          );
        }
        return null;
      },
    ),
    rule<VmMigrateParams>(
      'switches-present',
      'Every switch the VM’s adapters use exists on the destination.',
      (p, f) => {
        const dest = destination(p, f);
        if (!dest) return null;
        const missing = f.vm.networkAdapters
          .map((n) => n.switchName)
          .filter(
            (s): s is string =>
              s !== null && !dest.virtualSwitches.some((d) => d.name.toLowerCase() === s.toLowerCase()),
          );
        return missing.length === 0
          ? null
          : refuse(
              'HVG_ERR_PRECONDITION',
              `${dest.name} has no virtual switch ${[...new Set(missing)].map((s) => `"${s}"`).join(', ')} that ${f.vm.name}'s adapters use`,
            );
      },
    ),
    rule<VmMigrateParams>(
      'storage-reachable',
      'Without includeStorage the VM’s files are on SMB storage under the destination’s roots.',
      (p, f) => {
        if (p.includeStorage === true) return null;
        const roots = f.peerRoots?.[p.destinationHost]?.storageRoots ?? [];
        const files = [f.vm.path, ...f.vm.hardDisks.map((d) => d.path)];
        for (const raw of files) {
          const n = normaliseWindowsPath(raw);
          const ok = !('problem' in n) && n.path.startsWith('\\\\') && roots.some((r) => isUnderRoot(n, r));
          if (!ok) {
            return refuse(
              'HVG_ERR_PRECONDITION',
              `${raw} of ${f.vm.name} is not on SMB storage ${p.destinationHost} reaches; move the storage too`,
              'Send includeStorage: true with a destinationStoragePath under the destination’s storage roots.',
            );
          }
        }
        return null;
      },
    ),
    rule<VmMigrateParams>(
      'destination-memory',
      'The destination has the memory the running VM holds.',
      (p, f) => {
        const dest = destination(p, f);
        if (!dest) return null;
        const held = f.vm.state === 'Running' || f.vm.state === 'Paused' ? f.vm.memory.assignedBytes : 0;
        return held <= dest.memoryAvailableBytes
          ? null
          : refuse(
              'HVG_ERR_CAPACITY',
              `${f.vm.name} holds ${mb(held)} and ${dest.name} has ${mb(dest.memoryAvailableBytes)} free`,
            );
      },
    ),
  ],
  hostParams: (p, f) => ({ destinationHost: destinationComputer(p, typedFacts(f)) }),
  template: defineScriptTemplate({
    opId: 'vm.migrate',
    version: 1,
    core: String.raw`
${PS_GET_VM}
$destinationHost = [string]$p.params.destinationHost
$sourceHost = [string]$vm.ComputerName
$includeStorage = ($true -eq $p.params.includeStorage)
$started = Get-Date
Write-HvgateProgress -Percent 0 -Text ('Migrating to ' + $destinationHost)
if ($includeStorage) {
    $job = Move-VM -VM $vm -DestinationHost $destinationHost -IncludeStorage -DestinationStoragePath ([string]$p.params.destinationStoragePath) -Passthru -AsJob
} else {
    $job = Move-VM -VM $vm -DestinationHost $destinationHost -Passthru -AsJob
}
${psAwaitJob('$job', 'Migrating', '$moved')}
# -Passthru returns the VM as the destination sees it; querying the destination directly would be a second hop.
$finalState = 'Unknown'
$movedVm = @($moved) | Select-Object -Last 1
if ($null -ne $movedVm) { $finalState = [string]$movedVm.State }
$storagePath = $null
if ($includeStorage) { $storagePath = [string]$p.params.destinationStoragePath }
Write-HvgateProgress -Percent 100 -Text 'Migration complete'
$result = [ordered]@{
    vmId = ([string]$vm.Id).ToLowerInvariant()
    sourceHost = $sourceHost
    destinationHost = $destinationHost
    includeStorage = $includeStorage
    destinationStoragePath = $storagePath
    durationSec = ((Get-Date) - $started).TotalSeconds
    finalState = $finalState
}
`,
  }),
  result: z.object({
    vmId: z.string(),
    sourceHost: z.string(),
    destinationHost: z.string(),
    includeStorage: z.boolean(),
    destinationStoragePath: z.string().nullable(),
    durationSec: z.number().min(0),
    finalState: z.string(),
  }),
});
