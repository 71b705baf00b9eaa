/**
 * Record-to-backend latency of every sink: the figure an autoscaler cares about. From the moment a value is
 * recorded (`counter.add(1)`, at a random point inside a wall-clock second, as traffic does) until the backend
 * holds it:
 *   - prometheus        `prometheusSink({ port: 0, host: '127.0.0.1' })` scraped by a REAL Prometheus
 *                       (/usr/bin/prometheus, scrape_interval 1s, scrape_timeout 900ms, as test/e2e): record ->
 *                       first `/api/v1/query` answer (polled every 50-70 ms) showing the new counter total. Prometheus
 *                       scrapes each target at a fixed offset inside its interval (hashed from the target), so one
 *                       target would measure one arbitrary phase: the bench runs PROM_TARGETS sinks (default 8, as 8
 *                       pods would be) and pools their samples (n = records x targets); each scrape phase is printed.
 *   - prometheus /metrics  record -> the sink's own /metrics (polled every 15-25 ms) showing it: scrape-side freshness.
 *                       Poll periods are jittered so the polls do not lock to a fixed phase of the second.
 *   - otlp              `otlpSink` -> loopback OTLP/HTTP receiver (test/helpers/otlp-receiver.ts): record -> the
 *                       request carrying the window's data point received.
 *   - emf               `emfSink` -> loopback CloudWatch-agent TCP listener (newline-delimited EMF, as
 *                       test/sinks/emf-agent.test.ts): record -> the window's document received.
 *   - cloudwatch        `cloudWatchSink` through the official `@aws-sdk/client-cloudwatch` (SigV4, AWS JSON 1.0) ->
 *                       loopback PutMetricData server (test/helpers/cloudwatch-server.ts), fleetSize 1: record ->
 *                       request with the window's datum received. `cloudwatch@5s`: the same sink with fleetSize 2000
 *                       (500 TPS quota x 0.8 headroom -> one request every 5 s), to show what pacing adds.
 *   - console           `consoleSink({ write })`: record -> the window's table written.
 * CloudWatch (PutMetricData), the CloudWatch agent and the ADOT collector cannot run here: they are loopback
 * emulations speaking the real wire protocols; the network hop to AWS (typically 5-50 ms in-Region) is not in
 * these numbers. Prometheus is the real server.
 *
 * All sinks hang off ONE `createMetrics` (as a service configured with several sinks would), so every record is
 * measured by every sink at once; they do not wait for each other (each has its own dispatcher queue). Records are
 * one per sample, at stratified random offsets inside a second, with an idle second between samples so each sample
 * has its own window. Each sample is split into
 *   record -> window end      inherent: the window must close (uniform 0..1 s for a random record),
 *   window end -> backend     what scalesignal + the sink's client add (timer, seal, dispatch, encode, send; for
 *                             Prometheus the wait for the next scrape and the query poll; for CloudWatch the pod's
 *                             send offset inside the second and, when paced, the wait for its send second),
 * and, as a detail, window end -> `export()` called (the core's timer + seal + dispatch share).
 * The window a record landed in is read from the sealed windows themselves (an observer sink), not assumed.
 * Windows sealed more than 100 ms after their end are counted and the samples they hold flagged ("lateSeals"): a
 * late seal delays every sink alike, so it is the core's timer, not a sink (the load average is recorded too).
 * Percentiles are nearest-rank over the samples. Timestamps are Date.now() in this process (ms).
 *
 * Not part of CI. Needs /usr/bin/prometheus for the Prometheus row (`bash scripts/provision-e2e.sh` as root
 * installs it); without it that row is skipped with a message and the rest still runs.
 *
 *   npm run bench:latency      (node --import tsx bench/latency.ts; LATENCY_SAMPLES=20, PROM_TARGETS=8)
 *
 * Writes bench/results/latency.json; the last line printed is the summary JSON.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cloudWatchSink, consoleSink, createMetrics, emfSink, otlpSink, prometheusSink, type CloudWatchSink, type PrometheusSink, type Sink, type Window } from '../src/index.js';
import { offsetOf } from '../src/sinks/cloudwatch/identity.js';
import { startCloudWatchServer, type CloudWatchServer } from '../test/helpers/cloudwatch-server.js';
import { decodePoints, msToNs, startOtlpReceiver } from '../test/helpers/otlp-receiver.js';
import { findSamples, parseExposition } from '../test/helpers/exposition.js';
import { PROMETHEUS, prometheusAvailable, startPrometheus, type PrometheusServer } from '../test/helpers/prometheus-server.js';
import { startEmfAgentListener as startTcpAgent } from '../test/helpers/emf-agent-listener.js';

const SAMPLES = Math.max(3, Number(process.env.LATENCY_SAMPLES ?? 20));
const PROM_TARGETS = Math.max(1, Number(process.env.PROM_TARGETS ?? 8));
/** Poll periods, uniform in [min, max] ms: a fixed period dividing 1000 would lock to one phase of the second. */
const QUERY_POLL_MS: readonly [number, number] = [50, 70];
const METRICS_POLL_MS: readonly [number, number] = [15, 25];
/** After the last record, how long every backend gets to show it. */
const TAIL_TIMEOUT_MS = 20_000;
const PROBE = 'bench.latency.probe';
const PROM_NAME = 'bench_latency_probe_total';
const IDENTITY = 'latency-bench-0';
const PACED_FLEET = 2000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (line = '') => process.stdout.write(`${line}\n`);

// ---------------------------------------------------------------------------------------------------------------
// Backends and sinks


/** Notes when the dispatcher hands each window to the sink, then delegates. */
function timed(sink: Sink, handedAt: Map<number, number>): Sink {
  return {
    name: sink.name,
    ...(sink.timeoutMs !== undefined ? { timeoutMs: sink.timeoutMs } : {}),
    ...(sink.maxBacklog !== undefined ? { maxBacklog: sink.maxBacklog } : {}),
    ...(sink.stats !== undefined ? { stats: () => sink.stats!() } : {}),
    ...(sink.shutdown !== undefined ? { shutdown: () => sink.shutdown!() } : {}),
    export(windows) {
      const at = Date.now();
      for (const w of windows) if (!handedAt.has(w.end)) handedAt.set(w.end, at);
      return sink.export(windows);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Statistics

interface Stats {
  p50: number;
  p90: number;
  max: number;
}
function stats(values: readonly number[]): Stats | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const rank = (q: number) => s[Math.max(0, Math.ceil(q * s.length) - 1)];
  return { p50: rank(0.5), p90: rank(0.9), max: s[s.length - 1] };
}

interface SampleResult {
  recordedAt: number;
  windowStart: number;
  windowEnd: number;
  exportAt?: number;
  backendAt?: number;
  target?: string;
}

interface SinkSummary {
  samples: number;
  missing: number;
  recordToBackendMs: Stats | null;
  recordToWindowEndMs: Stats | null;
  windowEndToBackendMs: Stats | null;
  windowEndToExportMs: Stats | null;
  note?: string;
}

function summarize(results: readonly SampleResult[], note?: string): SinkSummary {
  const done = results.filter((r) => r.backendAt !== undefined);
  return {
    samples: done.length,
    missing: results.length - done.length,
    recordToBackendMs: stats(done.map((r) => r.backendAt! - r.recordedAt)),
    recordToWindowEndMs: stats(done.map((r) => r.windowEnd - r.recordedAt)),
    windowEndToBackendMs: stats(done.map((r) => r.backendAt! - r.windowEnd)),
    windowEndToExportMs: stats(done.filter((r) => r.exportAt !== undefined).map((r) => r.exportAt! - r.windowEnd)),
    ...(note !== undefined ? { note } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------------------

async function main() {
  const started = Date.now();
  const loadBefore = loadavg().map((l) => Math.round(l * 100) / 100);
  const promAvailable = prometheusAvailable();
  const notices: string[] = [];
  const logger = {
    warn: (m: string) => notices.push(`warn: ${m}`),
    info: (m: string) => notices.push(m),
  };

  // Backends.
  const otlpReceiver = await startOtlpReceiver();
  const agent = await startTcpAgent();
  const cwServer = await startCloudWatchServer();
  const cwPacedServer = await startCloudWatchServer();

  // Sinks, each wrapped to note when it was handed each window.
  const handed = new Map<string, Map<number, number>>();
  const wrap = (sink: Sink) => {
    const m = new Map<number, number>();
    handed.set(sink.name, m);
    return timed(sink, m);
  };
  const promSinks: PrometheusSink[] = Array.from({ length: PROM_TARGETS }, (_, i) =>
    prometheusSink({ port: 0, host: '127.0.0.1', name: i === 0 ? 'prometheus' : `prometheus-${i}` }),
  );
  const cw: CloudWatchSink = cloudWatchSink({
    endpoint: cwServer.url,
    region: 'us-east-1',
    clientConfig: { credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } },
    fleetSize: 1,
    identity: IDENTITY,
    logger,
  });
  const cwPaced: CloudWatchSink = cloudWatchSink({
    name: 'cloudwatch@5s',
    endpoint: cwPacedServer.url,
    region: 'us-east-1',
    clientConfig: { credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } },
    fleetSize: PACED_FLEET,
    identity: IDENTITY,
    logger,
  });
  const consoleWrites: Array<{ at: number; text: string }> = [];
  const sealed: Array<{ window: Window; at: number }> = [];
  const observer: Sink = {
    name: 'sealed-at',
    export(windows) {
      const at = Date.now();
      for (const window of windows) sealed.push({ window, at });
    },
  };
  const sinks: Sink[] = [
    observer,
    ...promSinks.map(wrap),
    wrap(otlpSink({ url: otlpReceiver.url })),
    wrap(emfSink({ agentEndpoint: `tcp://127.0.0.1:${agent.port}` }, {})),
    wrap(cw),
    wrap(cwPaced),
    wrap(consoleSink({ write: (text) => consoleWrites.push({ at: Date.now(), text }) })),
  ];
  const metrics = createMetrics({ service: 'latency-bench', sinks, logger });
  // Bound: the series exists (total 0) from now on, so every backend has seen it before the first sample.
  const probe = metrics.counter(PROBE, { unit: '{request}', description: 'latency probe' }).bind();
  await Promise.all(promSinks.map((s) => s.ready));
  const targets = promSinks.map((s) => `127.0.0.1:${s.port}`);

  // Real Prometheus, scraping every second.
  let prometheus: PrometheusServer | undefined;
  let promVersion = '';
  if (promAvailable) {
    try {
      promVersion = execFileSync(PROMETHEUS, ['--version'], { encoding: 'utf8' }).split('\n')[0];
    } catch {
      // informational only
    }
    log(`starting ${PROMETHEUS} (${promVersion || 'version unknown'}) scraping ${PROM_TARGETS} sink(s) every 1s ...`);
    prometheus = await startPrometheus({ targets, job: 'latency' });
  } else {
    log(`prometheus: SKIPPED (PromQL row) — ${PROMETHEUS} is missing; \`bash scripts/provision-e2e.sh\` as root installs it. The sink's own /metrics is still measured.`);
  }

  // Pollers: record (time the answer arrived, total) for PromQL per target, and for the first sink's /metrics.
  const promSeen = new Map<string, Array<{ at: number; total: number }>>(targets.map((t) => [t, []]));
  const scrapeTs = new Map<string, Array<{ total: number; ts: number }>>(targets.map((t) => [t, []]));
  const metricsSeen: Array<{ at: number; total: number }> = [];
  let polling = true;
  let pollErrors = 0;
  const pollers: Promise<void>[] = [];
  const jittered = async ([min, max]: readonly [number, number], fn: () => Promise<void>) => {
    let next = Date.now();
    while (polling) {
      try {
        await fn();
      } catch {
        pollErrors++;
      }
      next = Math.max(next + min + Math.random() * (max - min), Date.now());
      await sleep(next - Date.now());
    }
  };
  if (prometheus !== undefined) {
    const p = prometheus;
    pollers.push(
      jittered(QUERY_POLL_MS, async () => {
        const result = await p.queryRaw(`${PROM_NAME}{job="latency"}`);
        const at = Date.now();
        let changed = false;
        for (const r of result) {
          const seen = promSeen.get(r.metric.instance);
          const total = Number(r.value[1]);
          if (seen === undefined) continue;
          if (seen.length === 0 || seen[seen.length - 1].total !== total) {
            seen.push({ at, total });
            changed = true;
          }
        }
        if (changed) {
          // The scrape that brought the new total: its sample timestamp (the scrape's start).
          for (const r of await p.queryRaw(`timestamp(${PROM_NAME}{job="latency"})`)) {
            const list = scrapeTs.get(r.metric.instance);
            const total = promSeen.get(r.metric.instance)?.at(-1)?.total;
            if (list !== undefined && total !== undefined && (list.length === 0 || list[list.length - 1].total !== total)) {
              list.push({ total, ts: Math.round(Number(r.value[1]) * 1000) });
            }
          }
        }
      }),
    );
  }
  const metricsUrl = promSinks[0].url!;
  pollers.push(
    jittered(METRICS_POLL_MS, async () => {
      const text = await (await fetch(metricsUrl)).text();
      const at = Date.now();
      const [sample] = findSamples(parseExposition(text), PROM_NAME);
      if (sample !== undefined && (metricsSeen.length === 0 || metricsSeen[metricsSeen.length - 1].total !== sample.value)) {
        metricsSeen.push({ at, total: sample.value });
      }
    }),
  );

  // Warm-up: connections, the SDK client and the OTLP exporter are up, and every backend shows the probe at 0.
  const warmDeadline = Date.now() + 15_000;
  while (Date.now() < warmDeadline) {
    const promReady = prometheus === undefined || targets.every((t) => (promSeen.get(t)?.length ?? 0) > 0);
    if (promReady && metricsSeen.length > 0 && cwServer.accepted.length > 0 && otlpReceiver.requests.length > 0 && agent.lines.length > 0) break;
    await sleep(100);
  }
  await sleep(2000);

  // Samples: stratified random offsets inside the second, shuffled; an idle second between samples.
  const offsets = Array.from({ length: SAMPLES }, (_, i) => ((i + Math.random()) / SAMPLES) * 1000);
  for (let i = offsets.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [offsets[i], offsets[j]] = [offsets[j], offsets[i]];
  }
  log(`recording ${SAMPLES} samples (one every ~2.5 s) ...`);
  const recordedAt: number[] = [];
  let lastSecond = Math.floor(Date.now() / 1000);
  for (let k = 0; k < SAMPLES; k++) {
    const second = Math.max(Math.floor(Date.now() / 1000) + 1, lastSecond + 2);
    const target = second * 1000 + offsets[k];
    await sleep(Math.max(0, target - Date.now()));
    const at = Date.now();
    probe.add(1);
    recordedAt.push(at);
    lastSecond = Math.floor(at / 1000);
  }

  // The window each sample landed in, read from the sealed windows: the first whose total reached k.
  const windowOf = (k: number) =>
    sealed.find((s) => s.window.series.some((x) => x.name === PROBE && x.total >= k))?.window;

  // Arrival lookups per backend (k = 1-based sample number = counter total after it).
  const firstTotal = (seen: ReadonlyArray<{ at: number; total: number }>, k: number) => seen.find((s) => s.total >= k)?.at;
  const otlpArrival = (w: Window) => {
    const end = msToNs(w.end);
    return otlpReceiver.requests.find((r) => decodePoints(r.body).some((p) => p.name === PROBE && p.timeNs === end))?.receivedAt;
  };
  const emfArrival = (w: Window) =>
    agent.lines.find((l) => {
      const doc = JSON.parse(l.text) as { _aws: { Timestamp: number }; [k: string]: unknown };
      return doc._aws.Timestamp === w.start && PROBE in doc;
    })?.at;
  const cwArrival = (server: CloudWatchServer) => (w: Window) =>
    server.accepted.find((d) => d.MetricName === PROBE && d.Timestamp === w.start)?.receivedAt;
  const hhmmss = (ms: number) => new Date(ms).toISOString().slice(11, 19);
  const consoleArrival = (w: Window) =>
    consoleWrites.find((c) => c.text.startsWith(`── ${hhmmss(w.start)} `) && c.text.includes(PROBE))?.at;

  const pushBackends: Array<{ name: string; sink: string; arrival: (w: Window) => number | undefined }> = [
    { name: 'otlp', sink: 'otlp', arrival: otlpArrival },
    { name: 'emf', sink: 'emf', arrival: emfArrival },
    { name: 'cloudwatch', sink: 'cloudwatch', arrival: cwArrival(cwServer) },
    { name: 'cloudwatch@5s', sink: 'cloudwatch@5s', arrival: cwArrival(cwPacedServer) },
    { name: 'console', sink: 'console', arrival: consoleArrival },
  ];

  // Wait until every backend shows the last sample (or the tail timeout).
  const tailDeadline = Date.now() + TAIL_TIMEOUT_MS;
  for (;;) {
    const w = windowOf(SAMPLES);
    const pushDone = w !== undefined && pushBackends.every((b) => b.arrival(w) !== undefined);
    const promDone = prometheus === undefined || targets.every((t) => firstTotal(promSeen.get(t)!, SAMPLES) !== undefined);
    if ((pushDone && promDone && firstTotal(metricsSeen, SAMPLES) !== undefined) || Date.now() > tailDeadline) break;
    await sleep(100);
  }
  polling = false;
  await Promise.all(pollers);

  // Per-sample results.
  const base = (k: number): SampleResult | undefined => {
    const w = windowOf(k);
    return w === undefined ? undefined : { recordedAt: recordedAt[k - 1], windowStart: w.start, windowEnd: w.end };
  };
  const results: Record<string, SampleResult[]> = {};
  const samplesOf = (fill: (k: number, r: SampleResult) => SampleResult[]) => {
    const out: SampleResult[] = [];
    for (let k = 1; k <= SAMPLES; k++) {
      const r = base(k);
      if (r === undefined) throw new Error(`sample ${k}: no sealed window holds it`);
      out.push(...fill(k, r));
    }
    return out;
  };
  const promHanded = (t: string) => handed.get(promSinks[targets.indexOf(t)].name)!;
  if (prometheus !== undefined) {
    results.prometheus = samplesOf((k, r) =>
      targets.map((t) => ({ ...r, target: t, exportAt: promHanded(t).get(r.windowEnd), backendAt: firstTotal(promSeen.get(t)!, k) })),
    );
  }
  results['prometheus /metrics'] = samplesOf((k, r) => [
    { ...r, exportAt: promHanded(targets[0]).get(r.windowEnd), backendAt: firstTotal(metricsSeen, k) },
  ]);
  for (const b of pushBackends) {
    results[b.name] = samplesOf((k, r) => {
      const w = windowOf(k)!;
      return [{ ...r, exportAt: handed.get(b.sink)!.get(r.windowEnd), backendAt: b.arrival(w) }];
    });
  }

  // Prometheus: each target's scrape phase (ms after the second) and window end -> scrape.
  const scrapePhase: Record<string, number> = {};
  const endToScrape: number[] = [];
  if (prometheus !== undefined) {
    for (const t of targets) {
      const list = scrapeTs.get(t)!;
      if (list.length > 0) scrapePhase[t] = list[list.length - 1].ts % 1000;
      for (let k = 1; k <= SAMPLES; k++) {
        const r = base(k)!;
        const hit = list.find((s) => s.total >= k);
        if (hit !== undefined) endToScrape.push(hit.ts - r.windowEnd);
      }
    }
  }

  // Shut down: flush every sink, stop the backends.
  await metrics.shutdown();
  await prometheus?.stop();
  await Promise.all([otlpReceiver.close(), agent.stop(), cwServer.close(), cwPacedServer.close()]);

  // Sanity: a sample's window is the second it was recorded in (or, within the timer's lag, the one before).
  const windowMismatch = Array.from({ length: SAMPLES }, (_, i) => base(i + 1)!).filter(
    (r) => r.windowEnd !== Math.floor(r.recordedAt / 1000) * 1000 + 1000,
  ).length;

  // Late seals during the sampling phase: the window timer, not any sink, held these windows back.
  const firstEnd = base(1)!.windowEnd - 1000;
  const lastEnd = base(SAMPLES)!.windowEnd;
  const lateSeals = sealed
    .filter((s) => s.window.end >= firstEnd && s.window.end <= lastEnd && s.at - s.window.end > 100)
    .map((s) => ({ windowEnd: new Date(s.window.end).toISOString(), sealedAfterMs: s.at - s.window.end }));
  const lateSamples = Array.from({ length: SAMPLES }, (_, i) => i + 1).filter((k) => {
    const r = base(k)!;
    const seal = sealed.find((s) => s.window.end === r.windowEnd);
    return seal !== undefined && seal.at - r.windowEnd > 100;
  });
  const loadAfter = loadavg().map((l) => Math.round(l * 100) / 100);

  const pacing = { cloudwatch: cw.pacing(), 'cloudwatch@5s': cwPaced.pacing() };
  const notes: Record<string, string> = {
    prometheus: `real Prometheus${promVersion ? ` (${promVersion.replace(/^prometheus, /, '')})` : ''}, 1 s scrapes, ${PROM_TARGETS} targets (scrape phases ${Object.values(scrapePhase).map((p) => `${p} ms`).join(', ')} after the second), PromQL polled every ${QUERY_POLL_MS.join('-')} ms; window end -> scrape p50 ${stats(endToScrape)?.p50 ?? '-'} ms`,
    'prometheus /metrics': `the sink's own endpoint, polled every ${METRICS_POLL_MS.join('-')} ms`,
    otlp: 'loopback OTLP/HTTP JSON receiver (ADOT emulation)',
    emf: 'loopback CloudWatch-agent TCP listener (EMF over TCP)',
    cloudwatch: `official SDK -> loopback PutMetricData server; fleetSize 1: period ${pacing.cloudwatch.periodSeconds} s, send offset ${offsetOf(IDENTITY)} ms into the second (100..500 ms by pod name)`,
    'cloudwatch@5s': `as cloudwatch with fleetSize ${PACED_FLEET}: one request every ${pacing['cloudwatch@5s'].periodSeconds} s (second ${pacing['cloudwatch@5s'].phaseSecond} of the period)`,
    console: 'consoleSink with a custom write()',
  };
  const summary: Record<string, SinkSummary | { skipped: string }> = {};
  if (prometheus === undefined) summary.prometheus = { skipped: `${PROMETHEUS} missing (bash scripts/provision-e2e.sh installs it)` };
  for (const [name, list] of Object.entries(results)) summary[name] = summarize(list, notes[name]);

  // Table.
  const f = (s: Stats | null) => (s === null ? '-' : `${s.p50} / ${s.p90} / ${s.max}`);
  const rows = [['sink', 'n', 'record->backend ms', 'record->window end', 'window end->backend', 'end->export()']];
  for (const [name, s] of Object.entries(summary)) {
    if ('skipped' in s) {
      rows.push([name, '0', `skipped: ${s.skipped}`, '', '', '']);
      continue;
    }
    rows.push([
      name,
      `${s.samples}${s.missing > 0 ? ` (${s.missing} missing)` : ''}`,
      f(s.recordToBackendMs),
      f(s.recordToWindowEndMs),
      f(s.windowEndToBackendMs),
      s.windowEndToExportMs === null ? '-' : `${s.windowEndToExportMs.p50} / ${s.windowEndToExportMs.max}`,
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  log();
  log(`record-to-backend latency, ${SAMPLES} records (p50 / p90 / max, ms; end->export(): p50 / max)`);
  for (const [i, r] of rows.entries()) {
    log(r.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '));
    if (i === 0) log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  log();
  for (const [name, note] of Object.entries(notes)) if (name in summary) log(`${name}: ${note}`);
  for (const n of notices) log(`sink notice: ${n}`);
  log(`load average before / after: ${loadBefore.join(' ')} / ${loadAfter.join(' ')} (${process.version})`);
  if (windowMismatch > 0) log(`${windowMismatch} sample(s) landed in the window of the second before the one they were recorded in (the window timer had not fired yet)`);
  if (lateSeals.length > 0) {
    log(
      `LATE SEALS: ${lateSeals.length} window(s) sealed ${lateSeals.map((l) => l.sealedAfterMs).join(', ')} ms after their end; samples ${lateSamples.join(', ') || 'none'} ` +
        'were in them (included above: every sink is delayed alike)',
    );
  }
  if (pollErrors > 0) log(`${pollErrors} poll error(s)`);

  const compact: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(summary)) {
    compact[name] =
      'skipped' in s
        ? s
        : {
            n: s.samples,
            missing: s.missing,
            recordToBackendMs: s.recordToBackendMs,
            recordToWindowEndMs: s.recordToWindowEndMs,
            windowEndToBackendMs: s.windowEndToBackendMs,
          };
  }
  const out = {
    bench: 'latency',
    date: new Date().toISOString(),
    node: process.version,
    prometheus: promVersion || null,
    samples: SAMPLES,
    prometheusTargets: PROM_TARGETS,
    durationSeconds: Math.round((Date.now() - started) / 1000),
    method:
      'record (counter.add at stratified random ms inside a second) -> backend has it; window from the sealed windows; nearest-rank percentiles; CloudWatch PutMetricData, CloudWatch agent and ADOT are loopback emulations of the real wire protocols; Prometheus is real',
    summary,
    samplesInEarlierWindow: windowMismatch,
    lateSeals,
    samplesInLateSealedWindows: lateSamples,
    loadAverage: { before: loadBefore, after: loadAfter },
    prometheusScrapePhaseMs: scrapePhase,
    prometheusWindowEndToScrapeMs: stats(endToScrape),
    cloudwatchPacing: pacing,
    raw: Object.fromEntries(
      Object.entries(results).map(([name, list]) => [
        name,
        list.map((r) => ({
          recordToWindowEnd: r.windowEnd - r.recordedAt,
          windowEndToExport: r.exportAt === undefined ? null : r.exportAt - r.windowEnd,
          windowEndToBackend: r.backendAt === undefined ? null : r.backendAt - r.windowEnd,
          ...(r.target !== undefined ? { target: r.target } : {}),
        })),
      ]),
    ),
  };
  const file = join(dirname(fileURLToPath(import.meta.url)), 'results', 'latency.json');
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  log(`wrote ${file} (${out.durationSeconds} s)`);
  log(JSON.stringify({ bench: 'latency', samples: SAMPLES, lateSeals: lateSeals.length, sinks: compact }));
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
