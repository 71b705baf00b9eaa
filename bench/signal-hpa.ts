/**
 * The HPA controller's scaling algorithm, simulated over a recorded signal: what the real controller would decide
 * at each sync, from the value the metric source returns at that moment. Follows kubernetes
 * pkg/controller/podautoscaler (replica_calculator.go, horizontal.go): per-metric desired replicas with the 10 %
 * tolerance, the largest over metrics, then `stabilizeRecommendationWithBehaviors` (scale-up: the lowest
 * recommendation within the window; scale-down: the highest) and `convertDesiredReplicasWithBehaviorRate` (policies
 * over the scale events of their period, Max / Min / Disabled selection), clamped to min/max replicas.
 *
 * Not modelled: pod start-up (a new replica is counted the moment it is decided), and feedback (added replicas do
 * not change the recorded signal). Both only matter after the first decision, which is what the bench reports.
 */
import type { Behavior, ScalingRules } from '../src/cli/behavior.js';

export type MetricTarget =
  /** External metric, fleet total divided by the per-pod target (KEDA's default `AverageValue`). */
  | { readonly type: 'AverageValue'; readonly averageValue: number }
  /** External metric compared with the target as is, scaled by the replicas (`Value`). */
  | { readonly type: 'Value'; readonly value: number }
  /** Resource utilisation: mean per-pod usage over the target (CPU). The signal is the per-pod usage. */
  | { readonly type: 'Utilization'; readonly perPodTarget: number };

export const TOLERANCE = 0.1;

/** `GetExternalPerPodMetricReplicas` / `GetExternalMetricReplicas` / `GetResourceReplicas` for one metric. */
export function desiredForMetric(target: MetricTarget, value: number, current: number, tolerance = TOLERANCE): number {
  switch (target.type) {
    case 'AverageValue': {
      const ratio = value / (target.averageValue * current);
      if (Math.abs(1 - ratio) <= tolerance) return current;
      return Math.ceil(value / target.averageValue);
    }
    case 'Value': {
      const ratio = value / target.value;
      if (Math.abs(1 - ratio) <= tolerance) return current;
      return Math.ceil(ratio * current);
    }
    case 'Utilization': {
      const ratio = value / target.perPodTarget;
      if (Math.abs(1 - ratio) <= tolerance) return current;
      return Math.ceil(ratio * current);
    }
  }
}

interface ScaleEvent {
  readonly at: number;
  readonly change: number;
}

export interface HpaOptions {
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly behavior: Behavior;
}

/** One HPA object's controller state across syncs. Times in seconds. */
export class SimulatedHpa {
  replicas: number;
  private readonly recommendations: Array<{ at: number; value: number }> = [];
  private readonly upEvents: ScaleEvent[] = [];
  private readonly downEvents: ScaleEvent[] = [];

  constructor(
    private readonly options: HpaOptions,
    initialReplicas = options.minReplicas,
  ) {
    this.replicas = initialReplicas;
  }

  /** One sync at time `at` with each metric's current value (undefined: the fetch failed). Returns the new count. */
  sync(at: number, metrics: ReadonlyArray<{ target: MetricTarget; value: number | undefined }>): number {
    const current = this.replicas;
    let desired = 0;
    let anyFailed = false;
    for (const m of metrics) {
      if (m.value === undefined || !Number.isFinite(m.value)) {
        anyFailed = true;
        continue;
      }
      desired = Math.max(desired, desiredForMetric(m.target, m.value, current));
    }
    // computeReplicasForMetrics: with a failed metric, a scale-down proposed by the others is not applied.
    if (desired === 0 || (anyFailed && desired < current)) desired = current;
    const stabilized = this.stabilize(at, desired, current);
    const next = this.rateLimit(at, stabilized, current);
    if (next !== current) (next > current ? this.upEvents : this.downEvents).push({ at, change: Math.abs(next - current) });
    this.replicas = next;
    return next;
  }

  private stabilize(at: number, desired: number, current: number): number {
    const { scaleUp, scaleDown } = this.options.behavior;
    const up = desired >= current;
    const window = up ? scaleUp.stabilizationWindowSeconds : scaleDown.stabilizationWindowSeconds;
    let recommendation = desired;
    for (const r of this.recommendations) {
      if (r.at > at - window) recommendation = up ? Math.min(recommendation, r.value) : Math.max(recommendation, r.value);
    }
    const keep = Math.max(scaleUp.stabilizationWindowSeconds, scaleDown.stabilizationWindowSeconds);
    while (this.recommendations.length > 0 && this.recommendations[0].at < at - keep) this.recommendations.shift();
    this.recommendations.push({ at, value: desired });
    return recommendation;
  }

  private rateLimit(at: number, desired: number, current: number): number {
    const { minReplicas, maxReplicas, behavior } = this.options;
    if (desired > current) {
      let limit = scaleUpLimit(current, this.upEvents, behavior.scaleUp, at);
      if (limit < current) limit = current;
      return Math.min(desired, Math.min(maxReplicas, limit));
    }
    if (desired < current) {
      let limit = scaleDownLimit(current, this.downEvents, behavior.scaleDown, at);
      if (limit > current) limit = current;
      return Math.max(desired, Math.max(minReplicas, limit));
    }
    return Math.min(maxReplicas, Math.max(minReplicas, desired));
  }
}

function changeInPeriod(events: readonly ScaleEvent[], periodSeconds: number, at: number): number {
  let n = 0;
  for (const e of events) if (e.at > at - periodSeconds) n += e.change;
  return n;
}

function scaleUpLimit(current: number, events: readonly ScaleEvent[], rules: ScalingRules, at: number): number {
  if (rules.selectPolicy === 'Disabled') return current;
  let result = rules.selectPolicy === 'Min' ? Infinity : -Infinity;
  for (const p of rules.policies) {
    const start = current - changeInPeriod(events, p.periodSeconds, at);
    const proposed = p.type === 'Pods' ? start + p.value : Math.ceil(start * (1 + p.value / 100));
    result = rules.selectPolicy === 'Min' ? Math.min(result, proposed) : Math.max(result, proposed);
  }
  return result;
}

function scaleDownLimit(current: number, events: readonly ScaleEvent[], rules: ScalingRules, at: number): number {
  if (rules.selectPolicy === 'Disabled') return current;
  let result = rules.selectPolicy === 'Min' ? -Infinity : Infinity;
  for (const p of rules.policies) {
    const start = current + changeInPeriod(events, p.periodSeconds, at);
    const proposed = p.type === 'Pods' ? start - p.value : Math.trunc(start * (1 - p.value / 100));
    result = rules.selectPolicy === 'Min' ? Math.max(result, proposed) : Math.min(result, proposed);
  }
  return result;
}
