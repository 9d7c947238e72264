// HA mode: every command on a host runs under one of its global slots, so the host's limit holds
// across replicas without a second permit per command. Jobs run their commands inside their slot,
// one at a time (create-operation-runner.ts). The reads that happen outside a job — resolving a VM
// name before the job is queued, dry runs, health probes — take a slot here for their duration,
// queued fairly with the jobs in lanes of their own. Deadlock-free: they are taken while holding
// no other slot or VM lock and released before anything else is awaited.
import type { OperationRunner } from '../operations/operation-runner';
import { HostBusyError, UnknownHostError } from './fleet-errors';
import type { SlotCoordinator, SlotLease } from './host-limiter';

/** Round-robin lanes of reads outside jobs in a host's queue. */
export const RESOLUTION_CALLER = '(vm resolution)';
export const DRY_RUN_CALLER = '(dry run)';
export const PROBE_CALLER = '(health probe)';

/** How long a probe waits for a slot before calling the host busy rather than down. */
export const PROBE_SLOT_WAIT_MS = 3000;

export function gateHostReads(runner: OperationRunner, slots: SlotCoordinator): OperationRunner {
  async function underSlot<T>(host: string, caller: string, read: () => Promise<T>): Promise<T> {
    let lease: SlotLease;
    try {
      lease = await slots.acquire({ host, caller });
    } catch (err) {
      // The runner reports unknown hosts in its own terms.
      if (err instanceof UnknownHostError) return read();
      throw err;
    }
    try {
      return await read();
    } finally {
      await lease.release();
    }
  }
  return {
    ...runner,
    resolveTarget(hostName, vmRef) {
      if (vmRef === undefined) return runner.resolveTarget(hostName, vmRef);
      return underSlot(hostName, RESOLUTION_CALLER, () => runner.resolveTarget(hostName, vmRef));
    },
    dryRun(spec, target, input, meta) {
      return underSlot(target.hostName, DRY_RUN_CALLER, () => runner.dryRun(spec, target, input, meta));
    },
  };
}

/**
 * A slot for a health probe, or null when the host stays too busy to spare one: a host whose slots
 * are all held by running jobs is answering them, and their failures feed its circuit breaker.
 */
export async function probeSlot(
  slots: SlotCoordinator,
  host: string,
  signal: AbortSignal,
  waitMs = PROBE_SLOT_WAIT_MS,
): Promise<SlotLease | null> {
  const waited = AbortSignal.timeout(waitMs);
  try {
    return await slots.acquire({ host, caller: PROBE_CALLER, signal: AbortSignal.any([signal, waited]) });
  } catch (err) {
    if (err instanceof HostBusyError || (waited.aborted && !signal.aborted)) return null;
    throw err;
  }
}
