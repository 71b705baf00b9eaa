/**
 * Signal to decision: how long after load steps up each path shows it, and when an HPA would first scale up.
 *
 * Five "pods" (bench/signal-service.ts, one process each: own CPU counter, own event loop) run an I/O-bound HTTP
 * service with every SDK sink attached. A real Prometheus (Debian's, scrape_interval 1s) scrapes the SDK's
 * /metrics and prom-client's process metrics, each target labelled `namespace` / `pod` as a Kubernetes scrape job
 * labels it. Trials run on the pods in turn (one every 22 s; 65 s of low load before each step on a pod, so
 * rate(...[1m]) starts from the low level): at T0 (random sub-second phase) traffic steps from 2 concurrent
 * clients with think time to 64 without, 190 SSE clients join the 10 already connected, and the pod's job queue
 * starts filling (400 in / 100 out per second); 45 s later it all steps back.
 *
 * Paths, each read as its autoscaler reads it, with the queries and selectors the CLI generates for the pod
 * (`generateManifests`, so the names are the emitted ones):
 *   promql       the prometheus triggers' PromQL, polled every 80-120 ms on Prometheus
 *   metrics-api  the metrics-api triggers' selectors on the pod's /metrics (KEDA's evaluation, test/k8s), every 40-60 ms
 *   otlp / emf / putmetricdata / putmetricdata@1000   arrival at the loopback OTLP receiver, CloudWatch-agent
 *                listener and PutMetricData endpoints (fleetSize 1 and 1,000) of the first window showing the
 *                indicator at or above its target (EMF and PutMetricData as the aws-cloudwatch trigger's statistic)
 *   cpu          rate(process_cpu_seconds_total[1m]) and [30s] on Prometheus, every 250 ms, the way a CPU target
 *                would be judged from Prometheus; its threshold is the midpoint of the measured low and high CPU
 * Targets (per pod): in-flight 20, P99 250 ms, SSE 100, queue 100.
 *
 * Detection = first reading at or above the target after T0; "path adds" = detection minus the moment the load
 * itself crossed the target in that trial (ground truth: the pod's own count of requests in progress, the load
 * generator's open SSE streams and first response slower than the P99 target, the pod's own queue length). Decision: the HPA algorithm (bench/signal-hpa.ts)
 * run on each path's readings with sync period 15 s and 10 s at a random phase per trial, 10 % tolerance, default
 * and tuned behaviours, 1 replica at T0 (and, for the replicas over time, a fleet of 10 such pods); decision =
 * first sync that raises the replicas. The push paths are
 * read as of each sync (CloudWatch ones with their trigger's metricEndTimeOffset). Not part of CI.
 *
 *   npm run bench:signal          (SIGNAL_TRIALS=10)
 *
 * Writes bench/results/signal.json and bench/results/signal.svg; the last line printed is P50/P95 per indicator
 * and path.
 */
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_BEHAVIOR, TUNED_BEHAVIOR, type Behavior } from '../src/cli/behavior.js';
import { generateManifests, type Manifest } from '../src/cli/manifests.js';
import { startCloudWatchServer, type CloudWatchServer, type ReceivedDatum } from '../test/helpers/cloudwatch-server.js';
import { decodePoints, startOtlpReceiver, type OtlpReceiver } from '../test/helpers/otlp-receiver.js';
import { prometheusAvailable, PROMETHEUS_INSTALL } from '../test/helpers/prometheus-server.js';
import { kedaPrometheusValue } from '../test/k8s/keda-prometheus.js';
import { fetchExposition, getValueFromPrometheusResponse } from '../test/k8s/metrics-api.js';
import { startLabelledPrometheus, type LabelledPrometheus } from '../test/k8s/prometheus.js';
import { SimulatedHpa, type MetricTarget } from './signal-hpa.js';
import { renderTimeline } from './signal-svg.js';
import { startEmfAgentListener as startTcpAgent } from '../test/helpers/emf-agent-listener.js';

/** SIGNAL_SMOKE=1: 2 short trials written to SIGNAL_OUT (default a temp dir), to check the harness only. */
const SMOKE = process.env.SIGNAL_SMOKE === '1';
const TRIALS = SMOKE ? 2 : Math.max(10, Number(process.env.SIGNAL_TRIALS ?? 10));
const PODS = 5;
const WARMUP_S = SMOKE ? 12 : 65;
const SPACING_S = SMOKE ? 10 : 22;
const HIGH_S = SMOKE ? 12 : 45;
const PRE_S = 3;
const LOW_CONCURRENCY = 2;
const LOW_THINK_MS = 50;
const HIGH_CONCURRENCY = 64;
const SSE_LOW = 10;
const SSE_HIGH = 200;
const TARGETS = { inflight: 20, p99Ms: 250, sse: 100, queue: 100 };
const NS = 'bench';
const ROUTE = { method: 'GET', route: '/work' };
const SYNC_PERIODS = [15, 10] as const;

type Indicator = 'inflight' | 'p99' | 'sse' | 'queue' | 'cpu1m' | 'cpu30s';
type Path = 'promql' | 'metrics-api' | 'otlp' | 'emf' | 'putmetricdata' | 'putmetricdata@1000' | 'cpu';
const LEADING: readonly Indicator[] = ['inflight', 'p99', 'sse', 'queue'];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (line = '') => process.stdout.write(`${line}\n`);
const jitter = (lo: number, hi: number) => lo + Math.random() * (hi - lo);

/** A reading: when it became visible (epoch ms) and its value. */
interface Reading {
  readonly t: number;
  readonly v: number;
}

interface PodProc {
  readonly index: number;
  readonly service: string;
  readonly podName: string;
  readonly child: ChildProcess;
  readonly httpPort: number;
  readonly metricsPort: number;
  readonly agent: http.Agent;
  concurrency: number;
  thinkMs: number;
  sse: http.ClientRequest[];
  loops: number;
  stopped: boolean;
  /** Requests the load generator has outstanding, SSE streams whose head arrived. */
  outstanding: number;
  sseOpen: number;
  /** Ground truth of the running trial: when the load itself crossed each target (epoch ms). */
  truth: Partial<Record<'inflight' | 'clientInflight' | 'p99' | 'sse' | 'queue', number>> | undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Receivers


// ---------------------------------------------------------------------------------------------------------------
// Pods and load

async function startPod(index: number, urls: { otlp: string; emf: string; cw1: string; cw1000: string }): Promise<PodProc> {
  const service = `signal-${index}`;
  const podName = `${service}-5d9c7b8f6-p${index}abc`;
  const child = fork(join(dirname(fileURLToPath(import.meta.url)), 'signal-service.ts'), [], {
    execArgv: ['--import', 'tsx'],
    env: {
      PATH: process.env.PATH,
      SERVICE: service,
      POD_NAME: podName,
      POD_NAMESPACE: NS,
      OTLP_URL: urls.otlp,
      EMF_ENDPOINT: urls.emf,
      CW1_URL: urls.cw1,
      CW1000_URL: urls.cw1000,
      QUEUE_TARGET: String(TARGETS.queue),
      INFLIGHT_TARGET: String(TARGETS.inflight),
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'bench',
      AWS_SECRET_ACCESS_KEY: 'bench',
      NODE_ENV: 'production',
    },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const ready = await new Promise<{ http: number; metrics: number }>((resolve, reject) => {
    child.once('message', (m: { ready?: { http: number; metrics: number } }) => (m.ready ? resolve(m.ready) : reject(new Error('bad hello'))));
    child.once('exit', (code) => reject(new Error(`pod ${index} exited ${code}`)));
  });
  const pod: PodProc = {
    index,
    service,
    podName,
    child,
    httpPort: ready.http,
    metricsPort: ready.metrics,
    agent: new http.Agent({ keepAlive: true, maxSockets: 256 }),
    concurrency: LOW_CONCURRENCY,
    thinkMs: LOW_THINK_MS,
    sse: [],
    loops: 0,
    stopped: false,
    outstanding: 0,
    sseOpen: 0,
    truth: undefined,
  };
  child.on('message', (m: { queueCrossed?: number; inflightCrossed?: number }) => {
    if (pod.truth === undefined) return;
    if (m.queueCrossed !== undefined) pod.truth.queue ??= m.queueCrossed;
    // The server's own count: what the SDK can see at the earliest (the client's count runs ahead under load).
    if (m.inflightCrossed !== undefined) pod.truth.inflight = m.inflightCrossed;
  });
  return pod;
}

/** Marks the moment the load itself reached a target, once per trial. */
function truth(pod: PodProc, indicator: 'inflight' | 'p99' | 'sse' | 'queue'): void {
  if (pod.truth !== undefined) pod.truth[indicator] ??= Date.now();
}

function request(pod: PodProc, path: string): Promise<void> {
  const started = Date.now();
  if (++pod.outstanding >= TARGETS.inflight && pod.truth !== undefined) pod.truth.clientInflight ??= Date.now();
  return new Promise<void>((resolve) => {
    const req = http.get({ host: '127.0.0.1', port: pod.httpPort, path, agent: pod.agent }, (res) => {
      res.resume();
      res.on('end', () => {
        // A request slower than the P99 target: the earliest moment any P99 could reach it.
        if (Date.now() - started >= TARGETS.p99Ms) truth(pod, 'p99');
        resolve();
      });
      res.on('error', () => resolve());
    });
    req.on('error', () => resolve());
  }).finally(() => pod.outstanding--);
}

/** Keeps `pod.concurrency` request loops running; each loop thinks `pod.thinkMs` between requests. */
function driveLoad(pod: PodProc): void {
  const tick = () => {
    while (!pod.stopped && pod.loops < pod.concurrency) {
      pod.loops++;
      void (async () => {
        while (!pod.stopped) {
          await request(pod, '/work');
          if (pod.thinkMs > 0) await sleep(pod.thinkMs * jitter(0.5, 1.5));
          if (pod.loops > pod.concurrency) break;
        }
        pod.loops--;
      })();
    }
  };
  const timer = setInterval(tick, 20);
  timer.unref();
  tick();
}

function setSse(pod: PodProc, n: number): void {
  while (pod.sse.length > n) pod.sse.pop()!.destroy();
  while (pod.sse.length < n) {
    const req = http.get({ host: '127.0.0.1', port: pod.httpPort, path: '/events', agent: false }, (res) => {
      res.resume();
      if (++pod.sseOpen >= TARGETS.sse) truth(pod, 'sse');
      res.on('close', () => pod.sseOpen--);
    });
    req.on('error', () => undefined);
    pod.sse.push(req);
  }
}

function setLevel(pod: PodProc, high: boolean): void {
  pod.concurrency = high ? HIGH_CONCURRENCY : LOW_CONCURRENCY;
  pod.thinkMs = high ? 0 : LOW_THINK_MS;
  setSse(pod, high ? SSE_HIGH : SSE_LOW);
  pod.child.send({ queue: high });
}

// ---------------------------------------------------------------------------------------------------------------
// What each pod's generated triggers read

interface PodQueries {
  readonly promql: Record<'inflight' | 'p99' | 'sse' | 'queue', { query: string; metricType: string }>;
  readonly selectors: Record<'inflight' | 'p99' | 'sse' | 'queue', string>;
  readonly cpu: Record<'cpu1m' | 'cpu30s', string>;
}

function triggersOf(manifests: Manifest[]): Array<Record<string, any>> {
  const so = manifests.find((m) => m.object.kind === 'ScaledObject')!.object as Record<string, any>;
  return so.spec.triggers;
}

function queriesFor(pod: PodProc): PodQueries {
  const common = {
    service: pod.service,
    namespace: NS,
    indicators: ['inflight', 'p99', 'sse', 'queue'] as const,
    targets: TARGETS,
    deployment: false,
  };
  const prom = triggersOf(generateManifests({ ...common, indicators: [...common.indicators], path: 'prometheus', routes: [ROUTE] }));
  const api = triggersOf(generateManifests({ ...common, indicators: [...common.indicators], path: 'metrics-api', routes: [ROUTE] }));
  const byName = (list: Array<Record<string, any>>, prefix: string) => list.find((t) => String(t.name).startsWith(prefix))!;
  const promql = Object.fromEntries(
    (['inflight', 'p99', 'sse', 'queue'] as const).map((i) => [i, { query: byName(prom, i).metadata.query, metricType: byName(prom, i).metricType }]),
  ) as PodQueries['promql'];
  const selectors = Object.fromEntries((['inflight', 'p99', 'sse', 'queue'] as const).map((i) => [i, byName(api, i).metadata.valueLocation])) as PodQueries['selectors'];
  const sel = `namespace="${NS}",pod="${pod.podName}"`;
  return {
    promql,
    selectors,
    cpu: { cpu1m: `rate(process_cpu_seconds_total{${sel}}[1m])`, cpu30s: `rate(process_cpu_seconds_total{${sel}}[30s])` },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Pollers for one trial

type Series = Map<string, Reading[]>; // key `${path}/${indicator}`
const key = (path: Path, indicator: Indicator) => `${path}/${indicator}`;

function push(series: Series, path: Path, indicator: Indicator, r: Reading): void {
  const k = key(path, indicator);
  let list = series.get(k);
  if (list === undefined) series.set(k, (list = []));
  list.push(r);
}

async function pollPromql(prometheus: LabelledPrometheus, q: PodQueries, series: Series, until: number): Promise<void> {
  const loop = async (indicator: Indicator, query: string, lo: number, hi: number, path: Path) => {
    while (Date.now() < until) {
      try {
        const value = kedaPrometheusValue(await prometheus.query(query));
        push(series, path, indicator, { t: Date.now(), v: value });
      } catch {
        // a failed read is a missing reading
      }
      await sleep(jitter(lo, hi));
    }
  };
  await Promise.all([
    ...(['inflight', 'p99', 'sse', 'queue'] as const).map((i) => loop(i, q.promql[i].query, 80, 120, 'promql')),
    loop('cpu1m', q.cpu.cpu1m, 200, 300, 'cpu'),
    loop('cpu30s', q.cpu.cpu30s, 200, 300, 'cpu'),
  ]);
}

async function pollMetricsApi(pod: PodProc, q: PodQueries, series: Series, until: number): Promise<void> {
  const url = `http://127.0.0.1:${pod.metricsPort}/metrics`;
  while (Date.now() < until) {
    try {
      const body = await fetchExposition(url);
      const t = Date.now();
      for (const i of ['inflight', 'p99', 'sse', 'queue'] as const) {
        try {
          push(series, 'metrics-api', i, { t, v: getValueFromPrometheusResponse(body, q.selectors[i]) });
        } catch {
          // P99 absent: no request finished in the quantile window
        }
      }
    } catch {
      // endpoint not answering: no reading
    }
    await sleep(jitter(40, 60));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Push paths: the windows that arrived, per pod, with the value each autoscaler statistic would read

interface Arrival {
  readonly at: number;
  /** The window's second (epoch ms). */
  readonly window: number;
  readonly v: number;
}

function p99FromPairs(values: readonly number[], counts: readonly number[]): number {
  const pairs = values.map((v, i) => ({ v, c: counts[i] ?? 1 })).sort((a, b) => a.v - b.v);
  const n = pairs.reduce((s, p) => s + p.c, 0);
  let seen = 0;
  return pairs.find((p) => (seen += p.c) >= Math.ceil(0.99 * n))?.v ?? NaN;
}

function p99FromExponential(h: NonNullable<ReturnType<typeof decodePoints>[number]['histogram']>): number {
  const n = h.count;
  if (!(n > 0)) return NaN;
  const rank = Math.ceil(0.99 * n);
  let seen = h.zeroCount;
  if (seen >= rank) return 0;
  const base = 2 ** (2 ** -h.scale);
  for (let i = 0; i < h.positive.bucketCounts.length; i++) {
    seen += Number(h.positive.bucketCounts[i]);
    if (seen >= rank) {
      const lower = base ** (h.positive.offset + i);
      const upper = lower * base;
      const v = (2 * lower * upper) / (lower + upper);
      return Math.min(h.max ?? Infinity, Math.max(h.min ?? 0, v));
    }
  }
  return h.max ?? NaN;
}

function otlpArrivals(receiver: OtlpReceiver, service: string): Record<string, Arrival[]> {
  const out: Record<string, Arrival[]> = { inflight: [], p99: [], sse: [], queue: [] };
  for (const r of receiver.requests) {
    for (const p of decodePoints(r.body)) {
      if (p.resource['service.name'] !== service) continue;
      const window = Number(p.startNs / 1_000_000n);
      if (p.name === 'http.server.active_requests' && p.value !== undefined) out.inflight.push({ at: r.receivedAt, window, v: p.value });
      else if (p.name === 'sse.active_connections' && p.value !== undefined) out.sse.push({ at: r.receivedAt, window, v: p.value });
      else if (p.name === 'queue.depth' && p.attributes.queue === 'jobs' && p.value !== undefined) out.queue.push({ at: r.receivedAt, window, v: p.value });
      else if (p.name === 'http.server.request.duration' && p.attributes.route === ROUTE.route && p.histogram !== undefined) {
        out.p99.push({ at: r.receivedAt, window, v: p99FromExponential(p.histogram) });
      }
    }
  }
  return out;
}

function emfArrivals(lines: ReadonlyArray<{ at: number; text: string }>, service: string): Record<string, Arrival[]> {
  const out: Record<string, Arrival[]> = { inflight: [], p99: [], sse: [], queue: [] };
  for (const { at, text } of lines) {
    const doc = JSON.parse(text) as Record<string, any>;
    if (doc.ServiceName !== service) continue;
    const window = doc._aws.Timestamp as number;
    if (typeof doc['http.server.active_requests'] === 'number') out.inflight.push({ at, window, v: doc['http.server.active_requests'] });
    if (typeof doc['sse.active_connections'] === 'number') out.sse.push({ at, window, v: doc['sse.active_connections'] });
    if (doc.queue === 'jobs' && typeof doc['queue.depth'] === 'number') out.queue.push({ at, window, v: doc['queue.depth'] });
    if (doc.route === ROUTE.route && typeof doc['http.server.request.duration.p99'] === 'number') out.p99.push({ at, window, v: doc['http.server.request.duration.p99'] });
  }
  return out;
}

function cloudWatchArrivals(server: CloudWatchServer, service: string): Record<string, Arrival[]> {
  const out: Record<string, Arrival[]> = { inflight: [], p99: [], sse: [], queue: [] };
  const dim = (d: ReceivedDatum, name: string) => d.Dimensions.find((x) => x.Name === name)?.Value;
  for (const d of server.accepted) {
    if (dim(d, 'ServiceName') !== service) continue;
    const at = d.receivedAt;
    const window = d.Timestamp;
    const last = d.StatisticValues?.Sum ?? d.Value ?? NaN; // Sum over one pod: the aws-cloudwatch trigger's statistic
    if (d.MetricName === 'http.server.active_requests') out.inflight.push({ at, window, v: last });
    else if (d.MetricName === 'sse.active_connections') out.sse.push({ at, window, v: last });
    else if (d.MetricName === 'queue.depth' && dim(d, 'queue') === 'jobs') out.queue.push({ at, window, v: d.StatisticValues?.Maximum ?? d.Value ?? NaN });
    else if (d.MetricName === 'http.server.request.duration' && dim(d, 'route') === ROUTE.route && d.Values !== undefined) {
      out.p99.push({ at, window, v: p99FromPairs(d.Values, d.Counts ?? []) });
    }
  }
  return out;
}

/** What a reader of a push path sees at each moment: the newest window (not newer than now - offset) that arrived. */
function pushReadings(arrivals: readonly Arrival[], offsetMs: number): Reading[] {
  // Readings change when a window arrives, or when an arrived window stops being too new.
  const times = [...new Set(arrivals.flatMap((a) => [a.at, Math.max(a.at, a.window + 1000 + offsetMs)]))].sort((a, b) => a - b);
  const out: Reading[] = [];
  for (const t of times) {
    let best: Arrival | undefined;
    for (const a of arrivals) if (a.at <= t && a.window + 1000 + offsetMs <= t && (best === undefined || a.window > best.window)) best = a;
    if (best !== undefined && (out.length === 0 || out[out.length - 1].v !== best.v)) out.push({ t, v: best.v });
  }
  return out;
}

/** First arrival of a window whose second started at or after T0's and whose value reaches the target. */
function firstArrivalAbove(arrivals: readonly Arrival[], t0: number, threshold: number): number | undefined {
  let first: number | undefined;
  for (const a of arrivals) if (a.window + 1000 > t0 && a.v >= threshold && (first === undefined || a.at < first)) first = a.at;
  return first;
}

// ---------------------------------------------------------------------------------------------------------------
// Statistics and decisions

function valueAt(readings: readonly Reading[], t: number): number | undefined {
  let v: number | undefined;
  for (const r of readings) {
    if (r.t > t) break;
    v = r.v;
  }
  return v;
}

function firstAbove(readings: readonly Reading[], t0: number, threshold: number): number | undefined {
  return readings.find((r) => r.t >= t0 && r.v >= threshold)?.t;
}

function pct(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil(q * s.length) - 1)];
}

interface Decision {
  /** Seconds from T0 to the first sync raising the replicas; null when none within the high phase. */
  readonly firstScaleUpS: number | null;
  /** Replicas after each sync, [seconds from T0, replicas]. */
  readonly replicas: Array<[number, number]>;
}

/**
 * `fleet` pods like the measured one: additive (AverageValue) signals are `fleet` times the pod's reading, the
 * others (P99, CPU utilisation) are the pod's; the HPA starts at `fleet` replicas.
 */
function simulate(readings: readonly Reading[], target: MetricTarget, t0: number, period: number, phase: number, behavior: Behavior, fleet = 1): Decision {
  const hpa = new SimulatedHpa({ minReplicas: 1, maxReplicas: 200, behavior }, fleet);
  const scale = target.type === 'AverageValue' ? fleet : 1;
  const replicas: Array<[number, number]> = [];
  let first: number | null = null;
  // Syncs run forever at a fixed period; `phase` places them relative to T0.
  for (let t = t0 - period + phase * 1000 + 0; t <= t0 + HIGH_S * 1000; t += period * 1000) {
    const before = hpa.replicas;
    const v = valueAt(readings, t);
    const after = hpa.sync(t / 1000, [{ target, value: v === undefined ? undefined : v * scale }]);
    if (t >= t0) {
      if (replicas.length === 0) replicas.push([0, before]);
      replicas.push([Math.round((t - t0) / 100) / 10, after]);
    }
    if (first === null && t >= t0 && after > before) first = Math.round((t - t0) / 10) / 100;
  }
  return { firstScaleUpS: first, replicas };
}

// ---------------------------------------------------------------------------------------------------------------

async function main() {
  if (!prometheusAvailable()) throw new Error(`bench:signal needs Prometheus: ${PROMETHEUS_INSTALL}`);
  const started = Date.now();
  const loadBefore = loadavg().map((l) => Math.round(l * 100) / 100);
  const otlp = await startOtlpReceiver();
  const agent = await startTcpAgent();
  const cw1 = await startCloudWatchServer();
  const cw1000 = await startCloudWatchServer();
  const urls = { otlp: otlp.url, emf: `tcp://127.0.0.1:${agent.port}`, cw1: cw1.url, cw1000: cw1000.url };
  const pods: PodProc[] = [];
  for (let i = 0; i < PODS; i++) pods.push(await startPod(i, urls));
  const queries = pods.map(queriesFor);
  const prometheus = await startLabelledPrometheus([
    { name: 'scalesignal', targets: pods.map((p) => ({ address: `127.0.0.1:${p.metricsPort}`, labels: { namespace: NS, pod: p.podName } })) },
    { name: 'process', targets: pods.map((p) => ({ address: `127.0.0.1:${p.httpPort}`, path: '/process-metrics', labels: { namespace: NS, pod: p.podName } })) },
  ]);
  log(`bench:signal: ${PODS} pods, ${TRIALS} trials, Prometheus at ${prometheus.api}; warming up ${WARMUP_S} s`);
  for (const p of pods) {
    setLevel(p, false);
    driveLoad(p);
  }

  const origin = Date.now() + WARMUP_S * 1000;
  const trials: Array<{ index: number; pod: number; t0: number; series: Series; truth: PodProc['truth'] }> = [];
  const running: Promise<void>[] = [];
  for (let k = 0; k < TRIALS; k++) {
    const pod = pods[k % PODS];
    const t0Planned = origin + k * SPACING_S * 1000 + Math.random() * 1000;
    await sleep(Math.max(0, t0Planned - PRE_S * 1000 - Date.now()));
    const series: Series = new Map();
    const trial: { index: number; pod: number; t0: number; series: Series; truth: PodProc['truth'] } = { index: k, pod: pod.index, t0: t0Planned, series, truth: undefined };
    trials.push(trial);
    const until = t0Planned + HIGH_S * 1000;
    const pollers = Promise.all([pollPromql(prometheus, queries[pod.index], series, until), pollMetricsApi(pod, queries[pod.index], series, until)]);
    await sleep(Math.max(0, t0Planned - Date.now()));
    pod.truth = {};
    trial.truth = pod.truth;
    trial.t0 = Date.now();
    setLevel(pod, true);
    log(`trial ${k + 1}/${TRIALS}: pod ${pod.index} stepped up at ${new Date(trial.t0).toISOString()}`);
    running.push(
      (async () => {
        await sleep(Math.max(0, until - Date.now()));
        pod.truth = undefined;
        setLevel(pod, false);
        await pollers;
      })(),
    );
  }
  await Promise.all(running);
  await sleep(6000); // the slowest push path (PutMetricData at 1,000 pods: every 3 s) delivers the last windows

  // CPU threshold: midpoint of the steady low (just before T0) and high (the last 10 s of the step) CPU, by [30s].
  const cpuLow: number[] = [];
  const cpuHigh: number[] = [];
  for (const tr of trials) {
    const r = tr.series.get(key('cpu', 'cpu30s')) ?? [];
    const lo = r.filter((x) => x.t < tr.t0);
    if (lo.length > 0) cpuLow.push(lo[lo.length - 1].v);
    const hi = r.filter((x) => x.t > tr.t0 + (HIGH_S - 10) * 1000);
    if (hi.length > 0) cpuHigh.push(hi.reduce((s, x) => s + x.v, 0) / hi.length);
  }
  const cpuThreshold = ((pct(cpuLow, 0.5) ?? 0) + (pct(cpuHigh, 0.5) ?? 0)) / 2;

  const thresholds: Record<Indicator, number> = {
    inflight: TARGETS.inflight,
    p99: TARGETS.p99Ms,
    sse: TARGETS.sse,
    queue: TARGETS.queue,
    cpu1m: cpuThreshold,
    cpu30s: cpuThreshold,
  };
  const hpaTarget = (i: Indicator): MetricTarget =>
    i === 'p99' ? { type: 'Value', value: TARGETS.p99Ms } : i === 'cpu1m' || i === 'cpu30s' ? { type: 'Utilization', perPodTarget: cpuThreshold } : { type: 'AverageValue', averageValue: thresholds[i] };

  // Push arrivals become readings as their readers see them (CloudWatch: the trigger's metricEndTimeOffset).
  const PUSH: ReadonlyArray<{ path: Path; arrivals: (service: string) => Record<string, Arrival[]>; offsetMs: number }> = [
    { path: 'otlp', arrivals: (s) => otlpArrivals(otlp, s), offsetMs: 0 },
    { path: 'emf', arrivals: (s) => emfArrivals(agent.lines, s), offsetMs: 2000 },
    { path: 'putmetricdata', arrivals: (s) => cloudWatchArrivals(cw1, s), offsetMs: 2000 },
    { path: 'putmetricdata@1000', arrivals: (s) => cloudWatchArrivals(cw1000, s), offsetMs: 4000 },
  ];
  const detection: Record<string, number[]> = {};
  const missed: Record<string, number> = {};
  const preStepAbove: Record<string, number> = {};
  const decisions: Record<string, number[]> = {};
  const replicasAt30: Record<string, number[]> = {};
  const perTrial: Array<Record<string, unknown>> = [];
  const note = (table: Record<string, number[]>, k: string, v: number) => (table[k] ??= []).push(v);

  const inherent: Record<string, number[]> = {};
  for (const tr of trials) {
    const pod = pods[tr.pod];
    const rows: Record<string, unknown> = { trial: tr.index, pod: pod.podName, t0: tr.t0, truth: tr.truth };
    for (const i of [...LEADING, 'clientInflight']) {
      const at = tr.truth?.[i as 'inflight'];
      if (at !== undefined) note(inherent, i, (at - tr.t0) / 1000);
    }
    // Pull readings: promql, metrics-api, cpu.
    const readings = new Map<string, Reading[]>(tr.series);
    for (const p of PUSH) {
      const arrivals = p.arrivals(pod.service);
      for (const i of LEADING) {
        const list = arrivals[i].filter((a) => a.window >= tr.t0 - PRE_S * 1000 - 1000 && a.at <= tr.t0 + (HIGH_S + 6) * 1000);
        const pushed = pushReadings(list, p.offsetMs);
        readings.set(key(p.path, i), pushed);
        const k = key(p.path, i);
        // The last window before the step already at the target: this trial measures nothing for this path.
        const lastBefore = list.filter((a) => a.window + 1000 <= tr.t0).reduce<Arrival | undefined>((x, a) => (x === undefined || a.window > x.window ? a : x), undefined);
        if (lastBefore !== undefined && lastBefore.v >= thresholds[i]) {
          preStepAbove[k] = (preStepAbove[k] ?? 0) + 1;
          rows[`${k}.detectS`] = 'above before the step';
          continue;
        }
        const first = firstArrivalAbove(list, tr.t0, thresholds[i]);
        if (first === undefined) missed[k] = (missed[k] ?? 0) + 1;
        else note(detection, k, (first - tr.t0) / 1000);
        rows[`${k}.detectS`] = first === undefined ? null : (first - tr.t0) / 1000;
      }
    }
    for (const [k, list] of tr.series) {
      const indicator = k.split('/')[1] as Indicator;
      const before = valueAt(list, tr.t0 - 1);
      if (before !== undefined && before >= thresholds[indicator]) {
        preStepAbove[k] = (preStepAbove[k] ?? 0) + 1;
        rows[`${k}.detectS`] = 'above before the step';
        continue;
      }
      const first = firstAbove(list, tr.t0, thresholds[indicator]);
      if (first === undefined) missed[k] = (missed[k] ?? 0) + 1;
      else note(detection, k, (first - tr.t0) / 1000);
      rows[`${k}.detectS`] = first === undefined ? null : (first - tr.t0) / 1000;
    }
    for (const [k, list] of readings) {
      const indicator = k.split('/')[1] as Indicator;
      if (rows[`${k}.detectS`] === 'above before the step') continue;
      for (const period of SYNC_PERIODS) {
        const phase = Math.random() * period;
        for (const [bName, behavior] of [['default', DEFAULT_BEHAVIOR], ['tuned', TUNED_BEHAVIOR]] as const) {
          const d = simulate(list, hpaTarget(indicator), tr.t0, period, phase, behavior);
          const dk = `${k}@${period}s/${bName}`;
          if (bName === 'default') note(decisions, `${k}@${period}s`, d.firstScaleUpS ?? Infinity);
          note(replicasAt30, dk, d.replicas.filter(([s]) => s <= 30).at(-1)?.[1] ?? 1);
          rows[`${dk}.firstScaleUpS`] = d.firstScaleUpS;
          rows[`${dk}.replicas`] = d.replicas;
          // The same step on a fleet of 10 such pods: where default and tuned behaviours part.
          const ten = simulate(list, hpaTarget(indicator), tr.t0, period, phase, behavior, 10);
          note(replicasAt30, `${dk}/fleet10`, ten.replicas.filter(([s]) => s <= 30).at(-1)?.[1] ?? 10);
          rows[`${dk}/fleet10.replicas`] = ten.replicas;
        }
      }
    }
    perTrial.push(rows);
  }

  type Stat = number | string | null;
  const summary: Record<string, { detect: { p50: Stat; p95: Stat; n: number; missed: number; aboveBeforeStep: number }; pipeline: { p50: Stat; p95: Stat }; decide15: { p50: Stat; p95: Stat }; decide10: { p50: Stat; p95: Stat } }> = {};
  // No decision within the high phase is reported as ">45".
  const round = (v: number | null): Stat => (v === null ? null : v === Infinity ? `>${HIGH_S}` : Math.round(v * 100) / 100);
  for (const k of [...new Set([...Object.keys(detection), ...Object.keys(missed), ...Object.keys(preStepAbove)])].sort()) {
    const d = detection[k] ?? [];
    const d15 = decisions[`${k}@15s`] ?? [];
    const d10 = decisions[`${k}@10s`] ?? [];
    // Detection minus the moment the load itself crossed the target (per trial): what the path adds.
    const indicator = k.split('/')[1];
    const pipeline: number[] = [];
    for (const row of perTrial) {
      const detect = row[`${k}.detectS`] as number | null | undefined;
      const truthAt = (row.truth as Record<string, number> | undefined)?.[indicator];
      if (typeof detect === 'number' && truthAt !== undefined) pipeline.push(detect - (truthAt - (row.t0 as number)) / 1000);
    }
    summary[k] = {
      detect: { p50: round(pct(d, 0.5)), p95: round(pct(d, 0.95)), n: d.length, missed: missed[k] ?? 0, aboveBeforeStep: preStepAbove[k] ?? 0 },
      pipeline: { p50: round(pct(pipeline, 0.5)), p95: round(pct(pipeline, 0.95)) },
      decide15: { p50: round(pct(d15, 0.5)), p95: round(pct(d15, 0.95)) },
      decide10: { p50: round(pct(d10, 0.5)), p95: round(pct(d10, 0.95)) },
    };
  }
  const inherentSummary = Object.fromEntries(Object.entries(inherent).map(([i, v]) => [i, { p50: round(pct(v, 0.5)), p95: round(pct(v, 0.95)), n: v.length }]));
  const replicas: Record<string, number | null> = {};
  for (const [k, v] of Object.entries(replicasAt30)) replicas[k] = pct(v, 0.5);

  // Timeline chart: the median trial by promql in-flight detection.
  const inflightDetect = (i: number) => {
    const v = perTrial[i]['promql/inflight.detectS'];
    return typeof v === 'number' ? v : 99;
  };
  // The chart shows a clean trial (no signal above its target before the step) when there is one.
  const clean = trials.filter((t) => !Object.values(perTrial[t.index]).includes('above before the step'));
  const byInflight = [...(clean.length > 0 ? clean : trials)].sort((a, b) => inflightDetect(a.index) - inflightDetect(b.index));
  const shown = byInflight[Math.floor(byInflight.length / 2)];
  const shownRows = perTrial[shown.index];
  const shownReadings = new Map<string, Reading[]>(shown.series);
  for (const p of PUSH) {
    const arrivals = p.arrivals(pods[shown.pod].service);
    for (const i of LEADING) shownReadings.set(key(p.path, i), pushReadings(arrivals[i], p.offsetMs));
  }
  const svg = renderTimeline({
    t0: shown.t0,
    fromS: -PRE_S,
    toS: HIGH_S,
    lines: [
      ['metrics-api/inflight', '#1b9e77'],
      ['promql/inflight', '#d95f02'],
      ['promql/p99', '#7570b3'],
      ['metrics-api/queue', '#e7298a'],
      ['putmetricdata@1000/inflight', '#66a61e'],
      ['cpu/cpu30s', '#a6761d'],
      ['cpu/cpu1m', '#666666'],
    ].map(([k, color]) => ({ label: k, color, points: (shownReadings.get(k) ?? []).map((r) => [(r.t - shown.t0) / 1000, r.v / thresholds[k.split('/')[1] as Indicator]] as [number, number]) })),
    decisions: [
      ['metrics-api/inflight@15s/tuned', '#1b9e77'],
      ['promql/inflight@15s/tuned', '#d95f02'],
      ['cpu/cpu1m@15s/tuned', '#666666'],
      ['cpu/cpu30s@15s/tuned', '#a6761d'],
    ].map(([k, color]) => ({ label: k, color, replicas: (shownRows[`${k}.replicas`] as Array<[number, number]>) ?? [] })),
    title: `signal-to-decision, trial ${shown.index + 1} (median promql in-flight detection): value / target, HPA replicas at sync 15 s (tuned)`,
  });

  const here = dirname(fileURLToPath(import.meta.url));
  const out = process.env.SIGNAL_OUT ?? (SMOKE ? join(tmpdir(), 'scalesignal-signal-smoke') : join(here, 'results'));
  mkdirSync(out, { recursive: true });
  const result = {
    bench: 'signal',
    when: new Date(started).toISOString(),
    durationS: Math.round((Date.now() - started) / 1000),
    node: process.version,
    loadBefore,
    loadAfter: loadavg().map((l) => Math.round(l * 100) / 100),
    setup: {
      pods: PODS,
      trials: TRIALS,
      scrapeInterval: '1s',
      lowConcurrency: LOW_CONCURRENCY,
      lowThinkMs: LOW_THINK_MS,
      highConcurrency: HIGH_CONCURRENCY,
      sse: [SSE_LOW, SSE_HIGH],
      queue: '400 in / 100 out per s from T0',
      targets: TARGETS,
      cpuThresholdCores: Math.round(cpuThreshold * 1000) / 1000,
      cpuLowCores: pct(cpuLow, 0.5),
      cpuHighCores: pct(cpuHigh, 0.5),
      syncPeriods: SYNC_PERIODS,
      tolerance: 0.1,
      behaviors: { default: DEFAULT_BEHAVIOR, tuned: TUNED_BEHAVIOR },
      queries: queries[0],
    },
    inherent: inherentSummary,
    summary,
    replicasAt30sP50: replicas,
    preStepAbove,
    trials: perTrial,
  };
  writeFileSync(join(out, 'signal.json'), `${JSON.stringify(result, null, 1)}\n`);
  writeFileSync(join(out, 'signal.svg'), svg);

  for (const p of pods) {
    p.stopped = true;
    setSse(p, 0);
    p.agent.destroy();
    p.child.send({ exit: true });
  }
  await Promise.all(pods.map((p) => new Promise((r) => (p.child.exitCode !== null ? r(null) : p.child.once('exit', r)))));
  await prometheus.stop();
  await otlp.close();
  await agent.stop();
  await cw1.close();
  await cw1000.close();

  const f = (v: Stat) => (v === null ? '    -' : typeof v === 'string' ? v.padStart(5) : v.toFixed(2).padStart(5));
  log('');
  log(`the load itself reached the targets (s after the step, P50 / P95): ${Object.entries(inherentSummary).map(([i, v]) => `${i} ${f(v.p50).trim()} / ${f(v.p95).trim()}`).join(', ')}`);
  log('indicator/path                   detect P50   P95   path adds P50  P95   decide@15s P50  P95   decide@10s P50  P95   (n, missed, above before the step)');
  for (const [k, s] of Object.entries(summary)) {
    log(`${k.padEnd(32)} ${f(s.detect.p50)}  ${f(s.detect.p95)}      ${f(s.pipeline.p50)}  ${f(s.pipeline.p95)}      ${f(s.decide15.p50)}  ${f(s.decide15.p95)}      ${f(s.decide10.p50)}  ${f(s.decide10.p95)}   (${s.detect.n}, ${s.detect.missed}, ${s.detect.aboveBeforeStep})`);
  }
  log(`replicas 30 s after the step (P50), fleet of 10, sync 15 s, default -> tuned: ${['metrics-api/inflight', 'promql/inflight', 'metrics-api/p99', 'cpu/cpu30s', 'cpu/cpu1m'].map((k) => `${k} ${replicas[`${k}@15s/default/fleet10`]} -> ${replicas[`${k}@15s/tuned/fleet10`]}`).join(', ')}`);
  const last: Record<string, string> = {};
  for (const [k, s] of Object.entries(summary)) last[k] = `${s.detect.p50 ?? '-'}/${s.detect.p95 ?? '-'}`;
  log(JSON.stringify({ bench: 'signal', unit: 's', metric: 'detect P50/P95 after the step', cpuThresholdCores: result.setup.cpuThresholdCores, ...last }));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
