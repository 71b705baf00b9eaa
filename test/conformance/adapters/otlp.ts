/**
 * OTLP/HTTP through the real OpenTelemetry exporter to a loopback receiver (no collector can run here) that
 * decodes the OTLP/JSON bodies. Delta temporality, as the README's autoscaling example; quantiles computed from
 * the exponential buckets as a backend would (the bucket's geometric midpoint at the nearest rank).
 */
import { otlpSink } from '../../../src/index.js';
import { decodePoints, startOtlpReceiver } from '../../helpers/otlp-receiver.js';
import type { Arrival } from '../arrivals.js';
import type { SinkAdapter } from './adapter.js';

export async function otlpAdapter(): Promise<SinkAdapter> {
  const receiver = await startOtlpReceiver();
  let made = 0;
  return {
    name: 'otlp',
    cumulative: false,
    sink: () => otlpSink({ url: receiver.url, temporality: 'delta', name: `otlp-${made++}` } as never),
    async delivered() {
      const arrivals: Arrival[] = [];
      for (const request of receiver.requests) {
        for (const point of decodePoints(request.body)) {
          const labels = Object.fromEntries(Object.entries(point.attributes).map(([k, v]) => [k, String(v)]));
          // A point covers [start, time): it stands for the second its end falls in.
          const endMs = Number(point.timeNs / 1_000_000n);
          const timestamp = Math.floor((endMs - 1) / 1000) * 1000;
          const base = { metric: point.name, labels, timestamp };
          if (point.type === 'sum') arrivals.push({ ...base, counter: point.value });
          else if (point.type === 'gauge') arrivals.push({ ...base, gauge: point.value });
          else if (point.histogram !== undefined) {
            const h = point.histogram;
            if (h.count !== h.zeroCount + h.positive.bucketCounts.reduce((a, b) => a + b, 0) + h.negative.bucketCounts.reduce((a, b) => a + b, 0)) {
              throw new Error(`OTLP point ${point.name} has count ${h.count} != zero_count + bucket counts`);
            }
            arrivals.push({
              ...base,
              histogram: {
                count: h.count,
                sum: h.sum ?? NaN,
                min: h.min,
                max: h.max,
                quantile: (q) => exponentialQuantile(h.scale, h.zeroCount, h.positive.offset, h.positive.bucketCounts, h.count, q),
              },
            });
          }
        }
      }
      return { arrivals, merged: 0, cumulative: false };
    },
    close: () => receiver.close(),
  };
}

function exponentialQuantile(scale: number, zeroCount: number, offset: number, counts: readonly number[], total: number, q: number): number {
  const rank = Math.max(1, Math.ceil(q * total));
  if (rank <= zeroCount) return 0;
  let seen = zeroCount;
  const base = Math.pow(2, Math.pow(2, -scale));
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i];
    if (seen >= rank) return Math.pow(base, offset + i) * Math.sqrt(base);
  }
  return NaN;
}
