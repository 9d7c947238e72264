// The seam between the job runner (src/jobs, src/http) and the catalog: how one operation is
// resolved, checked, rendered and executed on a host. Implemented by create-operation-runner.ts.
// Order inside a job: resolveTarget (no lock) → fleet admission with the vmId → when the VM lock
// and a host slot are held: prepare (the VM's facts fresh, or as the VM's last change left them
// up to 2 s ago; the host's from a 2 s cache; preconditions) → audit `started` → execute.

import type { OperationSpec, RuleFailure } from './operation-spec';
import type { ScriptProgress } from '../powershell';

export interface OperationMeta {
  jobId: string | null;
  requestId: string | null;
}

export interface ResolvedTarget {
  hostName: string;
  /** GUID on the host; absent for host-level operations. */
  vmId?: string;
  vmName?: string;
}

export interface RuleOutcome {
  id: string;
  description: string;
  passed: boolean;
  failure?: RuleFailure;
}

export interface PreparedOperation {
  spec: OperationSpec;
  target: ResolvedTarget;
  /** Exactly what goes into the params blob (`vmId` included for VM operations). */
  params: Record<string, unknown>;
  rules: RuleOutcome[];
  script: { id: string; sha256: string; text: string };
}

export interface DryRunReport {
  operation: string;
  target: ResolvedTarget;
  params: Record<string, unknown>;
  /** True when every rule passed. */
  wouldRun: boolean;
  rules: RuleOutcome[];
  longRunning: boolean;
  script: PreparedOperation['script'] & {
    commandLineLength: number;
    /** encoded: the script as -EncodedCommand; packed: compressed in the line; loader: via stdin. */
    delivery: 'encoded' | 'packed' | 'loader';
  };
}

export interface ExecuteOptions {
  /** Absolute deadline, ms since epoch. */
  deadline: number;
  signal?: AbortSignal;
  onProgress?: (progress: ScriptProgress) => void;
}

export interface OperationOutcome {
  result: unknown;
  exitCode: number;
  durationMs: number;
  httpRequests: number;
}

export interface OperationRunner {
  /**
   * Resolves `vmRef` (GUID or exact name) to a GUID on the host. Throws HvgError:
   * HVG_ERR_UNKNOWN_HOST, HVG_ERR_WILDCARD_NAME, HVG_ERR_VM_NOT_FOUND, HVG_ERR_AMBIGUOUS_VM_NAME.
   */
  resolveTarget(hostName: string, vmRef?: string): Promise<ResolvedTarget>;
  /**
   * Validates input against the spec (HVG_ERR_VALIDATION), checks paths against the host's roots
   * (HVG_ERR_PATH_NOT_ALLOWED), reads facts (the VM's fresh, or those its last change left; see
   * create-operation-runner.ts) and evaluates preconditions; throws the first
   * failed rule as HvgError. Renders the script.
   */
  prepare(
    spec: OperationSpec,
    target: ResolvedTarget,
    input: unknown,
    meta: OperationMeta,
  ): Promise<PreparedOperation>;
  /** Like prepare, but reports every rule instead of throwing on the first failure; runs nothing. */
  dryRun(
    spec: OperationSpec,
    target: ResolvedTarget,
    input: unknown,
    meta: OperationMeta,
  ): Promise<DryRunReport>;
  /** Runs the prepared script; host errors are mapped to HvgError (reference §0.3 mapping). */
  execute(prepared: PreparedOperation, options: ExecuteOptions): Promise<OperationOutcome>;
}
