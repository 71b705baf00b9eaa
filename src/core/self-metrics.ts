/**
 * The SDK's own health, published in the same windows as the user's metrics: dropped recordings, failed
 * observations, and for every sink the windows by outcome, the last export's duration and the sink's own stats.
 */
import type { Counter, Gauge } from './api.js';
import type { DropReason } from './handles.js';
import type { InstrumentRegistry } from './instrument-registry.js';
import type { ObserveFailure } from './observer.js';
import type { Sink } from './sink.js';

/** A window's end (sent, failed, dropped); 'retried' is an attempt to retry; 'latency' only reports a duration. */
export type WindowOutcome = 'sent' | 'failed' | 'dropped' | 'retried' | 'latency';

export class SelfMetrics {
  private readonly dropped: Counter;
  private readonly observeFailures: Counter;
  private readonly sinkWindows: Counter;
  private readonly sinkRetries: Counter;
  private readonly sinkLatency: Gauge;
  private readonly sinkStats = new Map<string, Gauge>();

  constructor(private readonly instruments: InstrumentRegistry) {
    this.dropped = instruments.counter('scalesignal.recordings.dropped', {
      unit: '{recording}',
      description: 'Recordings dropped: NaN, infinite, negative (counters, histograms), not a number, bad labels, or an overflowing sum',
    });
    this.observeFailures = instruments.counter('scalesignal.observe.failures', {
      unit: '{failure}',
      description: 'Observed-gauge callbacks that threw, timed out, returned a non-number or were still running',
    });
    this.sinkWindows = instruments.counter('scalesignal.sink.windows', {
      unit: '{window}',
      description: 'Windows handed to each sink, by outcome: sent, failed, dropped; they add up to the windows produced',
    });
    this.sinkRetries = instruments.counter('scalesignal.sink.retries', {
      unit: '{window}',
      description: 'Windows of export attempts that failed retryably and will be retried',
    });
    this.sinkLatency = instruments.gauge('scalesignal.sink.export.duration', {
      unit: 'ms',
      description: 'Duration of the last export attempt of each sink',
    });
  }

  recordingDropped(metric: string, reason: DropReason, recordings = 1): void {
    this.dropped.add(recordings, { metric, reason });
  }

  observeFailed(metric: string, reason: ObserveFailure): void {
    this.observeFailures.add(1, { metric, reason });
  }

  sinkOutcome(sink: string, outcome: WindowOutcome, windows: number, latencyMs: number): void {
    if (outcome === 'retried') this.sinkRetries.add(windows, { sink });
    else if (outcome !== 'latency') this.sinkWindows.add(windows, { sink, outcome });
    if (outcome !== 'dropped' && latencyMs >= 0) this.sinkLatency.set(latencyMs, { sink });
  }

  /** Reads every sink's stats() once, just before a seal; a throwing stats() is skipped. */
  publishSinkStats(sinks: readonly Sink[]): void {
    for (const sink of sinks) {
      if (typeof sink.stats !== 'function') continue;
      let stats: Readonly<Record<string, number>>;
      try {
        stats = sink.stats();
      } catch {
        continue;
      }
      for (const key of Object.keys(stats)) {
        const value = stats[key];
        if (typeof value !== 'number') continue;
        let gauge = this.sinkStats.get(key);
        if (gauge === undefined) {
          gauge = this.instruments.gauge(`scalesignal.sink.${key.replace(/[^A-Za-z0-9_.]/g, '_')}`);
          this.sinkStats.set(key, gauge);
        }
        gauge.set(value, { sink: sink.name });
      }
    }
  }
}
