import type { Window } from '../../core/window.js';
import { baseDimensions, labelDimensions, namespaceOf, type DimensionConfig } from './dimensions.js';
import { seriesMetrics, type EmfMetric, type MetricConfig } from './metrics.js';

/** EMF limits: metrics per directive, and bytes per log event (CloudWatch Logs caps an event at 1 MB). */
export const MAX_METRICS_PER_DOCUMENT = 100;
export const MAX_DOCUMENT_BYTES = 1_000_000;
const MAX_METRIC_NAME_LENGTH = 1024;

export interface DocumentConfig extends MetricConfig, DimensionConfig {
  /** CloudWatch namespace; undefined means the window's service name. */
  readonly namespace: string | undefined;
  /** Also publish each labelled metric under the base dimensions alone (e.g. per service, across routes). */
  readonly rollup: boolean;
  /** Extra `_aws` members, e.g. LogGroupName for the CloudWatch agent. */
  readonly meta: Readonly<Record<string, string>>;
  /** Byte limit per document (less than 1 MB for UDP datagrams). */
  readonly maxBytes: number;
}

export interface DocumentCounters {
  /** Metrics left out: invalid names, name clashes with a dimension or another metric, too big to fit. */
  metricsSkipped: number;
  /** Labels left out of the dimensions: invalid keys, clashes with a base dimension, beyond 30 keys. */
  labelsDropped: number;
}

interface Group {
  readonly dims: Record<string, string>;
  readonly metrics: EmfMetric[];
  readonly names: Set<string>;
}

/**
 * The EMF documents of one window, one JSON string each (no newline). Series with the same label values share a
 * document, because dimension values are root members of a document; a group with more than 100 metrics, or more
 * bytes than `maxBytes`, continues in further documents with the same dimensions and timestamp.
 */
export function windowDocuments(window: Window, config: DocumentConfig, counters: DocumentCounters): string[] {
  const base = baseDimensions(config, window.resource);
  const baseKeys = Object.keys(base);
  const namespace = namespaceOf(config.namespace ?? window.resource.service);
  const groups = new Map<string, Group>();
  const scratch: EmfMetric[] = [];

  for (const s of window.series) {
    const dims: Record<string, string> = { ...base };
    counters.labelsDropped += labelDimensions(s.labels, base, dims);
    const id = JSON.stringify(dims);
    let group = groups.get(id);
    if (group === undefined) {
      group = { dims, metrics: [], names: new Set() };
      groups.set(id, group);
    }
    scratch.length = 0;
    seriesMetrics(s, config, scratch);
    for (const m of scratch) {
      // A metric's value is a root member: it cannot share a name with a dimension, `_aws` or another metric.
      if (m.name === '_aws' || m.name in dims || group.names.has(m.name) || m.name.trim() === '' || m.name.length > MAX_METRIC_NAME_LENGTH) {
        counters.metricsSkipped++;
        continue;
      }
      group.names.add(m.name);
      group.metrics.push(m);
    }
  }

  const documents: string[] = [];
  for (const group of groups.values()) {
    const keys = Object.keys(group.dims);
    const dimensionSets = config.rollup && keys.length > baseKeys.length ? [keys, baseKeys] : [keys];
    const render = (metrics: readonly EmfMetric[]): string => {
      const doc: Record<string, unknown> = {
        _aws: {
          Timestamp: window.start,
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
        counters.metricsSkipped++;
        continue;
      }
      if (chunk.length === MAX_METRICS_PER_DOCUMENT || bytes + growth > config.maxBytes) {
        documents.push(render(chunk));
        chunk = [];
        bytes = emptyBytes;
      }
      chunk.push(m);
      bytes += growth;
    }
    if (chunk.length > 0) documents.push(render(chunk));
  }
  return documents;
}
