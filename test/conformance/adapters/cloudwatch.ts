/**
 * PutMetricData through the official AWS SDK v3 client to a loopback server speaking CloudWatch's AWS JSON 1.0
 * protocol and enforcing its documented limits (no CloudWatch here). Percentiles are computed the way CloudWatch
 * computes them from Values/Counts: each value stands for Count samples.
 */
import { cloudWatchSink, type CloudWatchSink } from '../../../src/index.js';
import { startCloudWatchServer } from '../../helpers/cloudwatch-server.js';
import { cloudWatchPercentile, type Arrival } from '../arrivals.js';
import type { SinkAdapter } from './adapter.js';

const SERVICE_DIMENSION = 'ServiceName';

export async function cloudWatchAdapter(histogramMetrics: ReadonlySet<string>): Promise<SinkAdapter> {
  const server = await startCloudWatchServer();
  let current: CloudWatchSink | undefined;
  let lastStats: Readonly<Record<string, number>> = {};
  let made = 0;
  return {
    name: 'cloudwatch',
    cumulative: false,
    sink: () => {
      current = cloudWatchSink({
        endpoint: server.url,
        region: 'us-east-1',
        clientConfig: { credentials: { accessKeyId: 'x', secretAccessKey: 'y' } },
        fleetSize: 1,
        identity: 'conformance-0',
        namespace: 'Conformance',
        name: `cloudwatch-${made++}`,
        logger: { warn: () => undefined, info: () => undefined },
      } as never);
      return current;
    },
    async delivered() {
      lastStats = current?.stats?.() ?? lastStats;
      const rejected = server.requests.filter((r) => r.status !== 200);
      if (rejected.length > 0) throw new Error(`PutMetricData rejected ${rejected.length} request(s): ${rejected[0].error}`);
      const arrivals: Arrival[] = [];
      const seen = new Set<string>();
      const duplicates: string[] = [];
      for (const datum of server.accepted) {
        const labels: Record<string, string> = {};
        for (const { Name, Value } of datum.Dimensions) if (Name !== SERVICE_DIMENSION) labels[Name] = Value;
        const base = { metric: datum.MetricName, labels, timestamp: datum.Timestamp };
        const key = `${datum.MetricName}|${JSON.stringify(labels)}|${datum.Timestamp}`;
        if (seen.has(key)) duplicates.push(key);
        seen.add(key);
        const stats = datum.StatisticValues;
        if (histogramMetrics.has(datum.MetricName)) {
          const values = datum.Values ?? [];
          const counts = datum.Counts;
          const count = stats?.SampleCount ?? values.reduce((n, _, i) => n + (counts?.[i] ?? 1), 0);
          // Values/Counts carry no exact sum: CloudWatch's Sum is then the sum of values times counts.
          const sum = stats?.Sum ?? values.reduce((n, v, i) => n + v * (counts?.[i] ?? 1), 0);
          arrivals.push({
            ...base,
            histogram: {
              count,
              sum,
              sumIsEstimate: stats === undefined,
              min: stats?.Minimum ?? (values.length > 0 ? Math.min(...values) : undefined),
              max: stats?.Maximum ?? (values.length > 0 ? Math.max(...values) : undefined),
              quantile: (q) => cloudWatchPercentile(values, counts, q),
            },
          });
        } else {
          // Counters: the window's increase (Value, or StatisticValues.Sum); gauges: the value (SampleCount 1, so Sum).
          const value = datum.Value ?? stats?.Sum;
          arrivals.push({ ...base, counter: value, gauge: value });
        }
      }
      return { arrivals, merged: lastStats.series_merged ?? 0, cumulative: false, duplicates };
    },
    close: () => server.close(),
  };
}
