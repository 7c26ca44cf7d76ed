/**
 * Renders this repository's kustomizations offline for the tests (no kubectl or kustomize binary can be installed
 * here): resources (files and directories), `namespace`, `labels`, `images` and JSON 6902 `patches` with a
 * kind/name target — exactly the features deploy/k8s uses. Any other kustomization field is refused, so the
 * manifests cannot start relying on something this renderer would silently ignore.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseAllDocuments, parse as parseYaml } from 'yaml';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

interface Kustomization {
  apiVersion?: string;
  kind?: string;
  namespace?: string;
  resources?: string[];
  labels?: Array<{ pairs: Record<string, string>; includeSelectors?: boolean }>;
  images?: Array<{ name: string; newName?: string; newTag?: string }>;
  patches?: Array<{ target: { kind: string; name: string }; patch: string }>;
}

const SUPPORTED = new Set(['apiVersion', 'kind', 'namespace', 'resources', 'labels', 'images', 'patches']);
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding']);

export function readYamlDocuments(file: string): K8sObject[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((doc) => {
      if (doc.errors.length) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
      return doc.toJS() as K8sObject | null;
    })
    .filter((obj): obj is K8sObject => obj !== null);
}

export function kustomize(dir: string): K8sObject[] {
  const file = join(dir, 'kustomization.yaml');
  const k = parseYaml(readFileSync(file, 'utf8')) as Kustomization;
  const unknown = Object.keys(k).filter((key) => !SUPPORTED.has(key));
  if (unknown.length)
    throw new Error(`${file}: fields this renderer does not implement: ${unknown.join(', ')}`);

  let objects: K8sObject[] = [];
  for (const resource of k.resources ?? []) {
    const path = resolve(dir, resource);
    if (!existsSync(path)) throw new Error(`${file}: resource ${resource} does not exist`);
    objects.push(...(statSync(path).isDirectory() ? kustomize(path) : readYamlDocuments(path)));
  }
  objects = structuredClone(objects);

  for (const { pairs, includeSelectors } of k.labels ?? []) {
    if (includeSelectors) throw new Error(`${file}: labels with includeSelectors are not implemented`);
    for (const obj of objects) obj.metadata.labels = { ...obj.metadata.labels, ...pairs };
  }
  for (const patch of k.patches ?? []) {
    const targets = objects.filter(
      (o) => o.kind === patch.target.kind && o.metadata.name === patch.target.name,
    );
    if (targets.length !== 1)
      throw new Error(
        `${file}: patch target ${patch.target.kind}/${patch.target.name} matched ${targets.length}`,
      );
    applyJsonPatch(targets[0], parseYaml(patch.patch) as JsonPatchOp[]);
  }
  for (const image of k.images ?? []) {
    for (const container of containersOf(objects)) {
      const [name, tag] = splitImage(container.image);
      if (name !== image.name) continue;
      container.image = `${image.newName ?? name}:${image.newTag ?? tag ?? 'latest'}`;
    }
  }
  if (k.namespace) {
    for (const obj of objects) if (!CLUSTER_SCOPED.has(obj.kind)) obj.metadata.namespace = k.namespace;
  }
  return objects;
}

export function containersOf(
  objects: K8sObject[],
): Array<{ name: string; image: string; [f: string]: unknown }> {
  return objects.flatMap((o) => {
    const spec = (o.spec as { template?: { spec?: { containers?: unknown[] } } } | undefined)?.template?.spec;
    return (spec?.containers ?? []) as Array<{ name: string; image: string }>;
  });
}

export function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const obj = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!obj) throw new Error(`no ${kind}/${name} in the rendered manifests`);
  return obj;
}

type JsonPatchOp = { op: 'add' | 'replace' | 'remove'; path: string; value?: unknown };

function applyJsonPatch(target: object, ops: JsonPatchOp[]): void {
  for (const { op, path, value } of ops) {
    const keys = path
      .split('/')
      .slice(1)
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = keys.pop()!;
    let node = target as Record<string, unknown>;
    for (const key of keys) {
      if (node[key] === undefined) throw new Error(`JSON patch ${op} ${path}: ${key} does not exist`);
      node = node[key] as Record<string, unknown>;
    }
    if (op !== 'add' && !(last in node)) throw new Error(`JSON patch ${op} ${path}: nothing to ${op}`);
    if (op === 'remove') delete node[last];
    else node[last] = value;
  }
}

function splitImage(ref: string): [string, string | undefined] {
  const at = ref.lastIndexOf(':');
  return at > ref.lastIndexOf('/') ? [ref.slice(0, at), ref.slice(at + 1)] : [ref, undefined];
}

export const K8S_DIR = resolve(dirname(new URL(import.meta.url).pathname), '..', '..', 'deploy', 'k8s');
