// The OperationRunner the job layer drives: resolve `{vm}` to a GUID, validate input, check paths
// against the host's roots, read facts, evaluate the spec's preconditions, render the constant
// script with the params blob, execute it through the host's executor and map what the host says
// to HvgError (reference §0.3).
//
// Facts and their freshness: a VM's facts are read fresh inside its lock (the lock makes hvgate the
// only writer through this gateway, so what was read is what the change meets), with one
// exception: a change whose script re-reads what it changed (memory.set, processor.set: their
// specs' `factsAfter`) leaves the VM's facts as the host reported them when it ended, and the next
// change to that VM may start from those for `changeFactsTtlMs` (default 2 s) instead of reading
// again. Back-to-back changes to one VM (a plan change: memory, then processor) then cost one facts
// read, which on a real host is a PowerShell run of its own. Any other change to the VM, a failed
// one, or invalidate() drops them; Hyper-V still enforces its own rules when the change runs.
// Host facts are shared by every VM of the host and no lock covers them (four slots read them at
// once anyway), so they come from a short-lived cache; Hyper-V still enforces its own limits when
// the change runs.
// Concurrent reads of the same facts share one command (single flight), and the reads of one job
// run one after another so a job never has more than one command on its host.

import { HvgError, isHvgError } from '../errors/hvg-error';
import type { HostInventory } from '../fleet/host-inventory';
import { encodeCommandLine } from '../powershell/command-line';
import { renderScript } from '../powershell/script-render';
import type { HostExecutor } from '../winrm/host-executor';
import type { HostFacts, VmFacts } from './facts-schemas';
import { hostFactsSchema, vmFactsSchema, vmListSchema } from './facts-schemas';
import { hostGet, vmGet, vmList } from './host-facts';
import { mapExecutionError, mapScriptError } from './host-error-mapping';
import { isGuid } from './operation-helpers';
import type {
  DryRunReport,
  ExecuteOptions,
  OperationMeta,
  OperationOutcome,
  OperationRunner,
  PreparedOperation,
  ResolvedTarget,
  RuleOutcome,
} from './operation-runner';
import type { FactsContext, OperationSpec, RuleFailure } from './operation-spec';
import { requirePathUnderRoots } from './path-policy';
import { assertNoWildcard, resolveVmRef } from './vm-resolver';

export interface OperationRunnerDeps {
  /** The executor of an inventory host (shell pool, deadlines). */
  executorFor(hostName: string): HostExecutor;
  inventory: HostInventory;
  /** Time source of the facts cache. */
  clock?: { now(): number };
  /** How long read facts may be reused outside the lock (default 2000 ms; 0 = never). */
  factsTtlMs?: number;
  /**
   * How long the facts a successful change left (its spec's `factsAfter`) may start the next
   * change to the same VM (default factsTtlMs; 0 = every change reads its VM's facts). Replicas
   * sharing a fleet set 0: a change through another replica would not drop them here.
   */
  changeFactsTtlMs?: number;
  /** Deadline of one facts read (default 30 s). */
  factsTimeoutMs?: number;
}

export interface CatalogRunner extends OperationRunner {
  /** Forgets cached facts of a host (and of one VM, or all of its VMs). */
  invalidate(hostName: string, vmId?: string): void;
}

interface Cached<T> {
  at: number;
  value: T;
}

export function createOperationRunner(deps: OperationRunnerDeps): CatalogRunner {
  const now = (): number => (deps.clock ? deps.clock.now() : Date.now());
  const ttl = deps.factsTtlMs ?? 2000;
  const readTimeout = deps.factsTimeoutMs ?? 30_000;
  const hostCache = new Map<string, Cached<HostFacts>>();
  const listCache = new Map<string, Cached<VmFacts[]>>();
  const vmCache = new Map<string, Cached<VmFacts>>();
  const changeTtl = deps.changeFactsTtlMs ?? ttl;
  /** Per VM: the facts its last change left, when that change's spec says what it re-read. */
  const leftByChange = new Map<string, Cached<VmFacts>>();
  /** The VM facts each prepared change started from, for its factsAfter. */
  const startedFrom = new WeakMap<PreparedOperation, VmFacts>();
  // The inventory host a change sends work to besides its own (migration destination, replica), as
  // the caller named it: hostParams may have replaced it in the script's params by a computer name
  // or FQDN, which is not the inventory's key of that host's cached facts.
  const peerOf = new WeakMap<PreparedOperation, string>();
  const inFlight = new Map<string, Promise<unknown>>();
  /** One command per key at a time; later callers share the answer of the read under way. */
  function once<T>(key: string, read: () => Promise<T>): Promise<T> {
    const running = inFlight.get(key);
    if (running) return running as Promise<T>;
    const p = read().finally(() => inFlight.delete(key));
    inFlight.set(key, p);
    return p;
  }
  const vmKey = (host: string, vmId: string): string => `${host}\n${vmId.toLowerCase()}`;
  const fresh = <T>(c: Cached<T> | undefined, maxAgeMs = ttl): T | undefined =>
    c !== undefined && maxAgeMs > 0 && now() - c.at < maxAgeMs ? c.value : undefined;

  function requireHost(hostName: string) {
    const entry = deps.inventory.get(hostName);
    if (!entry) {
      throw new HvgError('HVG_ERR_UNKNOWN_HOST', {
        detail: `no host named "${hostName}" in the inventory`,
        extensions: { host: hostName },
      });
    }
    return entry;
  }

  async function runRead<T>(
    hostName: string,
    spec: OperationSpec,
    params: Record<string, unknown>,
    vmName?: string,
  ): Promise<T> {
    const rendered = renderScript(spec.template, params, { jobId: null, requestId: null });
    try {
      const res = await deps
        .executorFor(hostName)
        .runScript(
          { text: rendered.text, scriptId: rendered.scriptId },
          { deadline: Date.now() + readTimeout },
        );
      if (!res.envelope.ok)
        throw mapScriptError(res.envelope.error, { hostName, operation: spec.id, vmName });
      return validateResult(spec, hostName, res.envelope.result) as T;
    } catch (err) {
      throw mapExecutionError(err, { hostName, operation: spec.id, vmName });
    }
  }

  async function hostFacts(hostName: string, useCache: boolean): Promise<HostFacts> {
    const hit = useCache ? fresh(hostCache.get(hostName)) : undefined;
    if (hit) return hit;
    return once(`host\n${hostName}`, async () => {
      const facts = await runRead<HostFacts>(hostName, hostGet as unknown as OperationSpec, {});
      hostCache.set(hostName, { at: now(), value: facts });
      return facts;
    });
  }

  async function listFacts(hostName: string, useCache: boolean): Promise<VmFacts[]> {
    const hit = useCache ? fresh(listCache.get(hostName)) : undefined;
    if (hit) return hit;
    return once(`list\n${hostName}`, async () => {
      const vms = await runRead<VmFacts[]>(hostName, vmList as unknown as OperationSpec, {});
      const at = now();
      listCache.set(hostName, { at, value: vms });
      for (const vm of vms) vmCache.set(vmKey(hostName, vm.id), { at, value: vm });
      return vms;
    });
  }

  async function vmFacts(
    hostName: string,
    vmId: string,
    useCache: boolean,
    vmName?: string,
  ): Promise<VmFacts> {
    const key = vmKey(hostName, vmId);
    const hit = useCache ? fresh(vmCache.get(key)) : undefined;
    if (hit) return hit;
    // A fresh read must not join one that started before the caller's lock was taken.
    const read = async () => {
      const facts = await runRead<VmFacts>(hostName, vmGet as unknown as OperationSpec, { vmId }, vmName);
      vmCache.set(key, { at: now(), value: facts });
      return facts;
    };
    return useCache ? once(`vm\n${key}`, read) : read();
  }

  function invalidate(hostName: string, vmId?: string): void {
    listCache.delete(hostName);
    if (vmId !== undefined) {
      // A change to one VM leaves the host's own facts to their short TTL (see the header).
      vmCache.delete(vmKey(hostName, vmId));
      leftByChange.delete(vmKey(hostName, vmId));
      return;
    }
    hostCache.delete(hostName);
    for (const cache of [vmCache, leftByChange]) {
      for (const key of [...cache.keys()]) if (key.startsWith(`${hostName}\n`)) cache.delete(key);
    }
  }

  /**
   * Keeps what a change left. The map is in the order the changes ended (each key is deleted when
   * its next change starts), so entries past their TTL are dropped from its front.
   */
  function leaveFacts(key: string, facts: VmFacts): void {
    const at = now();
    leftByChange.set(key, { at, value: facts });
    for (const [k, c] of leftByChange) {
      if (at - c.at < changeTtl) break;
      leftByChange.delete(k);
    }
  }

  /** The facts the VM's last change left, while they may still start a change (see the header). */
  function factsLeftByChange(hostName: string, vmId: string): VmFacts | undefined {
    return fresh(leftByChange.get(vmKey(hostName, vmId)), changeTtl);
  }

  function validateResult(spec: OperationSpec, hostName: string, result: unknown): unknown {
    const parsed = spec.result.safeParse(result);
    if (!parsed.success) {
      throw new HvgError('HVG_ERR_HOST_PROTOCOL', {
        detail: `${hostName} answered ${spec.id} with a result hvgate does not understand: ${parsed.error.issues
          .slice(0, 3)
          .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
          .join('; ')}`,
      });
    }
    return parsed.data;
  }

  function validationError(
    spec: OperationSpec,
    issues: readonly { path: PropertyKey[]; message: string }[],
  ): HvgError {
    const errors = issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
    return new HvgError('HVG_ERR_VALIDATION', {
      detail: `invalid ${spec.id} request: ${errors.map((e) => `${e.path || '(body)'}: ${e.message}`).join('; ')}`,
      extensions: { errors },
    });
  }

  function failureError(ruleId: string, f: RuleFailure): HvgError {
    return new HvgError(f.code, {
      detail: f.detail,
      hint: f.hint,
      status: f.status,
      extensions: { rule: ruleId, ...(f.extensions ?? {}) },
    });
  }

  async function build(
    spec: OperationSpec,
    target: ResolvedTarget,
    input: unknown,
    meta: OperationMeta,
    mode: 'prepare' | 'dry-run',
  ): Promise<PreparedOperation> {
    const entry = requireHost(target.hostName);
    if (spec.target === 'vm' && (target.vmId === undefined || !isGuid(target.vmId))) {
      throw new HvgError('HVG_ERR_BAD_REQUEST', { detail: `${spec.id} needs a VM resolved to its GUID` });
    }
    const body = input === undefined || input === null ? {} : input;
    if (typeof body === 'object' && !Array.isArray(body) && Object.hasOwn(body, 'vmId')) {
      throw validationError(spec, [{ path: ['vmId'], message: 'the VM comes from the URL, not the body' }]);
    }
    const parsed = spec.input.safeParse(body);
    if (!parsed.success) throw validationError(spec, parsed.error.issues);
    const params: Record<string, unknown> = { ...(parsed.data as Record<string, unknown>) };

    const peerName = spec.facts?.peerHostParam ? params[spec.facts.peerHostParam] : undefined;
    if (typeof peerName === 'string' && !deps.inventory.has(peerName)) {
      throw new HvgError('HVG_ERR_UNKNOWN_HOST', {
        detail: `${spec.facts?.peerHostParam} "${peerName}" is not a host of the inventory; hvgate sends work only to inventory hosts`,
        hint: 'GET /v1/hosts lists the hosts in the inventory.',
        extensions: { field: spec.facts?.peerHostParam, host: peerName },
      });
    }
    for (const pf of spec.pathFields ?? []) {
      const value = params[pf.field];
      if (typeof value !== 'string') continue;
      const hostOfRoots = pf.hostParam ? String(params[pf.hostParam]) : entry.name;
      const rootsEntry = requireHost(hostOfRoots);
      const roots = pf.roots === 'storage' ? rootsEntry.storageRoots : rootsEntry.exportRoots;
      params[pf.field] = requirePathUnderRoots(pf.field, value, roots, pf.roots, rootsEntry.name);
    }

    const useCache = mode === 'dry-run';
    const needsFacts =
      spec.preconditions.length > 0 || spec.facts?.vmList === true || spec.facts?.peerHostParam !== undefined;
    const rules: RuleOutcome[] = [];
    let factsCtx: FactsContext | undefined;
    if (needsFacts) {
      // One after another: inside a host slot a job runs at most one command (see the header).
      const vm =
        spec.target === 'vm'
          ? ((mode === 'prepare' ? factsLeftByChange(entry.name, target.vmId!) : undefined) ??
            (await vmFacts(entry.name, target.vmId!, useCache, target.vmName)))
          : undefined;
      if (vm) target = { ...target, vmName: vm.name };
      const host = await hostFacts(entry.name, true);
      const vms = spec.facts?.vmList ? await listFacts(entry.name, useCache) : undefined;
      const peers: Record<string, unknown> = {};
      const peerRoots: Record<string, { storageRoots: readonly string[]; exportRoots: readonly string[] }> =
        {};
      if (typeof peerName === 'string' && peerName !== entry.name) {
        peers[peerName] = await hostFacts(peerName, useCache);
        const pe = requireHost(peerName);
        peerRoots[peerName] = { storageRoots: pe.storageRoots, exportRoots: pe.exportRoots };
      }
      const ctx: FactsContext = (factsCtx = {
        host,
        vm,
        vms,
        peers,
        peerRoots,
        inventory: {
          hostName: entry.name,
          storageRoots: entry.storageRoots,
          exportRoots: entry.exportRoots,
          otherHosts: deps.inventory
            .list()
            .map((h) => h.name)
            .filter((n) => n !== entry.name),
        },
      });
      for (const r of spec.preconditions) {
        const failure = r.check(params, ctx);
        if (failure && mode === 'prepare') throw failureError(r.id, failure);
        rules.push(
          failure
            ? { id: r.id, description: r.description, passed: false, failure }
            : { id: r.id, description: r.description, passed: true },
        );
      }
    }

    const forHost =
      factsCtx && spec.hostParams ? { ...params, ...spec.hostParams(params, factsCtx) } : params;
    const scriptParams = spec.target === 'vm' ? { ...forHost, vmId: target.vmId } : forHost;
    let rendered;
    try {
      rendered = renderScript(spec.template, scriptParams, meta);
    } catch (err) {
      throw mapExecutionError(err, { hostName: entry.name, operation: spec.id, vmName: target.vmName });
    }
    const prepared: PreparedOperation = {
      spec,
      target,
      params: scriptParams,
      rules,
      script: { id: rendered.scriptId, sha256: rendered.sha256, text: rendered.text },
    };
    if (factsCtx?.vm) startedFrom.set(prepared, factsCtx.vm as VmFacts);
    if (typeof peerName === 'string') peerOf.set(prepared, peerName);
    return prepared;
  }

  return {
    async resolveTarget(hostName: string, vmRef?: string): Promise<ResolvedTarget> {
      const entry = requireHost(hostName);
      if (vmRef === undefined) return { hostName: entry.name };
      if (isGuid(vmRef)) {
        try {
          const vm = await vmFacts(entry.name, vmRef, true);
          return { hostName: entry.name, vmId: vm.id, vmName: vm.name };
        } catch (err) {
          if (isHvgError(err) && err.code === 'HVG_ERR_VM_NOT_FOUND') {
            throw new HvgError('HVG_ERR_VM_NOT_FOUND', {
              detail: `no VM with id ${vmRef} on ${entry.name}`,
              extensions: { vm: vmRef },
            });
          }
          throw err;
        }
      }
      assertNoWildcard(vmRef);
      const vms = await listFacts(entry.name, true);
      const resolved = resolveVmRef(entry.name, vmRef, vms);
      return { hostName: entry.name, vmId: resolved.vmId, vmName: resolved.vmName };
    },

    prepare: (spec, target, input, meta) => build(spec, target, input, meta, 'prepare'),

    async dryRun(spec, target, input, meta): Promise<DryRunReport> {
      const prepared = await build(spec, target, input, meta, 'dry-run');
      // The executor encodes the script again when it runs; only a dry run reports how it travels.
      const encoded = encodeCommandLine(prepared.script.text, {
        pack: requireHost(target.hostName).packScripts,
      });
      return {
        operation: spec.id,
        target: prepared.target,
        params: prepared.params,
        wouldRun: prepared.rules.every((r) => r.passed),
        rules: prepared.rules,
        longRunning: spec.longRunning,
        script: {
          ...prepared.script,
          commandLineLength: encoded.commandLine.length,
          delivery: encoded.mode,
        },
      };
    },

    async execute(prepared: PreparedOperation, options: ExecuteOptions): Promise<OperationOutcome> {
      const { spec, target } = prepared;
      const forget = (): void => {
        if (!spec.mutates) return;
        invalidate(target.hostName, target.vmId);
        const peer = peerOf.get(prepared);
        if (peer !== undefined) invalidate(peer);
      };
      const ctx = { hostName: target.hostName, operation: spec.id, vmName: target.vmName };
      // From here on the VM may be changing: what an earlier change left no longer describes it.
      if (spec.mutates && target.vmId !== undefined) leftByChange.delete(vmKey(target.hostName, target.vmId));
      let res;
      try {
        res = await deps
          .executorFor(target.hostName)
          .runScript(
            { text: prepared.script.text, scriptId: prepared.script.id },
            { deadline: options.deadline, signal: options.signal, onProgress: options.onProgress },
          );
      } catch (err) {
        // A failed or timed-out change may still have applied part of its work on the host.
        forget();
        throw mapExecutionError(err, ctx);
      }
      forget();
      // runScript throws for {ok:false}; should an envelope still say so, map what the host said.
      if (!res.envelope.ok) throw mapScriptError(res.envelope.error, ctx);
      const result = validateResult(spec, target.hostName, res.envelope.result);
      const before = startedFrom.get(prepared);
      const after = before && changeTtl > 0 ? spec.factsAfter?.(before, result) : undefined;
      if (after && target.vmId !== undefined) leaveFacts(vmKey(target.hostName, target.vmId), after);
      return {
        result,
        exitCode: res.exitCode,
        durationMs: res.durationMs,
        httpRequests: res.httpRequests,
      };
    },

    invalidate,
  };
}

/** Schemas of the facts reads, for callers that read facts themselves (selftest). */
export const factsSchemas = { host: hostFactsSchema, vm: vmFactsSchema, list: vmListSchema };
