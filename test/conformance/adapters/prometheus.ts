/**
 * The Prometheus pull endpoint, scraped over HTTP and parsed by Prometheus' own expfmt parser. Pull backends hold
 * cumulative state: counters arrive as totals; histograms as `_count`/`_sum` and the `_p50/_p90/_p99` quantile
 * gauges Prometheus stores as sent. The canonical name is read back from each family's HELP text.
 */
import { prometheusSink, type PrometheusSink } from '../../../src/index.js';
import { metricValue, parseWithExpfmt, toNumber, type ExpfmtFamily } from '../../helpers/expfmt.js';
import type { Arrival } from '../arrivals.js';
import type { SinkAdapter } from './adapter.js';

export async function prometheusAdapter(histogramMetrics: ReadonlySet<string>): Promise<SinkAdapter> {
  let current: PrometheusSink | undefined;
  let made = 0;
  return {
    name: 'prometheus',
    cumulative: true,
    sink: () => {
      current = prometheusSink({ port: 0, host: '127.0.0.1', name: `prometheus-${made++}` } as never);
      return current;
    },
    async delivered() {
      if (current === undefined) return { arrivals: [], merged: 0, cumulative: true };
      await current.ready;
      const text = await fetch(current.url as string).then((r) => r.text());
      const families = parseWithExpfmt(text);
      const canonical = (family: ExpfmtFamily) => (family.help ?? '').split(' ')[0];
      const arrivals: Arrival[] = [];
      const quantiles = new Map<string, Map<string, number>>();
      for (const family of families) {
        const metric = canonical(family);
        for (const m of family.metric) {
          const labels = Object.fromEntries((m.label ?? []).map((l) => [l.name, l.value]));
          if (family.type === 4 && m.histogram !== undefined && histogramMetrics.has(metric)) {
            const key = JSON.stringify(labels);
            arrivals.push({
              metric,
              labels,
              timestamp: NaN,
              histogram: {
                count: m.histogram.sample_count,
                sum: toNumber(m.histogram.sample_sum),
                quantile: (q) => quantiles.get(metric)?.get(`${q}|${key}`) ?? NaN,
              },
            });
          } else if (family.type === 1 && /^(.*)_p(50|90|99)$/.test(family.name)) {
            // `<family>_p99` gauges: HELP reads "<canonical>: quantile 0.99 over the last 10 s".
            const base = metric.replace(/:$/, '');
            const q = Number((family.help ?? '').match(/quantile ([0-9.]+)/)?.[1]);
            if (!quantiles.has(base)) quantiles.set(base, new Map());
            quantiles.get(base)!.set(`${q}|${JSON.stringify(labels)}`, metricValue(m));
          } else {
            arrivals.push({ metric, labels, timestamp: NaN, counter: metricValue(m), gauge: metricValue(m) });
          }
        }
      }
      return { arrivals, merged: 0, cumulative: true };
    },
    close: async () => undefined,
  };
}
