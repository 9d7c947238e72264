// The kustomize overlays are rendered with kubectl, every object is validated against the Kubernetes
// schemas offline, and the security and wiring rules are asserted on what a cluster would receive.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig, parseConfig, type HvgateConfig } from '../../../src/config';
import { byKeyword, loadDockerfile, REPO_ROOT } from './dockerfile-stages';
import {
  classifyEgress,
  containerMounts,
  ingressViolations,
  labelsMatch,
  mountFor,
  Mount,
  parseCidr,
  podSecurityViolations,
  relativeKey,
  volumeSecrets,
} from './k8s-rules';
import {
  findKubectl,
  K8sObject,
  KUBECTL_MISSING,
  kubectlVersion,
  parseManifestStream,
  podTemplate,
  renderKustomization,
  validateObject,
  WORKLOAD_KINDS,
} from './kustomize-render';

/* eslint-disable @typescript-eslint/no-explicit-any */

const K8S_DIR = path.join(REPO_ROOT, 'k8s');
const kubectl = findKubectl();
if (!kubectl) console.error(KUBECTL_MISSING);

const dockerfile = loadDockerfile();
const runtimeStage = dockerfile.stages[dockerfile.stages.length - 1]!;
const imageUid = Number(
  /^(\d+)/.exec(byKeyword(runtimeStage, 'USER').pop()?.getArgumentsContent()?.trim() ?? '')?.[1],
);
const imagePort = Number(byKeyword(runtimeStage, 'EXPOSE')[0]?.getArgumentsContent()?.trim());

interface Rendered {
  objects: K8sObject[];
  deployment: K8sObject;
  spec: any;
  container: any;
  mounts: Mount[];
  ports: Map<string | number, number>;
  configMap: K8sObject;
  config: HvgateConfig;
}

function render(overlay: string): Rendered {
  if (!kubectl) throw new Error(KUBECTL_MISSING);
  const objects = renderKustomization(kubectl, path.join(K8S_DIR, 'overlays', overlay));
  const deployment = single(objects, 'Deployment');
  const { spec } = podTemplate(deployment);
  const container = spec.containers.find((c: any) => c.name === 'hvgate');
  if (!container) throw new Error('Deployment has no container named hvgate');
  const mounts = containerMounts(spec, container);
  const ports = new Map<string | number, number>();
  for (const p of container.ports ?? []) {
    ports.set(p.containerPort, p.containerPort);
    if (p.name) ports.set(p.name, p.containerPort);
  }
  // The config is the file the container is told to load, found through its volume mount.
  const args: string[] = container.args ?? [];
  const configPath = args[args.indexOf('--config') + 1] ?? '';
  const mount = mountFor(mounts, configPath);
  const configMap = objects.find(
    (o) => o.kind === 'ConfigMap' && o.metadata.name === mount?.volume?.configMap?.name,
  );
  if (!mount || !configMap) throw new Error(`--config ${configPath} is not inside a mounted ConfigMap`);
  const text = configMap.data?.[relativeKey(mount, configPath)];
  if (typeof text !== 'string')
    throw new Error(`ConfigMap ${configMap.metadata.name} has no key for ${configPath}`);
  return {
    objects,
    deployment,
    spec,
    container,
    mounts,
    ports,
    configMap,
    config: parseConfig(text, configPath),
  };
}

function single(objects: K8sObject[], kind: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind);
  if (found.length !== 1) throw new Error(`expected one ${kind}, found ${found.length}`);
  return found[0]!;
}

/** Every file path the config names, with what it holds. */
function configFiles(config: HvgateConfig): { file: string; holds: string }[] {
  const files: { file: string; holds: string }[] = [];
  for (const key of config.auth.publicKeyFiles ?? []) {
    files.push({ file: typeof key === 'string' ? key : key.file, holds: 'jwt' });
  }
  if (config.auth.hmacSecretFile) files.push({ file: config.auth.hmacSecretFile, holds: 'jwt' });
  files.push({ file: config.audit.signingKeyFile, holds: 'audit' });
  if (config.store.kind === 'postgres' && config.store.urlFile)
    files.push({ file: config.store.urlFile, holds: 'store' });
  for (const h of config.hosts) {
    if (h.usernameFile) files.push({ file: h.usernameFile, holds: 'winrm' });
    if (h.passwordFile) files.push({ file: h.passwordFile, holds: 'winrm' });
    if (h.caFile) files.push({ file: h.caFile, holds: 'ca' });
  }
  if (config.server.tls) {
    files.push(
      { file: config.server.tls.certFile, holds: 'tls' },
      { file: config.server.tls.keyFile, holds: 'tls' },
    );
  }
  return files;
}

/** Secret name → keys, from the `kubectl create secret generic … --from-file=KEY=PATH` lines of the README. */
function documentedSecrets(): Map<string, string[]> {
  const text = fs.readFileSync(path.join(K8S_DIR, 'README.md'), 'utf8').replace(/\\\n\s*/g, ' ');
  const out = new Map<string, string[]>();
  for (const m of text.matchAll(/kubectl create secret generic (\S+)((?: +--from-file=\S+)+)/g)) {
    const keys = [...m[2]!.matchAll(/--from-file=([^=\s]+)=/g)].map((k) => k[1]!);
    out.set(m[1]!, [...(out.get(m[1]!) ?? []), ...keys]);
  }
  return out;
}

const sampleKeys = crypto.generateKeyPairSync('ed25519');

/** Content of the right shape for a documented secret key. */
function sampleSecret(key: string): Buffer {
  if (key.endsWith('public.pem'))
    return Buffer.from(sampleKeys.publicKey.export({ type: 'spki', format: 'pem' }));
  if (key.endsWith('.pem'))
    return Buffer.from(sampleKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  if (key === 'url') return Buffer.from('postgres://hvgate:sample@db.example.com:5432/hvgate\n');
  return Buffer.from(`${key}-sample-value\n`);
}

describe('kubectl', () => {
  test('is available to render the overlays', () => {
    if (!kubectl) throw new Error(KUBECTL_MISSING);
    expect(kubectlVersion(kubectl)).toMatch(/Client Version/);
  });
});

describe.each([
  {
    overlay: 'single',
    replicas: 1,
    kinds: [
      'ConfigMap',
      'Deployment',
      'NetworkPolicy',
      'PersistentVolumeClaim',
      'PodDisruptionBudget',
      'Service',
      'ServiceAccount',
    ],
  },
  {
    overlay: 'ha',
    replicas: 3,
    kinds: ['ConfigMap', 'Deployment', 'NetworkPolicy', 'PodDisruptionBudget', 'Service', 'ServiceAccount'],
  },
])('k8s overlay $overlay', ({ overlay, replicas, kinds }) => {
  let r: Rendered;

  beforeAll(() => {
    r = render(overlay);
  });

  test('renders the expected objects, each valid against the Kubernetes schema', () => {
    expect(r.objects.map((o) => o.kind).sort()).toEqual(kinds);
    for (const obj of r.objects) expect(() => validateObject(obj)).not.toThrow();
    for (const obj of r.objects) expect(obj.metadata.labels?.['app.kubernetes.io/name']).toBe('hvgate');
  });

  test('commits no Secret and no secret value', () => {
    expect(r.objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    const text = JSON.stringify(r.objects);
    expect(text).not.toMatch(/-----BEGIN/);
    expect(text).not.toMatch(/postgres(ql)?:\/\/[^"\s]*:[^"\s@]+@/);
    expect(r.config.allowInlineSecrets).toBe(false);
  });

  test('every workload runs under the restricted security profile', () => {
    const workloads = r.objects.filter((o) => WORKLOAD_KINDS.includes(o.kind));
    expect(workloads.length).toBeGreaterThan(0);
    for (const w of workloads) expect(podSecurityViolations(w)).toEqual([]);
    // The numeric user is the image's own, so files the image owns line up with the pod's identity.
    expect(r.container.securityContext.runAsUser ?? r.spec.securityContext.runAsUser).toBe(imageUid);
  });

  test(`runs ${replicas} replica(s) with liveness on /healthz and readiness on /readyz`, () => {
    expect(r.deployment.spec.replicas).toBe(replicas);
    expect(r.ports.get('http')).toBe(imagePort);
    const probe = (name: string) => r.container[name]?.httpGet;
    expect(probe('livenessProbe')?.path).toBe('/healthz');
    expect(probe('readinessProbe')?.path).toBe('/readyz');
    for (const name of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
      if (r.container[name]) expect(r.ports.get(probe(name).port)).toBe(imagePort);
    }
  });

  test('writes only to /tmp (a bounded emptyDir) and the state volume', () => {
    const tmp = r.mounts.find((m) => m.mountPath === '/tmp');
    expect(tmp?.volume?.emptyDir?.sizeLimit).toBeDefined();
    const writable = r.mounts
      .filter((m) => !m.readOnly)
      .map((m) => m.mountPath)
      .sort();
    expect(writable).toEqual(r.config.store.kind === 'sqlite' ? ['/tmp', '/var/lib/hvgate'] : ['/tmp']);
  });

  test('uses its own ServiceAccount without a token', () => {
    const sa = single(r.objects, 'ServiceAccount');
    expect(sa.automountServiceAccountToken).toBe(false);
    expect(r.spec.serviceAccountName).toBe(sa.metadata.name);
    expect(r.spec.automountServiceAccountToken).toBe(false);
  });

  test('loads a valid config that listens where the pod expects', () => {
    expect(r.container.args.slice(0, 2)).toEqual(['serve', '--config']);
    expect(r.config.server.host).toBe('0.0.0.0');
    expect(r.config.server.port).toBe(imagePort);
    expect(r.config.hosts.length).toBeGreaterThan(0);
  });

  test('every file the config names is mounted read-only from a Secret reference', () => {
    const secretsByPurpose = new Map<string, Set<string>>();
    for (const { file, holds } of configFiles(r.config)) {
      const mount = mountFor(r.mounts, file);
      expect({ file, mounted: mount !== undefined }).toEqual({ file, mounted: true });
      expect({ file, readOnly: mount!.readOnly }).toEqual({ file, readOnly: true });
      const secrets = volumeSecrets(mount!.volume);
      // A CA bundle may come from a ConfigMap; everything else is secret material.
      if (holds !== 'ca') expect({ file, secrets }).toEqual({ file, secrets: [expect.any(String)] });
      for (const s of secrets) {
        if (!secretsByPurpose.has(holds)) secretsByPurpose.set(holds, new Set());
        secretsByPurpose.get(holds)!.add(s);
      }
    }
    expect([...secretsByPurpose.keys()]).toEqual(expect.arrayContaining(['jwt', 'winrm', 'audit']));
    // The audit signing key lives in a Secret of its own, apart from the store and every other credential.
    const auditSecrets = secretsByPurpose.get('audit')!;
    for (const [purpose, names] of secretsByPurpose) {
      if (purpose !== 'audit')
        for (const n of names)
          expect({ purpose, shared: auditSecrets.has(n) }).toEqual({ purpose, shared: false });
    }
    // Secrets reached through the environment must come from secretKeyRef, never a literal value.
    for (const e of r.container.env ?? []) {
      if (/pass|secret|token|key|url/i.test(e.name)) expect(e.valueFrom?.secretKeyRef).toBeDefined();
    }
  });

  test('the Secrets created as k8s/README.md says are exactly what the config loads', async () => {
    const documented = documentedSecrets();
    const files = new Map<string, Buffer>();
    const configPath = r.container.args[r.container.args.indexOf('--config') + 1];
    files.set(
      configPath,
      Buffer.from(r.configMap.data[relativeKey(mountFor(r.mounts, configPath)!, configPath)]),
    );
    for (const mount of r.mounts) {
      for (const name of volumeSecrets(mount.volume)) {
        // A Secret the README does not tell the operator to create would leave the pod pending.
        expect({ name, documented: documented.has(name) }).toEqual({ name, documented: true });
        for (const key of documented.get(name) ?? [])
          files.set(path.posix.join(mount.mountPath, key), sampleSecret(key));
      }
    }
    const readFile = async (p: string): Promise<Buffer> => {
      const data = files.get(p);
      if (data === undefined) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
      return data;
    };
    const loaded = await loadConfig(configPath, { readFile, env: {} });
    expect(loaded.secrets.hostCredentials.size).toBe(r.config.hosts.length);
    expect(loaded.publicKeys.length + (loaded.secrets.hmacSecret ? 1 : 0)).toBeGreaterThan(0);
    expect(loaded.secrets.storeUrl !== undefined).toBe(r.config.store.kind === 'postgres');
  });

  test('the Service and the PodDisruptionBudget select the gateway pods', () => {
    const podLabels = podTemplate(r.deployment).metadata.labels;
    expect(labelsMatch(r.deployment.spec.selector.matchLabels, podLabels)).toBe(true);
    const service = single(r.objects, 'Service');
    expect(labelsMatch(service.spec.selector, podLabels)).toBe(true);
    expect(service.spec.type ?? 'ClusterIP').toBe('ClusterIP');
    for (const p of service.spec.ports) expect(r.ports.get(p.targetPort)).toBe(imagePort);
    const pdb = single(r.objects, 'PodDisruptionBudget');
    expect(labelsMatch(pdb.spec.selector.matchLabels, podLabels)).toBe(true);
  });

  test('the NetworkPolicy admits only labelled callers and reaches only DNS, WinRM and the database', () => {
    const policy = single(r.objects, 'NetworkPolicy');
    expect(labelsMatch(policy.spec.podSelector.matchLabels, podTemplate(r.deployment).metadata.labels)).toBe(
      true,
    );
    expect([...policy.spec.policyTypes].sort()).toEqual(['Egress', 'Ingress']);
    expect(policy.spec.ingress.length).toBeGreaterThan(0);
    expect(ingressViolations(policy, r.ports)).toEqual([]);

    const { kinds: egress, violations } = classifyEgress(policy);
    expect(violations).toEqual([]);
    expect(egress).toContain('dns');
    expect(egress).toContain('winrm');
    expect(egress.includes('database')).toBe(r.config.store.kind === 'postgres');
    // Every host in the config is reachable on the port the policy opens.
    const winrmPorts = new Set<number>(
      policy.spec.egress.flatMap((rule: any) =>
        rule.to.every((p: any) => p.ipBlock) ? rule.ports.map((p: any) => p.port) : [],
      ),
    );
    for (const h of r.config.hosts)
      expect({ host: h.name, port: winrmPorts.has(h.port) }).toEqual({ host: h.name, port: true });
  });

  test('the operator-edited ipBlocks are documented in the overlay', () => {
    const patch = fs.readFileSync(
      path.join(K8S_DIR, 'overlays', overlay, 'network-policy-egress.yaml'),
      'utf8',
    );
    expect(patch).toMatch(/EDIT/);
    const yamlLines = patch
      .split('\n')
      .filter((l) => !l.trimStart().startsWith('#'))
      .join('\n');
    const cidrs = [...yamlLines.matchAll(/cidr:\s*([^\s#]+)/g)].map((m) => m[1]!);
    expect(cidrs.length).toBeGreaterThan(0);
    for (const cidr of cidrs) expect(parseCidr(cidr)).not.toBeNull();
  });
});

describe('k8s overlay specifics', () => {
  let single_: Rendered;
  let ha: Rendered;

  beforeAll(() => {
    single_ = render('single');
    ha = render('ha');
  });

  test('single keeps SQLite on a ReadWriteOnce PVC and replaces its one pod with Recreate', () => {
    expect(single_.deployment.spec.strategy.type).toBe('Recreate');
    expect(single_.config.store.kind).toBe('sqlite');
    const dbPath = single_.config.store.kind === 'sqlite' ? single_.config.store.path : '';
    const mount = mountFor(single_.mounts, dbPath);
    expect(mount?.readOnly).toBe(false);
    const claimName = mount?.volume?.persistentVolumeClaim?.claimName;
    const pvc = single_.objects.find(
      (o) => o.kind === 'PersistentVolumeClaim' && o.metadata.name === claimName,
    );
    expect(pvc?.spec.accessModes).toEqual(['ReadWriteOnce']);
    // With one replica the budget must still let a node drain proceed.
    const pdb = single(single_.objects, 'PodDisruptionBudget');
    if (pdb.spec.minAvailable !== undefined) expect(pdb.spec.minAvailable).toBeLessThan(1);
    else expect(pdb.spec.maxUnavailable).toBeGreaterThanOrEqual(1);
  });

  test('ha runs three replicas on PostgreSQL from a Secret, one per node, two always available', () => {
    expect(ha.config.store.kind).toBe('postgres');
    expect(ha.objects.some((o) => o.kind === 'PersistentVolumeClaim')).toBe(false);
    const pdb = single(ha.objects, 'PodDisruptionBudget');
    expect(pdb.spec.minAvailable).toBe(2);
    expect(pdb.spec.maxUnavailable).toBeUndefined();

    const podLabels = podTemplate(ha.deployment).metadata.labels;
    const terms = ha.spec.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? [];
    expect(
      terms.some(
        (t: any) =>
          t.topologyKey === 'kubernetes.io/hostname' && labelsMatch(t.labelSelector?.matchLabels, podLabels),
      ),
    ).toBe(true);
    // Required anti-affinity leaves no node for a surge pod on a three-node pool.
    expect(ha.deployment.spec.strategy.type).toBe('RollingUpdate');
    expect(ha.deployment.spec.strategy.rollingUpdate.maxSurge).toBe(0);
  });

  test('both overlays describe the same fleet and differ only in the store', () => {
    const strip = (c: HvgateConfig) => ({ ...c, store: undefined });
    expect(strip(ha.config)).toEqual(strip(single_.config));
  });
});

describe('k8s sources', () => {
  const files = fs
    .readdirSync(K8S_DIR, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));

  test('hold no Secret objects and no key material', () => {
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const text = fs.readFileSync(file, 'utf8');
      const rel = path.relative(REPO_ROOT, file);
      expect({ rel, secret: /^kind:\s*Secret\b/m.test(text) }).toEqual({ rel, secret: false });
      expect({ rel, stringData: /^\s*stringData:/m.test(text) }).toEqual({ rel, stringData: false });
      expect({ rel, pem: /-----BEGIN/.test(text) }).toEqual({ rel, pem: false });
    }
  });
});

describe('the rules catch broken manifests', () => {
  const base = parseManifestStream(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: broken, labels: {app.kubernetes.io/name: hvgate}}
spec:
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: x}}
    spec:
      automountServiceAccountToken: false
      securityContext: {runAsNonRoot: true, runAsUser: 10001, seccompProfile: {type: RuntimeDefault}}
      containers:
        - name: c
          image: hvgate:0.1.0
          resources: {requests: {cpu: 10m, memory: 10Mi}, limits: {cpu: 100m, memory: 20Mi}}
          securityContext:
            readOnlyRootFilesystem: true
            allowPrivilegeEscalation: false
            capabilities: {drop: [ALL]}
`)[0]!;

  test('a compliant pod has no violations and each broken field is reported', () => {
    expect(podSecurityViolations(base)).toEqual([]);
    const mutate = (f: (spec: any) => void): string[] => {
      const copy = structuredClone(base);
      f(copy.spec.template.spec);
      return podSecurityViolations(copy);
    };
    expect(mutate((s) => (s.containers[0].securityContext.readOnlyRootFilesystem = false))).toHaveLength(1);
    expect(mutate((s) => (s.containers[0].securityContext.allowPrivilegeEscalation = true))).toHaveLength(1);
    expect(
      mutate((s) => (s.containers[0].securityContext.capabilities = { drop: ['NET_RAW'] })),
    ).toHaveLength(1);
    expect(mutate((s) => (s.securityContext.runAsUser = 0))).toHaveLength(1);
    expect(mutate((s) => delete s.securityContext.seccompProfile)).toHaveLength(1);
    expect(mutate((s) => delete s.automountServiceAccountToken)).toHaveLength(1);
    expect(mutate((s) => (s.containers[0].image = 'hvgate:latest'))).toHaveLength(1);
    expect(mutate((s) => delete s.containers[0].resources.limits)).toHaveLength(2);
    expect(mutate((s) => (s.hostNetwork = true))).toHaveLength(1);
    expect(
      mutate((s) =>
        s.containers.push({ ...structuredClone(s.containers[0]), name: 'd', securityContext: {} }),
      ),
    ).toHaveLength(3);
  });

  test('schema validation rejects a malformed object and an unknown kind', () => {
    const noSelector = structuredClone(base);
    delete noSelector.spec.selector;
    expect(() => validateObject(noSelector)).toThrow(/selector/);
    const wrongType = structuredClone(base);
    wrongType.spec.template.spec.securityContext.runAsUser = 'root';
    expect(() => validateObject(wrongType)).toThrow(/runAsUser/);
    expect(() => validateObject({ apiVersion: 'v1', kind: 'Pod2', metadata: { name: 'x' } })).toThrow(
      /no schema model/,
    );
  });

  test('egress that is open, catch-all or on other ports is reported', () => {
    const policy = (egress: unknown[]): K8sObject =>
      ({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'p' },
        spec: { egress },
      }) as K8sObject;
    const winrm = { to: [{ ipBlock: { cidr: '10.0.0.0/24' } }], ports: [{ protocol: 'TCP', port: 5986 }] };
    expect(classifyEgress(policy([winrm]))).toEqual({ kinds: ['winrm'], violations: [] });
    expect(classifyEgress(policy([{ ports: winrm.ports }])).violations).toHaveLength(1);
    expect(classifyEgress(policy([{ to: winrm.to }])).violations).toHaveLength(1);
    expect(
      classifyEgress(policy([{ ...winrm, to: [{ ipBlock: { cidr: '0.0.0.0/0' } }] }])).violations,
    ).toHaveLength(1);
    expect(
      classifyEgress(policy([{ ...winrm, ports: [{ protocol: 'TCP', port: 5985 }] }])).violations,
    ).toHaveLength(1);
    expect(
      classifyEgress(
        policy([{ to: [{ ipBlock: { cidr: '10.0.0.1/32' } }], ports: [{ port: 53, protocol: 'UDP' }] }]),
      ).violations,
    ).toHaveLength(1);
  });

  test('ingress from anyone or on an unexposed port is reported', () => {
    const ports = new Map<string | number, number>([
      [8080, 8080],
      ['http', 8080],
    ]);
    const policy = (ingress: unknown[]): K8sObject =>
      ({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'p' },
        spec: { ingress },
      }) as K8sObject;
    const ok = {
      from: [{ podSelector: { matchLabels: { 'hvgate-client': 'true' } } }],
      ports: [{ protocol: 'TCP', port: 8080 }],
    };
    expect(ingressViolations(policy([ok]), ports)).toEqual([]);
    expect(ingressViolations(policy([{ ports: ok.ports }]), ports)).toHaveLength(1);
    expect(
      ingressViolations(policy([{ ...ok, from: [{ ipBlock: { cidr: '0.0.0.0/0' } }] }]), ports),
    ).toHaveLength(2);
    expect(ingressViolations(policy([{ ...ok, ports: [{ port: 22 }] }]), ports)).toHaveLength(1);
  });
});
