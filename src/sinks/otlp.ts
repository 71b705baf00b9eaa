/**
 * OTLP sink: Window -> OTLP data model -> @opentelemetry/exporter-metrics-otlp-http (JSON over HTTP) -> collector.
 *
 * The exporter owns what it already does well (endpoint, headers, compression and TLS from the standard
 * OTEL_EXPORTER_OTLP_* variables, the HTTP transport); this sink owns the data model and the failure policy.
 *
 * Several windows in one export call go out as ONE request whose series carry one data point per window, each
 * with its own timestamps. Why not one request per window: the call is retried as a whole by the dispatcher, so a
 * request that fails after earlier ones succeeded would resend those and double-count delta sums; one request is
 * all-or-nothing. It also keeps a backlog after an outage from costing N round trips inside one timeout.
 */
import type { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { Window } from '../core/window.js';
import { SinkError, type Sink } from './sink.js';
import { DataPointConverter, type SeriesPoint, type Temporality, type TemporalityChoice } from './otlp/data-points.js';
import { toSinkError } from './otlp/export-error.js';
import { loadOtel, type OtelModules } from './otlp/load.js';
import { toResourceMetrics } from './otlp/resource-metrics.js';

export type OtlpTemporality = 'cumulative' | 'delta' | 'lowmemory';

export interface OtlpSinkOptions {
  /**
   * Collector URL including the path. Default (resolved by the exporter): `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`,
   * else `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/metrics`, else `http://localhost:4318/v1/metrics`.
   */
  url?: string;
  /** HTTP headers, merged over `OTEL_EXPORTER_OTLP_HEADERS` / `OTEL_EXPORTER_OTLP_METRICS_HEADERS`. */
  headers?: Readonly<Record<string, string>>;
  /**
   * Counter and histogram temporality. Default: `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`, else
   * `cumulative`. `lowmemory` means delta for counters and histograms (what scalesignal records anyway).
   */
  temporality?: OtlpTemporality;
  /**
   * Per-request timeout in ms; keep it under the window interval so one stuck request never overlaps the next.
   * Default: `OTEL_EXPORTER_OTLP_METRICS_TIMEOUT`, else `OTEL_EXPORTER_OTLP_TIMEOUT`, else 800.
   */
  timeoutMs?: number;
  /** Windows the dispatcher keeps while exports are pending or retried. Default 60. */
  maxBacklog?: number;
  /** Sink name in self-metrics and logs. Default `otlp`. */
  name?: string;
}

const DEFAULT_TIMEOUT_MS = 800;
/**
 * Our own deadline sits just past the exporter's socket timeout (which misses a server that trickles bytes), and
 * `Sink.timeoutMs` just past ours: an export always settles before the dispatcher gives up on it, so a retry
 * never runs alongside the attempt it replaces.
 */
const GUARD_MARGIN_MS = 100;
/** Windows whose points are kept for an identical resend; bounded like the dispatcher's backlog. */
const MAX_CACHED_WINDOWS = 256;

export function otlpSink(options: OtlpSinkOptions = {}): Sink {
  const timeoutMs = resolveTimeoutMs(options.timeoutMs);
  if (options.temporality !== undefined && !['cumulative', 'delta', 'lowmemory'].includes(options.temporality)) {
    throw new RangeError(`otlpSink: temporality must be cumulative, delta or lowmemory, got ${String(options.temporality)}`);
  }
  // A bad URL is a configuration error: say so now, not once per window from inside the exporter.
  if (options.url !== undefined && !URL.canParse(options.url)) throw new RangeError(`otlpSink: url is not a valid URL: "${options.url}"`);
  let loaded: Promise<{ otel: OtelModules; exporter: OTLPMetricExporter; converter: DataPointConverter }> | undefined;
  // Points per window, computed once: a retried window is resent identically, and cumulative state never
  // advances twice for the same window.
  const cache = new Map<string, { resource: Window['resource']; points: SeriesPoint[] }>();
  let lastPoints = 0;
  let pointsSent = 0;

  const load = () => {
    loaded ??= loadOtel().then(
      (otel) => {
        const exporter = new otel.OTLPMetricExporter({
          url: options.url,
          headers: options.headers === undefined ? undefined : { ...options.headers },
          timeoutMillis: timeoutMs,
          temporalityPreference: toPreference(otel, options.temporality),
        });
        // Ask the exporter, so OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE is read exactly as OTel does.
        const temporality: TemporalityChoice = {
          counter: toTemporality(otel, exporter.selectAggregationTemporality(otel.InstrumentType.COUNTER)),
          histogram: toTemporality(otel, exporter.selectAggregationTemporality(otel.InstrumentType.HISTOGRAM)),
        };
        return { otel, exporter, converter: new DataPointConverter(temporality) };
      },
      (error: unknown) => {
        loaded = undefined;
        throw new SinkError(`OTLP sink: cannot load @opentelemetry/exporter-metrics-otlp-http: ${String(error)}`, {
          retryable: false,
          cause: error,
        });
      },
    );
    return loaded;
  };
  // Start importing now, in the background: the first window should not spend its timeout loading modules.
  load().catch(() => {});

  /** Sends one request, settling by `deadline` whatever the socket does. */
  const send = (exporter: OTLPMetricExporter, metrics: ResourceMetrics, deadline: number): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      let settled = false;
      const guard = setTimeout(() => {
        settled = true;
        reject(new SinkError(`OTLP export timed out after ${timeoutMs + GUARD_MARGIN_MS} ms`, { retryable: true }));
      }, Math.max(0, deadline - Date.now()));
      exporter.export(metrics, (result) => {
        if (settled) return;
        settled = true;
        clearTimeout(guard);
        // ExportResultCode.SUCCESS is 0.
        if (result.code === 0) resolve();
        else reject(toSinkError(result.error ?? new Error('unknown export failure')));
      });
    });

  /** The module import counts against the same deadline, so an export never outlives `timeoutMs` below. */
  const loadBy = (deadline: number) =>
    new Promise<Awaited<ReturnType<typeof load>>>((resolve, reject) => {
      const guard = setTimeout(
        () => reject(new SinkError('OTLP sink: still loading the OpenTelemetry exporter', { retryable: true })),
        Math.max(0, deadline - Date.now()),
      );
      load().then(
        (value) => {
          clearTimeout(guard);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(guard);
          reject(error);
        },
      );
    });

  return {
    name: options.name ?? 'otlp',
    timeoutMs: timeoutMs + 2 * GUARD_MARGIN_MS,
    maxBacklog: options.maxBacklog,

    async export(windows: readonly Window[]): Promise<void> {
      if (windows.length === 0) return;
      const deadline = Date.now() + timeoutMs + GUARD_MARGIN_MS;
      const { otel, exporter, converter } = await loadBy(deadline);
      const keys: string[] = [];
      for (const w of windows) {
        const key = `${w.start}:${w.end}`;
        keys.push(key);
        if (!cache.has(key)) cache.set(key, { resource: w.resource, points: converter.convert(w) });
      }
      if (cache.size > MAX_CACHED_WINDOWS) {
        const current = new Set(keys);
        for (const key of cache.keys()) {
          if (cache.size <= MAX_CACHED_WINDOWS) break;
          if (!current.has(key)) cache.delete(key);
        }
      }

      // Normally every window shares one resource: one request. Windows are grouped only if it changed.
      const groups = new Map<string, { resource: Window['resource']; points: SeriesPoint[] }>();
      for (const key of keys) {
        const entry = cache.get(key);
        if (entry === undefined) continue;
        const id = JSON.stringify(entry.resource);
        const group = groups.get(id);
        if (group === undefined) groups.set(id, { resource: entry.resource, points: [...entry.points] });
        else group.points.push(...entry.points);
      }
      try {
        for (const group of groups.values()) {
          if (group.points.length === 0) continue;
          lastPoints = group.points.length;
          await send(exporter, toResourceMetrics(otel, group.resource, group.points, converter.temporality), deadline);
          pointsSent += group.points.length;
        }
      } catch (error) {
        // Keep the points only if the dispatcher will hand the same windows back.
        if (!(error instanceof SinkError && error.retryable)) for (const key of keys) cache.delete(key);
        throw error;
      }
      for (const key of keys) cache.delete(key);
    },

    async shutdown(): Promise<void> {
      cache.clear();
      if (loaded === undefined) return;
      const { exporter } = await loaded.catch(() => ({ exporter: undefined }));
      await exporter?.shutdown();
    },

    stats() {
      return { datapoints_last_export: lastPoints, datapoints_sent: pointsSent, retry_windows: cache.size };
    },
  };
}

function resolveTimeoutMs(option: number | undefined): number {
  if (option !== undefined) {
    if (!(option > 0) || !Number.isFinite(option)) throw new RangeError(`otlpSink: timeoutMs must be a positive number, got ${option}`);
    return option;
  }
  // Read like the exporter does; needed here because our default (800 ms) is not the exporter's (10 s).
  for (const name of ['OTEL_EXPORTER_OTLP_METRICS_TIMEOUT', 'OTEL_EXPORTER_OTLP_TIMEOUT']) {
    const value = Number(process.env[name]?.trim() || NaN);
    if (value > 0 && Number.isFinite(value)) return value;
  }
  return DEFAULT_TIMEOUT_MS;
}

function toPreference(otel: OtelModules, temporality: OtlpTemporality | undefined) {
  switch (temporality) {
    case undefined:
      return undefined;
    case 'cumulative':
      return otel.AggregationTemporalityPreference.CUMULATIVE;
    case 'delta':
      return otel.AggregationTemporalityPreference.DELTA;
    case 'lowmemory':
      return otel.AggregationTemporalityPreference.LOWMEMORY;
  }
}

function toTemporality(otel: OtelModules, value: number): Temporality {
  return value === otel.AggregationTemporality.DELTA ? 'delta' : 'cumulative';
}
