/**
 * A real Prometheus (/usr/bin/prometheus, Debian's package) on a free loopback port, with a temporary config and
 * TSDB, scraping the given targets — for the e2e suite and bench/latency.ts. Resolves once a scrape of every
 * target succeeded (`up == 1`): service discovery hands targets to the scrape manager only after ~5 s.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PROMETHEUS = '/usr/bin/prometheus';
export const PROMETHEUS_INSTALL = 'apt-get install -y --no-install-recommends prometheus';

export function prometheusAvailable(): boolean {
  return existsSync(PROMETHEUS);
}

export interface PrometheusOptions {
  /** `host:port` targets, each scraped at `/metrics`. */
  readonly targets: readonly string[];
  /** Default `scalesignal`. */
  readonly job?: string;
  /** Default `1s`. */
  readonly scrapeInterval?: string;
  /** Default `900ms`. */
  readonly scrapeTimeout?: string;
  /** How long to wait for the first successful scrape of every target. Default 40 s. */
  readonly readyTimeoutMs?: number;
  /** `--enable-feature` flags, e.g. `native-histograms` (Prometheus then asks for the protobuf exposition first). */
  readonly features?: readonly string[];
}

export interface PrometheusServer {
  /** Base URL of the HTTP API, e.g. `http://127.0.0.1:40123`. */
  readonly api: string;
  readonly job: string;
  /** Prometheus's stdout and stderr so far. */
  log(): string;
  /** Instant PromQL query: the value of each result. Throws unless the API answers `success`. */
  query(promql: string): Promise<number[]>;
  /** Instant PromQL query: each result's labels and [timestamp (s), value]. */
  queryRaw(promql: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  /** SIGTERM (SIGKILL after 5 s), then removes the temporary directory. */
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusServer> {
  const job = options.job ?? 'scalesignal';
  const dir = await mkdtemp(join(tmpdir(), 'scalesignal-prom-'));
  const webPort = await freePort();
  const api = `http://127.0.0.1:${webPort}`;
  let log = '';
  await writeFile(
    join(dir, 'prometheus.yml'),
    [
      'global:',
      `  scrape_interval: ${options.scrapeInterval ?? '1s'}`,
      `  scrape_timeout: ${options.scrapeTimeout ?? '900ms'}`,
      'scrape_configs:',
      `  - job_name: ${job}`,
      '    static_configs:',
      `      - targets: [${options.targets.map((t) => `'${t}'`).join(', ')}]`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(
    PROMETHEUS,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${webPort}`,
      '--log.level=warn',
      ...(options.features ?? []).map((feature) => `--enable-feature=${feature}`),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));

  async function queryRaw(promql: string) {
    const res = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as {
      status: string;
      error?: string;
      data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
    };
    if (body.status !== 'success') throw new Error(`${promql}: Prometheus answered ${body.status}: ${body.error ?? ''}`);
    return body.data.result;
  }
  const query = async (promql: string) => (await queryRaw(promql)).map((r) => Number(r.value[1]));

  async function stop(): Promise<void> {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    await rm(dir, { recursive: true, force: true });
  }

  const server: PrometheusServer = { api, job, log: () => log, query, queryRaw, stop };
  const deadline = Date.now() + (options.readyTimeoutMs ?? 40_000);
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`prometheus exited ${child.exitCode}\n${log}`);
      try {
        const up = await query(`up{job="${job}"}`);
        if (up.length === options.targets.length && up.every((v) => v === 1)) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`prometheus never scraped ${options.targets.join(', ')}\n${log}`);
      await sleep(100);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return server;
}
