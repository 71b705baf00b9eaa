/**
 * A real Prometheus (Debian's /usr/bin/prometheus) scraping pods the way a Kubernetes scrape job labels them:
 * each target carries `namespace` and `pod` (what both the annotation-based `kubernetes-pods` job and a
 * PodMonitor attach), so the generated PromQL with its `namespace` / `pod` matchers runs unchanged. Several jobs,
 * loopback only, free ports, a temporary TSDB removed on stop. The shared helper
 * (test/helpers/prometheus-server.ts) has no target labels, hence this one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, PROMETHEUS } from '../helpers/prometheus-server.js';

export interface PodTarget {
  /** `host:port` of the pod's /metrics. */
  readonly address: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Default `/metrics`. */
  readonly path?: string;
}

export interface ScrapeJob {
  readonly name: string;
  readonly targets: readonly PodTarget[];
}

export interface InstantResult {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

export interface LabelledPrometheus {
  readonly api: string;
  log(): string;
  /** Instant query at now, or at `time` (epoch seconds). */
  query(promql: string, time?: number): Promise<InstantResult[]>;
  /** Range query: each series' [t, value] points. */
  queryRange(promql: string, start: number, end: number, step: number): Promise<Array<{ metric: Record<string, string>; values: Array<[number, string]> }>>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startLabelledPrometheus(jobs: readonly ScrapeJob[], options: { scrapeInterval?: string; readyTimeoutMs?: number } = {}): Promise<LabelledPrometheus> {
  const dir = await mkdtemp(join(tmpdir(), 'scalesignal-k8s-prom-'));
  const webPort = await freePort();
  const api = `http://127.0.0.1:${webPort}`;
  const lines = ['global:', `  scrape_interval: ${options.scrapeInterval ?? '1s'}`, '  scrape_timeout: 900ms', 'scrape_configs:'];
  for (const job of jobs) {
    const paths = new Set(job.targets.map((t) => t.path ?? '/metrics'));
    for (const path of paths) {
      lines.push(`  - job_name: ${JSON.stringify(paths.size === 1 ? job.name : `${job.name}${path}`)}`, `    metrics_path: ${JSON.stringify(path)}`, '    static_configs:');
      for (const t of job.targets.filter((x) => (x.path ?? '/metrics') === path)) {
        lines.push(`      - targets: [${JSON.stringify(t.address)}]`, `        labels: ${JSON.stringify(t.labels)}`);
      }
    }
  }
  await writeFile(join(dir, 'prometheus.yml'), `${lines.join('\n')}\n`);
  let log = '';
  const child: ChildProcess = spawn(
    PROMETHEUS,
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${webPort}`, '--log.level=warn'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));

  async function get<T>(path: string): Promise<T> {
    const res = await fetch(`${api}${path}`);
    const body = (await res.json()) as { status: string; error?: string; data: { result: T } };
    if (body.status !== 'success') throw new Error(`${path}: Prometheus answered ${body.status}: ${body.error ?? ''}`);
    return body.data.result;
  }
  const query = (promql: string, time?: number) =>
    get<InstantResult[]>(`/api/v1/query?query=${encodeURIComponent(promql)}${time === undefined ? '' : `&time=${time}`}`);
  const queryRange = (promql: string, start: number, end: number, step: number) =>
    get<Array<{ metric: Record<string, string>; values: Array<[number, string]> }>>(
      `/api/v1/query_range?query=${encodeURIComponent(promql)}&start=${start}&end=${end}&step=${step}`,
    );
  async function stop(): Promise<void> {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    await rm(dir, { recursive: true, force: true });
  }

  const total = jobs.reduce((n, j) => n + j.targets.length, 0);
  const deadline = Date.now() + (options.readyTimeoutMs ?? 40_000);
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`prometheus exited ${child.exitCode}\n${log}`);
      try {
        const up = await query('up');
        if (up.length === total && up.every((r) => r.value[1] === '1')) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`prometheus never scraped every target\n${log}`);
      await sleep(100);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { api, log: () => log, query, queryRange, stop };
}
