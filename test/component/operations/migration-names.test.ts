// Live migration when the inventory's host names are not the hosts' computer names (aliases, FQDNs):
// the Kerberos delegation rule reads the destination's computer name from its facts, and Move-VM
// is sent that name, never the operator's inventory name (the source host could not resolve it).
import { vmMigrate } from '../../../src/operations/vm-migrate';
import { CatalogHarness, hvgErrorOf, startCatalogHarness } from './catalog-harness';

const OSAKA = 'hv-osaka-02';
const NAGOYA = 'hv-nagoya-03';
/** Inventory names unrelated to the computer names, as an operator's aliases would be. */
const alias = (computer: string): string => `dc1-${computer.split('-')[1]}`;

let h: CatalogHarness;
beforeAll(async () => {
  h = await startCatalogHarness(3, { inventoryName: alias });
});
afterAll(async () => {
  await h.close();
});

describe('vm.migrate with inventory names that are not computer names', () => {
  it('sends Move-VM the destination computer name and the move succeeds', async () => {
    const id = h.vm(OSAKA, 'api-gateway-01').id;
    const input = { destinationHost: alias(NAGOYA) };
    const report = await h.dryRun('vm.migrate', alias(OSAKA), 'api-gateway-01', input);
    expect(report.rules.filter((r) => !r.passed)).toEqual([]);
    // The script gets the computer name; the caller's inventory name stays on the job.
    expect(report.params).toMatchObject({ destinationHost: NAGOYA, vmId: id });

    const outcome = await h.run('vm.migrate', alias(OSAKA), 'api-gateway-01', input);
    expect(outcome.result).toMatchObject({ vmId: id, sourceHost: OSAKA, destinationHost: NAGOYA });
    const applied = h.sim.fleet.appliedOperations(OSAKA).filter((r) => r.operation === 'vm.migrate');
    expect(applied.map((r) => [r.ok, (r.params as { destinationHost: string }).destinationHost])).toEqual([
      [true, NAGOYA],
    ]);
    expect(h.sim.fleet.listVms(NAGOYA).some((v) => v.id === id)).toBe(true);
  });

  it('refuses a destination the source may not delegate to, naming both names', async () => {
    // Nagoya's computer account delegates to Osaka only (the demo fleet's double-hop case).
    const vm = h.sim.fleet.listVms(NAGOYA).find((v) => v.state === 'Off' || v.state === 'Running')!;
    const err = await hvgErrorOf(
      h.prepare('vm.migrate', alias(NAGOYA), vm.id, { destinationHost: alias('hv-tokyo-01') }),
    );
    expect(err.code).toBe('HVG_ERR_MIGRATION_DELEGATION');
    expect(err.detail).toContain('no Kerberos constrained delegation to hv-tokyo-01 (dc1-tokyo)');
    expect(err.detail).toContain('it may delegate to: hv-osaka-02');
  });

  it('matches delegation entries and computer names by their first label, in any case', () => {
    // A host may report its computer name in upper case, and a delegation entry may be an FQDN:
    // both name the same computer.
    const rule = vmMigrate.preconditions.find((r) => r.id === 'kerberos-delegation')!;
    const source = { ...h.sim.fleet.getHost(OSAKA)!, name: 'HV-OSAKA-02' };
    const dest = { ...h.sim.fleet.getHost(NAGOYA)!, name: 'HV-NAGOYA-03' };
    const facts = (delegationTo: string[]) => ({
      host: { ...source, kerberosDelegationTo: delegationTo },
      vm: h.sim.fleet.listVms(OSAKA)[0]!,
      peers: { [alias(NAGOYA)]: dest },
      inventory: { hostName: alias(OSAKA), storageRoots: [], exportRoots: [], otherHosts: [alias(NAGOYA)] },
    });
    const input = { destinationHost: alias(NAGOYA) };
    expect(rule.check(input, facts(['hv-nagoya-03.corp.example']))).toBeNull();
    expect(rule.check(input, facts(['HV-NAGOYA-03']))).toBeNull();
    expect(rule.check(input, facts(['hv-nagoya-30']))?.detail).toContain(
      'no Kerberos constrained delegation to HV-NAGOYA-03 (dc1-nagoya)',
    );
    expect(vmMigrate.hostParams!(input, facts([]))).toEqual({ destinationHost: 'HV-NAGOYA-03' });
  });
});
