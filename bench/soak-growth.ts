/**
 * Memory growth over the soak's fault cycles, measured on each cycle's floor.
 *
 * Why floors: RSS = what the process holds + what is transiently resident at the sampling instant. The transient
 * part is never negative and swings by ~100 MB between samples seconds apart (V8 keeps freed pages committed until
 * its memory reducer runs, the young generation is resized to the allocation rate, glibc keeps freed chunks in its
 * arenas and mmaps large Buffers only while they live, a gzip or request body may be in flight). A sample's RSS is
 * therefore base + noise >= base, and the minimum over a phase of a cycle estimates the base with the smallest
 * noise. Every cycle runs the same schedule, so the floors are compared like for like; anything retained (a leak,
 * a backlog not released after recovery, memory the allocator can never reuse) raises every later floor and shows.
 *
 * Growth is the least-squares trend of the floors over the cycles after warm-up, as % of their mean, with a 95 %
 * confidence interval (Student's t on the slope): the target is met only when the interval's upper end is under it,
 * so a noisy run cannot pass by luck. `lastVsFirstPct` (mean of the last two floors vs the first two) is the plain
 * reading of the same floors.
 */

export interface Point {
  readonly s: number;
  readonly v: number;
}

export interface CycleFloor {
  readonly cycle: number;
  /** Lowest value in the cycle's quiet phase. */
  readonly floor: number;
  /** Highest value over the whole cycle, fault included: shown so peaks stay visible, not part of the verdict. */
  readonly peak: number;
  readonly samples: number;
}

export interface Growth {
  readonly floors: CycleFloor[];
  readonly growthPct: number;
  readonly ci95Pct: readonly [number, number];
  readonly lastVsFirstPct: number;
  readonly met: boolean;
}

/** Two-sided 95 % quantiles of Student's t for 1..30 degrees of freedom. */
const T95 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11,
  2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];
const round1 = (x: number) => Math.round(x * 10) / 10;

export interface CycleSchedule {
  /** Seconds per cycle; cycle k covers [k * everyS, (k + 1) * everyS). */
  readonly everyS: number;
  /** Seconds into a cycle where the quiet phase starts and ends (exclusive). */
  readonly quietFromS: number;
  readonly quietToS: number;
  /** Cycles starting before this are warm-up. */
  readonly warmupS: number;
  /** End of the run: a cycle cut short by it is left out (its quiet phase would be partly missing). */
  readonly endS: number;
}

export function cycleFloors(points: readonly Point[], schedule: CycleSchedule): CycleFloor[] {
  const byCycle = new Map<number, { floor: number; peak: number; samples: number }>();
  for (const p of points) {
    const cycle = Math.floor(p.s / schedule.everyS);
    if (cycle * schedule.everyS < schedule.warmupS || (cycle + 1) * schedule.everyS > schedule.endS) continue;
    const c = byCycle.get(cycle) ?? { floor: Infinity, peak: -Infinity, samples: 0 };
    c.peak = Math.max(c.peak, p.v);
    const inCycle = p.s - cycle * schedule.everyS;
    if (inCycle >= schedule.quietFromS && inCycle < schedule.quietToS) {
      c.floor = Math.min(c.floor, p.v);
      c.samples++;
    }
    byCycle.set(cycle, c);
  }
  return [...byCycle.entries()]
    .filter(([, c]) => c.samples > 0)
    .sort(([a], [b]) => a - b)
    .map(([cycle, c]) => ({ cycle, floor: round1(c.floor), peak: round1(c.peak), samples: c.samples }));
}

export function growth(points: readonly Point[], schedule: CycleSchedule, targetPct: number): Growth {
  const floors = cycleFloors(points, schedule);
  const ys = floors.map((f) => f.floor);
  const n = ys.length;
  const mean = ys.reduce((a, y) => a + y, 0) / n;
  const mx = (n - 1) / 2;
  const sxx = ys.reduce((a, _, i) => a + (i - mx) ** 2, 0);
  const slope = ys.reduce((a, y, i) => a + (i - mx) * (y - mean), 0) / sxx;
  const residual = ys.reduce((a, y, i) => a + (y - (mean + slope * (i - mx))) ** 2, 0);
  const seSlope = n > 2 ? Math.sqrt(residual / (n - 2) / sxx) : NaN;
  const t = n > 2 ? (T95[n - 3] ?? 1.96) : NaN;
  // Growth across the measured span (first to last cycle), as % of the mean floor.
  const pct = (perCycle: number) => (perCycle * (n - 1) * 100) / mean;
  const ci95Pct = [round1(pct(slope - t * seSlope)), round1(pct(slope + t * seSlope))] as const;
  const head = ys.slice(0, 2);
  const tail = ys.slice(-2);
  const avg = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
  return {
    floors,
    growthPct: round1(pct(slope)),
    ci95Pct,
    lastVsFirstPct: round1((avg(tail) / avg(head) - 1) * 100),
    met: ci95Pct[1] < targetPct,
  };
}
