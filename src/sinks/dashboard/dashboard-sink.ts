/**
 * dashboardSink(): a live page of the leading indicators (in-flight requests, request and error rate, P50/P99
 * latency, SSE connections, queue depth, event-loop delay), one point per window, pushed to the browser over SSE
 * as each window is sealed: the very windows every other sink gets. Scaling thresholds are drawn when given.
 *
 * Off unless you add it: it is in no default sink list, binds 127.0.0.1 by default and has no authentication.
 * In a pod, `kubectl port-forward pod/<name> 9465` reaches the loopback-bound page without exposing it.
 * Memory is bounded: the last `historySeconds` points (a few hundred bytes each), at most `maxClients` streams,
 * each cut off past 256 KiB queued.
 */
import type { Window } from '../../core/window.js';
import { ConfigError, ConfigErrorCode } from '../../core/errors.js';
import type { Sink } from '../../core/sink.js';
import { loadChartLibrary, type ChartLibrary } from './assets.js';
import { EventStreams } from './events.js';
import { History } from './history.js';
import { FIELDS, Indicators, type IndicatorNames } from './indicators.js';
import { closeServer, handler, listen } from './server.js';
import { RateLimit } from '../../core/reporter.js';

export interface DashboardThresholds {
  /** In-flight requests at which the service should scale (the KEDA/HPA target). */
  inflight?: number;
  /** P99 latency in ms. */
  p99Ms?: number;
  /** Open SSE connections. */
  sse?: number;
  /** Queue depth (summed over queues). */
  queueDepth?: number;
}

export interface DashboardSinkOptions {
  /** Sink name in the dispatcher's self-metrics. Default `dashboard`. */
  name?: string;
  /** Default `SCALESIGNAL_DASHBOARD_HOST`, else 127.0.0.1 (loopback: the page is unauthenticated). */
  host?: string;
  /** Default `SCALESIGNAL_DASHBOARD_PORT`, else 9465. 0 picks a free port (read `url` after `ready`). */
  port?: number;
  /** Where the page lives, ending in "/". Default "/". */
  path?: string;
  /** Points kept and drawn, one per window (one per second by default). Default 300 (5 minutes). Allowed 10..3600. */
  historySeconds?: number;
  /** Horizontal lines drawn on the matching charts, e.g. the thresholds of the KEDA triggers. */
  thresholds?: DashboardThresholds;
  /** Metric names of the indicators when they differ from scalesignal's integrations. */
  names?: IndicatorNames;
  /** Browsers connected at once. Default 16. */
  maxClients?: number;
  /** Listen and serve failures. Default `process.emitWarning`. Never thrown. */
  onError?: (error: Error) => void;
}

export interface DashboardSink extends Sink {
  /** `http://host:port/path` once listening; undefined before, after shutdown, or when listening failed. */
  readonly url: string | undefined;
  readonly port: number | undefined;
  /** Resolves once the server listens (or failed to, reported via `onError`) and uPlot is loaded. Never rejects. */
  readonly ready: Promise<void>;
  export(windows: readonly Window[]): void;
  shutdown(): Promise<void>;
  stats(): Readonly<Record<string, number>>;
}

const DEFAULT_PORT = 9465;
const THRESHOLD_KEYS = ['inflight', 'p99Ms', 'sse', 'queueDepth'] as const;
const KNOWN = new Set(['name', 'host', 'port', 'path', 'historySeconds', 'thresholds', 'names', 'maxClients', 'onError']);
const NAME_KEYS = ['inflight', 'requests', 'duration', 'sse', 'queueDepth', 'eventLoopDelay'];

interface Panel {
  readonly id: string;
  readonly title: string;
  readonly unit: string;
  readonly series: ReadonlyArray<{ field: (typeof FIELDS)[number]; label: string }>;
  readonly threshold?: number;
}

function panels(t: DashboardThresholds): Panel[] {
  return [
    { id: 'inflight', title: 'In-flight requests', unit: '', threshold: t.inflight, series: [{ field: 'inflightPeak', label: 'peak' }, { field: 'inflight', label: 'end of second' }] },
    { id: 'rate', title: 'Request rate', unit: '/s', series: [{ field: 'requestRate', label: 'requests' }, { field: 'errorRate', label: '5xx + thrown' }] },
    { id: 'latency', title: 'Latency', unit: 'ms', threshold: t.p99Ms, series: [{ field: 'p99', label: 'P99' }, { field: 'p50', label: 'P50' }] },
    { id: 'sse', title: 'SSE connections', unit: '', threshold: t.sse, series: [{ field: 'ssePeak', label: 'peak' }, { field: 'sse', label: 'end of second' }] },
    { id: 'queue', title: 'Queue depth', unit: '', threshold: t.queueDepth, series: [{ field: 'queuePeak', label: 'peak' }, { field: 'queueDepth', label: 'end of second' }] },
    { id: 'loop', title: 'Event-loop delay', unit: 'ms', series: [{ field: 'loopP99', label: 'P99' }, { field: 'loopMax', label: 'max' }] },
  ];
}

function integer(value: unknown, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`dashboardSink: option "${name}" must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function envPort(): number | undefined {
  const raw = process.env.SCALESIGNAL_DASHBOARD_PORT;
  if (raw === undefined || raw.trim() === '') return undefined;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`SCALESIGNAL_DASHBOARD_PORT must be a port from 0 to 65535, got ${JSON.stringify(raw)}`, ConfigErrorCode.environment);
  }
  return port;
}

function validate(options: DashboardSinkOptions): void {
  if (typeof options !== 'object' || options === null) throw new ConfigError('dashboardSink(options): options must be an object');
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw new ConfigError(`dashboardSink: unknown option "${key}"; allowed: ${[...KNOWN].join(', ')}`);
  }
  if (options.name !== undefined && (typeof options.name !== 'string' || options.name === '')) {
    throw new ConfigError('dashboardSink: option "name" must be a non-empty string');
  }
  if (options.host !== undefined && (typeof options.host !== 'string' || options.host === '')) {
    throw new ConfigError('dashboardSink: option "host" must be a non-empty string such as "127.0.0.1"');
  }
  if (options.path !== undefined && (typeof options.path !== 'string' || !options.path.startsWith('/') || !options.path.endsWith('/'))) {
    throw new ConfigError(`dashboardSink: option "path" must start and end with "/", got ${JSON.stringify(options.path)}`);
  }
  integer(options.port, 'port', 0, 65535);
  integer(options.historySeconds, 'historySeconds', 10, 3600);
  integer(options.maxClients, 'maxClients', 1, 1000);
  const thresholds = options.thresholds ?? {};
  if (typeof thresholds !== 'object' || thresholds === null) throw new ConfigError('dashboardSink: option "thresholds" must be an object');
  for (const [key, value] of Object.entries(thresholds)) {
    if (!(THRESHOLD_KEYS as readonly string[]).includes(key)) {
      throw new ConfigError(`dashboardSink: unknown threshold "${key}"; allowed: ${THRESHOLD_KEYS.join(', ')}`);
    }
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value > 0)) {
      throw new ConfigError(`dashboardSink: threshold "${key}" must be a positive number, got ${JSON.stringify(value)}`);
    }
  }
  const names = options.names ?? {};
  if (typeof names !== 'object' || names === null) throw new ConfigError('dashboardSink: option "names" must be an object');
  for (const [key, value] of Object.entries(names)) {
    if (!NAME_KEYS.includes(key)) throw new ConfigError(`dashboardSink: unknown name "${key}"; allowed: ${NAME_KEYS.join(', ')}`);
    if (typeof value !== 'string' || value === '') throw new ConfigError(`dashboardSink: name "${key}" must be a metric name`);
  }
  if (options.onError !== undefined && typeof options.onError !== 'function') {
    throw new ConfigError('dashboardSink: option "onError" must be a function');
  }
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}

export function dashboardSink(options: DashboardSinkOptions = {}): DashboardSink {
  validate(options);
  const onError =
    options.onError ??
    ((error: Error) => process.emitWarning(error.message, { type: 'ScalesignalWarning', code: 'SCALESIGNAL_DASHBOARD' }));
  const limit = new RateLimit();
  const report = (key: string, error: unknown): void => {
    if (!limit.allow(key)) return;
    try {
      onError(error instanceof Error ? error : new Error(String(error)));
    } catch {
      // a throwing logger must not break the sink
    }
  };

  const history = new History(options.historySeconds ?? 300);
  const indicators = new Indicators(options.names);
  const thresholds = options.thresholds ?? {};
  const streams = new EventStreams(options.maxClients ?? 16);
  let service = '';
  const snapshot = () =>
    JSON.stringify({
      service,
      fields: FIELDS,
      historySeconds: history.capacity,
      thresholds,
      panels: panels(thresholds),
      points: history.points(),
    });

  const library: Promise<ChartLibrary | undefined> = loadChartLibrary().catch((error: unknown) => {
    report('uplot', new Error(`dashboard sink: cannot load uPlot from the uplot package: ${String(error)}`));
    return undefined;
  });
  const host = options.host ?? (process.env.SCALESIGNAL_DASHBOARD_HOST || '127.0.0.1');
  const path = options.path ?? '/';
  const started = listen(handler({ path, library, streams, snapshot, onError: report }), options.port ?? envPort() ?? DEFAULT_PORT, host, report);
  let url: string | undefined;
  let port: number | undefined;
  let closed = false;
  const listening = started.ready.then((address) => {
    if (address === undefined || closed) return;
    port = address.port;
    url = `http://${urlHost(host)}:${address.port}${path}`;
  });
  const ready = Promise.all([listening, library]).then(() => undefined);
  let points = 0;

  return {
    name: options.name ?? 'dashboard',
    get url() {
      return url;
    },
    get port() {
      return port;
    },
    ready,
    export(windows) {
      try {
        for (const window of windows) {
          if (window.resource.service !== service) {
            service = window.resource.service;
            streams.send('meta', JSON.stringify({ service }));
          }
          const point = indicators.point(window);
          history.push(point);
          points++;
          streams.send('point', JSON.stringify(point));
        }
      } catch (error) {
        report('export', error);
      }
    },
    async shutdown() {
      closed = true;
      await ready;
      streams.close();
      await closeServer(started.server);
      url = undefined;
      port = undefined;
    },
    stats() {
      return {
        clients: streams.size,
        clients_dropped: streams.dropped,
        points,
        listening: started.server.listening ? 1 : 0,
      };
    },
  };
}
