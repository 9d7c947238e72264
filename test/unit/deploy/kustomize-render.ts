// Renders a kustomization with the kubectl on this machine and validates each object against the
// Kubernetes OpenAPI schemas shipped in `kubernetes-models` (offline; no cluster).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ServiceAccount, ConfigMap, Service, PersistentVolumeClaim, Secret } from 'kubernetes-models/v1';
import { Deployment, StatefulSet, DaemonSet } from 'kubernetes-models/apps/v1';
import { Job, CronJob } from 'kubernetes-models/batch/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';

// Kubernetes objects are open-ended JSON; tests read nested fields and assert on them.
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  [k: string]: any;
};

type Model = new (data: never) => { validate(): void };

/** Every kind the manifests may contain; anything else fails the render instead of going unvalidated. */
const MODELS: Record<string, Model> = {
  'v1/ServiceAccount': ServiceAccount,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'v1/Secret': Secret,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'apps/v1/DaemonSet': DaemonSet,
  'batch/v1/Job': Job,
  'batch/v1/CronJob': CronJob,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
};

export const KUBECTL_MISSING =
  'kubectl not found. The k8s manifest tests render the overlays with `kubectl kustomize`: install it ' +
  '(Debian: apt-get install -y kubernetes-client) or point HVGATE_KUBECTL at a kubectl binary.';

/** HVGATE_KUBECTL, else `kubectl` on PATH; undefined when neither exists. */
export function findKubectl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const explicit = env.HVGATE_KUBECTL;
  if (explicit) return fs.existsSync(explicit) ? explicit : undefined;
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, 'kubectl');
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not in this PATH entry
    }
  }
  return undefined;
}

export function kubectlVersion(kubectl: string): string {
  return execFileSync(kubectl, ['version', '--client'], { encoding: 'utf8', timeout: 30_000 }).trim();
}

export function renderKustomization(kubectl: string, dir: string): K8sObject[] {
  const out = execFileSync(kubectl, ['kustomize', dir], {
    encoding: 'utf8',
    timeout: 60_000,
    maxBuffer: 16 * 1024 * 1024,
    // Deprecation warnings for the old-kubectl-compatible syntax go to stderr; keep them out of the log.
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return parseManifestStream(out);
}

export function parseManifestStream(text: string): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`rendered YAML does not parse: ${doc.errors[0]!.message}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    objects.push(value as K8sObject);
  }
  return objects;
}

/** Constructs the object with its model class and runs the schema validation; throws with the kind/name. */
export function validateObject(obj: K8sObject): void {
  const key = `${obj.apiVersion}/${obj.kind}`;
  const model = MODELS[key];
  if (!model) throw new Error(`${key} ${obj.metadata?.name}: no schema model registered for this kind`);
  try {
    new model(obj as never).validate();
  } catch (err) {
    throw new Error(`${key} ${obj.metadata?.name}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'Pod'];

/** The pod spec inside any workload kind. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function podTemplate(obj: K8sObject): { metadata: any; spec: any } {
  if (obj.kind === 'Pod') return { metadata: obj.metadata, spec: obj.spec };
  if (obj.kind === 'CronJob') return obj.spec.jobTemplate.spec.template;
  return obj.spec.template;
}
