/**
 * The EMF documents of one window, one JSON string each (no newline), rendered from the AWS view (every series
 * under its CloudWatch identity, collisions already merged). Series with the same dimension values share a
 * document, because dimension values are root members of a document; a group with more than 100 metrics, or more
 * bytes than `maxBytes`, continues in further documents with the same dimensions and timestamp.
 */
import type { AwsSeries } from '../aws/view.js';
import { seriesMetrics, type EmfMetric, type MetricConfig } from './metrics.js';

/** EMF limits: metrics per directive, and bytes per log event (CloudWatch Logs caps an event at 1 MB). */
export const MAX_METRICS_PER_DOCUMENT = 100;
export const MAX_DOCUMENT_BYTES = 1_000_000;

export interface DocumentConfig extends MetricConfig {
  /** Also publish each labelled metric under the base dimensions alone (e.g. per service, across routes). */
  readonly rollup: boolean;
  /** How many leading dimensions of every identity are the base ones (service, constants, pod). */
  readonly baseDimensions: number;
  /** Extra `_aws` members, e.g. LogGroupName for the CloudWatch agent. */
  readonly meta: Readonly<Record<string, string>>;
  /** Byte limit per document (less than 1 MB for UDP datagrams). */
  readonly maxBytes: number;
}

export interface DocumentCounts {
  /** Metrics left out: a name that clashes with a dimension, `_aws` or another metric of its document; too big. */
  metricsSkipped: number;
  /** Values CloudWatch would reject (NaN, infinities). */
  valuesInvalid: number;
}

interface Group {
  readonly dims: Readonly<Record<string, string>>;
  readonly keys: readonly string[];
  readonly metrics: EmfMetric[];
  readonly names: Set<string>;
}

/** The documents of one window, built in one piece (see documentSteps). */
export function windowDocuments(
  view: readonly AwsSeries[],
  timestamp: number,
  namespace: string,
  config: DocumentConfig,
  counts: DocumentCounts,
): string[] {
  const steps = documentSteps(view, timestamp, namespace, config, counts);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * The same documents, built in steps: it yields after each series and each document, so the delivery loop can
 * spread a 2,000-series window over turns of the event loop instead of pausing the host for all of it.
 */
export function* documentSteps(
  view: readonly AwsSeries[],
  timestamp: number,
  namespace: string,
  config: DocumentConfig,
  counts: DocumentCounts,
): Generator<void, string[], void> {
  const groups = new Map<string, Group>();
  const scratch: EmfMetric[] = [];
  for (const { identity, series } of view) {
    let group = groups.get(identity.dimensionsKey);
    if (group === undefined) {
      // No prototype: a label named `__proto__` must become a member, not a prototype assignment.
      const dims = Object.create(null) as Record<string, string>;
      for (const d of identity.dimensions) dims[d.Name] = d.Value;
      group = { dims, keys: identity.dimensions.map((d) => d.Name), metrics: [], names: new Set() };
      groups.set(identity.dimensionsKey, group);
    }
    scratch.length = 0;
    counts.valuesInvalid += seriesMetrics(identity, series, config, scratch);
    for (const m of scratch) {
      // A metric's value is a root member: it cannot share a name with a dimension, `_aws` or another metric.
      if (m.name === '_aws' || Object.hasOwn(group.dims, m.name) || group.names.has(m.name)) {
        counts.metricsSkipped++;
        continue;
      }
      group.names.add(m.name);
      group.metrics.push(m);
    }
    yield;
  }

  const documents: string[] = [];
  for (const group of groups.values()) {
    const baseKeys = group.keys.slice(0, config.baseDimensions);
    const dimensionSets = config.rollup && group.keys.length > baseKeys.length ? [group.keys, baseKeys] : [group.keys];
    const render = (metrics: readonly EmfMetric[]): string => {
      const doc: Record<string, unknown> = {
        _aws: {
          Timestamp: timestamp,
          CloudWatchMetrics: [
            {
              Namespace: namespace,
              Dimensions: dimensionSets,
              Metrics: metrics.map((m) => ({ Name: m.name, Unit: m.unit, StorageResolution: 1 })),
            },
          ],
          ...config.meta,
        },
        ...group.dims,
      };
      for (const m of metrics) doc[m.name] = m.value;
      return JSON.stringify(doc);
    };
    const emptyBytes = Buffer.byteLength(render([]));
    let chunk: EmfMetric[] = [];
    let bytes = emptyBytes;
    for (const m of group.metrics) {
      // Exact growth of the document, plus two separators: an upper bound, so a chunk never exceeds maxBytes.
      const growth =
        Buffer.byteLength(JSON.stringify(m.name)) * 2 +
        Buffer.byteLength(JSON.stringify(m.value)) +
        Buffer.byteLength(JSON.stringify(m.unit)) +
        `{"Name":,"Unit":,"StorageResolution":1}`.length +
        4;
      if (emptyBytes + growth > config.maxBytes) {
        counts.metricsSkipped++;
        continue;
      }
      if (chunk.length === MAX_METRICS_PER_DOCUMENT || bytes + growth > config.maxBytes) {
        documents.push(render(chunk));
        chunk = [];
        bytes = emptyBytes;
        yield;
      }
      chunk.push(m);
      bytes += growth;
    }
    if (chunk.length > 0) documents.push(render(chunk));
    yield;
  }
  return documents;
}
