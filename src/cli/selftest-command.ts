// `hvgate selftest --config F --host H [--vm NAME [--allow-changes]] [--json]`: checks one real
// host before it goes into production — WinRM reachable, authentication, PowerShell and the
// Hyper-V module, Get-VMHost, the VM list, the stdin delivery path — through the same executor and
// catalog scripts the gateway uses. Only with --vm and --allow-changes does it change anything: a reversible sequence
// on that test VM (NIC add → remove, checkpoint create → remove), each step reported.

import { ConfigError, loadConfig } from '../config';
import { isHvgError } from '../errors/hvg-error';
import { createHostInventory } from '../fleet/host-inventory';
import { createOperationRunner } from '../operations/create-operation-runner';
import type { HostFacts, VmFacts } from '../operations/facts-schemas';
import { requireOperation } from '../operations/operation-registry';
import type { OperationRunner, ResolvedTarget } from '../operations/operation-runner';
import { renderScript } from '../powershell/script-render';
import { createHostExecutor, HostExecutor } from '../winrm/host-executor';
import { AuthenticationFailedError, TlsError, isWinRmError } from '../winrm/winrm-errors';
import { parseOptions, UsageError } from './cli-args';
import type { CliCommand } from './cli-command';

const USAGE = `usage: hvgate selftest --config FILE --host NAME [--vm NAME --allow-changes] [--json]

Checks a Hyper-V host from the configuration: WinRM reachable, authentication, PowerShell and
the Hyper-V module, Get-VMHost, the VM list, and host.get once more through the stdin loader
(what every long script uses with packScripts: false). With --vm it also reads that VM and dry-runs the
change sequence; with --vm and --allow-changes it runs it (network adapter add → remove,
checkpoint create → remove) on that test VM. Exit code 0 when every step passed, 1 otherwise.

  --config FILE      hvgate configuration (YAML)
  --host NAME        host entry to check
  --vm NAME          a test VM on that host (name or GUID)
  --allow-changes    run the reversible change sequence on --vm
  --json             print one JSON document instead of text
  --timeout SEC      deadline of each step (default 120)
`;

export interface SelftestStep {
  step: string;
  ok: boolean;
  /** What was observed, or why it failed and what to do. */
  detail: string;
  durationMs: number;
  /** HVG_ERR_* code of a failed step. */
  code?: string;
}

export interface SelftestOptions {
  configPath: string;
  host: string;
  vm?: string;
  allowChanges: boolean;
  timeoutSec: number;
  /** Test seam: the executor for the host (default: from the config entry). */
  executor?: HostExecutor;
}

function parse(args: string[]): (SelftestOptions & { json: boolean }) | 'help' {
  const values = parseOptions(args, {
    config: { type: 'string' },
    host: { type: 'string' },
    vm: { type: 'string' },
    'allow-changes': { type: 'boolean' },
    json: { type: 'boolean' },
    timeout: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';
  if (!values.config) throw new UsageError('--config is required');
  if (!values.host) throw new UsageError('--host is required');
  if (values['allow-changes'] && !values.vm)
    throw new UsageError('--allow-changes needs --vm NAME (the test VM to change)');
  const timeoutText = values.timeout ?? '120';
  if (!/^\d{1,5}$/.test(timeoutText) || Number(timeoutText) < 1)
    throw new UsageError('--timeout must be a positive number of seconds');
  return {
    configPath: values.config,
    host: values.host,
    vm: values.vm,
    allowChanges: values['allow-changes'] === true,
    timeoutSec: Number(timeoutText),
    json: values.json === true,
  };
}

function describeError(err: unknown): { detail: string; code?: string } {
  if (isHvgError(err)) {
    const hint = err.hint ? ` — ${err.hint}` : '';
    return { detail: `${err.detail}${hint}`, code: err.code };
  }
  return { detail: err instanceof Error ? err.message : String(err) };
}

/** Runs the checks; never throws for host trouble (each step reports it). */
export async function runSelftest(options: SelftestOptions): Promise<SelftestStep[]> {
  const steps: SelftestStep[] = [];
  const loaded = await loadConfig(options.configPath, { checkFiles: false });
  const entry = loaded.config.hosts.find((h) => h.name === options.host);
  if (!entry) {
    throw new UsageError(
      `no host "${options.host}" in ${options.configPath}; hosts: ${loaded.config.hosts.map((h) => h.name).join(', ')}`,
    );
  }
  const creds = loaded.secrets.hostCredentials.get(entry.name);
  const inventory = createHostInventory([entry], loaded.config.groups ?? []);
  const hostEntry = inventory.require(entry.name);
  const executor =
    options.executor ??
    createHostExecutor(
      {
        name: hostEntry.name,
        address: hostEntry.address,
        port: hostEntry.port,
        transport: hostEntry.transport,
        auth: hostEntry.auth,
        username: creds?.username ?? '',
        password: creds?.password.revealString() ?? '',
        ...(hostEntry.caFile ? { caFile: hostEntry.caFile } : {}),
        ...(hostEntry.serverName ? { serverName: hostEntry.serverName } : {}),
      },
      { maxShells: 1, packScripts: hostEntry.packScripts },
    );
  const deadline = (): number => Date.now() + options.timeoutSec * 1000;
  const runner = createOperationRunner({ executorFor: () => executor, inventory, factsTtlMs: 0 });

  async function step<T>(
    name: string,
    fn: () => Promise<{ value: T; detail: string }>,
  ): Promise<T | undefined> {
    const started = Date.now();
    try {
      const { value, detail } = await fn();
      steps.push({ step: name, ok: true, detail, durationMs: Date.now() - started });
      return value;
    } catch (err) {
      steps.push({ step: name, ok: false, ...describeError(err), durationMs: Date.now() - started });
      return undefined;
    }
  }
  const skip = (name: string, why: string): void => {
    steps.push({ step: name, ok: false, detail: `skipped: ${why}`, durationMs: 0 });
  };

  try {
    // One cmd.exe round trip tells reachability and authentication apart.
    const started = Date.now();
    let connected = false;
    try {
      const res = await executor.run({ commandLine: 'hostname' }, { deadline: deadline() });
      const name = res.stdout.trim();
      steps.push({
        step: 'winrm-reachable',
        ok: true,
        detail: `${hostEntry.transport}://${hostEntry.address}:${hostEntry.port}/wsman answered`,
        durationMs: Date.now() - started,
      });
      steps.push({
        step: 'authentication',
        ok: true,
        detail: `${hostEntry.auth} as ${creds?.username ?? '(no user)'}; host name ${name}`,
        durationMs: 0,
      });
      connected = res.exitCode === 0;
    } catch (err) {
      const authProblem = err instanceof AuthenticationFailedError || err instanceof TlsError;
      const detail = isWinRmError(err) ? err.message : describeError(err).detail;
      if (authProblem) {
        steps.push({
          step: 'winrm-reachable',
          ok: true,
          detail: 'the WinRM listener answered',
          durationMs: Date.now() - started,
        });
        steps.push({ step: 'authentication', ok: false, detail, durationMs: 0, code: 'HVG_ERR_HOST_AUTH' });
      } else {
        steps.push({
          step: 'winrm-reachable',
          ok: false,
          detail,
          durationMs: Date.now() - started,
          code: 'HVG_ERR_HOST_UNAVAILABLE',
        });
      }
    }
    if (!connected) {
      for (const s of ['powershell', 'hyperv-module', 'get-vmhost', 'vm-list', 'stdin-loader'])
        skip(s, 'no working WinRM session');
      return steps;
    }

    const hostTarget: ResolvedTarget = { hostName: hostEntry.name };
    const facts = await step<HostFacts>('powershell', async () => {
      const value = await readFacts<HostFacts>(runner, 'host.get', hostTarget, deadline());
      return {
        value,
        detail: `powershell.exe ran the host.get script (PowerShell ${value.powershellVersion || 'version not reported'})`,
      };
    });
    if (!facts) {
      for (const s of ['hyperv-module', 'get-vmhost', 'vm-list', 'stdin-loader'])
        skip(s, 'the host.get script did not run');
      return steps;
    }
    steps.push({
      step: 'hyperv-module',
      ok: true,
      detail: `Hyper-V module ${facts.hypervModuleVersion || '(version not reported)'} loaded`,
      durationMs: 0,
    });
    steps.push({
      step: 'get-vmhost',
      ok: true,
      detail: `${facts.osName} (${facts.osBuild}); VM versions ${facts.supportedVmVersions.join(', ')}; ${facts.virtualSwitches.length} switch(es); migration ${facts.virtualMachineMigrationEnabled ? `enabled (${facts.virtualMachineMigrationAuthenticationType})` : 'disabled'}`,
      durationMs: 0,
    });
    await step('vm-list', async () => {
      const vms = await readFacts<VmFacts[]>(runner, 'vm.list', hostTarget, deadline());
      return {
        value: vms,
        detail: `${vms.length} VM(s): ${vms
          .slice(0, 10)
          .map((v) => `${v.name} (${v.state})`)
          .join(', ')}${vms.length > 10 ? ', …' : ''}`,
      };
    });

    await step('stdin-loader', async () => ({
      value: true,
      detail: await viaStdinLoader(executor, deadline()),
    }));

    if (options.vm === undefined) return steps;
    const target = await step<ResolvedTarget>('test-vm', async () => {
      const t = await runner.resolveTarget(hostEntry.name, options.vm);
      const vm = await readFacts<VmFacts>(runner, 'vm.get', t, deadline());
      return {
        value: t,
        detail: `${vm.name} ${vm.id}: generation ${vm.generation}, version ${vm.version}, ${vm.state}`,
      };
    });
    if (!target) return steps;
    await changeSequence(runner, target, options.allowChanges, deadline, step);
    return steps;
  } finally {
    if (!options.executor) await executor.close();
  }
}

/**
 * The host.get script once more, forced through the stdin loader: the path every long script takes
 * on a host with `packScripts: false`, so an operator who has to turn packing off knows the
 * fallback works there before relying on it.
 */
async function viaStdinLoader(executor: HostExecutor, deadline: number): Promise<string> {
  const script = renderScript(requireOperation('host.get').template, {}, { jobId: null, requestId: null });
  const res = await executor.runScript(
    { text: script.text, scriptId: script.scriptId },
    { deadline, packScripts: false },
  );
  return `host.get ran from stdin (${res.delivery}, ${res.httpRequests} WinRM requests): the fallback for packScripts: false works`;
}

async function readFacts<T>(
  runner: OperationRunner,
  op: string,
  target: ResolvedTarget,
  deadline: number,
): Promise<T> {
  const prepared = await runner.prepare(requireOperation(op), target, {}, { jobId: null, requestId: null });
  return (await runner.execute(prepared, { deadline })).result as T;
}

type StepFn = <T>(name: string, fn: () => Promise<{ value: T; detail: string }>) => Promise<T | undefined>;

/** NIC add → remove, checkpoint create → remove; a dry run of the first of each without --allow-changes. */
async function changeSequence(
  runner: OperationRunner,
  target: ResolvedTarget,
  allowChanges: boolean,
  deadline: () => number,
  step: StepFn,
): Promise<void> {
  const meta = { jobId: null, requestId: `selftest-${Date.now()}` };
  const nicInput = { name: 'hvgate-selftest' };
  const checkpointInput = { name: `hvgate-selftest-${new Date().toISOString()}`, checkpointType: 'Standard' };
  if (!allowChanges) {
    for (const [op, input] of [
      ['network-adapter.add', nicInput],
      ['checkpoint.create', checkpointInput],
    ] as const) {
      await step(`dry-run ${op}`, async () => {
        const report = await runner.dryRun(requireOperation(op), target, input, meta);
        const failed = report.rules.filter((r) => !r.passed);
        if (failed.length > 0) throw new Error(failed.map((r) => `${r.id}: ${r.failure?.detail}`).join('; '));
        return {
          value: report,
          detail: `would run ${report.script.id} (${report.rules.length} rule(s) passed); add --allow-changes to run it`,
        };
      });
    }
    return;
  }
  const run = async (op: string, input: unknown): Promise<Record<string, unknown>> => {
    const prepared = await runner.prepare(requireOperation(op), target, input, meta);
    return (await runner.execute(prepared, { deadline: deadline() })).result as Record<string, unknown>;
  };
  const nic = await step('network-adapter.add', async () => {
    const r = await run('network-adapter.add', nicInput);
    return { value: r, detail: `added adapter ${String(r.id)} (disconnected)` };
  });
  if (nic) {
    await step('network-adapter.remove', async () => {
      await run('network-adapter.remove', { adapterId: nic.id }).catch((err: unknown) => {
        throw new Error(
          `${describeError(err).detail} — adapter ${String(nic.id)} is still on the VM; remove it by hand`,
        );
      });
      return { value: true, detail: `removed adapter ${String(nic.id)}` };
    });
  }
  const cp = await step('checkpoint.create', async () => {
    const r = await run('checkpoint.create', checkpointInput);
    return { value: r, detail: `created checkpoint ${String(r.name)} (${String(r.id)})` };
  });
  if (cp) {
    await step('checkpoint.remove', async () => {
      await run('checkpoint.remove', { checkpointId: cp.id }).catch((err: unknown) => {
        throw new Error(
          `${describeError(err).detail} — checkpoint ${String(cp.id)} is still on the VM; remove it by hand`,
        );
      });
      return { value: true, detail: `removed checkpoint ${String(cp.id)}` };
    });
  }
}

function formatText(host: string, steps: SelftestStep[]): string {
  const lines = steps.map(
    (s) =>
      `${s.ok ? 'PASS' : 'FAIL'}  ${s.step.padEnd(24)} ${String(s.durationMs).padStart(6)} ms  ${s.detail}`,
  );
  const failed = steps.filter((s) => !s.ok).length;
  lines.push(
    failed === 0
      ? `selftest of ${host}: all ${steps.length} steps passed`
      : `selftest of ${host}: ${failed} of ${steps.length} steps failed`,
  );
  return `${lines.join('\n')}\n`;
}

export const selftestCommand: CliCommand = {
  async run(args: string[]): Promise<number> {
    let options;
    try {
      options = parse(args);
    } catch (err) {
      process.stderr.write(`hvgate selftest: ${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
      return 2;
    }
    if (options === 'help') {
      process.stdout.write(USAGE);
      return 0;
    }
    let steps: SelftestStep[];
    try {
      steps = await runSelftest(options);
    } catch (err) {
      if (err instanceof UsageError || err instanceof ConfigError) {
        process.stderr.write(`hvgate selftest: ${err.message}\n`);
        return 2;
      }
      throw err;
    }
    if (options.json) {
      process.stdout.write(
        `${JSON.stringify({ host: options.host, ok: steps.every((s) => s.ok), steps }, null, 2)}\n`,
      );
    } else {
      process.stdout.write(formatText(options.host, steps));
    }
    return steps.every((s) => s.ok) ? 0 : 1;
  },
};
