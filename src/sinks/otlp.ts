/**
 * OTLP sink: Window -> OTLP data model -> OTel's OTLP/JSON serializer -> one HTTP request -> collector.
 *
 * OTel owns the configuration (endpoint, headers, compression, agent from the standard OTEL_EXPORTER_OTLP_*
 * variables, read by the exporter's own code), the temporality preference and the serializer. The request itself
 * is ours (otlp/transport.ts): the exporter's transport retries on its own, also after the collector may have
 * taken the data, hides the status and Retry-After of a throttled request, and cannot be aborted. Here a request
 * whose outcome is unknown (timeout, reset, close after sending) fails and is never resent: for delta data a
 * resend would count it twice. Only provable non-delivery (connection never opened, HTTP 429/503) is retried,
 * no sooner than the collector's Retry-After.
 *
 * Several windows in one export call (a backlog after an outage) go out together: one request whose series carry
 * one data point per window, each at its own timestamps, rather than one request per window, so a backlog does
 * not cost N round trips inside one timeout. Requests are capped at ~4 MB (the collector refuses bodies over
 * 20 MiB by default) by splitting between whole windows. The dispatcher retries a failed call with the same
 * windows, so windows already delivered by an earlier request of that call are remembered and skipped: a retry
 * never resends them.
 */
import type { Window } from '../core/window.js';
import { SinkError, type ExportContext, type Sink } from '../core/sink.js';
import { nextTurn } from '../core/turns.js';
import { DataPointConverter, type Temporality, type TemporalityChoice } from './otlp/data-points.js';
import { loadOtel, type OtelModules } from './otlp/load.js';
import { OtlpHttpTransport } from './otlp/transport.js';
import { estimateBytes, planRequests, type PlannedWindow } from './otlp/request-plan.js';
import { serializeSliced } from './otlp/sliced-body.js';

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
  /** Bytes (estimated) the dispatcher keeps while exports are pending or retried. Default 16 MiB. */
  maxBacklogBytes?: number;
  /** Sink name in self-metrics and logs. Default `otlp`. */
  name?: string;
}

const DEFAULT_TIMEOUT_MS = 800;
/**
 * `Sink.timeoutMs` sits just past our own deadline: an export always settles (and says whether it is retryable)
 * before the dispatcher gives up on it, so a retry never runs alongside the attempt it replaces.
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
  let loaded: Promise<{ otel: OtelModules; transport: OtlpHttpTransport; converter: DataPointConverter }> | undefined;
  // Points per window, computed once: a retried window is resent identically, and cumulative state never
  // advances twice for the same window.
  const cache = new Map<string, PlannedWindow>();
  // Windows delivered by a call that failed later on: the dispatcher hands them back, we skip them.
  const delivered = new Set<string>();
  // Windows whose request may have reached the collector (sent, not provably refused): never sent again, whatever
  // hands them back (a dispatcher bug, an export abandoned at its timeout still running). Bounded like the cache.
  const mayHaveArrived = new Set<string>();
  let lastPoints = 0;
  let pointsSent = 0;
  const forget = (keys: readonly string[]) => {
    for (const key of keys) {
      cache.delete(key);
      delivered.delete(key);
    }
  };

  const load = () => {
    loaded ??= loadOtel().then(
      (otel) => {
        const config = {
          url: options.url,
          headers: options.headers === undefined ? undefined : { ...options.headers },
          timeoutMillis: timeoutMs,
          temporalityPreference: toPreference(otel, options.temporality),
        };
        // Ask the exporter, so OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE is read exactly as OTel does.
        // It never sends: constructing it opens no connection.
        const exporter = new otel.OTLPMetricExporter(config);
        const temporality: TemporalityChoice = {
          counter: toTemporality(otel, exporter.selectAggregationTemporality(otel.InstrumentType.COUNTER)),
          histogram: toTemporality(otel, exporter.selectAggregationTemporality(otel.InstrumentType.HISTOGRAM)),
        };
        // The same call (and arguments) the exporter makes for its own transport.
        const http = otel.convertLegacyHttpOptions(config, 'METRICS', 'v1/metrics', { 'Content-Type': 'application/json' });
        const transport = new OtlpHttpTransport(http);
        return { otel, transport, converter: new DataPointConverter(temporality) };
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
    timeoutMs: timeoutMs + GUARD_MARGIN_MS,
    maxBacklog: options.maxBacklog,
    maxBacklogBytes: options.maxBacklogBytes,

    async export(windows: readonly Window[], context?: ExportContext): Promise<void> {
      if (windows.length === 0) return;
      const deadline = Date.now() + timeoutMs;
      const { otel, transport, converter } = await loadBy(deadline);
      const keys: string[] = [];
      const pending: PlannedWindow[] = [];
      for (const w of windows) {
        const key = `${w.start}:${w.end}`;
        keys.push(key);
        if (delivered.has(key) || mayHaveArrived.has(key)) continue;
        let entry = cache.get(key);
        if (entry === undefined) {
          // A turn of the event loop between windows: a backlog is converted without one long pause.
          if (pending.length > 0) await nextTurn();
          const points = converter.convert(w);
          entry = { key, resource: w.resource, points, bytes: estimateBytes(points) };
          cache.set(key, entry);
        }
        pending.push(entry);
      }
      // The dispatcher hands back its whole remaining backlog: a cached window not in this call was dropped
      // there, so its points go too (the cache never holds more than the dispatcher's byte-bounded backlog).
      if (cache.size > keys.length) {
        const current = new Set(keys);
        for (const key of cache.keys()) if (!current.has(key)) cache.delete(key);
      }
      evictOldest(delivered, keys);

      try {
        for (const request of planRequests(pending)) {
          if (request.points.length > 0) {
            lastPoints = request.points.length;
            const body = await serializeSliced(otel, request.resource, request.points, converter.temporality);
            if (request.keys.some((key) => mayHaveArrived.has(key))) {
              throw new SinkError('OTLP sink: a window of this export was already sent once; not resending it', { retryable: false });
            }
            for (const key of request.keys) mayHaveArrived.add(key);
            evictOldest(mayHaveArrived, request.keys);
            try {
              await transport.send(body, deadline, context?.signal);
            } catch (error) {
              // Provably not taken: these windows may go again.
              if (error instanceof SinkError && error.retryable) for (const key of request.keys) mayHaveArrived.delete(key);
              throw error;
            }
            pointsSent += request.points.length;
          }
          for (const key of request.keys) {
            cache.delete(key);
            delivered.add(key);
          }
        }
      } catch (error) {
        // The dispatcher drops the windows unless it will retry them: then forget them too.
        if (!(error instanceof SinkError && error.retryable)) forget(keys);
        throw error;
      }
      forget(keys);
    },

    async shutdown(): Promise<void> {
      cache.clear();
      delivered.clear();
      mayHaveArrived.clear();
      if (loaded === undefined) return;
      const { transport } = await loaded.catch(() => ({ transport: undefined }));
      await transport?.shutdown();
    },

    stats() {
      return { datapoints_last_export: lastPoints, datapoints_sent: pointsSent, retry_windows: cache.size };
    },
  };
}

/** Bounds the per-window memory like the dispatcher's backlog bounds windows, never evicting the current call's. */
function evictOldest(collection: Map<string, unknown> | Set<string>, current: readonly string[]): void {
  if (collection.size <= MAX_CACHED_WINDOWS) return;
  const keep = new Set(current);
  for (const key of collection.keys()) {
    if (collection.size <= MAX_CACHED_WINDOWS) break;
    if (!keep.has(key)) collection.delete(key);
  }
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
