/**
 * Sinks that own their delivery (`settlesWindows: true`, the AWS sinks) report each window's outcome through
 * `context.settled`; the SDK's `scalesignal.sink.windows` must then count what the sink reports, once per window,
 * and nothing for an export that merely handed windows over. Driven two ways: a scripted custom sink against the
 * SinkRunner (every path: sent, failed, duplicate and unknown reports, an export that throws, windows never
 * settled by shutdown), and the real EMF sink against a loopback CloudWatch-agent TCP listener that goes away,
 * comparing the self-metric with the sink's own ledger and with the documents that really arrived.
 */
import { describe, expect, it } from 'vitest';
import { createMetrics, emfSink, type Window } from '../../src/index.js';
import type { WindowOutcome } from '../../src/core/self-metrics.js';
import type { ExportContext, Sink } from '../../src/core/sink.js';
import { SinkRunner } from '../../src/core/sink-runner.js';
import { startEmfAgentListener } from '../helpers/emf-agent-listener.js';
import { validateEmf } from '../helpers/emf-validator.js';
import { find } from '../helpers/collect.js';
import { series, window } from '../helpers/windows.js';

const quiet = { warn: () => undefined };

function recorder() {
  const counts: Record<WindowOutcome, number> = { sent: 0, failed: 0, dropped: 0, retried: 0, latency: 0 };
  return { counts, onOutcome: (_: string, outcome: WindowOutcome, windows: number) => void (counts[outcome] += windows) };
}

describe('sinks that settle windows themselves', () => {
  it('count what the sink reports, once per window; a failed export settles the rest; unsettled at shutdown is dropped', async () => {
    const contexts: Array<{ windows: readonly Window[]; settled: NonNullable<ExportContext['settled']> }> = [];
    let throwNext = false;
    const sink: Sink = {
      name: 'owns-delivery',
      settlesWindows: true,
      export(windows, context) {
        if (throwNext) {
          throwNext = false;
          context?.settled?.(windows[0].timestamp, 'sent'); // reported before the throw: stays sent
          throw new Error('queue closed');
        }
        contexts.push({ windows, settled: context!.settled! });
      },
    };
    const { counts, onOutcome } = recorder();
    const runner = new SinkRunner(sink, { intervalMs: 1000, logger: quiet, onOutcome });
    const w = (s: number) => window(s * 1000, [series({ name: 'c', kind: 'counter', count: 1, sum: 1 })]);

    runner.enqueue([w(1), w(2), w(3)]);
    await runner.flushed();
    // Handing over is not delivery: nothing counted yet.
    expect(counts).toMatchObject({ sent: 0, failed: 0, dropped: 0 });
    const [{ settled }] = contexts;
    settled(1000, 'sent');
    settled(1000, 'sent'); // twice: ignored
    settled(2000, 'failed');
    settled(99_000, 'sent'); // never handed over: ignored
    expect(counts).toMatchObject({ sent: 1, failed: 1, dropped: 0 });

    throwNext = true;
    runner.enqueue([w(4), w(5)]);
    await runner.flushed();
    expect(counts).toMatchObject({ sent: 2, failed: 2, dropped: 0 });

    // Window 3 was never settled by the sink: at shutdown it is counted dropped, not sent.
    await runner.close(100);
    expect(counts).toMatchObject({ sent: 2, failed: 2, dropped: 1, retried: 0 });
    settled(3000, 'sent'); // too late: already counted
    expect(counts.sent + counts.failed + counts.dropped).toBe(5);
  });

  it('the real EMF sink: the self-metric never says more than its ledger, nor the ledger more than the documents that arrived, also when the agent goes away', async () => {
    const agent = await startEmfAgentListener();
    const windows: Window[] = [];
    const tap: Sink = { name: 'tap', export: (batch) => void windows.push(...batch) };
    const emf = emfSink({ agentEndpoint: `tcp://127.0.0.1:${agent.port}`, timeoutMs: 100, shutdownTimeoutMs: 300, logger: quiet, name: 'emf' }, {});
    const metrics = createMetrics({ service: 'settle', intervalMs: 100, eventLoop: false, sinks: [emf, tap], logger: quiet });
    const c = metrics.counter('work');
    const tick = setInterval(() => c.add(1), 5);
    await new Promise((resolve) => setTimeout(resolve, 800));
    // Refused from now on: the sink's windows fail or drop, never count sent. The agent reads what it had received
    // before it goes: bytes left unread in a dying agent's buffer are the protocol's documented limit (README).
    await agent.stopAfterReading();
    await new Promise((resolve) => setTimeout(resolve, 600));
    clearInterval(tick);
    const statsBefore = emf.stats();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await metrics.flush();
    const last = windows.at(-1)!;
    const reported = (outcome: string) =>
      windows.reduce((n, w) => n + (find(w, 'scalesignal.sink.windows', { sink: 'emf', outcome })?.sum ?? 0), 0);
    await metrics.shutdown();
    const stats = emf.stats();
    // What the self-metric says was sent is no more than the ledger's sent, and every sent window really arrived.
    const arrivedTimestamps = new Set(agent.lines.map((line) => (validateEmf(line.text) as unknown as { _aws: { Timestamp: number } })._aws.Timestamp));
    // A window with no series has nothing to deliver and counts sent with no document (a loaded run's first
    // window, sealed before the first add, once made this look like 8 sent for 7 arrived).
    const empty = windows.filter((w) => w.series.length === 0).length;
    expect(reported('sent')).toBeGreaterThan(0);
    expect(reported('sent')).toBeLessThanOrEqual(stats.windows_sent);
    expect(stats.windows_sent - empty).toBeLessThanOrEqual(arrivedTimestamps.size);
    expect(stats.documents_sent).toBeLessThanOrEqual(agent.lines.length);
    // The sink's ledger accounts every window it was handed; the agent's absence shows as failed or dropped.
    expect(stats.windows_sent + stats.windows_failed + stats.windows_dropped).toBe(windows.length);
    expect(stats.windows_failed + stats.windows_dropped).toBeGreaterThan(0);
    expect(reported('sent') + reported('failed') + reported('dropped')).toBeLessThanOrEqual(windows.length);
    expect(statsBefore.windows_sent).toBeLessThanOrEqual(stats.windows_sent);
    expect(find(last, 'scalesignal.sink.retries', { sink: 'emf' })).toBeUndefined();
  });
});

