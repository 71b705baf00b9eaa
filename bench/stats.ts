/** Medians and paired-ratio summaries shared by the HTTP benches (one definition, so their figures compare). */

export const median = (values: readonly number[]): number => {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export const round3 = (v: number): number => Math.round(v * 1000) / 1000;
export const round4 = (v: number): number => Math.round(v * 10_000) / 10_000;
export const pct = (v: number): string => `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)} %`;

/** Paired figures (e.g. a setup's CPU per request over bare's, minus 1): median, its 95 % bootstrap interval, min..max. */
export interface Added {
  median: number;
  /** 2.5th and 97.5th percentiles of the median over samples resampled with replacement. */
  ci95: [number, number];
  min: number;
  max: number;
  /** How many paired values (rounds of fresh servers, or pairs of blocks in one process). */
  rounds: number;
}

/** Deterministic resampling (mulberry32), so a result file can be recomputed from its runs. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const RESAMPLES = 10_000;

export function added(values: readonly number[]): Added {
  const next = random(0x5ca1e);
  const medians = new Float64Array(RESAMPLES);
  const sample = new Array<number>(values.length);
  for (let r = 0; r < RESAMPLES; r++) {
    for (let i = 0; i < values.length; i++) sample[i] = values[Math.floor(next() * values.length)];
    medians[r] = median(sample);
  }
  medians.sort();
  const at = (q: number) => medians[Math.min(RESAMPLES - 1, Math.floor(q * RESAMPLES))];
  return {
    median: round4(median(values)),
    ci95: [round4(at(0.025)), round4(at(0.975))],
    min: round4(Math.min(...values)),
    max: round4(Math.max(...values)),
    rounds: values.length,
  };
}
