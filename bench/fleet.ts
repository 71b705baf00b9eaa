/**
 * Fleet pacing bench for the CloudWatch PutMetricData sink.
 *
 * 1. virtual: 15,000 pods x 10 one-second series under a 1,000 TPS quota for 10 simulated minutes. Every pod is a
 *    real `cloudWatchSink` (pacer, batcher, pending queue, publisher) driven by a virtual clock, sending through the
 *    pluggable transport to a simulated CloudWatch that admits at most `quotaTps` requests per 1-second window and
 *    throttles the rest exactly like the real one (HTTP 400 `Throttling`).
 * 2. http: 200 sinks, each with its own `@aws-sdk/client-cloudwatch` client, against the loopback PutMetricData
 *    server (test/helpers/cloudwatch-server.ts) at a scaled quota of 20 TPS, in real time, in this process.
 *
 * Pods are named like Deployment pods (random suffixes), so phases come from the hash, not from ordinals.
 * After the last window each run keeps the sinks going until nothing is pending, so "lost" means lost.
 * Checked: the busiest 1-second window (all arrivals, throttled ones included) against the quota; every datapoint
 * delivered exactly once under its own second (values encode the second they were recorded in).
 *
 * Run: npx tsx bench/fleet.ts   (writes bench/results/fleet.json; the last line printed is the summary JSON)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SeriesWindow, Window } from '../src/core/window.js';
import { cloudWatchSink, type CloudWatchClock, type CloudWatchSink, type MetricDatum, type PutMetricDataInput } from '../src/sinks/cloudwatch.js';
import { hash32 } from '../src/sinks/cloudwatch/identity.js';
import { startCloudWatchServer } from '../test/helpers/cloudwatch-server.js';

const SERIES = 10;
const silent = { warn: () => undefined, info: () => undefined };

interface RunResult {
  run: string;
  pods: number;
  seriesPerPod: number;
  quotaTps: number;
  headroom: number;
  periodSeconds: number;
  simulatedSeconds: number;
  maxTpsObserved: number;
  maxTpsAccepted: number;
  requests: number;
  requestsThrottled: number;
  datapointsProduced: number;
  datapointsDelivered: number;
  datapointsLost: number;
  duplicates: number;
  everyDatapointKeptItsSecond: boolean;
  freshnessP50Seconds: number;
  freshnessP99Seconds: number;
  freshnessMaxSeconds: number;
  wallSeconds: number;
}

/** Deployment-style pod names: `<deployment>-<10 chars>-<5 chars>`, seeded so runs are reproducible. */
function podNames(count: number, deployment: string, seed: number): string[] {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  let state = seed;
  const pick = (n: number): string => {
    let out = '';
    for (let i = 0; i < n; i++) {
      state = hash32(String(state), 0x2545f491);
      out += alphabet[state % alphabet.length];
    }
    return out;
  };
  // A handful of ReplicaSets, as during rollouts, each with many pods.
  const sets = Array.from({ length: Math.max(1, Math.ceil(count / 3000)) }, () => pick(10));
  return Array.from({ length: count }, (_, i) => `${deployment}-${sets[i % sets.length]}-${pick(5)}`);
}

/**
 * Ten series whose values encode `code` (the second, and for the http run the pod): 4 counters, 4 gauges and
 * 2 histograms holding one observation each.
 */
function seriesFor(code: number): SeriesWindow[] {
  const base = { unit: '', description: '', labels: {}, rate: 0, total: 0, p50: NaN, p90: NaN, p95: NaN, p99: NaN };
  const out: SeriesWindow[] = [];
  for (let i = 0; i < SERIES; i++) {
    const name = `bench.series.${i}`;
    const key = `${name}{}`;
    if (i < 4) out.push({ ...base, name, key, kind: 'counter', count: 1, sum: code, min: NaN, max: NaN, last: code });
    else if (i < 8) out.push({ ...base, name, key, kind: 'gauge', count: 1, sum: code, min: code, max: code, last: code });
    else {
      // A bucket at scale 0 around `code`; min = max = code, so the single value sent is `code` itself.
      const index = Math.ceil(Math.log2(code)) - 1;
      out.push({ ...base, name, key, unit: 'ms', kind: 'histogram', count: 1, sum: code, min: code, max: code, last: code, buckets: { scale: 0, offset: index, counts: [1], zeroCount: 0 } });
    }
  }
  return out;
}

/** The value a datum carries, whatever its shape. */
function valueOf(d: { Value?: number; StatisticValues?: { Sum: number }; Values?: readonly number[] }): number {
  if (d.Value !== undefined) return d.Value;
  if (d.StatisticValues !== undefined) return d.StatisticValues.Sum;
  return d.Values?.[0] ?? NaN;
}

/** Freshness histogram in 100 ms bins: delivery time minus the end of the datapoint's second. */
class Freshness {
  private readonly bins = new Float64Array(36_000);
  private total = 0;
  private lastBin = 0;
  add(seconds: number, weight: number): void {
    const bin = Math.min(this.bins.length - 1, Math.max(0, Math.floor(seconds * 10)));
    this.lastBin = bin;
    this.bins[bin] += weight;
    this.total += weight;
  }
  /** One more datapoint in the bin of the last `add`. */
  addAgain(): void {
    this.bins[this.lastBin]++;
    this.total++;
  }
  quantile(q: number): number {
    const rank = q * this.total;
    let seen = 0;
    for (let i = 0; i < this.bins.length; i++) {
      seen += this.bins[i];
      if (seen >= rank && this.bins[i] > 0) return (i + 1) / 10;
    }
    return NaN;
  }
}

/** Timers on a virtual timeline: a binary heap, cancelled entries skipped lazily. */
class VirtualClock implements CloudWatchClock {
  private time: number;
  private seq = 0;
  private readonly heap: Array<{ at: number; seq: number; fn: () => void; cancelled: boolean }> = [];

  constructor(start: number) {
    this.time = start;
  }
  now(): number {
    return this.time;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const entry = { at: this.time + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    const h = this.heap;
    h.push(entry);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p].at < entry.at || (h[p].at === entry.at && h[p].seq < entry.seq)) break;
      h[i] = h[p];
      i = p;
    }
    h[i] = entry;
    return entry;
  }
  clearTimeout(handle: unknown): void {
    if (handle !== undefined) (handle as { cancelled: boolean }).cancelled = true;
  }
  /** Conversion slices resume in a microtask: virtual time does not move while a pod is mid-slot. */
  yield(): Promise<void> {
    return Promise.resolve();
  }
  private pop(): { at: number; seq: number; fn: () => void; cancelled: boolean } {
    const h = this.heap;
    const top = h[0];
    const last = h.pop() as (typeof h)[number];
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const r = l + 1;
        const c = r < h.length && (h[r].at < h[l].at || (h[r].at === h[l].at && h[r].seq < h[l].seq)) ? r : l;
        if (h[c].at > last.at || (h[c].at === last.at && h[c].seq > last.seq)) break;
        h[i] = h[c];
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
  /** Runs every timer due by `until`, in time order; after each instant, lets all promise work settle. */
  async runUntil(until: number): Promise<void> {
    while (this.heap.length > 0 && this.heap[0].at <= until) {
      const at = this.heap[0].at;
      this.time = at;
      while (this.heap.length > 0 && this.heap[0].at === at) {
        const entry = this.pop();
        if (!entry.cancelled) entry.fn();
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.time = until;
  }
}

class ThrottlingError extends Error {
  readonly Code = 'Throttling';
  readonly $metadata = { httpStatusCode: 400 };
  constructor() {
    super('Rate exceeded');
    this.name = 'Throttling';
  }
}

async function virtualRun(): Promise<RunResult> {
  const pods = 15_000;
  const quotaTps = 1000;
  const headroom = 0.8;
  const seconds = 600;
  const wallStart = performance.now();
  const t0 = Date.UTC(2026, 0, 1, 0, 0, 0);
  const clock = new VirtualClock(t0);
  const names = podNames(pods, 'checkout', 1);

  // The simulated CloudWatch.
  const arrivals = new Map<number, number>();
  const admitted = new Map<number, number>();
  const received = new Uint8Array(pods * seconds);
  const freshness = new Freshness();
  let requests = 0;
  let throttled = 0;
  let delivered = 0;
  let duplicates = 0;
  let misplaced = 0;
  const throttle = new ThrottlingError();
  const receive = (pod: number, input: PutMetricDataInput): Promise<unknown> => {
    const now = clock.now();
    const second = Math.floor(now / 1000);
    requests++;
    arrivals.set(second, (arrivals.get(second) ?? 0) + 1);
    const inSecond = admitted.get(second) ?? 0;
    if (inSecond >= quotaTps) {
      throttled++;
      return Promise.reject(throttle);
    }
    admitted.set(second, inSecond + 1);
    if (input.MetricData.length > 1000) throw new Error('more than 1000 datums in one request');
    // Datums of one second share their Date: work per second, check per datum.
    let date: Date | undefined;
    let s = 0;
    let cell = 0;
    for (const d of input.MetricData as readonly MetricDatum[]) {
      if (d.Timestamp !== date) {
        date = d.Timestamp;
        const ts = date.getTime();
        s = (ts - t0) / 1000;
        cell = pod * seconds + s;
        freshness.add((now - ts - 1000) / 1000, 0);
      }
      if (valueOf(d) !== s + 1) misplaced++;
      if (received[cell] >= SERIES) duplicates++;
      received[cell]++;
      freshness.addAgain();
    }
    delivered += input.MetricData.length;
    return Promise.resolve({});
  };

  const sinks: CloudWatchSink[] = names.map((identity, pod) =>
    cloudWatchSink({
      identity,
      fleetSize: pods,
      quotaTps,
      headroom,
      clock,
      logger: silent,
      namespace: 'FleetBench',
      transport: (input) => receive(pod, input),
    }),
  );

  // One window per second, sealed 5 ms after the second ends, as the core does.
  for (let s = 0; s < seconds; s++) {
    await clock.runUntil(t0 + (s + 1) * 1000 + 5);
    const w: Window = { start: t0 + s * 1000, end: t0 + (s + 1) * 1000, timestamp: t0 + s * 1000, resource: { service: 'checkout', attributes: {} }, series: seriesFor(s + 1) };
    for (const sink of sinks) sink.export([w]);
  }
  // Keep pacing until everything pending has gone out (at most a couple of periods).
  let drainUntil = t0 + seconds * 1000;
  while (sinks.some((s) => s.stats().datapoints_pending > 0) && drainUntil < t0 + (seconds + 600) * 1000) {
    drainUntil += 5000;
    await clock.runUntil(drainUntil);
  }
  await Promise.all(sinks.map((s) => s.shutdown()));

  const produced = pods * seconds * SERIES;
  let complete = 0;
  for (let i = 0; i < received.length; i++) if (received[i] === SERIES) complete++;
  return {
    run: 'virtual',
    pods,
    seriesPerPod: SERIES,
    quotaTps,
    headroom,
    periodSeconds: sinks[0].pacing().basePeriodSeconds,
    simulatedSeconds: seconds,
    maxTpsObserved: Math.max(...arrivals.values()),
    maxTpsAccepted: Math.max(...admitted.values()),
    requests,
    requestsThrottled: throttled,
    datapointsProduced: produced,
    datapointsDelivered: delivered,
    datapointsLost: produced - delivered + duplicates,
    duplicates,
    everyDatapointKeptItsSecond: misplaced === 0 && duplicates === 0 && complete === received.length,
    freshnessP50Seconds: freshness.quantile(0.5),
    freshnessP99Seconds: freshness.quantile(0.99),
    freshnessMaxSeconds: freshness.quantile(1),
    wallSeconds: Math.round((performance.now() - wallStart) / 100) / 10,
  };
}

async function httpRun(): Promise<RunResult> {
  const pods = 200;
  const quotaTps = 20;
  // The default headroom: the pacer itself lengthens the period (13 s -> 24 s) where ~10 pods a second on hashed
  // phases would overload a second now and then.
  const headroom = 0.8;
  const seconds = 45;
  const wallStart = performance.now();
  const server = await startCloudWatchServer({ quotaTps });
  try {
    const names = podNames(pods, 'web', 2);
    const sinks = names.map((identity) =>
      cloudWatchSink({
        identity,
        fleetSize: pods,
        quotaTps,
        headroom,
        endpoint: server.url,
        region: 'us-east-1',
        clientConfig: { credentials: { accessKeyId: 'x', secretAccessKey: 'y' } },
        logger: silent,
        namespace: 'FleetBench',
        shutdownTimeoutMs: 10_000,
      }),
    );
    // Start on a second boundary, then one window per pod per second, 5 ms after the second ends.
    const first = Math.ceil(Date.now() / 1000) * 1000 + 1000;
    for (let s = 0; s < seconds; s++) {
      const sealAt = first + (s + 1) * 1000 + 5;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, sealAt - Date.now())));
      const start = first + s * 1000;
      for (const [pod, sink] of sinks.entries()) {
        const w: Window = { start, end: start + 1000, timestamp: start, resource: { service: 'web', attributes: {} }, series: seriesFor((s + 1) * 1000 + pod) };
        sink.export([w]);
      }
    }
    const drainDeadline = Date.now() + 120_000;
    while (sinks.some((s) => s.stats().datapoints_pending > 0) && Date.now() < drainDeadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await Promise.all(sinks.map((s) => s.shutdown()));

    const produced = pods * seconds * SERIES;
    const seen = new Uint8Array(pods * seconds);
    const freshness = new Freshness();
    let misplaced = 0;
    let duplicates = 0;
    for (const d of server.accepted) {
      const v = valueOf(d);
      const s = (d.Timestamp - first) / 1000;
      const pod = v % 1000;
      if (Math.floor(v / 1000) !== s + 1 || pod >= pods) {
        misplaced++;
        continue;
      }
      const cell = pod * seconds + s;
      if (seen[cell] >= SERIES) duplicates++;
      seen[cell]++;
      freshness.add((d.receivedAt - d.Timestamp - 1000) / 1000, 1);
    }
    let complete = 0;
    for (let i = 0; i < seen.length; i++) if (seen[i] === SERIES) complete++;
    const rejected = server.requests.filter((r) => r.status !== 200 && r.error !== 'Throttling');
    if (rejected.length > 0) throw new Error(`server rejected ${rejected.length} request(s): ${rejected[0].error}`);
    return {
      run: 'http',
      pods,
      seriesPerPod: SERIES,
      quotaTps,
      headroom,
      periodSeconds: sinks[0].pacing().basePeriodSeconds,
      simulatedSeconds: seconds,
      maxTpsObserved: server.maxTpsObserved(),
      maxTpsAccepted: server.maxTpsAccepted(),
      requests: server.requests.length,
      requestsThrottled: server.requests.filter((r) => r.error === 'Throttling').length,
      datapointsProduced: produced,
      datapointsDelivered: server.accepted.length,
      datapointsLost: produced - server.accepted.length + duplicates,
      duplicates,
      everyDatapointKeptItsSecond: misplaced === 0 && duplicates === 0 && complete === seen.length,
      freshnessP50Seconds: freshness.quantile(0.5),
      freshnessP99Seconds: freshness.quantile(0.99),
      freshnessMaxSeconds: freshness.quantile(1),
      wallSeconds: Math.round((performance.now() - wallStart) / 100) / 10,
    };
  } finally {
    await server.close();
  }
}

async function main(): Promise<void> {
  const runs: RunResult[] = [];
  for (const run of [virtualRun, httpRun]) {
    const result = await run();
    runs.push(result);
    process.stdout.write(
      `${result.run}: ${result.pods} pods x ${SERIES} series, quota ${result.quotaTps} TPS x ${result.headroom}, period ${result.periodSeconds} s: ` +
        `busiest second ${result.maxTpsObserved} requests (${result.requestsThrottled} throttled of ${result.requests}), ` +
        `${result.datapointsDelivered}/${result.datapointsProduced} datapoints, lost ${result.datapointsLost}, ` +
        `own second kept: ${result.everyDatapointKeptItsSecond}, freshness p50 ${result.freshnessP50Seconds} s p99 ${result.freshnessP99Seconds} s, ` +
        `${result.wallSeconds} s wall\n`,
    );
  }
  const summary = {
    bench: 'fleet',
    node: process.version,
    date: new Date().toISOString(),
    targetsMet: runs.every((r) => r.maxTpsObserved <= r.quotaTps && r.datapointsLost === 0 && r.everyDatapointKeptItsSecond),
    runs,
  };
  const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'fleet.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(summary, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`fleet bench failed: ${String(error instanceof Error ? error.stack : error)}\n`);
  process.exitCode = 1;
});
