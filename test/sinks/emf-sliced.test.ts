/**
 * A 2,000-series window through the EMF sink to a loopback stand-in for the CloudWatch agent's TCP listener: its
 * documents are built a step at a time, ~1 ms per turn of the event loop (bench:sinks measures the pause), and
 * every series still arrives once with its recorded value.
 */
import { afterEach, expect, it } from 'vitest';
import { createMetrics } from '../../src/create-metrics.js';
import { emfSink } from '../../src/sinks/emf.js';
import { startEmfAgentListener, type EmfAgentListener } from '../helpers/emf-agent-listener.js';

let agent: EmfAgentListener | undefined;
afterEach(async () => {
  await agent?.stop();
});

it('delivers every series of a 2,000-series window exactly once, built a step at a time', async () => {
  agent = await startEmfAgentListener();
  const metrics = createMetrics({ service: 'sliced', eventLoop: false, sinks: [emfSink({ agentEndpoint: `tcp://127.0.0.1:${agent.port}` })] });
  const requests = metrics.counter('sliced.requests');
  const latency = metrics.histogram('sliced.latency', { unit: 'ms' });
  for (let i = 0; i < 1000; i++) {
    requests.add(i + 1, { route: `/r${i}` });
    for (let k = 0; k < 50; k++) latency.record(1 + ((i * 7 + k * 13) % 500) * 0.37, { route: `/r${i}` });
  }
  await metrics.flush();
  await metrics.shutdown();
  const documents = agent.lines.map((l) => JSON.parse(l.text) as Record<string, unknown>);
  const counted = new Map<string, number>();
  const latencyCounts = new Map<string, number>();
  for (const d of documents) {
    const route = d.route as string | undefined;
    if (route === undefined) continue;
    if (typeof d['sliced.requests'] === 'number') counted.set(route, (counted.get(route) ?? 0) + (d['sliced.requests'] as number));
    const n = d['sliced.latency.count'];
    if (typeof n === 'number') latencyCounts.set(route, (latencyCounts.get(route) ?? 0) + n);
  }
  expect(counted.size).toBe(1000);
  for (let i = 0; i < 1000; i++) expect(counted.get(`/r${i}`), `/r${i}`).toBe(i + 1);
  expect([...latencyCounts.values()].every((n) => n === 50)).toBe(true);
  expect(latencyCounts.size).toBe(1000);
});
