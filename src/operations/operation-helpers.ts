// Shared pieces of the catalog: typed rule definitions over validated facts, the rules every
// mutating VM operation shares, param schema fragments, and PowerShell snippets every template
// uses (VM lookup by GUID, long-job polling with progress).

import { z } from 'zod';
import type { ErrorCode } from '../errors/error-codes';
import { HvgError } from '../errors/hvg-error';
import type {
  FactsContext,
  OperationSpec,
  PreconditionRule,
  RouteParamMapping,
  RuleFailure,
} from './operation-spec';
import type { HostFacts, VmFacts } from './facts-schemas';

export interface Facts {
  host: HostFacts;
  vm: VmFacts;
  vms: readonly VmFacts[];
  peers: Readonly<Record<string, HostFacts>>;
  peerRoots: FactsContext['peerRoots'];
  inventory: FactsContext['inventory'];
}

/** The facts of a rule or a hostParams hook, typed by the catalog's schemas. */
export function typedFacts(ctx: FactsContext): Facts {
  return {
    host: ctx.host as HostFacts,
    // Host-level operations never use `vm`; VM rules run only on VM operations, whose facts carry it.
    vm: ctx.vm as VmFacts,
    vms: (ctx.vms ?? []) as readonly VmFacts[],
    peers: (ctx.peers ?? {}) as Readonly<Record<string, HostFacts>>,
    peerRoots: ctx.peerRoots,
    inventory: ctx.inventory,
  };
}

/** A precondition over typed facts. */
export function rule<P>(
  id: string,
  description: string,
  check: (params: P, facts: Facts) => RuleFailure | null,
): PreconditionRule<P> {
  return { id, description, check: (params, ctx) => check(params, typedFacts(ctx)) };
}

export function refuse(
  code: ErrorCode,
  detail: string,
  hint?: string,
  extensions?: Record<string, unknown>,
): RuleFailure {
  const f: RuleFailure = { code, detail };
  if (hint !== undefined) f.hint = hint;
  if (extensions !== undefined) f.extensions = extensions;
  return f;
}

/** Identity with inference: keeps each module's params type while the registry stores the base type. */
export function defineOperation<P, R>(spec: OperationSpec<P, R>): OperationSpec<P, R> {
  return Object.freeze(spec);
}

/**
 * A result that re-read one section of a VM's facts after the change (`{vmId, ...section}`) as
 * `factsAfter` of its spec: that section replaces the one in the facts the job started from.
 */
export function withSection<K extends 'memory' | 'processor'>(
  key: K,
): (vm: VmFacts, result: VmFacts[K] & { vmId: string }) => VmFacts | undefined {
  return (vm, result) => {
    const { vmId, ...section } = result;
    // A result about another VM says nothing about this one: the next change reads afresh.
    if (vmId.toLowerCase() !== vm.id.toLowerCase()) return undefined;
    return { ...vm, [key]: section };
  };
}

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
export const TiB = 1024 * GiB;

export const mb = (bytes: number): string => `${Math.round(bytes / MiB)} MB`;

// ---- Rules shared by mutating VM operations ----

/** Hyper-V refuses changes while a long operation (export, merge, migration) holds the VM. */
export function vmIdleRule<P>(): PreconditionRule<P> {
  return rule<P>(
    'vm-not-busy',
    'The VM is not held by another long operation (export, merge, migration, resize, backup).',
    (_p, { vm }) =>
      vm.operationInProgress === null
        ? null
        : refuse(
            'HVG_ERR_OBJECT_IN_USE',
            `${vm.name} is busy with ${vm.operationInProgress} (${vm.status}); Hyper-V accepts no other change until it finishes`,
            'Wait for the running operation to finish (poll its job), then retry.',
          ),
  );
}

/** Saved and paused VMs cannot take device or memory changes; only Off or Running. */
export function offOrRunningRule<P>(
  what: string,
  applies: (p: P) => boolean = () => true,
): PreconditionRule<P> {
  return rule<P>('vm-off-or-running', `${what} only while the VM is Off or Running.`, (p, { vm }) =>
    !applies(p) || vm.state === 'Off' || vm.state === 'Running'
      ? null
      : refuse(
          'HVG_ERR_VM_STATE',
          `${what} only while the VM is Off or Running; ${vm.name} is ${vm.state}`,
          'Resume or start the VM (hvgate never changes power state), then retry.',
        ),
  );
}

// ---- Param schema fragments (field names as the simulator's vocabulary, hyperv-params.ts) ----

/** Printable text: control characters are refused (names end up in Hyper-V's UI and logs). */
export const nameText = (max = 256) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine(
      (s) => ![...s].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f),
      'control characters are not allowed',
    );

/** Path text; the path policy normalises and checks roots afterwards. */
export const pathText = () => z.string().min(1).max(1024);

export const controllerNumber = z.number().int().min(0).max(3);
export const controllerLocation = z.number().int().min(0).max(63);

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
export const guidText = () => z.string().regex(GUID, 'expected a GUID');
export const isGuid = (s: string): boolean => GUID.test(s);

/**
 * `:disk` / `:drive` route parameters: `<controllerNumber>:<controllerLocation>`, or (disks)
 * `<IDE|SCSI>:<number>:<location>`. A slot not written that way is refused here, naming the form:
 * the schema alone would only say which field is not a number. Ranges are left to the schema.
 */
function parseSlot(
  text: string | undefined,
  withType: boolean,
  param: 'disk' | 'drive',
): Record<string, unknown> {
  if (text === undefined) return {};
  const parts = text.split(':');
  const wellFormed =
    parts.slice(-2).every((p) => /^\d{1,2}$/.test(p)) &&
    (parts.length === 2 || (withType && parts.length === 3 && /^(ide|scsi)$/i.test(parts[0]!)));
  if (!wellFormed) {
    const form = withType
      ? 'controller:location (e.g. 0:1, a SCSI disk) or IDE|SCSI:controller:location (e.g. IDE:0:1)'
      : 'controller:location (e.g. 0:1)';
    const message = `must be written ${form}`;
    throw new HvgError('HVG_ERR_VALIDATION', {
      detail: `the ${param} in the URL ${message}; got "${text.slice(0, 40)}". GET the VM to see its slots.`,
      extensions: { errors: [{ path: param, message }] },
    });
  }
  const [number, location] = parts.slice(-2).map(Number);
  return parts.length === 3
    ? { controllerType: parts[0]!.toUpperCase(), controllerNumber: number, controllerLocation: location }
    : { controllerNumber: number, controllerLocation: location };
}

/** A slot route parameter: `:disk` (with an optional controller type) or `:drive`. */
export function slotRouteParam(param: 'disk' | 'drive'): RouteParamMapping {
  const withType = param === 'disk';
  return {
    param,
    description: withType
      ? "The disk's slot: controller:location (e.g. 0:1, SCSI) or IDE|SCSI:controller:location (e.g. IDE:0:1)"
      : "The drive's slot: controller:location (e.g. 0:1); the controller type follows the VM generation",
    fields: withType
      ? ['controllerType', 'controllerNumber', 'controllerLocation']
      : ['controllerNumber', 'controllerLocation'],
    parse: (value) => parseSlot(value, withType, param),
  };
}

/** A route parameter that is a param field of the same name (`:adapterId`, `:checkpointId`). */
export function fieldRouteParam(param: string, description: string): RouteParamMapping {
  return {
    param,
    description,
    fields: [param],
    parse: (value) => (value === undefined ? {} : { [param]: value }),
  };
}

// ---- PowerShell snippets ----

/** Every VM script starts here: the VM by GUID (names are not unique and -Name takes wildcards). */
export const PS_GET_VM = "$vm = Get-VM -Id (ConvertTo-HvgateGuid -Value $p.params.vmId -Name 'vmId')";

/**
 * Polls a Hyper-V `-AsJob` job, printing progress every few seconds so the WinRM Receive keeps
 * returning output, then collects the job's result (Receive-Job rethrows the job's error).
 */
export function psAwaitJob(jobVar: string, text: string, intoVar: string): string {
  return [
    `while (@('NotStarted', 'Running') -contains [string]${jobVar}.State) {`,
    '    $hvgatePercent = 0',
    `    $hvgateRecord = @(${jobVar}.ChildJobs | ForEach-Object { $_.Progress }) | Select-Object -Last 1`,
    '    if ($null -ne $hvgateRecord -and $hvgateRecord.PercentComplete -ge 0) { $hvgatePercent = [int]$hvgateRecord.PercentComplete }',
    `    Write-HvgateProgress -Percent $hvgatePercent -Text '${text}'`,
    `    $null = Wait-Job -Job ${jobVar} -Timeout 5`,
    '}',
    `${intoVar} = Receive-Job -Job ${jobVar} -Wait -AutoRemoveJob -ErrorAction Stop`,
  ].join('\n');
}
