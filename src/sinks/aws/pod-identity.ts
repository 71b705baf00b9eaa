/**
 * The pod a process runs in, one rule for both AWS sinks: the resource's `k8s.pod.name` (the core sets it from
 * POD_NAME / K8S_POD_NAME, or OTEL_RESOURCE_ATTRIBUTES), else POD_NAME, K8S_POD_NAME, HOSTNAME (the pod name in
 * Kubernetes), else the resource's `host.name`, else the OS host name. Used for the opt-in per-pod dimension and
 * for PutMetricData's send phase.
 */
import { hostname } from 'node:os';

export function podIdentity(attributes: Readonly<Record<string, string>> | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const candidates = [attributes?.['k8s.pod.name'], env.POD_NAME, env.K8S_POD_NAME, env.HOSTNAME, attributes?.['host.name']];
  for (const candidate of candidates) {
    if (candidate !== undefined && candidate.trim() !== '') return candidate.trim();
  }
  try {
    return hostname();
  } catch {
    return 'unknown';
  }
}
