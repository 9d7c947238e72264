// What one Hyper-V feature declares. The HTTP routes, OpenAPI document, dry-run, audit and the
// job runner all read these specs from the registry; adding a feature is adding one module.

import type { z } from 'zod';
import type { ScriptTemplate } from '../powershell';
import type { ErrorCode } from '../errors/error-codes';
import type { VmFacts } from './facts-schemas';

export type Scope =
  | 'vm:read'
  | 'vm:hotplug'
  | 'vm:storage'
  | 'vm:checkpoint'
  | 'vm:backup'
  | 'vm:migrate'
  | 'vm:replicate'
  | 'audit:read';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** Facts the gateway reads before a change (validated results of host.get / vm.get). */
export interface FactsContext<HostFacts = unknown, Vm = unknown> {
  host: HostFacts;
  /** Absent for host-level operations. */
  vm?: Vm;
  /** The host's inventory entry (roots, groups) and the names of the other hosts. */
  inventory: {
    hostName: string;
    storageRoots: readonly string[];
    exportRoots: readonly string[];
    otherHosts: readonly string[];
  };
  /** Every VM on the host (vm.list), for operations that declare `facts.vmList`. */
  vms?: readonly unknown[];
  /** host.get facts of other inventory hosts a request names (migration destination, replica). */
  peers?: Readonly<Record<string, unknown>>;
  /** Inventory roots of those peer hosts. */
  peerRoots?: Readonly<Record<string, { storageRoots: readonly string[]; exportRoots: readonly string[] }>>;
}

export interface RuleFailure {
  code: ErrorCode;
  /** The rule that failed, naming the VM/host and the values: what a caller can act on. */
  detail: string;
  /** What to do next. */
  hint?: string;
  status?: number;
  extensions?: Record<string, unknown>;
}

export interface PreconditionRule<P> {
  /** Stable id shown in dry-run reports, e.g. `gen2-required`. */
  id: string;
  /** One-line statement of the rule for docs and dry-run. */
  description: string;
  /** null = passes. */
  check(params: P, facts: FactsContext): RuleFailure | null;
}

/**
 * A route parameter that fills param fields. `fields` are declared, not read off a parse, so the
 * body is refused them whatever the URL holds and the OpenAPI body leaves them out.
 */
export interface RouteParamMapping {
  readonly param: string;
  /** The path parameter's description in the OpenAPI document. */
  readonly description: string;
  readonly fields: readonly string[];
  readonly parse: (value: string | undefined) => Record<string, unknown>;
}

export interface OperationSpec<P = Record<string, unknown>, R = unknown> {
  /** e.g. `network-adapter.add`; also the script header id. */
  id: string;
  summary: string;
  scope: Scope;
  method: HttpMethod;
  /** Express-style path, e.g. `/v1/hosts/:host/vms/:vm/network-adapters/:adapterId`. */
  route: string;
  /** `vm` operations resolve `:vm` (GUID or exact name) to a GUID and pass it as `vmId`. */
  target: 'host' | 'vm';
  /**
   * Strict schema of the operation's params as the script receives them, minus `vmId`: body
   * fields and route parameters merged (route params win; a body may not repeat them).
   */
  input: z.ZodType<P>;
  /** How the route parameter other than :host and :vm becomes params, e.g. `c:l` → controller fields. */
  routeParams?: RouteParamMapping;
  mutates: boolean;
  longRunning: boolean;
  /** Seconds a request waits for the job before answering 202 (overridable with ?wait=). */
  defaultWaitSec: number;
  /** Gateway-side checks, evaluated on the facts prepare reads before anything reaches the host. */
  preconditions: readonly PreconditionRule<P>[];
  template: ScriptTemplate;
  /** Validates what the host returned. */
  result: z.ZodType<R>;
  /**
   * Param fields that are paths, and which host roots they must fall under; `hostParam` names the
   * param holding the inventory host whose roots apply (default: the target host).
   */
  pathFields?: readonly { field: string; roots: 'storage' | 'export'; hostParam?: string }[];
  /**
   * Extra facts prepare reads: `vmList` = every VM on the host; `peerHostParam` = the param naming
   * another inventory host (never an address) whose host.get facts the rules compare against.
   */
  facts?: { vmList?: boolean; peerHostParam?: string };
  /**
   * Params the script gets in place of the caller's, worked out from the facts once every rule
   * passed: what the host must be told differs from what the caller names (vm.migrate names an
   * inventory host; Move-VM needs that host's computer name). The rules still see the caller's.
   */
  hostParams?: (params: P, facts: FactsContext) => Partial<P>;
  /**
   * The VM's facts once this change has succeeded: the facts the job started from, with the
   * sections the script re-read on the host after the change (its result) put in. The next change
   * to the VM, inside the same lock chain, starts from these instead of reading again (see
   * create-operation-runner.ts). Only for results that re-read whole sections of the VM's facts;
   * undefined = the result cannot tell, and the next change reads the facts.
   */
  factsAfter?: (vm: VmFacts, result: R) => VmFacts | undefined;
  /** Param fields replaced by a marker in the audit trail (secrets, free-form blobs). */
  redactFields?: readonly string[];
  /** HTTP status of a successful synchronous answer (200 default, 201 for creations). */
  successStatus?: number;
  /**
   * A realistic request body for the OpenAPI document (route parameters left out). A component
   * test dry-runs it through the gateway, so the document never shows a body the gateway refuses.
   */
  example?: Record<string, unknown>;
}
