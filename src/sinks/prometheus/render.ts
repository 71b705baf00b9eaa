/**
 * Renders families with a prom-client Registry. The families are exact pre-aggregated values (cumulative bucket
 * counts, totals), which prom-client's Counter/Histogram cannot be set to, so each family is registered as a
 * minimal metric object whose `get()` returns its values: the Registry does the format, escaping and OpenMetrics
 * specifics (counter `_total` handling, `# EOF`).
 *
 * Rendered in slices: prom-client formats a whole registry in one synchronous stretch (~30 ms for 30,000 lines at
 * 2,000 series), so each family is formatted in chunks of about CHUNK_SAMPLES samples, one registry per chunk,
 * with a turn of the event loop whenever the slicer says so. The chunks are joined exactly as Registry.metrics()
 * joins families (a test compares the bytes with `renderInOnePiece`): a continuation chunk loses its `# HELP` and
 * `# TYPE` lines, each chunk its trailer. Each chunk becomes bytes on its own, so no one-piece UTF-8 encoding of
 * megabytes is left for the end.
 */
import type * as PromClient from 'prom-client';
import { NO_LABELS, type Family, type FamilyType, type HistogramSeries, type Sample } from './families.js';
import type { Slicer } from './slicer.js';

export type ContentKind = 'text' | 'openmetrics' | 'protobuf';

/** The formats prom-client renders. */
export type TextKind = Exclude<ContentKind, 'protobuf'>;

type PromModule = typeof PromClient;

/** Samples per prom-client call: ~0.2 ms of formatting. */
export const CHUNK_SAMPLES = 256;

const INF_LABEL: Readonly<Record<string, string>> = Object.freeze({ le: '+Inf' });
const NEWLINE = Buffer.from('\n');
const BLANK_LINE = Buffer.from('\n\n');

/** What Registry.metrics() reads from a registered metric. */
class FamilyMetric {
  readonly aggregator = 'sum';

  constructor(
    public name: string, // prom-client renames OpenMetrics counters in place (`x_total` -> `x`), so this must be writable
    readonly help: string,
    readonly type: FamilyType,
    private readonly values: readonly Sample[],
  ) {}

  get(): { name: string; help: string; type: string; aggregator: string; values: readonly Sample[] } {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.values };
  }

  reset(): void {}
}

export function contentType(prom: PromModule, kind: TextKind): string {
  return kind === 'openmetrics' ? prom.Registry.OPENMETRICS_CONTENT_TYPE : prom.Registry.PROMETHEUS_CONTENT_TYPE;
}

/** A family as rows (samples, or histogram series) and the samples of rows [from, to). */
interface Rows {
  readonly count: number;
  /** Rows per chunk: about CHUNK_SAMPLES samples. */
  readonly perChunk: number;
  samples(from: number, to: number): readonly Sample[];
}

function rowsOf(family: Family): Rows {
  if (family.type !== 'histogram') {
    const samples = family.samples;
    return { count: samples.length, perChunk: CHUNK_SAMPLES, samples: (from, to) => (from === 0 && to >= samples.length ? samples : samples.slice(from, to)) };
  }
  const series = family.series;
  const perSeries = (series[0]?.bounds.length ?? 0) + 3;
  return {
    count: series.length,
    perChunk: Math.max(1, Math.floor(CHUNK_SAMPLES / perSeries)),
    samples: (from, to) => histogramSamples(family.name, series, from, Math.min(to, series.length)),
  };
}

/** The text formats' samples of histogram series: `_bucket` per bound and `+Inf`, `_sum`, `_count`. */
function histogramSamples(name: string, series: readonly HistogramSeries[], from: number, to: number): Sample[] {
  const bucket = `${name}_bucket`;
  const sum = `${name}_sum`;
  const count = `${name}_count`;
  const out: Sample[] = [];
  for (let i = from; i < to; i++) {
    const h = series[i];
    for (let j = 0; j < h.boundLabels.length; j++) out.push({ metricName: bucket, labels: h.boundLabels[j], sharedLabels: h.labels, value: h.cumulative[j] });
    out.push({ metricName: bucket, labels: INF_LABEL, sharedLabels: h.labels, value: h.count });
    out.push({ metricName: sum, labels: NO_LABELS, sharedLabels: h.labels, value: h.sum });
    out.push({ metricName: count, labels: NO_LABELS, sharedLabels: h.labels, value: h.count });
  }
  return out;
}

export async function renderFamilies(prom: PromModule, families: readonly Family[], kind: TextKind, slicer: Slicer): Promise<Buffer> {
  // prom-client would emit a lone blank line before `# EOF`, which OpenMetrics parsers reject.
  if (families.length === 0) return Buffer.from(kind === 'openmetrics' ? '# EOF\n' : '');
  const trailer = kind === 'openmetrics' ? '\n# EOF\n' : '\n';
  const parts: Buffer[] = [];
  for (let f = 0; f < families.length; f++) {
    const family = families[f];
    if (f > 0) parts.push(kind === 'openmetrics' ? NEWLINE : BLANK_LINE);
    const rows = rowsOf(family);
    for (let from = 0; from === 0 || from < rows.count; from += rows.perChunk) {
      const metric = new FamilyMetric(family.name, family.help, family.type, rows.samples(from, from + rows.perChunk));
      const text = withoutSuffix(await registryText(prom, [metric], kind), trailer);
      const block = from === 0 ? text : sampleLines(text);
      // Not the shape this join relies on (a future prom-client): fall back to one piece.
      if (block === undefined) return renderInOnePiece(prom, families, kind);
      if (from > 0) parts.push(NEWLINE);
      parts.push(Buffer.from(block, 'utf8'));
      if (slicer.due()) await slicer.pause();
    }
  }
  parts.push(Buffer.from(trailer));
  return Buffer.concat(parts);
}

/** Every family through one Registry.metrics() call: what the sliced join must equal. */
export async function renderInOnePiece(prom: PromModule, families: readonly Family[], kind: TextKind): Promise<Buffer> {
  if (families.length === 0) return Buffer.from(kind === 'openmetrics' ? '# EOF\n' : '');
  const metrics = families.map((family) => {
    const rows = rowsOf(family);
    return new FamilyMetric(family.name, family.help, family.type, rows.samples(0, rows.count));
  });
  return Buffer.from(await registryText(prom, metrics, kind), 'utf8');
}

function registryText(prom: PromModule, metrics: readonly FamilyMetric[], kind: TextKind): Promise<string> {
  const registry = new prom.Registry<PromClient.RegistryContentType>();
  registry.setContentType(contentType(prom, kind) as PromClient.RegistryContentType);
  for (const metric of metrics) registry.registerMetric(metric as unknown as PromClient.Metric<string>);
  return registry.metrics();
}

function withoutSuffix(text: string, suffix: string): string | undefined {
  return text.endsWith(suffix) ? text.slice(0, text.length - suffix.length) : undefined;
}

/** A family's block without its `# HELP` and `# TYPE` lines (one line each: prom-client escapes newlines). */
function sampleLines(block: string | undefined): string | undefined {
  if (block === undefined || !block.startsWith('# HELP ')) return undefined;
  const help = block.indexOf('\n');
  if (help === -1 || !block.startsWith('# TYPE ', help + 1)) return undefined;
  const type = block.indexOf('\n', help + 1);
  return type === -1 ? undefined : block.slice(type + 1);
}
