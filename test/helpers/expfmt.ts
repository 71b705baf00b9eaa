/**
 * Prometheus' own text-exposition parser (github.com/prometheus/common/expfmt, the one KEDA's metrics-api scaler
 * and Prometheus' tooling use), built once from Debian's golang-github-prometheus-common-dev with Debian's Go,
 * offline, into .tmp/. Parsing with someone else's parser keeps our renderer's blind spots out of the tests.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const source = fileURLToPath(new URL('./expfmt/main.go', import.meta.url));
const binary = `${root}.tmp/expfmt2json`;
export const EXPFMT_INSTALL = 'apt-get install -y --no-install-recommends golang-go golang-github-prometheus-common-dev';

export interface ExpfmtLabel {
  readonly name: string;
  readonly value: string;
}
/** JSON cannot hold non-finite numbers: the parser writes them as "+Inf", "-Inf", "NaN". */
export type ExpfmtNumber = number | '+Inf' | '-Inf' | 'NaN';

export interface ExpfmtMetric {
  readonly label?: readonly ExpfmtLabel[];
  readonly counter?: { value: ExpfmtNumber };
  readonly gauge?: { value: ExpfmtNumber };
  readonly untyped?: { value: ExpfmtNumber };
  readonly histogram?: { sample_count: number; sample_sum: ExpfmtNumber; bucket?: Array<{ cumulative_count: number; upper_bound: ExpfmtNumber }> };
  readonly summary?: { sample_count: number; sample_sum: ExpfmtNumber; quantile?: Array<{ quantile: number; value: ExpfmtNumber }> };
}
export interface ExpfmtFamily {
  readonly name: string;
  readonly help?: string;
  /** 0 counter, 1 gauge, 2 summary, 3 untyped, 4 histogram (io.prometheus.client.MetricType). */
  readonly type: number;
  readonly metric: readonly ExpfmtMetric[];
}

/**
 * Builds the parser once (synchronously: call it in beforeAll, before servers start in this process, since a
 * first build takes seconds and blocks the event loop). Builds to a private path and renames, so test files
 * building at the same time never run a half-written binary.
 */
export function buildExpfmt(): void {
  if (existsSync(binary) && statSync(binary).mtimeMs >= statSync(source).mtimeMs) return;
  if (spawnSync('go', ['version']).status !== 0) throw new Error(`Go is missing; install it with: ${EXPFMT_INSTALL}`);
  mkdirSync(`${root}.tmp`, { recursive: true });
  const partial = `${binary}.${process.pid}`;
  execFileSync('go', ['build', '-o', partial, './test/helpers/expfmt/'], {
    cwd: root,
    env: { ...process.env, GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOCACHE: `${root}.tmp/gocache`, GOFLAGS: '' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  renameSync(partial, binary);
}

/** Parses a text exposition (0.0.4) with expfmt; throws with expfmt's message when it is not valid. */
export function parseWithExpfmt(text: string): ExpfmtFamily[] {
  buildExpfmt();
  const result = spawnSync(binary, [], { input: text, maxBuffer: 256 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`expfmt rejected the exposition: ${result.stderr.toString().trim()}`);
  return JSON.parse(result.stdout.toString()) as ExpfmtFamily[];
}

export function toNumber(value: ExpfmtNumber | undefined): number {
  if (value === undefined || value === 'NaN') return NaN;
  if (value === '+Inf') return Infinity;
  if (value === '-Inf') return -Infinity;
  return value;
}

export function metricValue(metric: ExpfmtMetric): number {
  return toNumber(metric.counter?.value ?? metric.gauge?.value ?? metric.untyped?.value);
}
