/**
 * EMF sink: Window -> CloudWatch Embedded Metric Format documents (high resolution, one timestamp per window)
 * -> stdout (picked up by Fluent Bit / Container Insights) or the CloudWatch agent's EMF listener (TCP/UDP 25888).
 *
 * Why the documents are built here and not with aws-embedded-metrics (which is used in the tests as the reference
 * serializer instead): its endpoint, namespace, service name and log group are process-global `Configuration`, so
 * two sinks (or an application that uses the library itself) would race; its first flush runs environment
 * detection (which may probe the EC2 metadata endpoint) and adds default dimensions and properties we do not
 * want; its serializer splits at 100 metrics but knows no byte limit (1 MB per event, 64 KB per UDP datagram);
 * and its TCP client has no connect timeout and can leave a send pending forever after an idle-timeout during
 * connect. The documents below follow the same specification and the same limits.
 */
import type { QuantileName, Window } from '../core/window.js';
import { SinkError, type Sink } from '../core/sink.js';
import { createAgentClient, MAX_UDP_BYTES, parseAgentEndpoint, type AgentClient } from './emf/agent-client.js';
import { MAX_DIMENSIONS } from './emf/dimensions.js';
import { MAX_DOCUMENT_BYTES, windowDocuments, type DocumentConfig, type DocumentCounters } from './emf/documents.js';
import { writeLines } from './emf/stdout.js';

export interface EmfSinkOptions {
  /** CloudWatch namespace. Default: `AWS_EMF_NAMESPACE`, else the service name. */
  namespace?: string;
  /** Key of the dimension holding the service name, or false for none. Default `ServiceName`. */
  serviceDimension?: string | false;
  /** Constant dimensions on every metric, e.g. `{ Cluster: 'prod-eu' }`. Default none. */
  dimensions?: Readonly<Record<string, string>>;
  /**
   * Adds a per-pod dimension (true: `PodName`, or the key to use) from `k8s.pod.name`, else `host.name`, else the
   * hostname. Default false: without it CloudWatch aggregates the same metric across the whole fleet, and a metric
   * per pod multiplies cost.
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
  /** Agent connect + send timeout in ms. Default 500. */
  timeoutMs?: number;
  /** Windows the dispatcher keeps while exports are pending or retried. Default 60. */
  maxBacklog?: number;
  /** Sink name in self-metrics and logs. Default `emf`. */
  name?: string;
}

const QUANTILES: readonly QuantileName[] = ['p50', 'p90', 'p95', 'p99'];
const DEFAULT_TIMEOUT_MS = 500;

export function emfSink(options: EmfSinkOptions = {}, env: NodeJS.ProcessEnv = process.env): Sink {
  const percentiles = options.percentiles ?? QUANTILES;
  for (const q of percentiles) if (!QUANTILES.includes(q)) throw new RangeError(`emfSink: unknown percentile "${q}"; allowed: ${QUANTILES.join(', ')}`);
  const serviceDimension = options.serviceDimension ?? 'ServiceName';
  const podDimension = options.podDimension === true ? 'PodName' : (options.podDimension ?? false);
  const extra = options.dimensions ?? {};
  const fixed = [...(serviceDimension === false ? [] : [serviceDimension]), ...Object.keys(extra), ...(podDimension === false ? [] : [podDimension])];
  if (new Set(fixed).size !== fixed.length) throw new RangeError(`emfSink: dimension keys repeat: ${fixed.join(', ')}`);
  if (fixed.length > MAX_DIMENSIONS) throw new RangeError(`emfSink: at most ${MAX_DIMENSIONS} dimensions, got ${fixed.length}`);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) throw new RangeError(`emfSink: timeoutMs must be a positive number, got ${timeoutMs}`);

  const endpoint = options.write === undefined ? (options.agentEndpoint ?? (env.AWS_EMF_AGENT_ENDPOINT || undefined)) : undefined;
  const protocol = endpoint === undefined ? undefined : parseAgentEndpoint(endpoint).protocol;
  let agent: AgentClient | undefined;

  const base: Omit<DocumentConfig, 'meta'> = {
    namespace: options.namespace ?? (env.AWS_EMF_NAMESPACE || undefined),
    serviceDimension,
    extra,
    podDimension,
    rollup: options.rollup ?? false,
    percentiles,
    gaugeMax: options.gaugeMax ?? false,
    histogramValues: options.histogramValues ?? false,
    maxBytes: protocol === 'udp' ? MAX_UDP_BYTES : MAX_DOCUMENT_BYTES,
  };
  const logGroup = options.logGroupName ?? (env.AWS_EMF_LOG_GROUP_NAME || undefined);
  const logStream = options.logStreamName ?? (env.AWS_EMF_LOG_STREAM_NAME || undefined);
  // The CloudWatch agent routes on these; on stdout the log agent decides where lines go.
  const metaFor = (w: Window): Record<string, string> =>
    endpoint === undefined
      ? {}
      : { LogGroupName: logGroup ?? `${w.resource.service}-metrics`, ...(logStream === undefined ? {} : { LogStreamName: logStream }) };

  const counters: DocumentCounters = { metricsSkipped: 0, labelsDropped: 0 };
  let documentsSent = 0;
  let lastDocuments = 0;

  const deliver = async (documents: string[]): Promise<void> => {
    if (options.write !== undefined) {
      try {
        for (const doc of documents) await options.write(doc);
      } catch (error) {
        if (error instanceof SinkError) throw error;
        throw new SinkError(`EMF write failed: ${String(error)}`, { retryable: false, cause: error });
      }
    } else if (endpoint !== undefined) {
      agent ??= createAgentClient(endpoint, timeoutMs);
      await agent.send(documents);
    } else {
      await writeLines(process.stdout, documents);
    }
  };

  return {
    name: options.name ?? 'emf',
    timeoutMs: timeoutMs + 100,
    maxBacklog: options.maxBacklog,

    async export(windows: readonly Window[]): Promise<void> {
      const documents: string[] = [];
      for (const w of windows) documents.push(...windowDocuments(w, { ...base, meta: metaFor(w) }, counters));
      lastDocuments = documents.length;
      if (documents.length === 0) return;
      await deliver(documents);
      documentsSent += documents.length;
    },

    shutdown(): void {
      agent?.close();
      agent = undefined;
    },

    stats() {
      return {
        documents_sent: documentsSent,
        documents_last_export: lastDocuments,
        metrics_skipped: counters.metricsSkipped,
        labels_dropped: counters.labelsDropped,
      };
    },
  };
}
