/**
 * Native histograms end to end: three SDK processes (real createMetrics, real one-second windows, the Prometheus
 * sink on its own loopback port) scraped every second by a real Prometheus 2.42 (Debian's package) started with
 * `--enable-feature=native-histograms`, which then negotiates the protobuf exposition. Each process records every
 * distribution of test/helpers/exp-histogram.ts with its own seed; PromQL over the native histograms summed across
 * the three must give the exact count and sum, and quantiles within 1 % beyond the schema's own bucket error of
 * the exact quantiles of everything recorded (the test regenerates the same values).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { familyNames } from '../../src/sinks/prometheus/naming.js';
import { DISTRIBUTIONS, exactQuantile, sample } from '../helpers/exp-histogram.js';
import { PROMETHEUS, PROMETHEUS_INSTALL as INSTALL, prometheusAvailable, startPrometheus, type PrometheusServer } from '../helpers/prometheus-server.js';
import { metricName, type RecordRequest } from './fixtures/native-recorder.js';

const required = process.env.SCALESIGNAL_E2E_REQUIRED === '1';
const available = prometheusAvailable();
const PROCESSES = 3;
const PER_DISTRIBUTION = 20_000;
const SCALE = 6;
/** histogram_quantile interpolates inside the bucket holding the rank: up to one bucket width (base - 1) off. */
const SCHEMA_ERROR = 2 ** (2 ** -SCALE) - 1;

if (!available && required) {
  describe('prometheus native histograms e2e', () => {
    it('needs a Prometheus binary', () => {
      expect.fail(`SCALESIGNAL_E2E_REQUIRED=1 but ${PROMETHEUS} is missing: ${INSTALL}`);
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function next<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: { type: string }) => {
      if (message?.type !== type) return;
      child.off('message', onMessage);
      resolve(message as T);
    };
    child.on('message', onMessage);
    child.once('exit', (code) => reject(new Error(`recorder exited ${code} before "${type}"`)));
  });
}

describe.skipIf(!available)(`prometheus native histograms e2e${available ? '' : ` (skipped: ${PROMETHEUS} missing; ${INSTALL})`}`, () => {
  const children: ChildProcess[] = [];
  let prometheus: PrometheusServer | undefined;
  const errors: Record<string, { p50: number; p99: number }> = {};

  beforeAll(async () => {
    const entry = fileURLToPath(new URL('./fixtures/native-recorder.ts', import.meta.url));
    const ports: number[] = [];
    for (let i = 0; i < PROCESSES; i++) {
      const child = fork(entry, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      children.push(child);
      ports.push((await next<{ port: number }>(child, 'ready')).port);
    }
    prometheus = await startPrometheus({ targets: ports.map((p) => `127.0.0.1:${p}`), features: ['native-histograms'] });
    await Promise.all(
      children.map((child, i) => {
        const done = next(child, 'recorded');
        child.send({ type: 'record', seed: 1000 + i, perDistribution: PER_DISTRIBUTION } satisfies RecordRequest);
        return done;
      }),
    );
  }, 90_000);

  afterAll(async () => {
    for (const child of children) {
      if (child.exitCode === null) {
        const gone = new Promise((r) => child.once('exit', r));
        child.send({ type: 'exit' });
        await Promise.race([gone, sleep(5000)]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    }
    await prometheus?.stop();
    if (Object.keys(errors).length > 0) console.log('native histogram quantile errors (%):', JSON.stringify(errors));
  });

  for (const distribution of Object.keys(DISTRIBUTIONS)) {
    it(`${distribution}: histogram_count and histogram_sum exact, P50 and P99 within 1 % beyond the schema's error`, async () => {
      const server = prometheus!;
      const name = familyNames(metricName(distribution), 'ms', 'histogram', { prefix: '', baseUnits: false }).family;
      const recorded: number[] = [];
      for (let i = 0; i < PROCESSES; i++) recorded.push(...sample(distribution, PER_DISTRIBUTION, 1000 + i));
      const total = recorded.length;

      // Every process' last window has been scraped once the fleet count is complete.
      const countQuery = `histogram_count(sum(${name}))`;
      const deadline = Date.now() + 20_000;
      let count: number[] = [];
      while (Date.now() < deadline) {
        count = await server.query(countQuery);
        if (count.length === 1 && count[0] === total) break;
        await sleep(200);
      }
      expect(count, `${countQuery}\n${server.log().slice(-2000)}`).toEqual([total]);

      // Native samples only: Prometheus 2.42 ingests a histogram that has native buckets as native, not classic.
      expect(await server.query(`count(${name})`)).toEqual([PROCESSES]);
      expect(await server.query(`${name}_count`)).toEqual([]);

      const exactSum = recorded.reduce((a, b) => a + b, 0);
      const [sum] = await server.query(`histogram_sum(sum(${name}))`);
      expect(Math.abs(sum - exactSum) / exactSum).toBeLessThan(1e-9);

      const measured = { p50: 0, p99: 0 };
      for (const q of [0.5, 0.99]) {
        const exact = exactQuantile(recorded, q);
        const [estimate] = await server.query(`histogram_quantile(${q}, sum(${name}))`);
        const error = exact === 0 ? Math.abs(estimate) : Math.abs(estimate - exact) / exact;
        measured[q === 0.5 ? 'p50' : 'p99'] = Math.round(error * 10_000) / 100;
        expect(error, `${distribution} p${q * 100}: Prometheus ${estimate}, exact ${exact}`).toBeLessThanOrEqual(SCHEMA_ERROR + 0.01);
      }
      errors[distribution] = measured;
    });
  }
});
