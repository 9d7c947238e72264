// Peer hosts when the inventory's host names are not the hosts' computer names (aliases, FQDNs).
// Live migration: the Kerberos delegation rule reads the destination's computer name from its
// facts, and Move-VM is sent that name, never the operator's inventory name (the source host could
// not resolve it). Replication: Enable-VMReplication is sent the replica's FQDN from its facts.
// Either way the peer's cached facts are forgotten after the change, under its inventory name.
import { createManualClock } from '../../../src/fleet/clock';
import { createOperationRunner } from '../../../src/operations/create-operation-runner';
import { requireOperation } from '../../../src/operations/operation-registry';
import { replicationEnable } from '../../../src/operations/replication';
import { vmMigrate } from '../../../src/operations/vm-migrate';
import { CatalogHarness, hvgErrorOf, startCatalogHarness } from './catalog-harness';

const OSAKA = 'hv-osaka-02';
const NAGOYA = 'hv-nagoya-03';
/** Inventory names unrelated to the computer names, as an operator's aliases would be. */
const alias = (computer: string): string => `dc1-${computer.split('-')[1]}`;

const meta = { jobId: null, requestId: null };

/** The facts a rule or hostParams sees on Osaka, with the given peers. */
const osakaFacts = (host: object, peers: Record<string, unknown>) => ({
  host,
  vm: h.sim.fleet.listVms(OSAKA)[0]!,
  peers,
  inventory: { hostName: alias(OSAKA), storageRoots: [], exportRoots: [], otherHosts: [alias(NAGOYA)] },
});

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
    const facts = (delegationTo: string[]) =>
      osakaFacts({ ...source, kerberosDelegationTo: delegationTo }, { [alias(NAGOYA)]: dest });
    const input = { destinationHost: alias(NAGOYA) };
    expect(rule.check(input, facts(['hv-nagoya-03.corp.example']))).toBeNull();
    expect(rule.check(input, facts(['HV-NAGOYA-03']))).toBeNull();
    expect(rule.check(input, facts(['hv-nagoya-30']))?.detail).toContain(
      'no Kerberos constrained delegation to HV-NAGOYA-03 (dc1-nagoya)',
    );
    expect(vmMigrate.hostParams!(input, facts([]))).toEqual({ destinationHost: 'HV-NAGOYA-03' });
  });
});

describe('replication.enable with inventory names that are not computer names', () => {
  const FQDN = `${NAGOYA}.hv.example.test`;
  const hostReads = (host: string): number =>
    h.sim.fleet.appliedOperations(host).filter((r) => r.operation === 'host.get').length;

  it('sends Enable-VMReplication the replica FQDN from its facts and then reads the replica again', async () => {
    // A runner on a manual clock: only the change, not time, may drop the replica's cached facts.
    const runner = createOperationRunner({
      executorFor: h.executor,
      inventory: h.inventory,
      clock: createManualClock(),
    });
    const spec = requireOperation('replication.enable');
    const input = { replicaHost: alias(NAGOYA) };
    const mail = await runner.resolveTarget(alias(OSAKA), 'メールサーバー');
    const report = await runner.dryRun(spec, mail, input, meta);
    expect(report.rules.filter((r) => !r.passed)).toEqual([]);
    expect(report.params).toMatchObject({ replicaHost: FQDN, vmId: mail.vmId });

    const prepared = await runner.prepare(spec, mail, input, meta);
    const outcome = await runner.execute(prepared, { deadline: Date.now() + 10_000 });
    expect(outcome.result).toMatchObject({
      replicationState: 'ReadyForInitialReplication',
      replicaServer: FQDN,
    });
    const applied = h.sim.fleet.appliedOperations(OSAKA).filter((r) => r.operation === 'replication.enable');
    expect(applied.map((r) => [r.ok, (r.params as { replicaHost: string }).replicaHost])).toEqual([
      [true, FQDN],
    ]);

    // The replica's facts (read by prepare) were cached under its inventory name; the change
    // dropped them, so the next look at the replica reads it again.
    const reads0 = hostReads(NAGOYA);
    const other = h.sim.fleet.listVms(OSAKA).find((v) => v.id !== mail.vmId)!;
    await runner.dryRun(spec, await runner.resolveTarget(alias(OSAKA), other.id), input, meta);
    expect(hostReads(NAGOYA)).toBe(reads0 + 1);
  });

  it('falls back to the computer name, then the inventory name, when the facts have no FQDN', () => {
    const dest = { ...h.sim.fleet.getHost(NAGOYA)!, fullyQualifiedDomainName: '' };
    const facts = (peers: Record<string, unknown>) => osakaFacts(h.sim.fleet.getHost(OSAKA)!, peers);
    const input = { replicaHost: alias(NAGOYA) };
    expect(replicationEnable.hostParams!(input, facts({ [alias(NAGOYA)]: dest }))).toEqual({
      replicaHost: NAGOYA,
    });
    expect(replicationEnable.hostParams!(input, facts({}))).toEqual({ replicaHost: alias(NAGOYA) });
  });
});
