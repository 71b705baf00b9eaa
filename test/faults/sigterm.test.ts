/**
 * SIGTERM in a child process (createMetrics({ handleSignals: true }) + OTLP to a loopback receiver, an HTTP
 * server keeping the loop alive, as in a Kubernetes pod): the last, partial window reaches the receiver and the
 * process ends by the signal within the shutdown deadline (default 5 s), also when the collector hangs.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePoints, startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver.js';

const CHILD = fileURLToPath(new URL('./fixtures/sigterm-child.ts', import.meta.url));
const SHUTDOWN_DEADLINE_MS = 5000;

let receiver: OtlpReceiver;
beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(async () => {
  await receiver.close();
});

async function runChild(): Promise<{ signal: NodeJS.Signals | null; code: number | null; exitMs: number; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, receiver.url], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => c.toString().includes('ready') && resolve());
    child.once('exit', () => reject(new Error(`child exited early: ${stderr}`)));
  });
  const exited = new Promise<{ signal: NodeJS.Signals | null; code: number | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const sentAt = Date.now();
  child.kill('SIGTERM');
  // A process that outlives the deadline by far is killed so the suite does not hang; the assertion below fails.
  const killer = setTimeout(() => child.kill('SIGKILL'), SHUTDOWN_DEADLINE_MS + 10_000);
  const result = await exited;
  clearTimeout(killer);
  return { ...result, exitMs: Date.now() - sentAt, stderr };
}

describe('handleSignals: SIGTERM', () => {
  it('flushes the partial window to the collector, then the process ends by the signal', async () => {
    receiver.mode = { kind: 'ok' };
    receiver.requests.length = 0;
    const r = await runChild();
    console.info(`[fault] SIGTERM (collector ok): exit after ${r.exitMs} ms, signal=${r.signal}`);
    expect(r.signal).toBe('SIGTERM');
    expect(r.exitMs).toBeLessThan(SHUTDOWN_DEADLINE_MS);
    const points = receiver.requests.flatMap((q) => decodePoints(q.body)).filter((p) => p.name === 'last.partial' && p.value !== 0);
    expect(points.map((p) => p.value)).toEqual([42]);
    // A partial window: cut by the flush before its second was over.
    const endMs = Number(points[0].timeNs / 1_000_000n);
    expect(endMs % 1000).not.toBe(0);
  }, 30_000);

  it('a hanging collector does not hold the process past the deadline', async () => {
    receiver.mode = { kind: 'hang' };
    const r = await runChild();
    console.info(`[fault] SIGTERM (collector hangs): exit after ${r.exitMs} ms, signal=${r.signal}`);
    expect(r.signal).toBe('SIGTERM');
    expect(r.exitMs).toBeLessThan(SHUTDOWN_DEADLINE_MS);
    receiver.mode = { kind: 'ok' };
  }, 30_000);
});
