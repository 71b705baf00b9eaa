/**
 * Event-loop indicators, on by default: `nodejs.eventloop.delay.p50|p99|max` (ms, from
 * perf_hooks.monitorEventLoopDelay, reset every window and never by a scrape) and `nodejs.eventloop.utilization`
 * (0..1 over the window). Both are sampled synchronously just before the window seals.
 */
import { monitorEventLoopDelay, performance, type EventLoopUtilization } from 'node:perf_hooks';
import type { Metrics } from '../core/api.js';

/** Returns a function that stops the monitor. */
export function installEventLoopMetrics(metrics: Metrics): () => void {
  const resolutionMs = 10;
  const histogram = monitorEventLoopDelay({ resolution: resolutionMs });
  histogram.enable();
  let previous: EventLoopUtilization = performance.eventLoopUtilization();
  const p50 = metrics.gauge('nodejs.eventloop.delay.p50', { unit: 'ms', description: 'Median event-loop delay over the window' });
  const max = metrics.gauge('nodejs.eventloop.delay.max', { unit: 'ms', description: 'Largest event-loop delay over the window' });
  metrics.gauge('nodejs.eventloop.delay.p99', {
    unit: 'ms',
    description: '99th percentile event-loop delay over the window',
    observe: () => {
      // Samples are the time between timer runs, so the sampling resolution itself is not delay.
      // Before the first sample the histogram holds NaN / huge sentinels: report 0 then.
      const ready = histogram.count > 0;
      const toMs = (ns: number) => (ready && Number.isFinite(ns) ? Math.max(0, ns / 1e6 - resolutionMs) : 0);
      p50.set(toMs(histogram.percentile(50)));
      max.set(toMs(histogram.max));
      const p99 = toMs(histogram.percentile(99));
      histogram.reset();
      return p99;
    },
  });
  metrics.gauge('nodejs.eventloop.utilization', {
    unit: '1',
    description: 'Fraction of the window the event loop was busy',
    observe: () => {
      const now = performance.eventLoopUtilization();
      const delta = performance.eventLoopUtilization(now, previous);
      previous = now;
      return delta.utilization;
    },
  });
  return () => histogram.disable();
}
