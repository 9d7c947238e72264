// The seeded demo fleet `hvgate sim` and `npm start` run: hosts on different Windows Server
// versions with the VMs an operator meets in practice — a Generation 1 VM, a version 5.0 VM moved
// from 2012 R2, dynamic memory, VMs that are off or saved, Japanese names, and two VMs on one host
// that share a name. The same seed always gives the same fleet.

import { createFleet, FileSpec, FleetSpec, HostSpec, HyperVFleet, VmSpec } from './hyperv-fleet';
import { Clock, GiB, HostOs, HostProcessor, MiB } from './hyperv-model';
import { createPrng, Prng } from './hyperv-prng';

export interface DemoFleetOptions {
  /** Default 1. */
  seed?: number;
  /** Number of hosts; default 3. Hosts after the third get numbered names (hv-sim-04, …). */
  hosts?: number;
  clock?: Clock;
}

const FILE_SERVER = '\\\\hv-fs01';
const SHARED_VMS = `${FILE_SERVER}\\vmstore`;
const SHARED_ISO = `${FILE_SERVER}\\iso`;
const SHARED_BACKUPS = `${FILE_SERVER}\\backups`;

const BROADWELL: HostProcessor = { vendor: 'GenuineIntel', family: 'Intel Xeon E5-2680 v4 (Broadwell)' };
const CASCADE_LAKE: HostProcessor = { vendor: 'GenuineIntel', family: 'Intel Xeon Gold 6230 (Cascade Lake)' };

interface HostPlan {
  name: string;
  os: HostOs;
  processor: HostProcessor;
  logicalProcessorCount: number;
  memoryCapacityBytes: number;
  /** Hosts this one has Kerberos constrained delegation to (null = every other host). */
  delegatesTo: string[] | null;
  replicaServer: boolean;
  vms: (prng: Prng, host: string) => VmSpec[];
}

export const DEMO_HOST_NAMES = ['hv-tokyo-01', 'hv-osaka-02', 'hv-nagoya-03'] as const;

export function createDemoFleet(options: DemoFleetOptions = {}): HyperVFleet {
  return createFleet(demoFleetSpec(options));
}

/** The spec behind createDemoFleet, for callers that want to adjust it before building. */
export function demoFleetSpec(options: DemoFleetOptions = {}): FleetSpec {
  const seed = options.seed ?? 1;
  const count = options.hosts ?? 3;
  if (!Number.isInteger(count) || count < 1 || count > 64) {
    throw new RangeError(`hosts must be an integer from 1 to 64, got ${count}`);
  }
  // A separate stream from the fleet's GUID/MAC stream, so layout and identities are both seed-stable.
  const prng = createPrng(seed ^ 0x5eed);
  const plans = hostPlans(count);
  const names = plans.map((p) => p.name);
  const hosts: HostSpec[] = plans.map((plan) => buildHostSpec(plan, names, prng));
  const sharedFiles: FileSpec[] = [
    { kind: 'iso', path: `${SHARED_ISO}\\WindowsServer2022.iso`, sizeBytes: 5 * GiB },
    { kind: 'iso', path: `${SHARED_ISO}\\ubuntu-24.04-live-server-amd64.iso`, sizeBytes: 3 * GiB },
    { kind: 'iso', path: `${SHARED_ISO}\\virtio-tools.iso`, sizeBytes: 600 * MiB },
  ];
  return { seed, clock: options.clock, hosts, sharedFiles };
}

function hostPlans(count: number): HostPlan[] {
  const base: HostPlan[] = [
    {
      name: 'hv-tokyo-01',
      os: '2016',
      processor: BROADWELL,
      logicalProcessorCount: 40,
      memoryCapacityBytes: 384 * GiB,
      delegatesTo: ['hv-osaka-02', 'hv-nagoya-03'],
      replicaServer: false,
      vms: tokyoVms,
    },
    {
      name: 'hv-osaka-02',
      os: '2019',
      processor: CASCADE_LAKE,
      logicalProcessorCount: 48,
      memoryCapacityBytes: 512 * GiB,
      delegatesTo: ['hv-tokyo-01', 'hv-nagoya-03'],
      replicaServer: true,
      vms: osakaVms,
    },
    {
      // Delegation only to Osaka: a move from Nagoya to Tokyo shows the Kerberos double-hop failure.
      name: 'hv-nagoya-03',
      os: '2022',
      processor: CASCADE_LAKE,
      logicalProcessorCount: 64,
      memoryCapacityBytes: 768 * GiB,
      delegatesTo: ['hv-osaka-02'],
      replicaServer: true,
      vms: nagoyaVms,
    },
  ];
  const oses: HostOs[] = ['2025', '2016', '2019', '2022'];
  const plans = base.slice(0, count);
  for (let i = base.length; i < count; i++) {
    plans.push({
      name: `hv-sim-${String(i + 1).padStart(2, '0')}`,
      os: oses[(i - base.length) % oses.length]!,
      processor: CASCADE_LAKE,
      logicalProcessorCount: 48,
      memoryCapacityBytes: 512 * GiB,
      delegatesTo: null,
      replicaServer: true,
      vms: genericVms,
    });
  }
  return plans;
}

function buildHostSpec(plan: HostPlan, allNames: string[], prng: Prng): HostSpec {
  const extras = allNames.slice(DEMO_HOST_NAMES.length);
  const delegation =
    plan.delegatesTo === null ? allNames.filter((n) => n !== plan.name) : [...plan.delegatesTo, ...extras];
  return {
    name: plan.name,
    os: plan.os,
    processor: plan.processor,
    logicalProcessorCount: plan.logicalProcessorCount,
    memoryCapacityBytes: plan.memoryCapacityBytes,
    virtualSwitches: [
      { name: 'External-LAN', switchType: 'External' },
      { name: 'Internal', switchType: 'Internal' },
      { name: 'Storage', switchType: 'Private' },
    ],
    storageRoots: ['D:\\Hyper-V', SHARED_VMS, SHARED_ISO],
    exportRoots: ['E:\\Exports', SHARED_BACKUPS],
    virtualHardDiskPath: 'D:\\Hyper-V\\Virtual Hard Disks',
    virtualMachinePath: 'D:\\Hyper-V',
    migration: {
      virtualMachineMigrationEnabled: true,
      virtualMachineMigrationAuthenticationType: 'Kerberos',
      virtualMachineMigrationPerformanceOption: 'Compression',
      maximumVirtualMachineMigrations: 2,
      maximumStorageMigrations: 2,
      useAnyNetworkForMigration: false,
      kerberosDelegationTo: delegation.filter((n) => allNames.includes(n)),
    },
    replicationServer: {
      replicationEnabled: plan.replicaServer,
      allowedAuthenticationType: plan.os === '2022' ? 'CertificateAndKerberos' : 'Kerberos',
      kerberosAuthenticationPort: 80,
      certificateAuthenticationPort: 443,
      replicationAllowedFromAnyServer: true,
      defaultStorageLocation: plan.replicaServer ? 'D:\\Hyper-V\\Replica' : null,
    },
    files: [
      // Detached disks for Optimize-VHD, and a local ISO.
      {
        kind: 'vhd',
        path: 'D:\\Hyper-V\\Library\\template-ws2022.vhdx',
        sizeBytes: 127 * GiB,
        dataBytes: 14 * GiB,
        fileSizeBytes: 22 * GiB,
      },
      {
        kind: 'vhd',
        path: 'D:\\Hyper-V\\Library\\archive-2015.vhd',
        sizeBytes: 60 * GiB,
        dataBytes: 9 * GiB,
        fileSizeBytes: 18 * GiB,
      },
      { kind: 'vhd', path: 'D:\\Hyper-V\\Library\\scratch-fixed.vhdx', sizeBytes: 20 * GiB, type: 'Fixed' },
      { kind: 'iso', path: 'D:\\Hyper-V\\ISO\\drivers.iso', sizeBytes: 300 * MiB },
      { kind: 'directory', path: 'E:\\Exports\\previous-export' },
    ],
    vms: plan.vms(prng, plan.name),
  };
}

// ---- VM templates ----

const gb = (n: number) => n * GiB;

function staticMemory(prng: Prng, startupBytes: number): VmSpec['memory'] {
  return { startupBytes, demandBytes: Math.round((startupBytes * prng.int(35, 70)) / 100 / MiB) * MiB };
}

function dynamicMemory(prng: Prng, startupBytes: number): VmSpec['memory'] {
  return {
    dynamicMemoryEnabled: true,
    startupBytes,
    minimumBytes: 512 * MiB,
    maximumBytes: startupBytes * 4,
    bufferPercent: 20,
    priority: 50,
    demandBytes: Math.round((startupBytes * prng.int(40, 120)) / 100 / MiB) * MiB,
  };
}

function bootDisk(prng: Prng, folder: string, name: string, sizeGiB = 127): VmSpec['hardDisks'] {
  const size = gb(sizeGiB);
  const data = gb(prng.int(12, 40));
  return [{ path: `${folder}\\${name}.vhdx`, sizeBytes: size, dataBytes: data }];
}

function tokyoVms(prng: Prng): VmSpec[] {
  return [
    {
      name: 'web-01',
      path: `${SHARED_VMS}\\web-01`,
      memory: staticMemory(prng, gb(4)),
      // On SMB storage and in processor compatibility mode: can live-migrate without moving storage.
      processor: { count: 2, compatibilityForMigrationEnabled: true },
      networkAdapters: [{ switchName: 'External-LAN', vlanId: 10 }],
      hardDisks: bootDisk(prng, `${SHARED_VMS}\\web-01`, 'web-01', 60),
      dvdDrives: [{ path: `${SHARED_ISO}\\virtio-tools.iso` }],
    },
    {
      name: 'ウェブサーバー01',
      memory: dynamicMemory(prng, gb(2)),
      networkAdapters: [{ switchName: 'External-LAN' }, { switchName: 'Internal' }],
      hardDisks: bootDisk(prng, 'D:\\Hyper-V\\ウェブサーバー01', 'ウェブサーバー01'),
    },
    {
      name: 'legacy-erp',
      generation: 1,
      memory: staticMemory(prng, gb(8)),
      processor: { count: 4 },
      scsiControllerCount: 1,
      networkAdapters: [{ switchName: 'External-LAN', isLegacy: true }, { switchName: 'Internal' }],
      hardDisks: [
        {
          controllerType: 'IDE',
          controllerNumber: 0,
          controllerLocation: 0,
          path: 'D:\\Hyper-V\\legacy-erp\\legacy-erp.vhd',
          sizeBytes: gb(80),
          dataBytes: gb(30),
        },
        {
          controllerType: 'SCSI',
          controllerNumber: 0,
          controllerLocation: 0,
          path: 'D:\\Hyper-V\\legacy-erp\\erp-data.vhdx',
          sizeBytes: gb(200),
          dataBytes: gb(90),
        },
      ],
      dvdDrives: [
        { controllerNumber: 1, controllerLocation: 0, path: `${SHARED_ISO}\\WindowsServer2022.iso` },
      ],
    },
    {
      // Moved from 2012 R2 and never upgraded: no runtime memory resize, no production checkpoints.
      name: 'app-2012r2',
      version: '5.0',
      memory: staticMemory(prng, gb(4)),
      hardDisks: bootDisk(prng, 'D:\\Hyper-V\\app-2012r2', 'app-2012r2', 80),
    },
    {
      name: 'db-01',
      state: 'Off',
      memory: staticMemory(prng, gb(16)),
      processor: { count: 8 },
      hardDisks: [
        ...bootDisk(prng, 'D:\\Hyper-V\\db-01', 'db-01')!,
        { path: 'D:\\Hyper-V\\db-01\\db-01-data.vhdx', sizeBytes: gb(500), type: 'Fixed' },
      ],
    },
    {
      name: 'batch-worker',
      memory: dynamicMemory(prng, gb(2)),
      hardDisks: bootDisk(prng, 'D:\\Hyper-V\\batch-worker-a', 'batch-worker'),
    },
    {
      // Same name as the VM above: only the GUID tells them apart.
      name: 'batch-worker',
      memory: dynamicMemory(prng, gb(2)),
      hardDisks: bootDisk(prng, 'D:\\Hyper-V\\batch-worker-b', 'batch-worker'),
    },
    {
      name: '経理システム',
      memory: staticMemory(prng, gb(8)),
      hardDisks: bootDisk(prng, 'D:\\Hyper-V\\経理システム', '経理システム'),
      checkpoints: [
        {
          name: '月次締め前',
          snapshotType: 'Production',
          differencingBytes: gb(3),
          creationTime: '2025-03-31T09:00:00.000Z',
        },
        {
          name: 'パッチ適用前',
          snapshotType: 'Production',
          differencingBytes: gb(1),
          creationTime: '2025-04-08T21:00:00.000Z',
        },
      ],
    },
    {
      // Domain controllers take only production checkpoints; this guest's VSS service is stopped.
      name: 'dc-01',
      checkpointType: 'ProductionOnly',
      guestBackupServiceEnabled: false,
      memory: staticMemory(prng, gb(4)),
      hardDisks: bootDisk(prng, 'D:\\Hyper-V\\dc-01', 'dc-01', 60),
    },
  ];
}

function osakaVms(prng: Prng): VmSpec[] {
  return [
    {
      name: 'api-gateway-01',
      path: `${SHARED_VMS}\\api-gateway-01`,
      memory: staticMemory(prng, gb(8)),
      processor: { count: 4 },
      hardDisks: bootDisk(prng, `${SHARED_VMS}\\api-gateway-01`, 'api-gateway-01', 80),
    },
    {
      name: 'データベース02',
      memory: dynamicMemory(prng, gb(8)),
      processor: { count: 8 },
      hardDisks: [
        ...bootDisk(prng, 'D:\\Hyper-V\\データベース02', 'データベース02')!,
        {
          path: 'D:\\Hyper-V\\データベース02\\data.vhdx',
          sizeBytes: gb(400),
          dataBytes: gb(180),
          minimumIops: 500,
          maximumIops: 5000,
        },
      ],
    },
    {
      name: 'ci-runner-01',
      checkpointType: 'Disabled',
      memory: dynamicMemory(prng, gb(4)),
      hardDisks: bootDisk(prng, 'D:\\Hyper-V\\ci-runner-01', 'ci-runner-01'),
    },
    {
      name: 'file-server-01',
      state: 'Saved',
      memory: staticMemory(prng, gb(6)),
      hardDisks: bootDisk(prng, 'D:\\Hyper-V\\file-server-01', 'file-server-01'),
    },
    {
      name: 'legacy-build',
      generation: 1,
      state: 'Off',
      memory: staticMemory(prng, gb(4)),
      hardDisks: [
        { controllerType: 'IDE', path: 'D:\\Hyper-V\\legacy-build\\legacy-build.vhdx', sizeBytes: gb(100) },
      ],
      dvdDrives: [{ controllerNumber: 1, controllerLocation: 0, path: null }],
    },
    {
      name: 'dev-sandbox',
      version: '5.0',
      memory: staticMemory(prng, gb(2)),
      hardDisks: bootDisk(prng, 'D:\\Hyper-V\\dev-sandbox', 'dev-sandbox', 60),
    },
    {
      name: 'メールサーバー',
      memory: staticMemory(prng, gb(12)),
      processor: { count: 4 },
      hardDisks: bootDisk(prng, 'D:\\Hyper-V\\メールサーバー', 'メールサーバー'),
    },
    {
      name: 'monitoring-01',
      memory: dynamicMemory(prng, gb(4)),
      hardDisks: bootDisk(prng, 'D:\\Hyper-V\\monitoring-01', 'monitoring-01', 80),
    },
  ];
}

function nagoyaVms(prng: Prng): VmSpec[] {
  const k8s = (n: number): VmSpec => ({
    name: `k8s-node-0${n}`,
    memory: dynamicMemory(prng, gb(8)),
    processor: { count: 4 },
    networkAdapters: [{ switchName: 'External-LAN' }, { switchName: 'Storage' }],
    hardDisks: bootDisk(prng, `D:\\Hyper-V\\k8s-node-0${n}`, `k8s-node-0${n}`, 100),
  });
  return [
    k8s(1),
    k8s(2),
    k8s(3),
    {
      name: '分析サーバー',
      memory: staticMemory(prng, gb(32)),
      processor: { count: 16 },
      hardDisks: bootDisk(prng, 'D:\\Hyper-V\\分析サーバー', '分析サーバー', 250),
    },
    {
      name: 'win11-vdi',
      state: 'Off',
      memory: staticMemory(prng, gb(8)),
      hardDisks: bootDisk(prng, 'D:\\Hyper-V\\win11-vdi', 'win11-vdi'),
    },
    {
      name: 'jump-host',
      version: '9.0',
      memory: staticMemory(prng, gb(2)),
      hardDisks: bootDisk(prng, 'D:\\Hyper-V\\jump-host', 'jump-host', 60),
    },
    {
      name: 'reporting',
      memory: dynamicMemory(prng, gb(4)),
      hardDisks: bootDisk(prng, 'D:\\Hyper-V\\reporting', 'reporting'),
      dvdDrives: [{ path: `${SHARED_ISO}\\ubuntu-24.04-live-server-amd64.iso` }],
    },
    {
      name: 'staging-web',
      path: `${SHARED_VMS}\\staging-web`,
      memory: staticMemory(prng, gb(4)),
      hardDisks: bootDisk(prng, `${SHARED_VMS}\\staging-web`, 'staging-web', 60),
    },
  ];
}

function genericVms(prng: Prng, host: string): VmSpec[] {
  const suffix = host.replace(/^hv-/, '');
  return Array.from({ length: 8 }, (_, i) => {
    const name = `vm-${suffix}-${String(i + 1).padStart(2, '0')}`;
    const dynamic = i % 3 === 0;
    return {
      name,
      state: i === 7 ? ('Off' as const) : ('Running' as const),
      memory: dynamic
        ? dynamicMemory(prng, gb(prng.pick([2, 4])))
        : staticMemory(prng, gb(prng.pick([2, 4, 8]))),
      processor: { count: prng.pick([1, 2, 4]) },
      hardDisks: bootDisk(prng, `D:\\Hyper-V\\${name}`, name, prng.pick([60, 80, 127])),
    };
  });
}
