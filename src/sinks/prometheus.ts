/**
 * Prometheus sink: keeps the latest state of every series and serves it for scraping, rendered by prom-client
 * (text 0.0.4, OpenMetrics) or by our protobuf encoder (the protobuf exposition with native histograms).
 *
 * - Counters: cumulative `<name>_total` (from `SeriesWindow.total`).
 * - Gauges: `<name>` (value at the window's end) and `<name>_max`, a separate gauge family holding the largest value
 *   of the latest window, so a 1 s spike between two scrapes is still seen.
 * - Histograms: classic cumulative `le` buckets (a fixed power-of-two set per unit, identical on every pod, so
 *   `histogram_quantile` over `sum by (le)` works across the fleet), `_sum`, `_count`, and quantile gauges
 *   `<name>_p50`, `_p90`, `_p95`, `_p99` over the last `quantileWindowSeconds`, merged exactly from the exponential
 *   buckets (<= 0.54 % error at scale 6). Separate gauges rather than a `quantile` label: promtool rejects `quantile`
 *   outside summaries, a summary would clash with the histogram's `_sum`/`_count`, and a KEDA or HPA query on
 *   `x_p99` needs no label matcher.
 * - Native histograms: when the scraper asks for the protobuf exposition (Prometheus started with
 *   `--enable-feature=native-histograms` does), each histogram also carries its exponential buckets since the
 *   series appeared (schema = the histogram scale, at most 8; a zero bucket; spans and deltas), so
 *   `histogram_quantile(0.99, sum(rate(x[30s])))` works across the fleet within the bucket error (1.1 % at scale 6)
 *   instead of the `le` set's. Prometheus 2.42 then stores the native histogram, not the `_bucket` series.
 *   Text and OpenMetrics scrapes are unchanged.
 * - A series missing from a window was evicted by the core and leaves the exposition.
 *
 * Scrapes share one render per window and content type. Applying a window and rendering a scrape run in slices
 * of about `sliceMs` with a turn of the event loop between them, and gzip runs on libuv's threadpool, so the host
 * never pauses long for this sink; a scrape never reads half a window (see prometheus/state.ts).
 *
 * Mount `handler` elsewhere with `server: false`:
 *   Express:  app.get('/metrics', sink.handler)
 *   Fastify:  fastify.get('/metrics', (req, reply) => { reply.hijack(); sink.handler(req.raw, reply.raw) })
 *   node:http: http.createServer((req, res) => req.url === '/metrics' ? sink.handler(req, res) : ...)
 */
import type { Server } from 'node:http';
import type * as PromClient from 'prom-client';
import type { Window } from '../core/window.js';
import type { Sink } from '../core/sink.js';
import { invalidBuckets } from './prometheus/buckets.js';
import { Exposition } from './prometheus/exposition.js';
import {
  closeServer,
  createHandler,
  DEFAULT_HEADERS_TIMEOUT_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  invalidAuth,
  listen,
  type ScrapeAuth,
  type ScrapeHandler,
} from './prometheus/http.js';
import { quantileSuffix, sanitizeLabelName, sanitizeMetricName } from './prometheus/naming.js';
import { PROTOBUF_CONTENT_TYPE } from './prometheus/protobuf-exposition.js';
import { contentType } from './prometheus/render.js';
import { SLICE_MS, Slicer } from './prometheus/slicer.js';
import { PrometheusState, type BucketsContext } from './prometheus/state.js';
import { RateLimit } from '../core/reporter.js';
import { stringFromEnv } from '../core/config.js';
import { ConfigError, ConfigErrorCode } from '../core/errors.js';
import { WINDOW_QUANTILES } from '../core/histogram/window-histograms.js';

export { powerOfTwoBuckets } from './prometheus/buckets.js';
export type { BucketsContext } from './prometheus/state.js';
export type { ScrapeAuth, ScrapeHandler } from './prometheus/http.js';

export interface PrometheusSinkOptions {
  /** Sink name in the dispatcher's self-metrics. Default `prometheus`. */
  name?: string;
  /** Listen on its own HTTP server. Default true; false to only mount `handler`. */
  server?: boolean;
  /** Default `OTEL_EXPORTER_PROMETHEUS_PORT`, else 9464. 0 picks a free port (see `port` / `url`). */
  port?: number;
  /**
   * Bind address. Default `OTEL_EXPORTER_PROMETHEUS_HOST`, else every interface (what a pod scraped on its IP
   * needs). Recommended: in Kubernetes keep the default and restrict who may scrape with a NetworkPolicy (and
   * `auth`); on a VM or laptop, or behind a local agent, bind `127.0.0.1`.
   */
  host?: string;
  /** Require credentials on every scrape (also through a mounted `handler`): 401 otherwise. Default none. */
  auth?: ScrapeAuth;
  /** Longest a scraper may take to send its request headers. Default 5000 ms (Node's own: 60 s). */
  headersTimeoutMs?: number;
  /** Longest a scraper may take to send the whole request. Default 10000 ms (Node's own: 300 s). */
  requestTimeoutMs?: number;
  /** Default `/metrics`; other paths get 404. */
  path?: string;
  /** Put in front of every name, `_` joined: `myapp` gives `myapp_http_server_request_duration_milliseconds`. */
  prefix?: string;
  /**
   * Adds the service name as a label (`true` names it `service`). Default none: resource attributes are never
   * labels, Prometheus adds `job` and `instance` itself.
   */
  serviceLabel?: boolean | string;
  /**
   * Converts to Prometheus base units: `ms`/`us`/`ns`/`min`/`h`/`d` become `_seconds`, `KiBy`... become `_bytes`,
   * values, `le` bounds and quantiles rescaled. Default false: `ms` stays `_milliseconds` (the OTel exporter's names).
   */
  baseUnits?: boolean;
  /**
   * Histogram `le` bounds in the recorded unit (before any `baseUnits` conversion), for every histogram or per
   * metric (return undefined for the default). Default: powers of two over a range chosen from the unit
   * (`ms`: 2^-4 .. 2^17, `s`: 2^-14 .. 2^7, `By`: 1 .. 2^30, `1`: 2^-10 .. 1, otherwise 2^-10 .. 2^20).
   */
  buckets?: readonly number[] | ((metric: BucketsContext) => readonly number[] | undefined);
  /** Default bounds per octave: 1 (2^k), 2, 4 or 8; finer makes `histogram_quantile` closer, at more series. */
  bucketsPerOctave?: 1 | 2 | 4 | 8;
  /** Quantile gauges per histogram. Default [0.5, 0.9, 0.95, 0.99]; [] for none. */
  quantiles?: readonly number[];
  /** Seconds of windows merged for the quantile gauges. Default 10. */
  quantileWindowSeconds?: number;
  /**
   * The quantile gauges of a histogram with no recordings in the quantile window: `'absent'` (default) leaves them
   * out, `'zero'` reports 0. A KEDA metrics-api P99 trigger needs `'zero'` to scale an idle fleet in: KEDA fails on
   * a missing sample and the HPA then holds scale-down. Default from SCALESIGNAL_PROMETHEUS_IDLE_QUANTILES.
   */
  idleQuantiles?: IdleQuantiles;
  /** Gzip the response when the scraper accepts it (Prometheus does). Default true. */
  gzip?: boolean;
  /**
   * Longest stretch (ms) of synchronous work before the sink gives the event loop a turn, when it applies a
   * window or renders a scrape. Default 1. `Infinity` does each in one piece (a 2,000-series scrape is then a
   * 20-40 ms pause of the host).
   */
  sliceMs?: number;
  /** Listen failures, render failures, name collisions. Default `process.emitWarning`. Never thrown. */
  onError?: (error: Error) => void;
}

export type IdleQuantiles = 'absent' | 'zero';
const IDLE_QUANTILES: readonly IdleQuantiles[] = ['absent', 'zero'];
const IDLE_QUANTILES_ENV = 'SCALESIGNAL_PROMETHEUS_IDLE_QUANTILES';

function idleQuantiles(option: unknown): IdleQuantiles {
  if (option !== undefined) {
    if (!IDLE_QUANTILES.includes(option as IdleQuantiles)) throw new RangeError(`prometheusSink: idleQuantiles must be 'absent' or 'zero', got ${String(option)}`);
    return option as IdleQuantiles;
  }
  const raw = stringFromEnv(process.env, IDLE_QUANTILES_ENV)?.toLowerCase();
  if (raw === undefined) return 'absent';
  if (!IDLE_QUANTILES.includes(raw as IdleQuantiles)) {
    throw new ConfigError(`environment variable ${IDLE_QUANTILES_ENV}=${JSON.stringify(raw)} must be absent or zero`, ConfigErrorCode.environment);
  }
  return raw as IdleQuantiles;
}

export interface PrometheusSink extends Sink {
  /** `(req, res)` for node:http and Express; see the module comment for Fastify. */
  readonly handler: ScrapeHandler;
  /** `http://host:port/path` once listening; undefined before, without a server, or when listening failed. */
  readonly url: string | undefined;
  readonly port: number | undefined;
  /** Resolves once prom-client is loaded and the server listens (or failed to, reported via `onError`). Never rejects. */
  readonly ready: Promise<void>;
  /**
   * Applies the windows in slices; resolves when they are applied. Any scrape that starts after this call serves
   * them (it waits for the apply). Never rejects.
   */
  export(windows: readonly Window[]): Promise<void>;
  shutdown(): Promise<void>;
  stats(): Readonly<Record<string, number>>;
}

const DEFAULT_PORT = 9464;

function defaultOnError(error: Error): void {
  process.emitWarning(error.message, { type: 'ScalesignalWarning', code: 'SCALESIGNAL_PROMETHEUS' });
}

function envPort(report: (message: string) => void): number | undefined {
  const raw = process.env.OTEL_EXPORTER_PROMETHEUS_PORT;
  if (raw === undefined || raw.trim() === '') return undefined;
  const port = Number(raw);
  if (Number.isInteger(port) && port >= 0 && port <= 65535) return port;
  report(`OTEL_EXPORTER_PROMETHEUS_PORT=${raw} is not a port; using ${DEFAULT_PORT}`);
  return undefined;
}

function validate(options: PrometheusSinkOptions): void {
  const { port, path, quantiles, quantileWindowSeconds, bucketsPerOctave, buckets } = options;
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    throw new RangeError(`prometheusSink: port must be an integer from 0 to 65535, got ${port}`);
  }
  if (options.auth !== undefined) {
    const why = invalidAuth(options.auth);
    if (why !== undefined) throw new RangeError(`prometheusSink: ${why}`);
  }
  for (const key of ['headersTimeoutMs', 'requestTimeoutMs'] as const) {
    const value = options[key];
    if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
      throw new RangeError(`prometheusSink: ${key} must be a positive integer (ms), got ${value}`);
    }
  }
  if ((options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS) > (options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS)) {
    throw new RangeError('prometheusSink: headersTimeoutMs must not exceed requestTimeoutMs');
  }
  if (path !== undefined && !path.startsWith('/')) {
    throw new RangeError(`prometheusSink: path must start with "/", got ${JSON.stringify(path)}`);
  }
  if (quantiles !== undefined) {
    const suffixes = new Set<string>();
    for (const q of quantiles) {
      if (!(q > 0 && q <= 1)) throw new RangeError(`prometheusSink: quantiles must be in (0, 1], got ${q}`);
      suffixes.add(quantileSuffix(q));
    }
    if (suffixes.size !== quantiles.length) throw new RangeError('prometheusSink: quantiles must be distinct');
  }
  if (quantileWindowSeconds !== undefined && !(quantileWindowSeconds > 0 && Number.isFinite(quantileWindowSeconds))) {
    throw new RangeError(`prometheusSink: quantileWindowSeconds must be > 0, got ${quantileWindowSeconds}`);
  }
  if (options.sliceMs !== undefined && !(typeof options.sliceMs === 'number' && options.sliceMs >= 0)) {
    throw new RangeError(`prometheusSink: sliceMs must be a number >= 0 (Infinity for one piece), got ${options.sliceMs}`);
  }
  if (bucketsPerOctave !== undefined && ![1, 2, 4, 8].includes(bucketsPerOctave)) {
    throw new RangeError(`prometheusSink: bucketsPerOctave must be 1, 2, 4 or 8, got ${bucketsPerOctave}`);
  }
  if (Array.isArray(buckets)) {
    const why = invalidBuckets(buckets);
    if (why !== undefined) throw new RangeError(`prometheusSink: invalid buckets: ${why}`);
  }
}

function urlHost(host: string | undefined): string {
  if (host === undefined || host === '' || host === '0.0.0.0' || host === '::') return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}

export function prometheusSink(options: PrometheusSinkOptions = {}): PrometheusSink {
  validate(options);
  const onError = options.onError ?? defaultOnError;
  const emit = (error: unknown): void => {
    try {
      onError(error instanceof Error ? error : new Error(String(error)));
    } catch {
      // a throwing logger must not take the scrape path down with it
    }
  };
  const warned = new Set<string>();
  const warnOnce = (key: string, message: string): void => {
    if (warned.has(key)) return;
    warned.add(key);
    emit(new Error(`prometheus sink: ${message}`));
  };
  const limit = new RateLimit();
  const report = (key: string, error: unknown): void => {
    if (limit.allow(key)) emit(error);
  };

  const bucketsOption = options.buckets;
  const state = new PrometheusState({
    prefix: options.prefix ? sanitizeMetricName(options.prefix).replace(/_$/, '') : '',
    baseUnits: options.baseUnits ?? false,
    serviceLabel:
      options.serviceLabel === true
        ? 'service'
        : typeof options.serviceLabel === 'string' && options.serviceLabel !== ''
          ? sanitizeLabelName(options.serviceLabel)
          : undefined,
    quantiles: [...(options.quantiles ?? WINDOW_QUANTILES)].sort((a, b) => a - b),
    quantileWindowMs: (options.quantileWindowSeconds ?? 10) * 1000,
    idleQuantilesZero: idleQuantiles(options.idleQuantiles) === 'zero',
    buckets: typeof bucketsOption === 'function' ? bucketsOption : () => bucketsOption,
    bucketsPerOctave: options.bucketsPerOctave ?? 1,
    warnOnce,
  });

  // Loaded only now, so importing scalesignal never loads prom-client. The handler below marks it handled.
  const prom: Promise<typeof PromClient> = import('prom-client').then((m) =>
    // CJS interop: named exports when Node's lexer finds them, else everything under `default`.
    (m as { Registry?: unknown }).Registry !== undefined ? m : (m as unknown as { default: typeof PromClient }).default,
  );
  prom.catch((error: unknown) => report('import', new Error(`prometheus sink: cannot load prom-client: ${String(error)}`)));

  const sliceMs = options.sliceMs ?? SLICE_MS;
  const exposition = new Exposition(prom, (native, slicer) => state.snapshot(native, slicer), sliceMs);
  const counters = { scrapes: 0, rejected: 0, failed: 0 };
  const handler = createHandler({
    body: (kind, gzip) => exposition.body(kind, gzip),
    contentType: async (kind) => (kind === 'protobuf' ? PROTOBUF_CONTENT_TYPE : contentType(await prom, kind)),
    gzip: options.gzip ?? true,
    counters,
    onError: (key, error) => report(key, error),
    auth: options.auth,
  });

  let server: Server | undefined;
  let url: string | undefined;
  let port: number | undefined;
  let listening: Promise<unknown> = Promise.resolve();
  if (options.server ?? true) {
    const host = options.host ?? process.env.OTEL_EXPORTER_PROMETHEUS_HOST ?? undefined;
    const path = options.path ?? '/metrics';
    const started = listen(
      handler,
      {
        port: options.port ?? envPort((m) => warnOnce('env-port', m)) ?? DEFAULT_PORT,
        host: host || undefined,
        path,
        headersTimeoutMs: options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS,
        requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      },
      counters,
      (key, error) => report(key, error),
    );
    server = started.server;
    listening = started.ready.then((address) => {
      if (address === undefined) return;
      port = address.port;
      url = `http://${urlHost(host)}:${address.port}${path}`;
    });
  }
  const ready = Promise.all([prom.catch(() => undefined), listening]).then(() => undefined);

  return {
    name: options.name ?? 'prometheus',
    handler,
    get url() {
      return url;
    },
    get port() {
      return port;
    },
    ready,
    export(windows) {
      // Invalidated before the apply: a scrape from now on waits for these windows rather than serve the state
      // without them (both would be complete, this one is fresher).
      exposition.invalidate();
      return state.apply(windows, new Slicer(sliceMs)).catch((error: unknown) => report('export', error));
    },
    async shutdown() {
      await ready;
      if (server !== undefined) await closeServer(server);
      url = undefined;
      port = undefined;
    },
    stats() {
      return {
        scrapes: counters.scrapes,
        scrape_errors: counters.failed,
        rejected_requests: counters.rejected,
        renders: exposition.renders,
        render_ms: exposition.lastRenderMs,
        exposition_bytes: exposition.lastBytes,
        series: state.size,
        series_dropped: state.seriesDropped,
        windows_skipped: state.windowsSkipped,
        listening: server?.listening ? 1 : 0,
      };
    },
  };
}
