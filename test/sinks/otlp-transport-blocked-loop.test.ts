/**
 * The transport calls a request retryable only when the connection never opened, because a retry of delta data
 * that did reach the collector counts it twice. A blocked event loop is where that classification could lie:
 * the give-up timer (timers phase) runs before the poll phase reports the finished connect. Here the loop is
 * blocked past the deadline on purpose, in the check phase right after the request was issued, so the next
 * iteration sees an expired timer before it sees the completed connect; a loopback server counts the bytes that
 * really arrived on each connection. "Retryable" must mean zero bytes.
 */
import { createServer, type Server } from 'node:http';
import { Agent } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SinkError } from '../../src/core/sink.js';
import { OtlpHttpTransport } from '../../src/sinks/otlp/transport.js';

let server: Server;
let url: string;
/** Bytes received per accepted connection, in accept order. */
const received: number[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200).end('{}'));
  });
  server.on('connection', (socket: Socket) => {
    const index = received.push(0) - 1;
    socket.on('data', (chunk: Buffer) => (received[index] += chunk.length));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/metrics`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const spin = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};

function transport(agent: Agent) {
  return new OtlpHttpTransport({ url, headers: async () => ({ 'Content-Type': 'application/json' }), compression: 'none', agentFactory: () => agent });
}

/**
 * Sends from a check-phase callback and blocks the loop there for 60 ms (a 5 ms deadline) right after the request
 * was issued and its give-up timer armed (the transport subscribes to the abort signal just then). The socket's
 * connect and the first write run on the next ticks; the next loop iteration starts with the timers phase, which
 * finds the give-up timer expired before the poll phase can report the connect.
 */
function sendBlocked(t: OtlpHttpTransport): Promise<unknown> {
  const signal = new AbortController().signal;
  const subscribe = signal.addEventListener.bind(signal);
  signal.addEventListener = ((...args: Parameters<typeof subscribe>) => {
    subscribe(...args);
    spin(60);
  }) as typeof signal.addEventListener;
  return new Promise((resolve) => {
    setImmediate(() => {
      void t.send(Buffer.from('{"resourceMetrics":[]}'), Date.now() + 5, signal).then(() => resolve(undefined), resolve);
    });
  });
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 100));

describe('OTLP transport under a blocked event loop', () => {
  it('a new connection whose connect the loop had not seen yet: retryable, and no byte reached the collector', async () => {
    // Load node:http once, as a running service has.
    const warm = transport(new Agent({ keepAlive: true }));
    await warm.send(Buffer.from('{}'), Date.now() + 2000);
    await warm.shutdown();
    const before = received.length;
    const outcomes: unknown[] = [];
    for (let i = 0; i < 5; i++) {
      const fresh = transport(new Agent({ keepAlive: true })); // a new connection each time
      outcomes.push(await sendBlocked(fresh));
      await settle();
      await fresh.shutdown();
    }
    const connections = received.slice(before);
    for (let i = 0; i < outcomes.length; i++) {
      const error = outcomes[i];
      if (error instanceof SinkError && error.retryable) expect(connections[i] ?? 0, `attempt ${i}: ${error.message}`).toBe(0);
    }
    // The interleaving under test happened at least once (else this test proves nothing).
    expect(outcomes.some((e) => e instanceof SinkError && e.retryable && /before connecting/.test(e.message))).toBe(true);
  });

  it('a pooled connection (keep-alive): the request is written at once, so a give-up is an unknown outcome, never retryable', async () => {
    const agent = new Agent({ keepAlive: true });
    const t = transport(agent);
    await t.send(Buffer.from('{}'), Date.now() + 2000);
    const error = await sendBlocked(t);
    await settle();
    // Either it was answered in time despite the block, or it gave up not knowing: never "resend me".
    if (error !== undefined) {
      expect(error).toBeInstanceOf(SinkError);
      expect((error as SinkError).retryable).toBe(false);
    }
    await t.shutdown();
  });
});
