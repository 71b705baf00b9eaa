/**
 * EMF sink: Window -> CloudWatch Embedded Metric Format documents (high resolution, one timestamp per window)
 * -> stdout (picked up by Fluent Bit / Container Insights) or the CloudWatch agent's EMF listener (TCP/UDP 25888).
 *
 * Names, units, dimensions and the merging of series that collide come from the AWS rule set (sinks/aws), shared
 * with the PutMetricData sink, so one series looks the same on both. Delivery (emf/delivery.ts) is owned by the
 * sink: a backlog bounded in bytes, documents built once per window, one write per document and attempt, and an
 * exact sent / failed / dropped count per window in `stats()`.
 *
 * Why the documents are built here and not with aws-embedded-metrics (which is used in the tests as the reference
 * serializer instead): its endpoint, namespace, service name and log group are process-global `Configuration`, so
 * two sinks (or an application that uses the library itself) would race; its first flush runs environment
 * detection (which may probe the EC2 metadata endpoint) and adds default dimensions and properties we do not
 * want; its serializer splits at 100 metrics but knows no byte limit (1 MB per event, 64 KB per UDP datagram);
 * and its TCP client has no connect timeout and can leave a send pending forever after an idle-timeout during
 * connect. The documents below follow the same specification and the same limits.
 */
import type { Logger } from '../core/api.js';
import { ConfigError } from '../core/errors.js';
import type { QuantileName, Window } from '../core/window.js';
import type { Sink, SinkContext } from '../core/sink.js';
import { lateLogger } from './aws/late-logger.js';
import { dimensionRules, type DimensionOptions } from './aws/dimensions.js';
import { receiptOf, WindowLedger, type DeliveryContext } from './aws/ledger.js';
import { namespaceFromService, validateNamespace } from './aws/namespace.js';
import { AwsView } from './aws/view.js';
import { agentWriter, MAX_UDP_BYTES, parseAgentEndpoint, type AgentEndpoint } from './emf/agent-client.js';
import { EmfDelivery } from './emf/delivery.js';
import { MAX_DOCUMENT_BYTES, documentSteps, type DocumentConfig, type DocumentCounts } from './emf/documents.js';
import { functionWriter } from './emf/function-writer.js';
import { streamWriter } from './emf/stream-writer.js';
import type { DocumentWriter } from './emf/writer.js';

export type { DeliveryContext, WindowOutcome, WindowReceipt } from './aws/ledger.js';

export interface EmfSinkOptions extends DimensionOptions {
  /** CloudWatch namespace. Default: `AWS_EMF_NAMESPACE`, else the service name (made namespace-safe). */
  namespace?: string;
  /** Key of the dimension holding the service name, or false for none. Default `ServiceName`. */
  serviceDimension?: string | false;
  /** Constant dimensions on every metric, e.g. `{ Cluster: 'prod-eu' }`. Default none. */
  dimensions?: Readonly<Record<string, string>>;
  /**
   * Adds a per-pod dimension (true: `PodName`, or the key to use), the same on both AWS sinks. Default false:
   * without it CloudWatch aggregates the same metric across the whole fleet, and a metric per pod multiplies cost.
   */
  podDimension?: boolean | string;
  /** Also publish every labelled metric under the base dimensions alone (service-wide totals). Default false. */
  rollup?: boolean;
  /** Percentile metrics per histogram (`<name>.p99` ...). Default p50, p90, p95, p99. */
  percentiles?: readonly QuantileName[];
  /** Also publish `<name>.max` for gauges (a spike within the second). Default false. */
  gaugeMax?: boolean;
  /**
   * Also publish each histogram as `<name>`: a value array (at most 100 values) CloudWatch can compute
   * fleet-wide percentiles from. Default false.
   */
  histogramValues?: boolean;
  /** CloudWatch agent endpoint, `tcp://host:25888` or `udp://host:25888`. Default: `AWS_EMF_AGENT_ENDPOINT`, else stdout. */
  agentEndpoint?: string;
  /** Log group the agent writes to. Default: `AWS_EMF_LOG_GROUP_NAME`, else `<service>-metrics`. Agent only. */
  logGroupName?: string;
  /** Log stream the agent writes to. Default: `AWS_EMF_LOG_STREAM_NAME`, else the agent's choice. Agent only. */
  logStreamName?: string;
  /** Custom destination, called once per document (one JSON string, no newline), in order. Overrides the rest. */
  write?: (document: string) => void | Promise<void>;
  /** Stream for JSON lines when there is no agent endpoint and no `write`. Default `process.stdout`. */
  stream?: NodeJS.WritableStream;
  /** A document write that makes no progress for this long is abandoned (TCP) or waited out. Default 500 ms. */
  timeoutMs?: number;
  /** Windows waiting for delivery, at most. Default 600. */
  maxBacklog?: number;
  /** Bytes of waiting windows and documents, at most; beyond, the oldest windows are dropped (counted). Default 16 MiB. */
  maxBacklogBytes?: number;
  /** How long `shutdown()` may spend delivering what is waiting. Default 2000 ms. */
  shutdownTimeoutMs?: number;
  /** Warnings (at most one a minute per kind). Default: createMetrics' logger, else stderr. */
  logger?: Logger;
  /** Sink name in self-metrics and logs. Default `emf`. */
  name?: string;
}

export interface EmfSink extends Sink {
  /**
   * This sink owns delivery and settles every window it is handed exactly once (sent / failed / dropped), reported
   * in `stats()` as `windows_*` and to a `WindowReceipt` passed as export()'s second argument.
   */
  readonly settlesWindows: true;
  /** Hands windows over; resolves once they are delivered or waiting for a retry. Never rejects. */
  export(windows: readonly Window[], context?: DeliveryContext): Promise<void>;
  /** Resolves when every window handed over so far is sent, failed or dropped, or after `timeoutMs`. */
  flush(timeoutMs?: number): Promise<void>;
  shutdown(): Promise<void>;
  stats(): Readonly<Record<string, number>>;
}

const QUANTILES: readonly QuantileName[] = ['p50', 'p90', 'p95', 'p99'];
const DEFAULT_TIMEOUT_MS = 500;
const DEFAULT_MAX_BACKLOG = 600;
const DEFAULT_MAX_BACKLOG_BYTES = 16 * 1024 * 1024;
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 2000;


export function emfSink(options: EmfSinkOptions = {}, env: NodeJS.ProcessEnv = process.env): EmfSink {
  const where = 'emfSink';
  const percentiles = options.percentiles ?? QUANTILES;
  for (const q of percentiles) if (!QUANTILES.includes(q)) throw new ConfigError(`${where}: unknown percentile "${q}"; allowed: ${QUANTILES.join(', ')}`);
  const rules = dimensionRules(options, where);
  const timeoutMs = positive(options.timeoutMs, 'timeoutMs', DEFAULT_TIMEOUT_MS);
  const maxBacklog = positive(options.maxBacklog, 'maxBacklog', DEFAULT_MAX_BACKLOG);
  const maxBacklogBytes = positive(options.maxBacklogBytes, 'maxBacklogBytes', DEFAULT_MAX_BACKLOG_BYTES);
  const shutdownTimeoutMs = positive(options.shutdownTimeoutMs, 'shutdownTimeoutMs', DEFAULT_SHUTDOWN_TIMEOUT_MS, true);
  const explicitNamespace = options.namespace ?? (env.AWS_EMF_NAMESPACE || undefined);
  const namespace = explicitNamespace === undefined ? undefined : validateNamespace(explicitNamespace, where);

  const endpointText = options.write === undefined ? (options.agentEndpoint ?? (env.AWS_EMF_AGENT_ENDPOINT || undefined)) : undefined;
  let endpoint: AgentEndpoint | undefined;
  try {
    endpoint = endpointText === undefined ? undefined : parseAgentEndpoint(endpointText);
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  const writer: DocumentWriter =
    options.write !== undefined ? functionWriter(options.write) : endpoint !== undefined ? agentWriter(endpoint) : streamWriter(options.stream ?? process.stdout);

  const logGroup = options.logGroupName ?? (env.AWS_EMF_LOG_GROUP_NAME || undefined);
  const logStream = options.logStreamName ?? (env.AWS_EMF_LOG_STREAM_NAME || undefined);
  const baseDimensions = (rules.service === undefined ? 0 : 1) + rules.constants.length + (rules.pod === undefined ? 0 : 1);
  const config: Omit<DocumentConfig, 'meta'> = {
    rollup: options.rollup ?? false,
    baseDimensions,
    percentiles,
    gaugeMax: options.gaugeMax ?? false,
    histogramValues: options.histogramValues ?? false,
    maxBytes: endpoint?.protocol === 'udp' ? MAX_UDP_BYTES : MAX_DOCUMENT_BYTES,
  };
  // The CloudWatch agent routes on these; on stdout the log agent decides where lines go.
  const metaFor = (w: Window): Record<string, string> =>
    endpoint === undefined
      ? {}
      : { LogGroupName: logGroup ?? `${w.resource.service}-metrics`, ...(logStream === undefined ? {} : { LogStreamName: logStream }) };

  const view = new AwsView(rules, env);
  const documentCounts: DocumentCounts = { metricsSkipped: 0, valuesInvalid: 0 };
  const ledger = new WindowLedger();
  const name = options.name ?? 'emf';
  const build = (w: Window): Generator<void, string[], void> =>
    documentSteps(view.series(w), w.timestamp, namespace ?? namespaceFromService(w.resource.service), { ...config, meta: metaFor(w) }, documentCounts);
  const log = lateLogger(options.logger);
  const delivery = new EmfDelivery({ name, writer, build, ledger, timeoutMs, maxBacklog, maxBacklogBytes, logger: log.logger });
  // export() waits for delivery at most this long; the dispatcher's timeout is set above it so it never fires.
  const exportWaitMs = Math.max(1000, 2 * timeoutMs);

  return {
    name,
    settlesWindows: true,
    timeoutMs: exportWaitMs + 1000,

    start(context: SinkContext): void {
      log.adopt(context.logger);
    },

    async export(windows: readonly Window[], context?: DeliveryContext): Promise<void> {
      const entries = delivery.accept(windows, receiptOf(context));
      await delivery.settledOrParked(entries, exportWaitMs);
    },

    flush(timeout = shutdownTimeoutMs): Promise<void> {
      return delivery.flush(timeout);
    },

    shutdown(): Promise<void> {
      return delivery.shutdown(shutdownTimeoutMs);
    },

    stats() {
      const c = ledger.counts;
      const d = delivery.counts;
      return {
        windows_sent: c.sent,
        windows_failed: c.failed,
        windows_dropped: c.dropped,
        windows_pending: ledger.pending,
        backlog_bytes: delivery.backlogBytes,
        documents_sent: d.documentsSent,
        documents_failed: d.documentsFailed,
        documents_retried: d.documentsRetried,
        writes_timed_out: d.writesTimedOut,
        series_merged: view.counts.seriesMerged,
        labels_dropped: view.counts.labelsDropped,
        metrics_skipped: documentCounts.metricsSkipped,
        values_invalid: documentCounts.valuesInvalid,
      };
    },
  };
}

function positive(value: unknown, option: string, fallback: number, zeroAllowed = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!zeroAllowed && value === 0)) {
    throw new ConfigError(`emfSink: option "${option}" must be a ${zeroAllowed ? 'non-negative' : 'positive'} number, got ${JSON.stringify(value)}`);
  }
  return value;
}
