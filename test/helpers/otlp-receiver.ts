/**
 * A loopback OTLP/HTTP metrics receiver: `POST /v1/metrics` on 127.0.0.1, decoding the JSON the exporter really
 * sends. Why loopback and not an ADOT collector: no collector (and no Docker) can run on this machine, and a
 * test-owned server can also misbehave on purpose (error statuses, never answering) to exercise failure paths.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export type ReceiverMode =
  | { kind: 'ok' }
  | { kind: 'status'; status: number; retryAfter?: string }
  | { kind: 'hang' }
  /** Takes the data (it is recorded as received), answers 200 only after `delayMs`. */
  | { kind: 'late'; delayMs: number }
  /** Takes the data (recorded as received), then closes the connection without answering. */
  | { kind: 'close' };

export interface ReceivedRequest {
  readonly receivedAt: number;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: unknown;
}

export interface OtlpReceiver {
  /** Full URL of the metrics endpoint. */
  readonly url: string;
  /** Base URL (scheme, host, port), as OTEL_EXPORTER_OTLP_ENDPOINT takes it. */
  readonly baseUrl: string;
  readonly requests: ReceivedRequest[];
  /** Behaviour for requests without a scripted one. */
  mode: ReceiverMode;
  /** Behaviours for the next requests, one each, before `mode` applies again. */
  readonly script: ReceiverMode[];
  /** Body sizes of every request that reached the handler, including refused ones. */
  readonly bodyBytes: number[];
  /** Arrival time of every request that reached the handler, answered or not. */
  readonly arrivals: number[];
  waitForRequests(count: number, timeoutMs?: number): Promise<ReceivedRequest[]>;
  /** Stops listening (connections are then refused) until `listen()`; the port stays the same. */
  refuse(): Promise<void>;
  listen(): Promise<void>;
  close(): Promise<void>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const requests: ReceivedRequest[] = [];
  const script: ReceiverMode[] = [];
  const bodyBytes: number[] = [];
  const arrivals: number[] = [];
  const waiters: Array<() => void> = [];
  const state = { mode: { kind: 'ok' } as ReceiverMode };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      arrivals.push(Date.now());
      bodyBytes.push(chunks.reduce((a, c) => a + c.length, 0));
      const mode = script.shift() ?? state.mode;
      if (mode.kind === 'hang') return; // never answer: the client must give up on its own
      if (req.method !== 'POST' || req.url !== '/v1/metrics') {
        res.writeHead(404).end();
        return;
      }
      if (mode.kind === 'status') {
        res.writeHead(mode.status, mode.retryAfter ? { 'retry-after': mode.retryAfter } : {}).end('{}');
        return;
      }
      let body: unknown;
      try {
        if (!String(req.headers['content-type']).startsWith('application/json')) throw new Error('not JSON');
        const raw = Buffer.concat(chunks);
        body = JSON.parse((req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8'));
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"message":"bad request"}');
        return;
      }
      requests.push({ receivedAt: Date.now(), path: req.url, headers: req.headers, body });
      for (const w of waiters.splice(0)) w();
      if (mode.kind === 'close') {
        req.socket.destroy();
        return;
      }
      const answer = () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      if (mode.kind === 'late') setTimeout(answer, mode.delayMs).unref();
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;

  return {
    url: `${baseUrl}/v1/metrics`,
    baseUrl,
    requests,
    script,
    bodyBytes,
    arrivals,
    get mode() {
      return state.mode;
    },
    set mode(mode: ReceiverMode) {
      state.mode = mode;
    },
    async waitForRequests(count, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (requests.length < count) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`expected ${count} OTLP requests, got ${requests.length}`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
      return requests.slice(0, count);
    },
    async refuse() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    async listen() {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
    },
    async close() {
      if (!server.listening) return;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** One data point as a test wants to see it, flattened out of an ExportMetricsServiceRequest. */
export interface ReceivedPoint {
  readonly resource: Readonly<Record<string, unknown>>;
  readonly scope: string;
  readonly name: string;
  readonly unit: string;
  readonly description: string;
  readonly type: 'sum' | 'gauge' | 'exponentialHistogram' | 'histogram';
  readonly temporality?: 'delta' | 'cumulative';
  readonly isMonotonic?: boolean;
  readonly attributes: Readonly<Record<string, unknown>>;
  readonly startNs: bigint;
  readonly timeNs: bigint;
  /** Sum and gauge points. */
  readonly value?: number;
  /** Exponential histogram points. */
  readonly histogram?: {
    count: number;
    sum?: number;
    min?: number;
    max?: number;
    scale: number;
    zeroCount: number;
    positive: { offset: number; bucketCounts: number[] };
    negative: { offset: number; bucketCounts: number[] };
  };
}

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

// OTLP/JSON writes 64-bit integers as strings or numbers and enums as numbers or names: accept both.
const int = (v: unknown): number => (v === undefined || v === null ? 0 : Number(v));
const nanos = (v: unknown): bigint => BigInt(v === undefined ? 0 : (v as string | number));

function anyValue(v: Json): unknown {
  if ('stringValue' in v) return v.stringValue;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return v.doubleValue;
  if ('boolValue' in v) return v.boolValue;
  return undefined;
}

function attributes(list: Json[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of list ?? []) out[kv.key] = anyValue(kv.value ?? {});
  return out;
}

function temporality(v: unknown): 'delta' | 'cumulative' | undefined {
  if (v === 1 || v === 'AGGREGATION_TEMPORALITY_DELTA') return 'delta';
  if (v === 2 || v === 'AGGREGATION_TEMPORALITY_CUMULATIVE') return 'cumulative';
  return undefined;
}

export function decodePoints(body: unknown): ReceivedPoint[] {
  const out: ReceivedPoint[] = [];
  for (const rm of (body as Json).resourceMetrics ?? []) {
    const resource = attributes(rm.resource?.attributes);
    for (const sm of rm.scopeMetrics ?? []) {
      for (const m of sm.metrics ?? []) {
        const base = { resource, scope: sm.scope?.name ?? '', name: m.name, unit: m.unit ?? '', description: m.description ?? '' };
        const data: Json | undefined = m.sum ?? m.gauge ?? m.exponentialHistogram ?? m.histogram;
        const type = m.sum ? 'sum' : m.gauge ? 'gauge' : m.exponentialHistogram ? 'exponentialHistogram' : 'histogram';
        for (const dp of data?.dataPoints ?? []) {
          const common = {
            ...base,
            type,
            temporality: temporality(data?.aggregationTemporality),
            isMonotonic: m.sum ? Boolean(m.sum.isMonotonic) : undefined,
            attributes: attributes(dp.attributes),
            startNs: nanos(dp.startTimeUnixNano),
            timeNs: nanos(dp.timeUnixNano),
          } as const;
          if (type === 'exponentialHistogram') {
            out.push({
              ...common,
              histogram: {
                count: int(dp.count),
                sum: dp.sum,
                min: dp.min,
                max: dp.max,
                scale: int(dp.scale),
                zeroCount: int(dp.zeroCount),
                positive: { offset: int(dp.positive?.offset), bucketCounts: (dp.positive?.bucketCounts ?? []).map(int) },
                negative: { offset: int(dp.negative?.offset), bucketCounts: (dp.negative?.bucketCounts ?? []).map(int) },
              },
            });
          } else {
            out.push({ ...common, value: dp.asDouble !== undefined ? Number(dp.asDouble) : int(dp.asInt) });
          }
        }
      }
    }
  }
  return out;
}

/** Epoch milliseconds as the nanosecond timestamp OTLP carries. */
export const msToNs = (ms: number): bigint => BigInt(ms) * 1_000_000n;
