/**
 * shutdown() from a SIGTERM handler while worker threads record, in a real child process (the way Kubernetes
 * stops a pod): `handleSignals: true` shuts the registry down; the OTLP requests that left the child, decoded by
 * the loopback receiver, hold every record the workers finished before shutdown() was called, none twice, each
 * histogram point with count == zero_count + sum(bucket_counts). A record made after shutdown() was called may
 * be dropped (shutdown closes the worker lanes), never half of it.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePoints, startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver.js';
import type { BusyReport } from './fixtures/busy.js';

const UNIT = 3;
const child = fileURLToPath(new URL('./fixtures/sigterm-child.ts', import.meta.url));
let receiver: OtlpReceiver;
beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(async () => {
  await receiver.close();
});

function runChild(recordMs: number): Promise<{ code: number | null; reports: BusyReport[]; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', child], {
      env: { ...process.env, SCALESIGNAL_TEST_OTLP_URL: receiver.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    proc.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('{"type":"ready"}') && !proc.killed) {
        setTimeout(() => proc.kill('SIGTERM'), recordMs);
      }
    });
    proc.once('error', reject);
    proc.once('exit', (code) => {
      const line = stdout.split('\n').find((l) => l.includes('"reports"'));
      resolve({ code, reports: line === undefined ? [] : (JSON.parse(line) as { reports: BusyReport[] }).reports, stderr });
    });
  });
}

describe('shutdown() from a SIGTERM handler while workers record', () => {
  it('delivers every record finished before shutdown() was called, once, in whole windows', async () => {
    const { code, reports, stderr } = await runChild(1500);
    expect(code, stderr).toBe(0);
    expect(reports).toHaveLength(3);
    const points = receiver.requests.flatMap((r) => decodePoints(r.body));
    for (const p of points.filter((q) => q.type === 'exponentialHistogram')) {
      const h = p.histogram!;
      expect(h.zeroCount + h.positive.bucketCounts.reduce((x, y) => x + y, 0), 'count == zero_count + sum(bucket_counts)').toBe(h.count);
    }
    for (const report of reports) {
      expect(report.before).toBeGreaterThan(0);
      const mine = (name: string) => points.filter((p) => p.name === name && p.attributes.worker === report.worker);
      const units = mine('test.units').reduce((sum, p) => sum + p.value!, 0);
      const count = mine('test.values').reduce((sum, p) => sum + p.histogram!.count, 0);
      const valueSum = mine('test.values').reduce((sum, p) => sum + p.histogram!.sum!, 0);
      expect(units % UNIT).toBe(0);
      // Everything finished before shutdown() was called; of the rest, at most what ran before the lanes closed.
      expect(units / UNIT, report.worker).toBeGreaterThanOrEqual(report.before);
      expect(units / UNIT, report.worker).toBeLessThanOrEqual(report.iterations);
      expect(count, report.worker).toBeGreaterThanOrEqual(report.before);
      expect(count, report.worker).toBeLessThanOrEqual(report.iterations);
      expect(valueSum, report.worker).toBeGreaterThanOrEqual(report.beforeValueSum);
      expect(valueSum, report.worker).toBeLessThanOrEqual(report.valueSum);
      // The counter and the histogram of one iteration agree, but for the one iteration the lanes closed in.
      expect(Math.abs(units / UNIT - count), report.worker).toBeLessThanOrEqual(1);
    }
  }, 60_000);
});
