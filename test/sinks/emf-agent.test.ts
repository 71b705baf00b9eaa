import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.js';
import { emfSink } from '../../src/sinks/emf.js';
import { validateEmf } from '../helpers/emf-validator.js';
import { series, window } from '../helpers/windows.js';

const T0 = Math.floor(Date.now() / 1000) * 1000 - 10_000;
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A loopback stand-in for the CloudWatch agent's EMF TCP listener: collects newline-delimited documents. */
async function startTcpAgent(port = 0) {
  const lines: string[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        lines.push(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const agent = {
    port: (server.address() as AddressInfo).port,
    lines,
    get connections() {
      return connections;
    },
    get open() {
      return sockets.size;
    },
    async waitForLines(n: number, timeoutMs = 3000) {
      const deadline = Date.now() + timeoutMs;
      while (lines.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      return lines;
    },
    dropConnections() {
      for (const s of sockets) s.destroy();
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  cleanups.push(() => agent.stop().catch(() => {}));
  return agent;
}

function sinkFor(endpoint: string, options: Parameters<typeof emfSink>[0] = {}): ReturnType<typeof emfSink> {
  const sink = emfSink({ agentEndpoint: endpoint, logger: { warn: () => undefined }, ...options }, {});
  cleanups.push(() => sink.shutdown?.());
  return sink;
}

const windowAt = (i: number, n = 3) =>
  window(T0 + i * 1000, Array.from({ length: n }, (_, k) => series({ name: `jobs.${k}`, kind: 'counter', labels: { queue: 'q' }, count: 1, sum: i * 10 + k })));

describe('emfSink to the CloudWatch agent', () => {
  it('TCP: newline-delimited valid documents over one reused connection, LogGroupName for the agent', async () => {
    const agent = await startTcpAgent();
    const sink = sinkFor(`tcp://127.0.0.1:${agent.port}`);
    for (let i = 0; i < 3; i++) await sink.export([windowAt(i)]);
    const lines = await agent.waitForLines(3);
    const docs = lines.map((l) => validateEmf(l));
    expect(docs.map((d) => d._aws.Timestamp)).toEqual([T0, T0 + 1000, T0 + 2000]);
    expect(docs.map((d) => d['jobs.2'])).toEqual([2, 12, 22]);
    expect(docs[0]._aws.LogGroupName).toBe('test-service-metrics');
    expect(agent.connections).toBe(1);
  });

  it('AWS_EMF_AGENT_ENDPOINT and AWS_EMF_LOG_GROUP_NAME are honoured', async () => {
    const agent = await startTcpAgent();
    const sink = emfSink({}, { AWS_EMF_AGENT_ENDPOINT: `tcp://127.0.0.1:${agent.port}`, AWS_EMF_LOG_GROUP_NAME: '/eks/shop/metrics' });
    cleanups.push(() => sink.shutdown?.());
    await sink.export([windowAt(0)]);
    const [line] = await agent.waitForLines(1);
    expect(validateEmf(line)._aws.LogGroupName).toBe('/eks/shop/metrics');
  });

  it('agent down: export resolves without throwing, the sink retries on its own and delivers in order once the agent is back', async () => {
    const probe = await startTcpAgent();
    const port = probe.port;
    await probe.stop();
    const sink = sinkFor(`tcp://127.0.0.1:${port}`);
    await expect(sink.export([windowAt(0)])).resolves.toBeUndefined();
    expect(sink.stats()).toMatchObject({ windows_pending: 1, windows_sent: 0 });
    expect(sink.stats().documents_retried).toBeGreaterThan(0);
    await sink.export([windowAt(1)]);

    const agent = await startTcpAgent(port); // the agent restarts on its usual port
    const docs = (await agent.waitForLines(2, 5000)).map((l) => validateEmf(l));
    expect(docs.map((d) => d._aws.Timestamp)).toEqual([T0, T0 + 1000]);
    await sink.flush(2000);
    expect(sink.stats()).toMatchObject({ windows_sent: 2, windows_pending: 0, windows_failed: 0, windows_dropped: 0 });
    expect(agent.lines).toHaveLength(2);
  });

  it('the agent closing the connection (restart) is followed by a reconnect', async () => {
    const agent = await startTcpAgent();
    const sink = sinkFor(`tcp://127.0.0.1:${agent.port}`);
    await sink.export([windowAt(0)]);
    await agent.waitForLines(1);
    agent.dropConnections();
    await new Promise((r) => setTimeout(r, 50));
    await sink.export([windowAt(1)]);
    const lines = await agent.waitForLines(2);
    expect(lines.map((l) => validateEmf(l)._aws.Timestamp)).toEqual([T0, T0 + 1000]);
    expect(agent.connections).toBe(2);
  });

  it('an idle agent connection does not keep the process alive; shutdown closes it', async () => {
    const agent = await startTcpAgent();
    // A child process that exports once and then has nothing left to do must exit on its own.
    const script = `
      const { emfSink } = await import('./src/sinks/emf.ts');
      const sink = emfSink({ agentEndpoint: 'tcp://127.0.0.1:${agent.port}' }, {});
      const w = { start: ${T0}, end: ${T0 + 1000}, timestamp: ${T0}, resource: { service: 'child', attributes: {} },
        series: [{ name: 'up', unit: '', description: '', kind: 'gauge', labels: {}, key: 'up{}', count: 1, sum: 1, min: 1, max: 1,
          last: 1, rate: 1, total: 0, p50: NaN, p90: NaN, p95: NaN, p99: NaN }] };
      await sink.export([w]);
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: new URL('../..', import.meta.url).pathname,
      stdio: 'inherit',
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    clearTimeout(killer);
    // 0: it exited on its own; null would mean the SIGKILL above.
    expect(code).toBe(0);
    expect(validateEmf((await agent.waitForLines(1))[0])._aws.LogGroupName).toBe('child-metrics');

    const sink = sinkFor(`tcp://127.0.0.1:${agent.port}`);
    await sink.export([windowAt(0)]);
    const deadline = Date.now() + 2000;
    while (agent.open < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(agent.open).toBe(1);
    await sink.shutdown?.();
    while (agent.open > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(agent.open).toBe(0);
  });

  it('UDP: one datagram per document, each under 64 KB even when a window needs more than that', async () => {
    const server = createSocket('udp4');
    const datagrams: Buffer[] = [];
    server.on('message', (msg) => datagrams.push(msg));
    await new Promise<void>((resolve) => server.bind(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const { port } = server.address();
    // 60 histograms with value arrays: about 9 metrics and 2 KB each, more than one datagram can hold.
    const list = Array.from({ length: 60 }, (_, k) => {
      const counts = Array.from({ length: 200 }, (_, i) => (i % 3) + 1);
      return series({
        name: `job.duration.${k}`,
        kind: 'histogram',
        unit: 'ms',
        count: counts.reduce((a, c) => a + c, 0),
        sum: 1000,
        min: 1,
        max: 9,
        p50: 3,
        p90: 7,
        p95: 8,
        p99: 9,
        buckets: { scale: 6, offset: 0, counts, zeroCount: 0 },
      });
    });
    const sink = sinkFor(`udp://127.0.0.1:${port}`, { histogramValues: true });
    await sink.export([window(T0, list)]);
    const deadline = Date.now() + 3000;
    const expectedMetrics = list.length * 9;
    const metricCount = () => datagrams.reduce((a, d) => a + validateEmf(d.toString('utf8').trimEnd())._aws.CloudWatchMetrics[0].Metrics.length, 0);
    while (metricCount() < expectedMetrics && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(datagrams.length).toBeGreaterThan(1);
    for (const d of datagrams) {
      expect(d.length).toBeLessThanOrEqual(65_000);
      expect(d.toString('utf8').endsWith('\n')).toBe(true);
      validateEmf(d.toString('utf8').trimEnd(), { maxBytes: 65_000 });
    }
    expect(metricCount()).toBe(expectedMetrics);
    // Fire-and-forget: a datagram the kernel took counts as sent.
    expect(sink.stats()).toMatchObject({ windows_sent: 1, windows_pending: 0 });
  });

  it('rejects a malformed endpoint at creation, not at the first window', () => {
    expect(() => emfSink({ agentEndpoint: 'http://127.0.0.1:25888' }, {})).toThrow(/tcp or udp/);
    expect(() => emfSink({ agentEndpoint: 'http://127.0.0.1:25888' }, {})).toThrow(ConfigError);
    expect(() => emfSink({ agentEndpoint: 'not a url' }, {})).toThrow(/tcp:\/\/host:25888/);
  });
});
