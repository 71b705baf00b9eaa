/**
 * Scaling targets: the value of each leading indicator one pod should carry. One plain object, shared by the
 * manifest generator and anything else that draws thresholds (the dashboard), so both show the same numbers.
 */

export interface Targets {
  /** In-flight HTTP requests per pod (`http.server.active_requests`). */
  readonly inflight: number;
  /** P99 request latency in milliseconds (`http.server.request.duration`). */
  readonly p99Ms: number;
  /** Open SSE connections per pod (`sse.active_connections`). */
  readonly sse: number;
  /** Queue backlog per pod (`queue.depth`): messages one pod can work off quickly. */
  readonly queue: number;
}

/**
 * Defaults, each a starting point to measure against, not a law:
 * - inflight 50: a Node.js process keeps its latency flat well past 50 concurrent I/O-bound requests;
 * - p99Ms 250: a common interactive-latency objective;
 * - sse 500: an idle SSE stream costs a few kB and no CPU, so hundreds per pod are cheap;
 * - queue 100: a backlog one pod drains in seconds at typical job rates.
 */
export const DEFAULT_TARGETS: Readonly<Targets> = Object.freeze({ inflight: 50, p99Ms: 250, sse: 500, queue: 100 });

export type Indicator = 'inflight' | 'p99' | 'sse' | 'queue';
export const INDICATORS: readonly Indicator[] = ['inflight', 'p99', 'sse', 'queue'];

/** The `Targets` field an indicator's threshold lives in. */
export const TARGET_FIELD: Readonly<Record<Indicator, keyof Targets>> = {
  inflight: 'inflight',
  p99: 'p99Ms',
  sse: 'sse',
  queue: 'queue',
};

/**
 * Parses one `--target` value, `name=value`: `inflight=50`, `p99=250ms` (also `0.25s`, or a bare number of ms),
 * `sse=500`, `queue=100`. Returns the indicator and its value in the target's unit; throws a message naming what is
 * allowed.
 */
export function parseTarget(text: string): { indicator: Indicator; value: number } {
  const eq = text.indexOf('=');
  const name = (eq < 0 ? text : text.slice(0, eq)).trim();
  if (!(INDICATORS as readonly string[]).includes(name)) {
    throw new Error(`--target ${JSON.stringify(text)}: unknown indicator "${name}"; allowed: ${INDICATORS.map((i) => `${i}=<n>`).join(', ')}`);
  }
  const indicator = name as Indicator;
  const raw = eq < 0 ? '' : text.slice(eq + 1).trim();
  const value = indicator === 'p99' ? parseDurationMs(raw) : Number(raw);
  if (raw === '' || !Number.isFinite(value) || value <= 0 || (indicator !== 'p99' && !Number.isInteger(value))) {
    const allowed = indicator === 'p99' ? 'a positive duration: 250ms, 0.25s or 250 (ms)' : 'a positive integer';
    throw new Error(`--target ${JSON.stringify(text)}: ${indicator} needs ${allowed}`);
  }
  return { indicator, value };
}

function parseDurationMs(raw: string): number {
  const match = /^(\d+(?:\.\d+)?|\.\d+)\s*(ms|s)?$/.exec(raw);
  if (match === null) return NaN;
  const n = Number(match[1]);
  return match[2] === 's' ? n * 1000 : n;
}
