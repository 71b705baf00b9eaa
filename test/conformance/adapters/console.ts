/**
 * The console view: the text a developer reads, parsed back row by row (series, kind, value, rate/s, p50, p99,
 * max). Counters show their running total, gauges their value, histograms the window's count, P50 and P99.
 */
import { consoleSink } from '../../../src/index.js';
import type { Arrival } from '../arrivals.js';
import type { SinkAdapter } from './adapter.js';

export async function consoleAdapter(): Promise<SinkAdapter> {
  let tables: string[] = [];
  return {
    name: 'console',
    cumulative: true,
    sink: () => {
      tables = [];
      return consoleSink({ write: (text) => void tables.push(text), filter: (s) => s.name.startsWith('conf.') && s.name !== 'conf.hostile' });
    },
    async delivered() {
      const latest = new Map<string, Arrival>();
      const histograms: Arrival[] = [];
      for (const table of tables) {
        for (const line of table.split('\n')) {
          const cells = line.trim().split(/\s{2,}/);
          if (cells.length < 3 || !cells[0].startsWith('conf.')) continue;
          const [label, kind, value, , p50, p99] = cells;
          const match = label.replace(/ \[[^\]]*\]$/, '').match(/^([^{]+)(\{(.*)\})?$/);
          const metric = match?.[1] ?? label;
          const labels: Record<string, string> = {};
          for (const pair of (match?.[3] ?? '').split(',').filter(Boolean)) {
            const eq = pair.indexOf('=');
            labels[pair.slice(0, eq)] = pair.slice(eq + 1);
          }
          if (kind === 'histogram') {
            const count = Number(value);
            if (count > 0) {
              histograms.push({ metric, labels, timestamp: NaN, histogram: { count, sum: NaN, quantile: (q) => (q === 0.5 ? Number(p50) : q === 0.99 ? Number(p99) : NaN) } });
            }
          } else {
            latest.set(`${metric}|${JSON.stringify(labels)}`, { metric, labels, timestamp: NaN, counter: Number(value), gauge: Number(value) });
          }
        }
      }
      return { arrivals: [...latest.values(), ...histograms], merged: 0, cumulative: true };
    },
    close: async () => undefined,
  };
}
