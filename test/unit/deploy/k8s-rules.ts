// The deployment rules hvgate's manifests must keep, written as functions that list violations so the
// tests can show both that the rendered overlays pass and that a broken object is caught.
import { isIP } from 'node:net';
import path from 'node:path';
import { K8sObject, podTemplate } from './kustomize-render';

// Pod specs are open-ended JSON read field by field.
/* eslint-disable @typescript-eslint/no-explicit-any */

export function labelsMatch(
  selector: Record<string, string> | undefined,
  labels: Record<string, string> | undefined,
): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

export function allContainers(spec: any): any[] {
  return [...(spec.initContainers ?? []), ...(spec.containers ?? []), ...(spec.ephemeralContainers ?? [])];
}

/** The Pod Security "restricted" profile plus hvgate's own rules (resources, pinned image, no host access). */
export function podSecurityViolations(workload: K8sObject): string[] {
  const where = `${workload.kind}/${workload.metadata.name}`;
  const { spec } = podTemplate(workload);
  const pod = spec.securityContext ?? {};
  const out: string[] = [];
  const fail = (msg: string) => out.push(`${where}: ${msg}`);

  for (const flag of ['hostNetwork', 'hostPID', 'hostIPC']) if (spec[flag] === true) fail(`${flag} is set`);
  if (spec.automountServiceAccountToken !== false) fail('automountServiceAccountToken is not false');
  for (const v of spec.volumes ?? []) if (v.hostPath) fail(`volume ${v.name} is a hostPath`);

  const containers = allContainers(spec);
  if (containers.length === 0) fail('no containers');
  for (const c of containers) {
    const sc = c.securityContext ?? {};
    const at = (msg: string) => fail(`container ${c.name}: ${msg}`);
    if ((sc.runAsNonRoot ?? pod.runAsNonRoot) !== true) at('runAsNonRoot is not true');
    const uid = sc.runAsUser ?? pod.runAsUser;
    if (!Number.isInteger(uid) || uid <= 0) at(`runAsUser must be a numeric non-root uid, got ${uid}`);
    if ((sc.seccompProfile ?? pod.seccompProfile)?.type !== 'RuntimeDefault')
      at('seccompProfile is not RuntimeDefault');
    if (sc.readOnlyRootFilesystem !== true) at('readOnlyRootFilesystem is not true');
    if (sc.allowPrivilegeEscalation !== false) at('allowPrivilegeEscalation is not false');
    if (sc.privileged === true) at('privileged');
    if (!(sc.capabilities?.drop ?? []).includes('ALL')) at('capabilities do not drop ALL');
    if ((sc.capabilities?.add ?? []).length > 0) at(`capabilities added: ${sc.capabilities.add}`);
    for (const kind of ['requests', 'limits']) {
      for (const res of ['cpu', 'memory'])
        if (!c.resources?.[kind]?.[res]) at(`resources.${kind}.${res} missing`);
    }
    if (
      typeof c.image !== 'string' ||
      !/(:[\w][\w.-]*|@sha256:[0-9a-f]{64})$/.test(c.image) ||
      /:latest$/.test(c.image)
    ) {
      at(`image ${c.image} is not pinned to a tag or digest`);
    }
    for (const p of c.ports ?? []) if (p.hostPort) at(`hostPort ${p.hostPort}`);
    for (const e of c.env ?? []) {
      if (/pass|secret|token|key|credential/i.test(e.name) && e.value !== undefined)
        at(`env ${e.name} has an inline value`);
    }
  }
  return out;
}

export interface Mount {
  mountPath: string;
  readOnly: boolean;
  volume: any;
}

export function containerMounts(spec: any, container: any): Mount[] {
  const volumes = new Map<string, any>((spec.volumes ?? []).map((v: any) => [v.name, v]));
  return (container.volumeMounts ?? []).map((m: any) => ({
    mountPath: m.mountPath,
    readOnly: m.readOnly === true,
    volume: volumes.get(m.name),
  }));
}

/** The mount a file path lives under (the deepest mountPath that contains it). */
export function mountFor(mounts: Mount[], file: string): Mount | undefined {
  return mounts
    .filter(
      (m) =>
        file === m.mountPath || file.startsWith(m.mountPath.endsWith('/') ? m.mountPath : `${m.mountPath}/`),
    )
    .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
}

/** Secret names a volume draws from (plain secret volumes and projected secret sources). */
export function volumeSecrets(volume: any): string[] {
  if (!volume) return [];
  if (volume.secret) return [volume.secret.secretName];
  if (volume.projected)
    return (volume.projected.sources ?? []).filter((s: any) => s.secret).map((s: any) => s.secret.name);
  return [];
}

export function relativeKey(mount: Mount, file: string): string {
  return path.posix.relative(mount.mountPath, file);
}

export function parseCidr(cidr: string): { address: string; prefix: number; family: 4 | 6 } | null {
  const match = /^([^/]+)\/(\d{1,3})$/.exec(cidr);
  if (!match) return null;
  const family = isIP(match[1]!);
  const prefix = Number(match[2]);
  if (family === 0 || prefix > (family === 4 ? 32 : 128)) return null;
  return { address: match[1]!, prefix, family: family as 4 | 6 };
}

export type EgressKind = 'dns' | 'winrm' | 'database';

/**
 * Sorts each egress rule into what it is for; anything that is not DNS to the cluster resolver, WinRM
 * over HTTPS to an ipBlock, or PostgreSQL to a bounded peer is a violation.
 */
export function classifyEgress(policy: K8sObject): { kinds: EgressKind[]; violations: string[] } {
  const kinds: EgressKind[] = [];
  const violations: string[] = [];
  (policy.spec.egress ?? []).forEach((rule: any, i: number) => {
    const fail = (msg: string) => violations.push(`egress[${i}]: ${msg}`);
    const ports: any[] = rule.ports ?? [];
    const peers: any[] = rule.to ?? [];
    if (ports.length === 0) return fail('allows every port');
    if (peers.length === 0) return fail('allows every destination');
    const numbers = new Set(ports.map((p) => p.port));
    const protocols = new Set(ports.map((p) => p.protocol ?? 'TCP'));
    if (ports.some((p) => p.endPort !== undefined)) return fail('uses a port range');

    if ([...numbers].every((n) => n === 53)) {
      const toResolver = peers.every(
        (p) => p.podSelector?.matchLabels?.['k8s-app'] === 'kube-dns' && p.namespaceSelector,
      );
      if (!toResolver) return fail('DNS rule reaches more than the cluster resolver');
      kinds.push('dns');
      return;
    }
    if (numbers.size !== 1 || !protocols.has('TCP') || protocols.size !== 1)
      return fail('mixes ports or protocols');
    const port = [...numbers][0];
    const boundedPeers = peers.every((p) => {
      if (p.ipBlock) {
        const cidr = parseCidr(p.ipBlock.cidr);
        return cidr !== null && cidr.prefix >= (cidr.family === 4 ? 8 : 32);
      }
      return p.podSelector !== undefined && Object.keys(p.podSelector.matchLabels ?? {}).length > 0;
    });
    if (!boundedPeers) return fail(`port ${port} is open to an unbounded peer`);
    if (port === 5986) {
      if (!peers.every((p) => p.ipBlock))
        return fail('WinRM egress must go to ipBlocks of the Hyper-V hosts');
      kinds.push('winrm');
    } else if (port === 5432) {
      kinds.push('database');
    } else {
      fail(`unexpected egress port ${port}`);
    }
  });
  return { kinds, violations };
}

export function ingressViolations(policy: K8sObject, containerPorts: Map<string | number, number>): string[] {
  const out: string[] = [];
  (policy.spec.ingress ?? []).forEach((rule: any, i: number) => {
    const fail = (msg: string) => out.push(`ingress[${i}]: ${msg}`);
    const peers: any[] = rule.from ?? [];
    if (peers.length === 0) fail('allows every source');
    for (const peer of peers) {
      if (peer.ipBlock) fail('allows an ipBlock');
      if (peer.podSelector?.matchLabels?.['hvgate-client'] !== 'true')
        fail('source is not limited to hvgate-client pods');
    }
    const ports: any[] = rule.ports ?? [];
    if (ports.length === 0) fail('allows every port');
    for (const p of ports) {
      if (!containerPorts.has(p.port)) fail(`port ${p.port} is not a container port`);
      if ((p.protocol ?? 'TCP') !== 'TCP') fail(`protocol ${p.protocol}`);
    }
  });
  return out;
}
