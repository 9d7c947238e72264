// Resolving a VM reference (GUID or name → GUID) reads the host before the job is admitted, so it
// runs outside any host slot. With one replica the host executor's shell cap (= maxConcurrent)
// still bounds those reads; with several replicas the per-process caps add up and a burst of
// resolutions would put more commands on a host than its limit. In the HA mode each resolution
// therefore takes one of the host's global slots for the duration of the read, queued fairly with
// the jobs (its own round-robin lane). Deadlock-free: it is taken before the job holds any slot or
// VM lock, and released before the job is admitted.
import type { OperationRunner } from '../operations/operation-runner';
import { UnknownHostError } from './fleet-errors';
import type { SlotCoordinator } from './host-limiter';

/** Round-robin lane of resolution reads in a host's queue. */
export const RESOLUTION_CALLER = '(vm resolution)';

export function gateResolution(runner: OperationRunner, slots: SlotCoordinator): OperationRunner {
  return {
    ...runner,
    async resolveTarget(hostName, vmRef) {
      if (vmRef === undefined) return runner.resolveTarget(hostName, vmRef);
      let lease;
      try {
        lease = await slots.acquire({ host: hostName, caller: RESOLUTION_CALLER });
      } catch (err) {
        // The runner reports unknown hosts in its own terms.
        if (err instanceof UnknownHostError) return runner.resolveTarget(hostName, vmRef);
        throw err;
      }
      try {
        return await runner.resolveTarget(hostName, vmRef);
      } finally {
        await lease.release();
      }
    },
  };
}
