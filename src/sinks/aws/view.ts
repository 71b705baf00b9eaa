/**
 * A window as CloudWatch will see it: every series under its CloudWatch identity (metric name stem, unit,
 * dimensions), series with the same identity merged into one (merge.ts) and counted in `seriesMerged`. Both AWS
 * sinks render from this view, so one series has the same name and dimensions on EMF and on PutMetricData, and
 * a collision is merged the same way on both.
 *
 * Identities are cached per series key (windows list the same series second after second) and interned, so a
 * collision is found with one comparison per series rather than a map per window.
 */
import type { MetricKind, Resource, SeriesWindow, Window } from '../../core/window.js';
import { appendLabelDimensions, baseDimensions, type Dimension, type DimensionRules } from './dimensions.js';
import { mergeSeries } from './merge.js';
import { metricStem } from './metric-name.js';
import { cloudWatchUnit, type StandardUnit } from './units.js';

export interface SeriesIdentity {
  /** Kind, unit, name and dimensions in one string: equal keys are one CloudWatch metric. */
  readonly key: string;
  readonly kind: MetricKind;
  /** The metric name, or the stem EMF appends `.p99` etc. to. */
  readonly name: string;
  readonly unit: StandardUnit;
  readonly dimensions: readonly Dimension[];
  /** The dimensions alone as one string: equal for series that share a dimension set. */
  readonly dimensionsKey: string;
}

export interface AwsSeries {
  readonly identity: SeriesIdentity;
  /** The series, or the merge of every series of the window that has this identity. */
  readonly series: SeriesWindow;
}

export interface ViewCounts {
  /** Series folded into another series of the same window because both had the same identity. */
  seriesMerged: number;
  /** Labels left out of the dimensions (see dimensions.ts), once per series and window. */
  labelsDropped: number;
}

/** One per identity, shared by every series key that has it. */
interface Slot {
  readonly identity: SeriesIdentity;
  /** Window sequence this identity was last seen in, and its position in that window's list. */
  stamp: number;
  index: number;
}

interface Entry {
  readonly slot: Slot;
  readonly labelsDropped: number;
}

/** Series identities kept; cleared between windows when full (label churn), then rebuilt as series come back. */
const CACHE_SIZE = 10_000;

export class AwsView {
  readonly counts: ViewCounts = { seriesMerged: 0, labelsDropped: 0 };
  private readonly bySeries = new Map<string, Entry>();
  private readonly interned = new Map<string, Slot>();
  private resource: Resource | undefined;
  private base: readonly Dimension[] = [];
  private baseKey = '';
  private sequence = 0;

  constructor(
    private readonly rules: DimensionRules,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** The window's series in window order (a merged group at its first member's place), `filter`ed first. */
  series(window: Window, filter?: (series: SeriesWindow) => boolean): AwsSeries[] {
    this.useResource(window.resource);
    // Only between windows: a clear inside one would give a colliding pair two slots.
    if (this.bySeries.size >= CACHE_SIZE) {
      this.bySeries.clear();
      this.interned.clear();
    }
    const stamp = ++this.sequence;
    const out: AwsSeries[] = [];
    for (const s of window.series) {
      if (filter !== undefined && !safeFilter(filter, s)) continue;
      const entry = this.entryFor(s);
      this.counts.labelsDropped += entry.labelsDropped;
      const slot = entry.slot;
      if (slot.stamp !== stamp) {
        slot.stamp = stamp;
        slot.index = out.length;
        out.push({ identity: slot.identity, series: s });
        continue;
      }
      const first = out[slot.index];
      out[slot.index] = { identity: slot.identity, series: mergeSeries(first.series, s) };
      this.counts.seriesMerged++;
    }
    return out;
  }

  /** The identity a series gets, for callers that need one series only. */
  identityOf(series: SeriesWindow, resource: Resource): SeriesIdentity {
    this.useResource(resource);
    return this.entryFor(series).slot.identity;
  }

  private useResource(resource: Resource): void {
    if (resource === this.resource) return;
    this.resource = resource;
    const base = baseDimensions(this.rules, resource, this.env);
    const key = dimensionsKey(base);
    if (key === this.baseKey) return;
    this.base = base;
    this.baseKey = key;
    this.bySeries.clear();
    this.interned.clear();
  }

  private entryFor(s: SeriesWindow): Entry {
    const cached = this.bySeries.get(s.key);
    if (cached !== undefined && cached.slot.identity.kind === s.kind) return cached;
    const dimensions: Dimension[] = this.base.slice();
    const labelsDropped = appendLabelDimensions(s.labels, this.rules, dimensions);
    const name = metricStem(s.name, s.kind);
    const unit = cloudWatchUnit(s.unit, s.kind);
    const dims = dimensionsKey(dimensions);
    const key = `${s.kind}\u0001${unit}\u0001${name}${dims}`;
    // Interned by identity: two series keys with one identity share the slot, and so its stamp.
    let slot = this.interned.get(key);
    if (slot === undefined) {
      slot = { identity: { key, kind: s.kind, name, unit, dimensions, dimensionsKey: dims }, stamp: 0, index: 0 };
      this.interned.set(key, slot);
    }
    const entry: Entry = { slot, labelsDropped };
    this.bySeries.set(s.key, entry);
    return entry;
  }
}

function dimensionsKey(list: readonly Dimension[]): string {
  let key = '';
  for (const d of list) key += `\u0001${d.Name}\u0002${d.Value}`;
  return key;
}

function safeFilter(filter: (series: SeriesWindow) => boolean, series: SeriesWindow): boolean {
  try {
    return filter(series) !== false;
  } catch {
    return false;
  }
}
