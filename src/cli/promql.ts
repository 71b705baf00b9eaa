/**
 * PromQL for the `prometheus` trigger and label selectors for the `metrics-api` trigger, built from the names the
 * SDK emits. Both KEDA scalers need exactly one number: PromQL queries aggregate to one element, metrics-api
 * selectors name one series (KEDA returns the first series whose labels equal the selector's).
 */
import type { PrometheusNames, RouteRef } from './names.js';

/** A string literal PromQL and KEDA's selector parser both read back unchanged. */
export function promString(value: string): string {
  return JSON.stringify(value);
}

/** `name{a="x",b="y"}`, or the bare name without labels; labels in the order given. */
export function selector(name: string, labels: Readonly<Record<string, string>> = {}): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return name;
  return `${name}{${entries.map(([k, v]) => `${k}=${promString(v)}`).join(',')}}`;
}

/**
 * The matchers that pick one Deployment's pods in Prometheus: `namespace` and `pod` are what both the common
 * annotation-based scrape job (`kubernetes-pods`) and the Prometheus Operator's PodMonitor attach. Deployment pods
 * are `<deployment>-<replicaset hash>-<suffix>`, so the pattern matches this Deployment and not `<name>-worker-...`.
 */
export function podMatchers(service: string, namespace: string): string {
  return `namespace=${promString(namespace)},pod=~${promString(`${escapeRegex(service)}-[a-z0-9]+-[a-z0-9]+`)}`;
}

function escapeRegex(text: string): string {
  // RE2 syntax, inside a PromQL string: the backslash itself is escaped by promString.
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function withMatchers(name: string, matchers: string, extra: Readonly<Record<string, string>> = {}): string {
  const more = Object.entries(extra).map(([k, v]) => `${k}=${promString(v)}`);
  return `${name}{${[matchers, ...more].filter((m) => m !== '').join(',')}}`;
}

/** Fleet total of a per-pod gauge's window maximum: with `AverageValue`, the HPA divides it by the target per pod. */
export function sumOfMax(names: PrometheusNames, matchers: string, extra?: Readonly<Record<string, string>>): string {
  return `sum(${withMatchers(names.max, matchers, extra)})`;
}

/** Largest value any pod reports: for a backlog every pod observes alike (a shared queue), summing would multiply it. */
export function maxOfMax(names: PrometheusNames, matchers: string, extra?: Readonly<Record<string, string>>): string {
  return `max(${withMatchers(names.max, matchers, extra)})`;
}

/**
 * Fleet P99 from the classic `le` buckets, which are the same on every pod, so they add up across the fleet.
 * `rate` over 1 minute: a latency step shows within a scrape (1 % slow requests in the window is enough to move
 * P99) while one slow request in a quiet minute does not.
 */
export function fleetP99(names: PrometheusNames, matchers: string, route?: RouteRef, range = '1m'): string {
  const extra: Record<string, string> = route === undefined ? {} : { method: route.method, route: route.route };
  return `histogram_quantile(0.99, sum by (le) (rate(${withMatchers(names.bucket, matchers, extra)}[${range}])))`;
}
