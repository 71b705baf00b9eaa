/**
 * CloudWatch PutMetricData sink: one-second (high-resolution) custom metrics, paced so that a whole fleet stays
 * under the account's PutMetricData request quota.
 *
 * Window -> AWS view (sinks/aws: names, units, dimensions and collisions merged, shared with the EMF sink) ->
 * pending seconds, bounded in datapoints and bytes (pending.ts) -> MetricDatum[] (datum.ts, histogram.ts) ->
 * requests of at most 1000 datums / 1 MB (batcher.ts) -> sent in this pod's slots (pacer.ts, identity.ts) through
 * the AWS SDK or a custom transport (transport.ts), driven by one unref'd timer (publisher.ts).
 *
 * `export()` only buffers. Every request carries all pending seconds, each datum with its own timestamp, so a pod
 * that may send only every 19 s still delivers every second at 1-second resolution. Each window's outcome (sent,
 * failed, dropped) is counted exactly once in `stats()`.
 */
import type { Logger } from '../core/api.js';
import { ConfigError } from '../core/errors.js';
import { RateLimitedReporter, REPORT_EVERY_MS } from '../core/reporter.js';
import type { SeriesWindow, Window } from '../core/window.js';
import type { Sink, SinkContext } from '../core/sink.js';
import { lateLogger } from './aws/late-logger.js';
import { dimensionRules } from './aws/dimensions.js';
import { receiptOf, WindowLedger, type DeliveryContext } from './aws/ledger.js';
import { validateNamespace } from './aws/namespace.js';
import { AwsView } from './aws/view.js';
import { MAX_DATUMS_PER_REQUEST, MAX_REQUEST_BYTES } from './cloudwatch/batcher.js';
import { DatumConverter } from './cloudwatch/datum.js';
import { hash32, prng, resolveIdentity } from './cloudwatch/identity.js';
import { Pacer } from './cloudwatch/pacer.js';
import { clockYield, Publisher, systemClock, type Clock } from './cloudwatch/publisher.js';
import { createTransport, type CloudWatchClientLike } from './cloudwatch/transport.js';
import type { CloudWatchTransport } from './cloudwatch/types.js';

export type { CloudWatchTransport, MetricDatum, PutMetricDataInput, StandardUnit } from './cloudwatch/types.js';
export type { Clock as CloudWatchClock } from './cloudwatch/publisher.js';
export type { CloudWatchClientLike } from './cloudwatch/transport.js';
export type { DeliveryContext, WindowOutcome, WindowReceipt } from './aws/ledger.js';

export interface CloudWatchSinkOptions {
  /** CloudWatch namespace. Default: `SCALESIGNAL_CLOUDWATCH_NAMESPACE`, else the service name (as the EMF sink). */
  namespace?: string;
  /** Dimension carrying the service name (`Window.resource.service`); `false` for none. Default `ServiceName` (as EMF). */
  serviceDimension?: string | false;
  /** Dimensions added to every datum, e.g. `{ Environment: 'prod' }`. */
  dimensions?: Readonly<Record<string, string>>;
  /**
   * Adds the pod as a dimension (true: `PodName`, or the name to use), the same value as the EMF sink's. Default
   * `false`: without it CloudWatch aggregates the fleet (Sum, SampleCount, percentiles) and the number of custom
   * metrics does not grow with pods.
   */
  podDimension?: boolean | string;
  /** 1 (high resolution, default) or 60. */
  storageResolution?: 1 | 60;
  /** Which series to send. Default: all. */
  filter?: (series: SeriesWindow) => boolean;
  /** PutMetricData requests/s allowed for the account and Region. Default `SCALESIGNAL_CLOUDWATCH_QUOTA_TPS`, else 500. */
  quotaTps?: number;
  /** Share of the quota the fleet may plan to use (0 < headroom <= 1). Default `SCALESIGNAL_CLOUDWATCH_HEADROOM`, else 0.8. */
  headroom?: number;
  /**
   * Pods sharing the quota: use the most there can be (the HPA's maxReplicas, summed over every deployment that uses
   * this account and Region). A function is re-read before every send (it may return a promise).
   * Default `SCALESIGNAL_FLEET_SIZE`, else 1.
   */
  fleetSize?: number | (() => number | Promise<number>);
  /** Pod identity for the send phase. Default `POD_NAME`, else `K8S_POD_NAME`, else `HOSTNAME`, else the OS host name. */
  identity?: string;
  /** Longest period throttling back-off may reach, in seconds. Default max(60, 4 x the base period). */
  maxPeriodSeconds?: number;
  /** Datapoints kept while waiting to send; beyond it the oldest seconds are dropped (counted). Default 100000. */
  maxPendingDatapoints?: number;
  /** Bytes of pending seconds, at most; beyond it the oldest seconds are dropped (counted). Default 16 MiB. */
  maxBacklogBytes?: number;
  /** Datums per request, at most 1000 (the API limit, default). */
  maxDatumsPerRequest?: number;
  /** Estimated uncompressed body bytes per request, at most 1000000 (default). */
  maxRequestBytes?: number;
  /**
   * A request not answered within this is abandoned: sent again when it had not been written yet (a busy event
   * loop), else counted failed and not resent (CloudWatch may have stored it; a resend would double it). Default 5000.
   */
  requestTimeoutMs?: number;
  /** How long `shutdown()` may spend sending what is pending. Default 5000. */
  shutdownTimeoutMs?: number;
  /** AWS Region for the client this sink creates. Default: the SDK's (`AWS_REGION`, profile). */
  region?: string;
  /** Endpoint URL for the client this sink creates (VPC endpoint, local test server). */
  endpoint?: string;
  /**
   * Extra `CloudWatchClient` configuration (credentials, requestHandler, ...). The sink sets `maxAttempts: 1` unless
   * given here, because its pacer does the retrying.
   */
  clientConfig?: Readonly<Record<string, unknown>>;
  /** A ready `CloudWatchClient`. Give it `maxAttempts: 1` so SDK retries do not spend the fleet's quota. */
  client?: CloudWatchClientLike;
  /** Replaces the SDK entirely (simulations, proxies): sends one PutMetricData input. */
  transport?: CloudWatchTransport;
  /** Warnings and the one-time pacing notice. Default: createMetrics' logger, else stderr. */
  logger?: Logger;
  /** Sink name in self-metrics and logs. Default `cloudwatch`. */
  name?: string;
  /** Time source and timers, for simulations. Default: the system clock with unref'd timers. */
  clock?: Clock;
}

export interface CloudWatchSink extends Sink {
  /**
   * This sink owns delivery and settles every window it is handed exactly once (sent / failed / dropped), reported
   * in `stats()` as `windows_*` and to a `WindowReceipt` passed as export()'s second argument.
   */
  readonly settlesWindows: true;
  /** Buffers windows (never waits on the network, never throws). */
  export(windows: readonly Window[], context?: DeliveryContext): void;
  /** Resolves when every window handed over so far is sent, failed or dropped, or after `timeoutMs` (pacing kept). */
  flush(timeoutMs?: number): Promise<void>;
  /** Sends everything pending (within `shutdownTimeoutMs`), then stops. */
  shutdown(): Promise<void>;
  stats(): Readonly<Record<string, number>>;
  /** The pacing this pod follows right now. */
  pacing(): {
    readonly periodSeconds: number;
    readonly basePeriodSeconds: number;
    readonly phaseSecond: number;
    readonly offsetMs: number;
    readonly budgetTps: number;
  };
}

const DEFAULT_QUOTA_TPS = 500;
const DEFAULT_HEADROOM = 0.8;
const DEFAULT_MAX_PENDING = 100_000;
const DEFAULT_MAX_BACKLOG_BYTES = 16 * 1024 * 1024;
const DEFAULT_REQUEST_TIMEOUT_MS = 5000;
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 5000;
/** Above this worst-case delay the start-up notice recommends EMF. */
const FRESHNESS_GOAL_SECONDS = 5;


export function cloudWatchSink(options: CloudWatchSinkOptions = {}): CloudWatchSink {
  const env = process.env;
  const name = options.name ?? 'cloudwatch';
  const log = lateLogger(options.logger);
  const logger = log.logger;
  const explicitNamespace = options.namespace ?? nonEmpty(env.SCALESIGNAL_CLOUDWATCH_NAMESPACE);
  const namespace = explicitNamespace === undefined ? undefined : validateNamespace(explicitNamespace, 'cloudWatchSink');
  const rules = dimensionRules(options, 'cloudWatchSink');
  const quotaTps = positive('quotaTps', options.quotaTps) ?? fromEnv(env, 'SCALESIGNAL_CLOUDWATCH_QUOTA_TPS', logger, (v) => v > 0) ?? DEFAULT_QUOTA_TPS;
  const headroom =
    fraction('headroom', options.headroom) ?? fromEnv(env, 'SCALESIGNAL_CLOUDWATCH_HEADROOM', logger, (v) => v > 0 && v <= 1) ?? DEFAULT_HEADROOM;
  const identity = resolveIdentity(options.identity, env);

  let fleetSize: number;
  let fleetSource: (() => number | Promise<number>) | undefined;
  if (typeof options.fleetSize === 'function') {
    fleetSource = options.fleetSize;
    // The first answer, when synchronous, sets the pacing before the first send; until then the env value or 1.
    fleetSize = fromEnv(env, 'SCALESIGNAL_FLEET_SIZE', logger, (v) => v >= 1) ?? 1;
    try {
      const first = fleetSource();
      if (typeof first === 'number' && Number.isFinite(first) && first >= 1) fleetSize = Math.ceil(first);
    } catch {
      // Reported by the publisher on its first slot.
    }
  } else {
    fleetSize = Math.ceil(positive('fleetSize', options.fleetSize, 1) ?? fromEnv(env, 'SCALESIGNAL_FLEET_SIZE', logger, (v) => v >= 1) ?? 1);
  }

  const maxDatums = integer('maxDatumsPerRequest', options.maxDatumsPerRequest, 1, MAX_DATUMS_PER_REQUEST) ?? MAX_DATUMS_PER_REQUEST;
  const maxBytes = integer('maxRequestBytes', options.maxRequestBytes, 1024, MAX_REQUEST_BYTES) ?? MAX_REQUEST_BYTES;
  const maxPending = integer('maxPendingDatapoints', options.maxPendingDatapoints, 1, Number.MAX_SAFE_INTEGER) ?? DEFAULT_MAX_PENDING;
  const maxBacklogBytes = integer('maxBacklogBytes', options.maxBacklogBytes, 1, Number.MAX_SAFE_INTEGER) ?? DEFAULT_MAX_BACKLOG_BYTES;
  const requestTimeoutMs = integer('requestTimeoutMs', options.requestTimeoutMs, 1, 600_000) ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const shutdownTimeoutMs = integer('shutdownTimeoutMs', options.shutdownTimeoutMs, 0, 600_000) ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
  const maxPeriodSeconds = integer('maxPeriodSeconds', options.maxPeriodSeconds, 1, 86_400);
  if (options.storageResolution !== undefined && options.storageResolution !== 1 && options.storageResolution !== 60) {
    throw new ConfigError(`cloudWatchSink: storageResolution must be 1 or 60, got ${String(options.storageResolution)}`);
  }

  const view = new AwsView(rules, env);
  const converter = new DatumConverter(options.storageResolution ?? 1);
  const ledger = new WindowLedger();
  const pacer = new Pacer({ quotaTps, headroom, fleetSize, identity, ...(maxPeriodSeconds !== undefined ? { maxPeriodSeconds } : {}) });
  const clock = options.clock ?? systemClock;
  const reporter = new RateLimitedReporter(logger, `scalesignal cloudwatch sink "${name}": `, REPORT_EVERY_MS, () => clock.now());
  let sdkBodyFallbacks = 0;
  const transport = createTransport({
    yieldTurn: clockYield(clock),
    onSdkBodyFallback: (message) => {
      sdkBodyFallbacks++;
      reporter.warn(`${message}; sending the bodies the SDK serializes itself (in one piece) from now on`, 'sdkBody');
    },
    ...(options.transport !== undefined ? { transport: options.transport } : {}),
    ...(options.client !== undefined ? { client: options.client } : {}),
    ...(options.region !== undefined ? { region: options.region } : {}),
    ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
    ...(options.clientConfig !== undefined ? { clientConfig: options.clientConfig } : {}),
  });
  // Reported by the publisher; this only keeps an early rejection from being "unhandled".
  transport.catch(() => undefined);

  const publisher = new Publisher({
    name,
    namespace,
    view,
    filter: options.filter,
    converter,
    ledger,
    pacer,
    transport,
    limits: { maxDatums, maxBytes },
    maxPendingDatapoints: maxPending,
    maxBacklogBytes,
    requestTimeoutMs,
    shutdownTimeoutMs,
    clock,
    logger,
    reporter,
    random: prng(hash32(identity, 0x51ed270b)),
    ...(fleetSource !== undefined ? { fleetSize: fleetSource } : {}),
  });

  // Announced once: now when a logger was given, else in start() to the user's logger (or at the first export).
  let announced = false;
  const announceOnce = (): void => {
    if (announced) return;
    announced = true;
    announce(logger, name, { fleetSize, quotaTps, headroom, period: pacer.basePeriod, plain: pacer.plainPeriod, phase: pacer.phase, dynamic: fleetSource !== undefined });
  };
  if (options.logger !== undefined) announceOnce();
  publisher.start();

  return {
    name,
    settlesWindows: true,
    // export() never waits on the network, so the dispatcher's timeout is never the limiting factor.
    timeoutMs: 1000,
    start(context: SinkContext): void {
      log.adopt(context.logger);
      announceOnce();
    },
    export(windows: readonly Window[], context?: DeliveryContext): void {
      announceOnce();
      publisher.enqueue(windows, receiptOf(context));
    },
    flush(timeoutMs = shutdownTimeoutMs) {
      return publisher.flush(timeoutMs);
    },
    shutdown() {
      return publisher.shutdown();
    },
    stats() {
      const c = publisher.counts;
      const w = ledger.counts;
      return {
        windows_sent: w.sent,
        windows_failed: w.failed,
        windows_dropped: w.dropped,
        windows_pending: ledger.pending,
        backlog_bytes: publisher.backlogBytes,
        requests_sent: c.requestsSent,
        requests_throttled: c.requestsThrottled,
        requests_failed: c.requestsFailed,
        requests_unknown: c.requestsUnknown,
        batches_dropped: c.batchesDropped,
        datapoints_sent: c.datapointsSent,
        datapoints_dropped: c.datapointsDropped,
        datapoints_unknown: c.datapointsUnknown,
        datapoints_pending: publisher.pendingDatapoints,
        datapoints_invalid: converter.counts.datapointsInvalid,
        series_merged: view.counts.seriesMerged,
        labels_dropped: view.counts.labelsDropped,
        period_seconds: pacer.period,
        sdk_body_fallbacks: sdkBodyFallbacks,
      };
    },
    pacing() {
      return {
        periodSeconds: pacer.period,
        basePeriodSeconds: pacer.basePeriod,
        phaseSecond: pacer.phase,
        offsetMs: pacer.offsetMs,
        budgetTps: pacer.budgetTps,
      };
    },
  };
}

/** The one-time notice: what freshness this fleet size buys, and when EMF is the better tool. */
function announce(
  logger: Logger,
  name: string,
  p: { fleetSize: number; quotaTps: number; headroom: number; period: number; plain: number; phase: number; dynamic: boolean },
): void {
  // A datum waits at most one period after its second ends, plus the send offset (< 0.5 s) and the round trip.
  const worst = p.period + 1;
  const cadence = p.period === 1 ? 'every second' : `once every ${p.period} s (second ${p.phase} of the period)`;
  let message =
    `scalesignal cloudwatch sink "${name}": ${p.fleetSize} pod(s)${p.dynamic ? ' (initially)' : ''} sharing ` +
    `${p.quotaTps} PutMetricData/s x ${p.headroom} headroom -> this pod sends ${cadence}; ` +
    `datapoints keep 1-second resolution and reach CloudWatch within ~${worst} s of their second.`;
  if (p.period > p.plain) {
    message += ` (The period is longer than fleetSize / (quotaTps x headroom) = ${p.plain} s so that pods on hashed phases cannot overload one second; StatefulSet pod names spread exactly.)`;
  }
  if (worst > FRESHNESS_GOAL_SECONDS) {
    message +=
      ` That is slower than ${FRESHNESS_GOAL_SECONDS} s: for autoscaling on second-fresh signals at this fleet size use the EMF sink ` +
      '(CloudWatch Logs, no PutMetricData quota), or raise the PutMetricData quota.';
  }
  try {
    (logger.info ?? logger.warn).call(logger, message);
  } catch {
    // Logging must never break start-up.
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value !== undefined && value.trim() !== '' ? value.trim() : undefined;
}

function fromEnv(env: NodeJS.ProcessEnv, variable: string, logger: Logger, valid: (v: number) => boolean): number | undefined {
  const raw = nonEmpty(env[variable]);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (Number.isFinite(value) && valid(value)) return value;
  logger.warn(`scalesignal cloudwatch sink: ignoring ${variable}=${JSON.stringify(raw)} (not a valid number)`);
  return undefined;
}

/** A finite number above 0, or at least `min` when given. */
function positive(option: string, value: unknown, min?: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || (min === undefined ? value <= 0 : value < min)) {
    const wanted = min === undefined ? 'a number above 0' : `a number >= ${min}`;
    throw new ConfigError(`cloudWatchSink: option "${option}" must be ${wanted}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function fraction(option: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !(value > 0 && value <= 1)) {
    throw new ConfigError(`cloudWatchSink: option "${option}" must be a number in (0, 1], got ${JSON.stringify(value)}`);
  }
  return value;
}

function integer(option: string, value: unknown, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`cloudWatchSink: option "${option}" must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}
