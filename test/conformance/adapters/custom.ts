/** A custom sink: the Window contract itself is what arrives. */
import type { Window } from '../../../src/index.js';
import type { Arrival } from '../arrivals.js';
import type { SinkAdapter } from './adapter.js';

export async function customAdapter(): Promise<SinkAdapter> {
  const windows: Window[] = [];
  return {
    name: 'custom',
    cumulative: false,
    sink: () => ({ name: 'custom', export: (batch) => void windows.push(...batch) }),
    async delivered() {
      const arrivals: Arrival[] = [];
      for (const window of windows) {
        for (const s of window.series) {
          const base = { metric: s.name, labels: s.labels, timestamp: window.timestamp };
          if (s.kind === 'counter') arrivals.push({ ...base, counter: s.sum });
          else if (s.kind === 'gauge') arrivals.push({ ...base, gauge: s.last });
          else
            arrivals.push({
              ...base,
              histogram: { count: s.count, sum: s.sum, min: s.min, max: s.max, quantile: (q) => (q === 0.5 ? s.p50 : q === 0.9 ? s.p90 : s.p99) },
            });
        }
      }
      return { arrivals, merged: 0, cumulative: false };
    },
    close: async () => undefined,
  };
}
