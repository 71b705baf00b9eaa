/**
 * Service identity from options and the environment: OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES and the
 * Kubernetes downward-API variables (POD_NAME, POD_NAMESPACE, NODE_NAME; HOSTNAME is the pod name in a pod).
 */
import type { Resource } from '../core/window.js';

export function resolveResource(
  service: string | undefined,
  extra: Readonly<Record<string, string>>,
  env: NodeJS.ProcessEnv = process.env,
): Resource {
  const attributes: Record<string, string> = {};
  for (const part of (env.OTEL_RESOURCE_ATTRIBUTES ?? '').split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    try {
      attributes[decodeURIComponent(part.slice(0, eq).trim())] = decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      // A malformed percent escape: keep the raw text rather than fail start-up.
      attributes[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
    }
  }
  const pod = env.POD_NAME ?? env.K8S_POD_NAME ?? (env.KUBERNETES_SERVICE_HOST ? env.HOSTNAME : undefined);
  if (pod) attributes['k8s.pod.name'] ??= pod;
  const namespace = env.POD_NAMESPACE ?? env.K8S_NAMESPACE;
  if (namespace) attributes['k8s.namespace.name'] ??= namespace;
  const node = env.NODE_NAME ?? env.K8S_NODE_NAME;
  if (node) attributes['k8s.node.name'] ??= node;
  Object.assign(attributes, extra);
  const name = service ?? env.OTEL_SERVICE_NAME ?? attributes['service.name'] ?? 'unknown_service:node';
  attributes['service.name'] = name;
  return Object.freeze({ service: name, attributes: Object.freeze(attributes) });
}
