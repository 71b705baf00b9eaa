/**
 * What the sink keeps between windows: cumulative counters and histograms, the latest gauges, and the last few
 * seconds of exponential buckets per histogram for sliding-window quantiles. `snapshot()` turns it into families.
 *
 * Both `apply()` and `snapshot()` run in slices (a turn of the event loop every ~1 ms, see slicer.ts) and through
 * one Serial, so a snapshot sees every window completely or not at all. A scrape that comes while a window is
 * being applied waits for it (a few ms) rather than reading a second copy of the state: the state is cumulative
 * (native buckets since each series appeared, ten seconds of windows per histogram), so double-buffering it would
 * double its memory and apply every window twice.
 */
import type { HistogramBuckets, Labels, MetricKind, SeriesWindow, Window } from '../../core/window.js';
import { addToBounds, boundThresholds, defaultBuckets, invalidBuckets } from './buckets.js';
import { NO_LABELS, type Family, type HistogramSeries, type Sample } from './families.js';
import { nativeHistogram } from './native.js';
import { familyNames, formatBound, quantileSuffix, sanitizeLabelName, type FamilyNames } from './naming.js';
import { Serial } from './serial.js';
import type { Slicer } from './slicer.js';
import { BucketAccumulator, MAX_SCALE, quantilesInto } from '../../core/histogram/index.js';

export interface BucketsContext {
  /** Canonical name, e.g. `http.server.request.duration`. */
  readonly name: string;
  /** UCUM unit as recorded. */
  readonly unit: string;
}

export interface StateOptions {
  readonly prefix: string;
  readonly baseUnits: boolean;
  /** Label name for the service, or undefined for none. */
  readonly serviceLabel: string | undefined;
  /** Ascending. */
  readonly quantiles: readonly number[];
  readonly quantileWindowMs: number;
  /** Report 0 for the quantiles of a histogram without recordings in the window (else leave them out). */
  readonly idleQuantilesZero?: boolean;
  /** `le` bounds in the recorded unit; undefined means the default set for the unit. */
  readonly buckets: (metric: BucketsContext) => readonly number[] | undefined;
  readonly bucketsPerOctave: number;
  /** Reports a problem once per `key`. */
  readonly warnOnce: (key: string, message: string) => void;
}

/** Per canonical metric (name + kind + unit): names, help, bounds, and the names it claims in the exposition. */
interface MetricInfo {
  readonly id: string;
  readonly canonical: string;
  readonly kind: MetricKind;
  readonly names: FamilyNames;
  readonly help: string;
  /** Histograms: `le` bounds in the recorded unit, and their label strings in the exposed unit. */
  readonly bounds: readonly number[];
  readonly boundLabels: readonly Readonly<Record<string, string>>[];
  /** The same bounds in the exposed unit, as numbers (protobuf). */
  readonly exposedBounds: readonly number[];
  /** `boundThresholds(bounds, scale)` by scale (one scale in practice). */
  readonly thresholds: Map<number, Float64Array>;
  /** Every family and sample name this metric emits; two metrics may not share any. */
  readonly claims: readonly string[];
  claimed: boolean;
  series: number;
}

interface RecentWindow {
  readonly end: number;
  readonly buckets: HistogramBuckets;
  readonly min: number;
  readonly max: number;
}

interface SeriesState {
  readonly info: MetricInfo;
  readonly labels: Readonly<Record<string, string>>;
  /** Sanitized label set; two series that sanitize to the same set cannot both be exposed. */
  readonly signature: string;
  seen: number;
  total: number;
  last: number;
  max: number;
  maxBatch: number;
  count: number;
  sum: number;
  perBound: Float64Array;
  recent: RecentWindow[];
  /** Sum of `recent`'s buckets. */
  readonly sliding: BucketAccumulator;
  /** Every bucket since the series appeared: the native histogram (scale capped at Prometheus' 8). */
  readonly buckets: BucketAccumulator;
}

export class PrometheusState {
  private readonly infos = new Map<string, MetricInfo>();
  private readonly series = new Map<string, SeriesState>();
  /** Exposition name -> owning metric id; first come keeps it while it has series. */
  private readonly owners = new Map<string, string>();
  private epoch = 0;
  private batch = 0;
  private lastStart = -Infinity;
  private latestEnd = 0;
  /** Applies and snapshots, one at a time. */
  private readonly serial = new Serial();
  /** Counts applies, so a snapshot of an unchanged state is reused. */
  private version = 0;
  private memo: { version: number; native: boolean; families: Family[] } | undefined;
  /** Windows ignored because they were not newer than one already applied (a re-delivery would double-count). */
  windowsSkipped = 0;
  /** Series left out of the last snapshot because of a name or label-set collision. */
  seriesDropped = 0;

  constructor(private readonly options: StateOptions) {}

  get size(): number {
    return this.series.size;
  }

  /**
   * Applies windows oldest first, after every apply and snapshot submitted before. A gauge's `_max` covers every
   * window of one call (normally one).
   */
  apply(windows: readonly Window[], slicer: Slicer): Promise<void> {
    return this.serial.run(async () => {
      this.batch++;
      this.version++;
      for (const w of windows) {
        if (!(w.start > this.lastStart)) {
          this.windowsSkipped++;
          continue;
        }
        this.lastStart = w.start;
        this.latestEnd = w.end;
        await this.applyWindow(w, slicer);
      }
    });
  }

  private async applyWindow(w: Window, slicer: Slicer): Promise<void> {
    const epoch = ++this.epoch;
    for (const s of w.series) {
      let st = this.series.get(s.key);
      if (st !== undefined && (st.info.kind !== s.kind || st.info.canonical !== s.name)) {
        this.remove(s.key, st);
        st = undefined;
      }
      if (st === undefined) {
        st = this.create(s, w.resource.service);
        this.series.set(s.key, st);
      }
      st.seen = epoch;
      this.update(st, s, w.end);
      if (slicer.due()) await slicer.pause();
    }
    // Every live series is in every window: one that is missing was evicted by the core. (Deleting from a Map
    // while iterating it is safe; nothing else touches the map until this apply ends.)
    for (const [key, st] of this.series) {
      if (st.seen !== epoch) this.remove(key, st);
      if (slicer.due()) await slicer.pause();
    }
  }

  private update(st: SeriesState, s: SeriesWindow, end: number): void {
    switch (s.kind) {
      case 'counter':
        st.total = s.total;
        break;
      case 'gauge':
        st.last = s.last;
        st.max = st.maxBatch === this.batch ? maxOf(st.max, s.max) : s.max;
        st.maxBatch = this.batch;
        break;
      case 'histogram': {
        if (s.count > 0) st.count += s.count;
        if (Number.isFinite(s.sum)) st.sum += s.sum;
        const b = s.buckets;
        if (b !== undefined && (b.counts.length > 0 || b.zeroCount > 0)) {
          let thresholds = st.info.thresholds.get(b.scale);
          if (thresholds === undefined) {
            thresholds = boundThresholds(st.info.bounds, b.scale);
            st.info.thresholds.set(b.scale, thresholds);
          }
          addToBounds(thresholds, st.perBound, b);
          // Windows are immutable: keeping a reference costs nothing; the sliding sum is updated in place.
          st.recent.push({ end, buckets: b, min: s.min, max: s.max });
          st.sliding.add(b);
          st.buckets.add(b);
        }
        this.prune(st);
        break;
      }
    }
  }

  private prune(st: SeriesState): void {
    const cutoff = this.latestEnd - this.options.quantileWindowMs;
    let drop = 0;
    while (drop < st.recent.length && st.recent[drop].end <= cutoff) st.sliding.subtract(st.recent[drop++].buckets);
    if (drop > 0) st.recent.splice(0, drop);
  }

  private create(s: SeriesWindow, service: string): SeriesState {
    const info = this.infoFor(s);
    info.series++;
    const labels = this.labelsFor(s.labels, service);
    return {
      info,
      labels,
      signature: JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
      seen: 0,
      total: 0,
      last: NaN,
      max: NaN,
      maxBatch: 0,
      count: 0,
      sum: 0,
      perBound: new Float64Array(info.bounds.length),
      recent: [],
      sliding: new BucketAccumulator(),
      buckets: new BucketAccumulator(MAX_SCALE),
    };
  }

  private remove(key: string, st: SeriesState): void {
    this.series.delete(key);
    const info = st.info;
    if (--info.series > 0) return;
    this.infos.delete(info.id);
    if (info.claimed) for (const name of info.claims) if (this.owners.get(name) === info.id) this.owners.delete(name);
  }

  private infoFor(s: SeriesWindow): MetricInfo {
    const id = `${s.kind}|${s.name}|${s.unit}`;
    const existing = this.infos.get(id);
    if (existing !== undefined) return existing;
    const o = this.options;
    const names = familyNames(s.name, s.unit, s.kind, { prefix: o.prefix, baseUnits: o.baseUnits });
    const { mul, div } = names.conversion;
    let bounds: readonly number[] = [];
    if (s.kind === 'histogram') {
      bounds = defaultBuckets(s.unit, o.bucketsPerOctave);
      let custom: readonly number[] | undefined;
      try {
        custom = o.buckets({ name: s.name, unit: s.unit });
      } catch (error) {
        o.warnOnce(`buckets:${id}`, `buckets() threw for ${s.name}: ${String(error)}; using the default bounds`);
      }
      if (custom !== undefined) {
        const why = invalidBuckets(custom);
        if (why === undefined) bounds = [...custom];
        else o.warnOnce(`buckets:${id}`, `invalid buckets for ${s.name} (${why}); using the default bounds`);
      }
    }
    const family = names.family;
    const quantileNames = s.kind === 'histogram' ? o.quantiles.map((q) => `${family}_${quantileSuffix(q)}`) : [];
    const claims =
      s.kind === 'counter'
        ? [names.base, family]
        : s.kind === 'gauge'
          ? [family, `${family}_max`]
          : [family, `${family}_bucket`, `${family}_sum`, `${family}_count`, ...quantileNames];
    const info: MetricInfo = {
      id,
      canonical: s.name,
      kind: s.kind,
      names,
      help: s.description !== '' ? s.description : `${s.name}${s.unit !== '' ? ` (${s.unit})` : ''}`,
      bounds,
      boundLabels: bounds.map((b) => ({ le: formatBound((b * mul) / div) })),
      exposedBounds: bounds.map((b) => (b * mul) / div),
      thresholds: new Map(),
      claims,
      claimed: false,
      series: 0,
    };
    this.infos.set(id, info);
    return info;
  }

  private labelsFor(input: Labels, service: string): Record<string, string> {
    const out: Record<string, string> = {};
    // Sorted so that two keys sanitizing to one name join their values in a stable order (OTel rule: `;`).
    for (const key of Object.keys(input).sort()) {
      let name = sanitizeLabelName(key);
      // `le` and `quantile` belong to histograms and summaries; promtool rejects them anywhere else.
      if (name === 'le' || name === 'quantile') name = `exported_${name}`;
      const value = input[key];
      out[name] = out[name] === undefined ? value : `${out[name]};${value}`;
    }
    const serviceLabel = this.options.serviceLabel;
    if (serviceLabel !== undefined && out[serviceLabel] === undefined) out[serviceLabel] = service;
    return out;
  }

  /** Claims exposition names for a metric; false (and a warning, once) when another metric holds one of them. */
  private claim(info: MetricInfo): boolean {
    if (info.claimed) return true;
    for (const name of info.claims) {
      const owner = this.owners.get(name);
      if (owner !== undefined && owner !== info.id) {
        const other = this.infos.get(owner);
        this.options.warnOnce(
          `collision:${info.id}`,
          `${info.kind} ${info.canonical} maps to the Prometheus name ${name}, already used by ` +
            `${other ? `${other.kind} ${other.canonical}` : 'another metric'}; it is left out of the exposition`,
        );
        return false;
      }
    }
    for (const name of info.claims) this.owners.set(name, info.id);
    info.claimed = true;
    return true;
  }

  /**
   * Families for one scrape, sorted by name, after every apply submitted before: immutable once returned, so the
   * formats can be rendered while the next window is applied. `native` computes the native histograms (only the
   * protobuf exposition carries them). Reused while no window was applied.
   */
  snapshot(native: boolean, slicer: Slicer): Promise<Family[]> {
    return this.serial.run(async () => {
      const memo = this.memo;
      if (memo !== undefined && memo.version === this.version && (memo.native || !native)) return memo.families;
      const families = await this.build(native, slicer);
      this.memo = { version: this.version, native, families };
      return families;
    });
  }

  private async build(native: boolean, slicer: Slicer): Promise<Family[]> {
    const byInfo = new Map<MetricInfo, { values: Sample[]; extra: Sample[][]; histograms: HistogramSeries[]; signatures: Set<string> }>();
    let dropped = 0;
    const quantiles = this.options.quantiles;
    for (const st of this.series.values()) {
      const info = st.info;
      let acc = byInfo.get(info);
      if (acc === undefined) {
        if (!this.claim(info)) {
          dropped += info.series;
          continue;
        }
        acc = { values: [], extra: info.kind === 'gauge' ? [[]] : quantiles.map(() => []), histograms: [], signatures: new Set() };
        byInfo.set(info, acc);
      }
      if (acc.signatures.has(st.signature)) {
        dropped++;
        this.options.warnOnce(
          `labels:${info.id}:${st.signature}`,
          `two series of ${info.canonical} have the same labels after sanitizing (${st.signature}); one is left out`,
        );
        continue;
      }
      acc.signatures.add(st.signature);
      const { mul, div } = info.names.conversion;
      const conv = (v: number): number => (mul === 1 && div === 1 ? v : (v * mul) / div);
      switch (info.kind) {
        case 'counter':
          if (!Number.isNaN(st.total)) acc.values.push({ labels: NO_LABELS, sharedLabels: st.labels, value: conv(st.total) });
          break;
        case 'gauge':
          if (!Number.isNaN(st.last)) acc.values.push({ labels: NO_LABELS, sharedLabels: st.labels, value: conv(st.last) });
          if (!Number.isNaN(st.max)) acc.extra[0].push({ labels: NO_LABELS, sharedLabels: st.labels, value: conv(st.max) });
          break;
        case 'histogram':
          acc.histograms.push(this.histogramSeries(st, conv, native));
          this.quantileSamples(st, acc.extra, conv);
          break;
      }
      if (slicer.due()) await slicer.pause();
    }
    this.seriesDropped = dropped;

    const families: Family[] = [];
    for (const [info, acc] of byInfo) {
      const name = info.names.family;
      if (info.kind === 'histogram') {
        if (acc.histograms.length > 0) families.push({ name, help: info.help, type: 'histogram', series: acc.histograms });
      } else if (acc.values.length > 0) {
        families.push({ name, help: info.help, type: info.kind, samples: acc.values });
      }
      if (info.kind === 'gauge' && acc.extra[0].length > 0) {
        families.push({
          name: `${name}_max`,
          help: `Largest value of ${info.canonical} during the latest window`,
          type: 'gauge',
          samples: acc.extra[0],
        });
      }
      if (info.kind === 'histogram') {
        const seconds = this.options.quantileWindowMs / 1000;
        quantiles.forEach((q, i) => {
          if (acc.extra[i].length === 0) return;
          families.push({
            name: `${name}_${quantileSuffix(q)}`,
            help: `${info.canonical}: quantile ${q} over the last ${seconds} s`,
            type: 'gauge',
            samples: acc.extra[i],
          });
        });
      }
    }
    return families.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  private histogramSeries(st: SeriesState, conv: (v: number) => number, native: boolean): HistogramSeries {
    const info = st.info;
    const cumulative = new Array<number>(info.bounds.length);
    let running = 0;
    for (let j = 0; j < info.bounds.length; j++) {
      // A core whose count and buckets disagree must not make buckets exceed `_count` (monotone, le=+Inf == count).
      running = Math.min(running + st.perBound[j], st.count);
      cumulative[j] = running;
    }
    const { mul, div } = info.names.conversion;
    return {
      labels: st.labels,
      count: st.count,
      sum: conv(st.sum),
      bounds: info.exposedBounds,
      boundLabels: info.boundLabels,
      cumulative,
      native: native ? nativeHistogram(st.buckets, mul / div) : undefined,
    };
  }

  private quantileSamples(st: SeriesState, out: Sample[][], conv: (v: number) => number): void {
    const quantiles = this.options.quantiles;
    if (quantiles.length === 0) return;
    this.prune(st);
    if (st.sliding.total === 0) {
      // No data in the window: no sample unless asked for 0 (see idleQuantiles).
      if (this.options.idleQuantilesZero) for (let i = 0; i < quantiles.length; i++) out[i].push({ labels: NO_LABELS, sharedLabels: st.labels, value: 0 });
      return;
    }
    let min = Infinity;
    let max = -Infinity;
    for (const r of st.recent) {
      if (r.min < min) min = r.min;
      if (r.max > max) max = r.max;
    }
    if (!(min <= max)) {
      min = 0;
      max = Infinity;
    }
    const values = new Array<number>(quantiles.length);
    quantilesInto(st.sliding, quantiles, min, max, values, st.sliding.total);
    for (let i = 0; i < quantiles.length; i++) out[i].push({ labels: NO_LABELS, sharedLabels: st.labels, value: conv(values[i]) });
  }
}


function maxOf(a: number, b: number): number {
  if (Number.isNaN(a)) return b;
  if (Number.isNaN(b)) return a;
  return a > b ? a : b;
}
