/**
 * CloudWatch Embedded Metric Format documents as the sink writes them (its `write` destination, the same bytes
 * stdout or the agent would get), parsed and checked against the EMF specification's structure by the shared
 * validator; percentiles are the `<name>.p50/.p90/.p99` metrics CloudWatch stores as sent.
 */
import { emfSink } from '../../../src/index.js';
import { validateEmf } from '../../helpers/emf-validator.js';
import type { Arrival } from '../arrivals.js';
import type { SinkAdapter } from './adapter.js';

const SERVICE_DIMENSION = 'ServiceName';
const SUFFIXES = ['.count', '.sum', '.min', '.max', '.p50', '.p90', '.p95', '.p99'] as const;

export async function emfAdapter(histogramMetrics: ReadonlySet<string>): Promise<SinkAdapter> {
  const documents: string[] = [];
  let lastStats: Readonly<Record<string, number>> = {};
  let made = 0;
  let current: ReturnType<typeof emfSink> | undefined;
  return {
    name: 'emf',
    cumulative: false,
    sink: () => {
      current = emfSink({ write: (document) => void documents.push(document), name: `emf-${made++}`, namespace: 'Conformance' });
      return current;
    },
    async delivered() {
      lastStats = current?.stats?.() ?? lastStats;
      const duplicates: string[] = [];
      const series = new Map<string, { metric: string; labels: Record<string, string>; timestamp: number; values: Map<string, number> }>();
      for (const text of documents) {
        const doc = validateEmf(text);
        const aws = (doc as unknown as { _aws: { Timestamp: number; CloudWatchMetrics: Array<{ Dimensions: string[][]; Metrics: Array<{ Name: string }> }> } })._aws;
        const root = doc as unknown as Record<string, unknown>;
        for (const directive of aws.CloudWatchMetrics) {
          const dimensionKeys = directive.Dimensions[0] ?? [];
          const labels: Record<string, string> = {};
          for (const key of dimensionKeys) if (key !== SERVICE_DIMENSION) labels[key] = String(root[key]);
          for (const { Name } of directive.Metrics) {
            const value = root[Name];
            if (typeof value !== 'number') continue;
            const suffix = SUFFIXES.find((s) => Name.endsWith(s) && histogramMetrics.has(Name.slice(0, -s.length)));
            const metric = suffix === undefined ? Name : Name.slice(0, -suffix.length);
            const key = `${metric}|${JSON.stringify(labels)}|${aws.Timestamp}`;
            let entry = series.get(key);
            if (entry === undefined) series.set(key, (entry = { metric, labels, timestamp: aws.Timestamp, values: new Map() }));
            if (entry.values.has(suffix ?? '')) {
              duplicates.push(`${Name}|${JSON.stringify(labels)}|${aws.Timestamp}`);
              entry.values.set(suffix ?? '', (entry.values.get(suffix ?? '') ?? 0) + value);
            } else {
              entry.values.set(suffix ?? '', value);
            }
          }
        }
      }
      const arrivals: Arrival[] = [];
      for (const { metric, labels, timestamp, values } of series.values()) {
        const base = { metric, labels, timestamp };
        if (histogramMetrics.has(metric)) {
          const get = (suffix: string) => values.get(suffix) ?? NaN;
          arrivals.push({
            ...base,
            histogram: { count: get('.count'), sum: get('.sum'), min: values.get('.min'), max: values.get('.max'), quantile: (q) => get(q === 0.5 ? '.p50' : q === 0.9 ? '.p90' : '.p99') },
          });
        } else {
          arrivals.push({ ...base, counter: values.get(''), gauge: values.get('') });
        }
      }
      return { arrivals, merged: lastStats.series_merged ?? 0, cumulative: false, duplicates };
    },
    close: async () => undefined,
  };
}
