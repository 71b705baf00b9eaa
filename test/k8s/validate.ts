/**
 * Validates manifests the way the cluster would: every object against its official schema with ajv
 * (./schemas, see SOURCES.md), plus the checks the API server and KEDA make beyond the schema:
 * - built-in kinds (apps/v1 Deployment, v1 Service, autoscaling/v2 HPA): yannh's strict schemas, generated from
 *   Kubernetes' OpenAPI (unknown fields rejected, as `kubectl apply`'s strict field validation does);
 * - KEDA kinds: the CRD's `openAPIV3Schema`, made strict the same way (every object without
 *   `additionalProperties` or `x-kubernetes-preserve-unknown-fields` closed), `metadata` as the ObjectMeta of the
 *   Kubernetes schema, and the CRD's one CEL rule (minReplicaCount <= maxReplicaCount) evaluated by hand;
 * - apiserver rules: object names (DNS-1123 subdomain, Services a DNS-1035 label), label keys and values,
 *   container and port names, a Deployment's selector matching its template, `$(VAR)` references to variables
 *   defined earlier, HPA behaviour limits (periodSeconds 1..1800, stabilizationWindowSeconds 0..3600);
 * - KEDA trigger metadata (./keda-triggers.ts) and references to TriggerAuthentications that exist.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import AjvModule, { type ValidateFunction } from 'ajv';
import formatsModule from 'ajv-formats';
import { parse, parseAllDocuments } from 'yaml';
import { triggerProblems, type AuthSupply } from './keda-triggers.js';

const SCHEMAS = join(dirname(fileURLToPath(import.meta.url)), 'schemas');

type Json = Record<string, unknown>;

// Both packages are CommonJS with `exports.default`; under NodeNext the default import is the module object.
const Ajv = AjvModule.default;
const addFormats = formatsModule.default;

function ajv(): InstanceType<typeof Ajv> {
  const a = new Ajv({ allErrors: true, strict: false, validateSchema: false });
  addFormats(a);
  return a;
}

function loadJson(file: string): Json {
  const schema = JSON.parse(readFileSync(join(SCHEMAS, file), 'utf8')) as Json;
  delete schema.$schema; // "http://json-schema.org/schema#" names no draft ajv knows; the keywords are draft-04/07 alike
  return schema;
}

/** `properties`-bearing objects without `additionalProperties` are closed, as strict field validation treats them. */
function closeObjects(node: unknown): void {
  if (Array.isArray(node)) {
    for (const n of node) closeObjects(n);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const o = node as Json;
  if (o.properties !== undefined && o.additionalProperties === undefined && o['x-kubernetes-preserve-unknown-fields'] !== true) o.additionalProperties = false;
  for (const v of Object.values(o)) closeObjects(v);
}

interface Kind {
  readonly apiVersion: string;
  readonly validate: ValidateFunction;
}

let kinds: Map<string, Kind> | undefined;

function loadKinds(): Map<string, Kind> {
  if (kinds !== undefined) return kinds;
  const a = ajv();
  const deployment = loadJson('deployment-apps-v1.json');
  const objectMeta = structuredClone((deployment.properties as Json).metadata) as Json;
  const crd = (file: string): Kind => {
    const doc = parse(readFileSync(join(SCHEMAS, file), 'utf8')) as Json;
    const spec = doc.spec as Json;
    const version = (spec.versions as Json[]).find((v) => v.storage === true) as Json;
    const schema = structuredClone((version.schema as Json).openAPIV3Schema) as Json;
    closeObjects(schema);
    const props = schema.properties as Json;
    const apiVersion = `${String(spec.group)}/${String(version.name)}`;
    props.apiVersion = { type: 'string', enum: [apiVersion] };
    props.kind = { type: 'string', enum: [String((spec.names as Json).kind)] };
    props.metadata = objectMeta;
    schema.required = [...new Set([...((schema.required as string[]) ?? []), 'apiVersion', 'kind', 'metadata'])];
    return { apiVersion, validate: a.compile(schema) };
  };
  kinds = new Map<string, Kind>([
    ['Deployment', { apiVersion: 'apps/v1', validate: a.compile(deployment) }],
    ['Service', { apiVersion: 'v1', validate: a.compile(loadJson('service-v1.json')) }],
    ['HorizontalPodAutoscaler', { apiVersion: 'autoscaling/v2', validate: a.compile(loadJson('horizontalpodautoscaler-autoscaling-v2.json')) }],
    ['ScaledObject', crd('keda.sh_scaledobjects.yaml')],
    ['TriggerAuthentication', crd('keda.sh_triggerauthentications.yaml')],
  ]);
  return kinds;
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const IANA_SVC_NAME = /^(?=.*[a-z])(?!.*--)[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

function qualifiedKey(key: string): boolean {
  const slash = key.indexOf('/');
  if (slash < 0) return key.length <= 63 && QUALIFIED_NAME.test(key);
  const prefix = key.slice(0, slash);
  const name = key.slice(slash + 1);
  return prefix.length <= 253 && DNS1123_SUBDOMAIN.test(prefix) && name.length <= 63 && QUALIFIED_NAME.test(name);
}

function metaProblems(kind: string, meta: Json | undefined): string[] {
  const out: string[] = [];
  if (meta === undefined) return ['metadata missing'];
  const name = String(meta.name ?? '');
  if (kind === 'Service') {
    if (name.length > 63 || !DNS1035_LABEL.test(name)) out.push(`metadata.name "${name}" is not a DNS-1035 label`);
  } else if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) out.push(`metadata.name "${name}" is not a DNS-1123 subdomain`);
  if (meta.namespace !== undefined && !DNS1123_LABEL.test(String(meta.namespace))) out.push(`metadata.namespace "${String(meta.namespace)}" is not a DNS-1123 label`);
  out.push(...labelProblems('metadata.labels', meta.labels as Json | undefined));
  for (const key of Object.keys((meta.annotations as Json | undefined) ?? {})) if (!qualifiedKey(key)) out.push(`annotation key "${key}" is not a qualified name`);
  return out;
}

function labelProblems(where: string, labels: Json | undefined): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(labels ?? {})) {
    if (!qualifiedKey(k)) out.push(`${where}: key "${k}" is not a qualified name`);
    if (typeof v !== 'string' || v.length > 63 || !LABEL_VALUE.test(v)) out.push(`${where}: value ${JSON.stringify(v)} of "${k}" is not a label value`);
  }
  return out;
}

function deploymentProblems(d: Json): string[] {
  const out: string[] = [];
  const spec = d.spec as Json;
  const template = spec.template as Json;
  const tMeta = template.metadata as Json;
  out.push(...labelProblems('spec.template.metadata.labels', tMeta.labels as Json));
  const matchLabels = ((spec.selector as Json).matchLabels ?? {}) as Json;
  for (const [k, v] of Object.entries(matchLabels)) {
    if ((tMeta.labels as Json)?.[k] !== v) out.push(`spec.selector.matchLabels ${k}=${String(v)} does not match the template's labels`);
  }
  for (const c of ((template.spec as Json).containers as Json[]) ?? []) {
    if (!DNS1123_LABEL.test(String(c.name))) out.push(`container name "${String(c.name)}" is not a DNS-1123 label`);
    const portNames = new Set<string>();
    for (const p of (c.ports as Json[]) ?? []) {
      if (p.name !== undefined && (String(p.name).length > 15 || !IANA_SVC_NAME.test(String(p.name)))) out.push(`port name "${String(p.name)}" is not an IANA service name`);
      if (portNames.has(String(p.name))) out.push(`port name "${String(p.name)}" repeats`);
      portNames.add(String(p.name));
    }
    const defined = new Set<string>();
    for (const e of (c.env as Json[]) ?? []) {
      const name = String(e.name);
      if (!ENV_NAME.test(name)) out.push(`env name "${name}" is not valid`);
      // The kubelet expands $(VAR) only from variables defined earlier in the list; later ones stay literal.
      for (const m of String(e.value ?? '').matchAll(/\$\(([^)]+)\)/g)) if (!defined.has(m[1])) out.push(`env ${name} references $(${m[1]}) before it is defined`);
      defined.add(name);
    }
  }
  return out;
}

function serviceProblems(s: Json, deployments: readonly Json[]): string[] {
  const out: string[] = [];
  const spec = s.spec as Json;
  for (const p of (spec.ports as Json[]) ?? []) {
    if (typeof p.targetPort === 'string') {
      const found = deployments.some((d) =>
        (((((d.spec as Json).template as Json).spec as Json).containers as Json[]) ?? []).some((c) => ((c.ports as Json[]) ?? []).some((cp) => cp.name === p.targetPort)),
      );
      if (!found) out.push(`Service port ${String(p.name)} targets "${p.targetPort}", which no container port is named`);
    }
  }
  return out;
}

function behaviorProblems(where: string, behavior: Json | undefined): string[] {
  const out: string[] = [];
  for (const dir of ['scaleUp', 'scaleDown']) {
    const rules = behavior?.[dir] as Json | undefined;
    if (rules === undefined) continue;
    const w = rules.stabilizationWindowSeconds as number | undefined;
    if (w !== undefined && (w < 0 || w > 3600)) out.push(`${where}.${dir}.stabilizationWindowSeconds ${w} outside 0..3600`);
    for (const p of (rules.policies as Json[]) ?? []) {
      if (!((p.value as number) > 0)) out.push(`${where}.${dir} policy value must be > 0`);
      if (!((p.periodSeconds as number) > 0 && (p.periodSeconds as number) <= 1800)) out.push(`${where}.${dir} policy periodSeconds outside 1..1800`);
    }
  }
  return out;
}

/** Problems of one set of documents applied together; empty when the cluster would take them. */
export function validateManifests(docs: readonly Json[]): string[] {
  const all = loadKinds();
  const problems: string[] = [];
  const auths = new Map<string, AuthSupply>();
  for (const d of docs) {
    if (d.kind !== 'TriggerAuthentication') continue;
    const spec = (d.spec ?? {}) as Json;
    const pod = spec.podIdentity as Json | undefined;
    auths.set(String((d.metadata as Json)?.name), {
      ...(pod !== undefined ? { podIdentity: String(pod.provider) } : {}),
      parameters: ((spec.secretTargetRef as Json[]) ?? []).map((r) => String(r.parameter)),
    });
  }
  const deployments = docs.filter((d) => d.kind === 'Deployment');
  docs.forEach((d, i) => {
    const where = `document ${i + 1} (${String(d.kind)} ${String((d.metadata as Json | undefined)?.name ?? '?')})`;
    const kind = all.get(String(d.kind));
    if (kind === undefined) {
      problems.push(`${where}: no schema for kind ${String(d.kind)}`);
      return;
    }
    if (d.apiVersion !== kind.apiVersion) problems.push(`${where}: apiVersion ${String(d.apiVersion)}, expected ${kind.apiVersion}`);
    if (!kind.validate(d)) {
      for (const e of kind.validate.errors ?? []) problems.push(`${where}: ${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
      return;
    }
    const local = [...metaProblems(String(d.kind), d.metadata as Json)];
    const spec = d.spec as Json;
    switch (d.kind) {
      case 'Deployment':
        local.push(...deploymentProblems(d));
        break;
      case 'Service':
        local.push(...serviceProblems(d, deployments));
        break;
      case 'HorizontalPodAutoscaler':
        local.push(...behaviorProblems('spec.behavior', spec.behavior as Json | undefined));
        if ((spec.minReplicas as number) > (spec.maxReplicas as number)) local.push('spec.minReplicas > spec.maxReplicas');
        break;
      case 'ScaledObject': {
        // The CRD's x-kubernetes-validations rule (CEL): minReplicaCount <= (maxReplicaCount, default 100).
        const max = (spec.maxReplicaCount as number | undefined) ?? 100;
        if (spec.minReplicaCount !== undefined && (spec.minReplicaCount as number) > max) local.push('minReplicaCount must be less than or equal to maxReplicaCount');
        local.push(...behaviorProblems('spec.advanced.horizontalPodAutoscalerConfig.behavior', ((spec.advanced as Json)?.horizontalPodAutoscalerConfig as Json)?.behavior as Json | undefined));
        const names = new Set<string>();
        for (const t of spec.triggers as Json[]) {
          if (t.name !== undefined) {
            if (names.has(String(t.name))) local.push(`trigger name "${String(t.name)}" repeats`);
            names.add(String(t.name));
          }
          const ref = t.authenticationRef as Json | undefined;
          const auth = ref === undefined ? undefined : auths.get(String(ref.name));
          if (ref !== undefined && auth === undefined) local.push(`trigger ${String(t.name)}: TriggerAuthentication "${String(ref.name)}" is not among the documents`);
          local.push(...triggerProblems(t, auth).map((p) => `trigger ${String(t.name)}: ${p}`));
        }
        break;
      }
    }
    problems.push(...local.map((p) => `${where}: ${p}`));
  });
  return problems;
}

/** Parses a multi-document YAML text (comments allowed) into plain objects; YAML errors throw. */
export function parseDocuments(text: string): Json[] {
  return parseAllDocuments(text).map((doc) => {
    if (doc.errors.length > 0) throw new Error(doc.errors.map((e) => e.message).join('; '));
    return doc.toJS() as Json;
  });
}
