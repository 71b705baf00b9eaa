/**
 * HPA behaviours: fast up, calm down. Kubernetes' default scale-up (no stabilisation, +100 % or +4 pods per 15 s)
 * already reacts on the first high reading; what a leading indicator can use is a larger step, because the
 * reading says how many pods the load needs now, not after CPU catches up. Scale-down stays slow: a burst that
 * ends is often followed by another, and a pod removed too early costs a cold start.
 */

export interface ScalingPolicy {
  readonly type: 'Pods' | 'Percent';
  readonly value: number;
  readonly periodSeconds: number;
}

export interface ScalingRules {
  readonly stabilizationWindowSeconds: number;
  readonly selectPolicy: 'Max' | 'Min' | 'Disabled';
  readonly policies: readonly ScalingPolicy[];
}

export interface Behavior {
  readonly scaleUp: ScalingRules;
  readonly scaleDown: ScalingRules;
}

/** Kubernetes' defaults (pkg/apis/autoscaling/v2/defaults.go; scale-down stabilisation is the controller's 300 s). */
export const DEFAULT_BEHAVIOR: Behavior = {
  scaleUp: {
    stabilizationWindowSeconds: 0,
    selectPolicy: 'Max',
    policies: [
      { type: 'Pods', value: 4, periodSeconds: 15 },
      { type: 'Percent', value: 100, periodSeconds: 15 },
    ],
  },
  scaleDown: { stabilizationWindowSeconds: 300, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] },
};

export const TUNED_BEHAVIOR: Behavior = {
  scaleUp: {
    stabilizationWindowSeconds: 0,
    selectPolicy: 'Max',
    policies: [
      { type: 'Percent', value: 300, periodSeconds: 15 },
      { type: 'Pods', value: 10, periodSeconds: 15 },
    ],
  },
  scaleDown: { stabilizationWindowSeconds: 300, selectPolicy: 'Min', policies: [{ type: 'Percent', value: 10, periodSeconds: 60 }] },
};

/** One-line reasons, keyed by the field they explain (relative to `behavior`). */
export const BEHAVIOR_REASONS: ReadonlyArray<{ readonly path: readonly (string | number)[]; readonly text: string }> = [
  { path: ['scaleUp', 'stabilizationWindowSeconds'], text: 'act on the first reading above target: the signal already leads the load' },
  { path: ['scaleUp', 'policies', 0], text: 'up to 4x the pods per 15 s: the reading says how many pods the load needs now' },
  { path: ['scaleUp', 'policies', 1], text: 'or +10 pods, whichever is more, so a small fleet is not held to tiny steps' },
  { path: ['scaleDown', 'stabilizationWindowSeconds'], text: 'scale down on the highest recommendation of the last 5 min: bursts come back' },
  { path: ['scaleDown', 'selectPolicy'], text: 'the gentler policy wins on the way down' },
  { path: ['scaleDown', 'policies', 0], text: 'shed at most 10 % of the pods a minute: a pod removed too early costs a cold start' },
];
