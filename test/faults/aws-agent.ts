/**
 * A loopback stand-in for the CloudWatch agent's EMF TCP listener (port 0, 127.0.0.1) that can misbehave on
 * demand, and helpers to judge what it received. Like the real agent it reads newline-delimited documents and
 * discards a partial line at the end of a connection (it cannot be parsed).
 * - `read`: reads everything;
 * - `hang`: accepts and stops reading (every open connection and new ones), so kernel buffers fill and writes stall;
 * - `close`: accepts and closes at once, reading nothing.
 * `stop()` closes the listener (connections refused); `start()` listens again on the same port.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { SeriesWindow, Window } from '../../src/core/window.js';
import { validateEmf, type EmfDocument } from '../helpers/emf-validator.js';

export type AgentMode = 'read' | 'hang' | 'close';

export interface FaultAgent {
  readonly port: number;
  /** Complete lines, in arrival order. */
  readonly lines: string[];
  /** Partial lines discarded at the end of a connection. */
  truncated: number;
  connections: number;
  setMode(mode: AgentMode): void;
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function startFaultAgent(mode: AgentMode = 'read', port = 0): Promise<FaultAgent> {
  const sockets = new Set<Socket>();
  let current = mode;
  let server: Server | undefined;
  const agent = {
    port,
    lines: [] as string[],
    truncated: 0,
    connections: 0,
    setMode(next: AgentMode) {
      current = next;
      for (const s of sockets) {
        if (next === 'hang') s.pause();
        else if (next === 'read') s.resume();
        else s.destroy();
      }
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
      server = undefined;
    },
    async start() {
      server = createServer((socket) => {
        agent.connections++;
        if (current === 'close') {
          socket.destroy();
          return;
        }
        sockets.add(socket);
        let buffer = '';
        socket.setEncoding('utf8');
        socket.on('data', (chunk: string) => {
          buffer += chunk;
          let nl: number;
          while ((nl = buffer.indexOf('\n')) >= 0) {
            agent.lines.push(buffer.slice(0, nl));
            buffer = buffer.slice(nl + 1);
          }
        });
        socket.on('error', () => undefined);
        socket.on('close', () => {
          sockets.delete(socket);
          if (buffer !== '') agent.truncated++;
        });
        if (current === 'hang') socket.pause();
      });
      await new Promise<void>((resolve) => (server as Server).listen(agent.port, '127.0.0.1', resolve));
      agent.port = ((server as Server).address() as AddressInfo).port;
    },
  };
  await agent.start();
  return agent;
}

/** Window `i` of `n` counters in `groups` label groups (one document each per 100 metrics); values encode window and series. */
export function counterWindow(t0: number, i: number, n: number, groups = 10): Window {
  const series: SeriesWindow[] = [];
  for (let k = 0; k < n; k++) {
    const labels = { shard: String(k % groups) };
    const name = `jobs.${k}`;
    series.push({
      name,
      unit: '{job}',
      description: '',
      kind: 'counter',
      labels,
      key: `${name}{shard=${labels.shard}}`,
      count: 1,
      sum: i * 100_000 + k,
      min: NaN,
      max: NaN,
      last: NaN,
      rate: 0,
      total: 0,
      p50: NaN,
      p90: NaN,
      p95: NaN,
      p99: NaN,
    });
  }
  return { start: t0 + i * 1000, end: t0 + (i + 1) * 1000, timestamp: t0 + i * 1000, resource: { service: 'faults', attributes: {} }, series };
}

export interface Received {
  /** Metrics seen more than once (same timestamp, dimensions and name). */
  readonly duplicates: number;
  /** Windows (timestamps) whose every metric arrived. */
  readonly complete: Set<number>;
  /** Windows with some but not all metrics. */
  readonly partial: Set<number>;
  /** Timestamps of documents in arrival order. */
  readonly order: number[];
}

export function judge(lines: readonly string[], metricsPerWindow: number): Received {
  const seen = new Map<string, number>();
  const perWindow = new Map<number, number>();
  const order: number[] = [];
  for (const line of lines) {
    const doc: EmfDocument = validateEmf(line);
    const ts = doc._aws.Timestamp;
    order.push(ts);
    for (const d of doc._aws.CloudWatchMetrics) {
      const dims = d.Dimensions[0].map((k) => `${k}=${String(doc[k])}`).join(',');
      for (const m of d.Metrics) {
        const id = `${ts}|${dims}|${m.Name}`;
        seen.set(id, (seen.get(id) ?? 0) + 1);
        perWindow.set(ts, (perWindow.get(ts) ?? 0) + 1);
      }
    }
  }
  let duplicates = 0;
  for (const n of seen.values()) if (n > 1) duplicates += n - 1;
  const complete = new Set<number>();
  const partial = new Set<number>();
  for (const [ts, n] of perWindow) (n >= metricsPerWindow ? complete : partial).add(ts);
  return { duplicates, complete, partial, order };
}

export function nondecreasing(xs: readonly number[]): boolean {
  for (let i = 1; i < xs.length; i++) if (xs[i] < xs[i - 1]) return false;
  return true;
}
