// `hvgate tour`: a guided walk through the running demo. Each step calls the real HTTP API with the
// tokens from demo.json, says what it did and why, and checks the gateway answered the way the
// step claims; any step that does not makes the tour fail (non-zero exit).
import { randomBytes } from 'node:crypto';
import { readDemoInfo, type DemoInfo } from './demo-state';

export interface TourOutput {
  write(s: string): unknown;
}

export interface TourOptions {
  stateDir: string;
  out: TourOutput;
  /** Injected in tests; default the global fetch. */
  fetchImpl?: typeof fetch;
  /** Offline check of the database (`hvgate audit verify --config`); skipped when absent. */
  offlineVerify?: (configFile: string) => Promise<{ code: number; output: string }>;
  /** Concurrent requests per burst at the small host (default 12, at most 3 bursts). */
  burstSize?: number;
  /** How long to poll the export job before giving up (default 10 min). */
  jobTimeoutMs?: number;
  pollIntervalMs?: number;
}

export interface TourReport {
  ok: boolean;
  steps: { title: string; ok: boolean; detail: string }[];
}

export class TourStepError extends Error {
  override readonly name = 'TourStepError';
}

interface ApiResponse {
  status: number;
  headers: Headers;
  body: unknown;
}

type Json = Record<string, unknown>;

interface VmView {
  id: string;
  name: string;
  generation: number;
  version: string;
  state: string;
  memory: { dynamicMemoryEnabled: boolean; startupBytes: number; demandBytes: number };
  hardDisks: {
    controllerType: string;
    controllerNumber: number;
    controllerLocation: number;
    fileSizeBytes: number;
  }[];
  dvdDrives?: { controllerType: string; controllerNumber: number; controllerLocation: number }[];
}

const GiB = 1024 ** 3;

function expect(cond: boolean, message: string): asserts cond {
  if (!cond) throw new TourStepError(message);
}

function problemText(res: ApiResponse): string {
  const b = res.body as Json | null;
  if (b && typeof b === 'object' && typeof b['code'] === 'string')
    return `${res.status} ${String(b['code'])}: ${String(b['detail'] ?? '')}`;
  return `HTTP ${res.status}`;
}

function expectStatus(res: ApiResponse, wanted: number[], what: string): void {
  expect(wanted.includes(res.status), `${what}: expected ${wanted.join(' or ')}, got ${problemText(res)}`);
}

function versionAtLeast(v: string, min: string): boolean {
  const [a = 0, b = 0] = v.split('.').map(Number);
  const [c = 0, d = 0] = min.split('.').map(Number);
  return a > c || (a === c && b >= d);
}

const slotOf = (d: { controllerType: string; controllerNumber: number; controllerLocation: number }) =>
  `${d.controllerType}:${d.controllerNumber}:${d.controllerLocation}`;

export async function runTour(opts: TourOptions): Promise<TourReport> {
  const out = opts.out;
  const doFetch = opts.fetchImpl ?? fetch;
  const pollMs = opts.pollIntervalMs ?? 500;
  const info: DemoInfo = readDemoInfo(opts.stateDir);
  const runId = `${Date.now().toString(36)}-${randomBytes(2).toString('hex')}`;
  const tourStart = new Date(Date.now() - 1000).toISOString();
  const report: TourReport = { ok: true, steps: [] };

  async function api(
    method: string,
    path: string,
    token: string | null,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<ApiResponse> {
    const h: Record<string, string> = { Accept: 'application/json', ...headers };
    if (token !== null) h['Authorization'] = `Bearer ${token}`;
    if (body !== undefined) h['Content-Type'] = 'application/json';
    const res = await doFetch(`${info.url}${path}`, {
      method,
      headers: h,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(120_000),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // Not JSON (NDJSON export, HTML error page): keep the text.
    }
    return { status: res.status, headers: res.headers, body: parsed };
  }

  const { operator, auditor, reader } = info.tokens;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  /** Polls a job URL until it ends; prints each new progress message. */
  async function pollJob(location: string, label: string): Promise<Json> {
    const deadline = Date.now() + (opts.jobTimeoutMs ?? 600_000);
    let last = '';
    for (;;) {
      const res = await api('GET', location, operator);
      expectStatus(res, [200], `GET ${location}`);
      const job = res.body as Json;
      const progress = job['progress'] as { percent?: number; text?: string } | null;
      const line = `${String(job['status'])}${progress ? ` ${progress.percent ?? '?'}% ${progress.text ?? ''}` : ''}`;
      if (line !== last) {
        out.write(`    ${label}: ${line}\n`);
        last = line;
      }
      if (job['status'] === 'succeeded') return job;
      expect(
        job['status'] === 'queued' || job['status'] === 'running',
        `${label} ended ${String(job['status'])}: ${JSON.stringify(job['error'])}`,
      );
      expect(Date.now() < deadline, `${label} did not finish in time`);
      await sleep(pollMs);
    }
  }

  let n = 0;
  async function step(title: string, why: string, run: () => Promise<string>): Promise<void> {
    n += 1;
    out.write(`\n[${n}] ${title}\n    why: ${why}\n`);
    try {
      const detail = await run();
      out.write(`    ok: ${detail}\n`);
      report.steps.push({ title, ok: true, detail });
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      out.write(`    FAILED: ${detail}\n`);
      report.steps.push({ title, ok: false, detail });
      report.ok = false;
    }
  }

  out.write(`hvgate tour against ${info.url} (tokens from ${info.stateDir}/demo.json), run ${runId}\n`);
  const mainHost = info.hosts[0]?.name ?? 'hv-tokyo-01';
  const vmsPath = `/v1/hosts/${encodeURIComponent(mainHost)}/vms`;
  const vmPath = (vm: VmView) => `${vmsPath}/${vm.id}`;
  let vms: VmView[] = [];
  let gen2: VmView | undefined;
  let gen1: VmView | undefined;

  await step(
    'List the hosts each token may see',
    'host grants in the token decide visibility; the reader is confined to one host group',
    async () => {
      const all = await api('GET', '/v1/hosts', operator);
      expectStatus(all, [200], 'GET /v1/hosts (operator)');
      const hosts = (all.body as { hosts: { name: string; slots: { max: number } }[] }).hosts;
      expect(hosts.length === info.hosts.length, `operator sees ${hosts.length} hosts, expected all`);
      for (const h of hosts) out.write(`    ${h.name.padEnd(14)} ${h.slots.max} slots\n`);
      const mine = await api('GET', '/v1/hosts', reader);
      expectStatus(mine, [200], 'GET /v1/hosts (reader)');
      const seen = (mine.body as { hosts: { name: string }[] }).hosts.map((h) => h.name);
      expect(seen.length >= 1 && seen.length < hosts.length, `reader sees ${seen.join(', ')}`);
      return `operator sees ${hosts.length} hosts, reader only ${seen.join(', ')}`;
    },
  );

  await step(
    `List the VMs on ${mainHost}`,
    'every change below is checked against these facts first (generation, state, version)',
    async () => {
      const res = await api('GET', vmsPath, operator);
      expectStatus(res, [200], `GET ${vmsPath}`);
      vms = (res.body as { result: VmView[] }).result;
      for (const vm of vms) {
        out.write(`    ${vm.name.padEnd(16)} gen ${vm.generation}  v${vm.version}  ${vm.state}\n`);
      }
      gen2 = vms.find(
        (v) =>
          v.generation === 2 &&
          v.state === 'Running' &&
          !v.memory.dynamicMemoryEnabled &&
          versionAtLeast(v.version, '6.2') &&
          v.hardDisks.some((d) => d.controllerType === 'SCSI'),
      );
      gen1 = vms.find((v) => v.generation === 1 && v.state === 'Running');
      expect(gen2 !== undefined, 'no running Generation 2 VM with static memory on this host');
      expect(gen1 !== undefined, 'no running Generation 1 VM on this host');
      return `${vms.length} VMs; using ${gen2.name} (Generation 2) and ${gen1.name} (Generation 1)`;
    },
  );

  const needVms = (): { g2: VmView; g1: VmView } => {
    expect(gen2 !== undefined && gen1 !== undefined, 'skipped: the VM list step failed');
    return { g2: gen2, g1: gen1 };
  };

  await step(
    'Hot-add a network adapter to a running Generation 2 VM',
    'synthetic adapters can be added while a Generation 2 VM runs; the Idempotency-Key makes a retry safe',
    async () => {
      const { g2 } = needVms();
      const res = await api(
        'POST',
        `${vmPath(g2)}/network-adapters`,
        operator,
        { switchName: 'External-LAN' },
        { 'Idempotency-Key': `tour-${runId}-nic` },
      );
      expectStatus(res, [201], 'hot-add NIC');
      const result = (res.body as { result: { id: string; macAddress: string } }).result;
      return `${g2.name} has a new adapter ${result.macAddress} on External-LAN (201)`;
    },
  );

  await step(
    'Try the same on a running Generation 1 VM',
    'Hyper-V cannot hot-add adapters to Generation 1 VMs; the gateway refuses before touching the host',
    async () => {
      const { g1 } = needVms();
      const res = await api('POST', `${vmPath(g1)}/network-adapters`, operator, {
        switchName: 'External-LAN',
      });
      expectStatus(res, [409], 'NIC on Generation 1');
      const b = res.body as Json;
      expect(
        b['code'] === 'HVG_ERR_REQUIRES_GEN2',
        `expected HVG_ERR_REQUIRES_GEN2, got ${String(b['code'])}`,
      );
      return `409 ${String(b['code'])}: ${String(b['detail'])}`;
    },
  );

  await step(
    'Resize static memory of the running VM',
    'configuration version 6.2+ allows runtime resize of static memory, if the host has the memory',
    async () => {
      const { g2 } = needVms();
      const target = g2.memory.startupBytes + GiB;
      const res = await api('PUT', `${vmPath(g2)}/memory`, operator, { startupBytes: target });
      expectStatus(res, [200], 'memory resize');
      const got = (res.body as { result: { startupBytes: number } }).result.startupBytes;
      expect(got === target, `memory is ${got}, expected ${target}`);
      return `${g2.name}: ${g2.memory.startupBytes / GiB} GiB -> ${got / GiB} GiB while running`;
    },
  );

  await step(
    'Set IOPS limits on the boot disk',
    'Storage QoS caps a noisy VM in normalized 8 KB IOPS; it applies at once, no restart',
    async () => {
      const { g2 } = needVms();
      const disk = g2.hardDisks.find((d) => d.controllerType === 'SCSI')!;
      const res = await api('PUT', `${vmPath(g2)}/hard-disks/${slotOf(disk)}/qos`, operator, {
        minimumIops: 100,
        maximumIops: 2000,
      });
      expectStatus(res, [200], 'disk QoS');
      const r = (res.body as { result: { minimumIops: number; maximumIops: number } }).result;
      expect(r.maximumIops === 2000 && r.minimumIops === 100, `QoS is ${r.minimumIops}/${r.maximumIops}`);
      return `${slotOf(disk)}: minimum 100, maximum 2000 IOPS`;
    },
  );

  await step(
    'Hot-add a new SCSI data disk, then remove it',
    'SCSI disks can be attached and detached while the VM runs (IDE needs the VM off)',
    async () => {
      const { g2 } = needVms();
      const used = new Set(
        [...g2.hardDisks, ...(g2.dvdDrives ?? [])]
          .filter((d) => d.controllerType === 'SCSI' && d.controllerNumber === 0)
          .map((d) => d.controllerLocation),
      );
      let location = 0;
      while (used.has(location)) location += 1;
      const slot = `SCSI:0:${location}`;
      const add = await api('POST', `${vmPath(g2)}/hard-disks`, operator, {
        controllerType: 'SCSI',
        controllerNumber: 0,
        controllerLocation: location,
        path: `D:\\Hyper-V\\Virtual Hard Disks\\tour-${runId}.vhdx`,
        sizeBytes: 10 * GiB,
      });
      expectStatus(add, [201], 'add SCSI disk');
      const remove = await api('DELETE', `${vmPath(g2)}/hard-disks/${slot}`, operator);
      expectStatus(remove, [200], 'remove SCSI disk');
      const attached = (remove.body as { result: { attached: boolean } }).result.attached;
      expect(attached === false, 'the disk is still attached after removal');
      return `10 GiB disk created at ${slot} (201), then detached (200); the file stays on the host`;
    },
  );

  await step(
    'Take a checkpoint',
    'a production checkpoint uses VSS in the guest, so it is consistent without saving memory',
    async () => {
      const { g2 } = needVms();
      const res = await api('POST', `${vmPath(g2)}/checkpoints`, operator, { name: `tour-${runId}` });
      expectStatus(res, [201, 202], 'checkpoint');
      let job = res.body as Json;
      if (res.status === 202) job = await pollJob(String(res.headers.get('location')), 'checkpoint');
      const r = job['result'] as { name: string; snapshotType: string };
      return `checkpoint '${r.name}' (${r.snapshotType}) of ${g2.name}`;
    },
  );

  await step(
    'Export a VM as a job and follow its progress',
    'exports copy every disk and take minutes: the API answers 202 with Location at once; poll the job',
    async () => {
      // The smallest VM keeps the wait short at realistic latency.
      const candidates = vms.filter((v) => v.state === 'Running' || v.state === 'Off');
      expect(candidates.length > 0, 'no VM to export');
      const size = (v: VmView) => v.hardDisks.reduce((s, d) => s + d.fileSizeBytes, 0);
      const vm = candidates.reduce((a, b) => (size(b) < size(a) ? b : a));
      const res = await api('POST', `${vmPath(vm)}/export?wait=0`, operator, {
        destinationPath: `E:\\Exports\\tour-${runId}`,
        captureLiveState: 'CaptureDataConsistentState',
      });
      expectStatus(res, [202], 'export');
      const location = res.headers.get('location');
      expect(location !== null && location.startsWith('/v1/jobs/'), `202 without a job Location`);
      out.write(`    202 Accepted, Location: ${location}\n`);
      const job = await pollJob(location, 'export');
      const r = job['result'] as { exportPath: string; bytesCopied: number };
      return `${vm.name} exported to ${r.exportPath} (${(r.bytesCopied / GiB).toFixed(1)} GiB)`;
    },
  );

  await step(
    'Saturate the small host and get 429',
    'each host has a slot limit and a bounded queue; beyond it the gateway answers 429 with Retry-After instead of piling up work',
    async () => {
      const small = [...info.hosts].sort(
        (a, b) => a.maxConcurrent + a.maxQueue - (b.maxConcurrent + b.maxQueue),
      )[0];
      expect(small !== undefined, 'no hosts');
      const burst = opts.burstSize ?? 12;
      const counts = new Map<number, number>();
      let retryAfter: string | null = null;
      for (let round = 1; round <= 3 && retryAfter === null; round++) {
        const results = await Promise.all(
          Array.from({ length: burst }, () =>
            api('GET', `/v1/hosts/${encodeURIComponent(small.name)}/vms`, operator),
          ),
        );
        for (const r of results) {
          counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
          if (r.status === 429 && retryAfter === null) {
            expect((r.body as Json)['code'] === 'HVG_ERR_HOST_BUSY', `429 with ${problemText(r)}`);
            retryAfter = r.headers.get('retry-after');
          }
          expect(r.status === 200 || r.status === 429, `unexpected ${problemText(r)}`);
        }
      }
      const summary = [...counts].map(([s, c]) => `${c}x ${s}`).join(', ');
      expect(retryAfter !== null, `no 429 from ${small.name} (${summary})`);
      return `${small.name} (${small.maxConcurrent} slots, queue ${small.maxQueue}): ${summary}; Retry-After: ${retryAfter}s`;
    },
  );

  await step(
    'Refused tokens',
    'a forged signature is 401; a valid token without the scope or host grant is 403; both are audited',
    async () => {
      const parts = operator.split('.');
      const sig = parts[2] ?? '';
      const flipped = sig.startsWith('A') ? `B${sig.slice(1)}` : `A${sig.slice(1)}`;
      const forged = await api('GET', '/v1/hosts', `${parts[0]}.${parts[1]}.${flipped}`);
      expectStatus(forged, [401], 'forged token');
      expect(forged.headers.get('www-authenticate') !== null, '401 without WWW-Authenticate');
      const { g2 } = needVms();
      const noScope = await api('POST', `${vmPath(g2)}/network-adapters`, reader, { switchName: 'Internal' });
      expectStatus(noScope, [403], 'reader hot-add');
      const noAudit = await api('GET', '/v1/audit?limit=1', operator);
      expectStatus(noAudit, [403], 'operator reading the audit trail');
      return `forged: 401; reader hot-add: ${problemText(noScope)}; operator on /v1/audit: 403`;
    },
  );

  await step(
    'The audit trail of this session',
    'every request, refusal and host script is recorded with who, what, where and the outcome',
    async () => {
      const res = await api(
        'GET',
        `/v1/audit?from=${encodeURIComponent(tourStart)}&order=asc&limit=1000`,
        auditor,
      );
      expectStatus(res, [200], 'audit query');
      const events = (
        res.body as {
          events: {
            seq: number;
            stage: string;
            operation: string | null;
            actor: { sub?: string | null };
            target: { host: string | null; vmName: string | null };
            outcome: { status: string; httpStatus: number | null; errorCode: string | null };
          }[];
        }
      ).events;
      const ops = new Set(events.map((e) => e.operation));
      const wanted = [
        'network-adapter.add',
        'memory.set',
        'hard-disk.set-qos',
        'hard-disk.add',
        'hard-disk.remove',
        'checkpoint.create',
        'vm.export',
      ];
      const missing = wanted.filter((o) => !ops.has(o));
      expect(missing.length === 0, `the audit trail lacks ${missing.join(', ')}`);
      expect(
        events.some((e) => e.outcome.errorCode === 'HVG_ERR_REQUIRES_GEN2'),
        'the Generation 1 refusal is not in the audit trail',
      );
      expect(
        events.some((e) => e.outcome.httpStatus === 401),
        'the forged token is not in the audit trail',
      );
      // Final outcomes only (requested/started lines are the same requests), and the burst's
      // successful reads folded away, so the session fits on one screen.
      const shown = events.filter(
        (e) =>
          e.stage !== 'requested' &&
          e.stage !== 'started' &&
          !(e.operation === 'vm.list' && e.outcome.status === 'succeeded'),
      );
      for (const e of shown.slice(-30)) {
        const target = e.target.vmName ?? e.target.host ?? '';
        const error = e.outcome.errorCode ? ` ${e.outcome.errorCode}` : '';
        out.write(
          `    #${String(e.seq).padEnd(4)} ${(e.operation ?? '-').padEnd(20)} ${(e.actor.sub ?? '-').padEnd(14)} ${target.padEnd(13)} ${e.stage} ${e.outcome.httpStatus ?? ''}${error}\n`,
        );
      }
      return `${events.length} events since the tour started (outcomes above, successful burst reads folded)`;
    },
  );

  await step(
    'Verify the audit trail',
    'each event is hash-chained to the previous one and chain heads are signed (Ed25519); verify recomputes both',
    async () => {
      const res = await api('GET', '/v1/audit/verify', auditor);
      expectStatus(res, [200], 'audit verify');
      const v = res.body as {
        ok: boolean;
        eventsChecked: number;
        checkpointsChecked: number;
        problems: unknown[];
      };
      expect(v.ok === true, `verification failed: ${JSON.stringify(v.problems).slice(0, 300)}`);
      let offline = '';
      if (opts.offlineVerify) {
        const r = await opts.offlineVerify(info.configFile);
        for (const line of r.output.trimEnd().split('\n')) out.write(`    | ${line}\n`);
        expect(r.code === 0, `hvgate audit verify --config ${info.configFile} exited ${r.code}`);
        offline = '; hvgate audit verify on the database file: OK';
      }
      return `API: ${v.eventsChecked} events, ${v.checkpointsChecked} signed checkpoints, no problems${offline}`;
    },
  );

  const failed = report.steps.filter((s) => !s.ok);
  out.write(
    failed.length === 0
      ? `\nTour complete: all ${report.steps.length} steps behaved as described.\n`
      : `\nTour FAILED: ${failed.length} of ${report.steps.length} steps did not behave as described: ${failed.map((s) => s.title).join('; ')}\n`,
  );
  return report;
}
