// Simulator for component tests: started once per test file with latency scale 0 (instant) and
// closed after it, so Jest exits without --forceExit. Also re-exports the plain WS-Management
// test client for tests that talk to a simulated host directly.
import { Simulator, SimulatorOptions, createSimulator } from '../../src/simulator/simulator';

export {
  WsmanTestClient,
  faultOf,
  httpRequest,
  wsmanEnvelope,
} from '../unit/simulator-server/wsman-test-client';
export type { FaultInfo, RawReply, ReceiveResult } from '../unit/simulator-server/wsman-test-client';

/** Default credentials of every simulated host. */
export const SIM_USER = 'Administrator';
export const SIM_PASSWORD = 'hvgate-sim';

/** Starts a simulator with test defaults (latency 0, no control endpoint unless asked for). */
export function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  return createSimulator({ latencyScale: 0, controlPort: false, ...opts });
}

/**
 * Registers beforeAll/afterAll for a simulator shared by the tests of one file; returns a getter.
 *
 *   const sim = useSimulator({ hosts: 2 });
 *   test('...', async () => { const { url } = sim().hosts[0]; ... });
 */
export function useSimulator(opts: SimulatorOptions = {}): () => Simulator {
  let sim: Simulator | undefined;
  beforeAll(async () => {
    sim = await startSimulator(opts);
  });
  afterAll(async () => {
    await sim?.close();
    sim = undefined;
  });
  return () => {
    if (!sim) throw new Error('the simulator is only available inside tests (after beforeAll)');
    return sim;
  };
}
