/**
 * The EMF agent protocol has no acknowledgement: a document written over TCP counts as sent when the agent has
 * not closed the connection within the grace period. A blocked event loop is where that verdict could lie: the
 * close reaches the kernel while the loop is busy, and the first thing the loop runs afterwards (a timer, or the
 * rest of the delivery loop) must not call the document sent before a poll of the socket has read that close.
 * The agent runs in a worker thread (its own event loop) so it can close while this thread's loop is blocked;
 * the host's loop is blocked for 300 ms (six grace periods) right after the write completes.
 */
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import type { WindowLedger } from '../../src/sinks/aws/ledger.js';
import { agentWriter, parseAgentEndpoint, PEER_CLOSE_GRACE_MS } from '../../src/sinks/emf/agent-client.js';
import type { DocumentWriter } from '../../src/sinks/emf/writer.js';
import { counterWindow, emfDelivery } from '../helpers/emf-delivery.js';

const AGENT = `
const { createServer } = require('node:net');
const { parentPort, workerData } = require('node:worker_threads');
const server = createServer((socket) => {
  socket.on('data', (chunk) => {
    parentPort.postMessage({ received: chunk.toString('utf8'), at: performance.timeOrigin + performance.now() });
    if (workerData.closeOnData) socket.destroy();
  });
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
parentPort.on('message', () => server.close(() => process.exit(0)));
`;

interface Agent {
  port: number;
  received: Array<{ text: string; at: number }>;
  stop(): Promise<void>;
}

const agents: Worker[] = [];
afterEach(async () => {
  for (const worker of agents.splice(0)) await worker.terminate();
});

async function startAgent(closeOnData: boolean): Promise<Agent> {
  const worker = new Worker(AGENT, { eval: true, workerData: { closeOnData } });
  agents.push(worker);
  const received: Agent['received'] = [];
  const port = await new Promise<number>((resolve, reject) => {
    worker.on('error', reject);
    worker.on('message', (message: { port?: number; received?: string; at?: number }) => {
      if (message.port !== undefined) resolve(message.port);
      else received.push({ text: message.received!, at: message.at! });
    });
  });
  return { port, received, stop: async () => void (await worker.terminate()) };
}

async function received(agent: Agent): Promise<Agent['received']> {
  const deadline = Date.now() + 3000;
  while (agent.received.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  return agent.received;
}

/** How long the host's loop stays blocked after each write: several grace periods. */
const BLOCK_MS = 6 * PEER_CLOSE_GRACE_MS;

const spin = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};

/** The real TCP writer, with the host's loop blocked for `blockMs` right after every completed write. */
function blockingAfterWrite(port: number, blockMs: number): { writer: DocumentWriter; writtenAt: number[] } {
  const tcp = agentWriter(parseAgentEndpoint(`tcp://127.0.0.1:${port}`));
  const writtenAt: number[] = [];
  const writer: DocumentWriter = {
    graceMs: tcp.graceMs,
    async write(document) {
      const written = await tcp.write(document);
      writtenAt.push(performance.timeOrigin + performance.now());
      spin(blockMs);
      return written;
    },
    abandon: () => tcp.abandon(),
    confirm: (written, observedThrough) => tcp.confirm!(written, observedThrough),
    close: () => tcp.close(),
  };
  return { writer, writtenAt };
}

async function deliverOne(writer: DocumentWriter): Promise<WindowLedger['counts']> {
  const { delivery, ledger } = emfDelivery(writer, { timeoutMs: 2000 });
  delivery.accept([counterWindow(1000)], undefined);
  await delivery.flush(3000);
  await delivery.shutdown(100);
  return ledger.counts;
}

describe('EMF over TCP with the host event loop blocked right after a write', () => {
  it('an agent that closes within the grace period, while the loop is blocked: the window is failed, not sent', async () => {
    const agent = await startAgent(true);
    const { writer, writtenAt } = blockingAfterWrite(agent.port, BLOCK_MS);
    const counts = await deliverOne(writer);
    // The scenario happened: the agent got the document and closed while the host's loop was still blocked, so
    // the close reached the kernel before the loop could give any verdict (no tighter bound: the agent's thread
    // may be scheduled late on a loaded machine, and a close after the grace period must fail the document too).
    expect(await received(agent)).toHaveLength(1);
    expect(agent.received[0].at - writtenAt[0]).toBeLessThan(BLOCK_MS);
    expect(counts).toMatchObject({ accepted: 1, sent: 0, failed: 1, dropped: 0 });
  });

  it('an agent that keeps the connection: the same blocked loop still counts the window sent, once', async () => {
    const agent = await startAgent(false);
    const { writer } = blockingAfterWrite(agent.port, BLOCK_MS);
    const counts = await deliverOne(writer);
    expect((await received(agent)).map((r) => r.text)).toEqual(['{"_aws":{"Timestamp":0,"CloudWatchMetrics":[]},"work":1}\n']);
    expect(counts).toMatchObject({ accepted: 1, sent: 1, failed: 0, dropped: 0 });
  });
});

/**
 * The agent reads the first document, stops reading (a large second document then stalls in the socket buffers),
 * and resets the connection when told; used to put a reset in the kernel while the host's loop is blocked, right
 * before the stalled write's timeout fires.
 */
const STALLING_AGENT = `
const { createServer } = require('node:net');
const { parentPort } = require('node:worker_threads');
let first;
let connections = 0;
const server = createServer((socket) => {
  connections++;
  let text = '';
  if (connections === 1) {
    first = socket;
    socket.on('data', (chunk) => {
      if (text.includes('\\n')) return;
      text += chunk.toString('utf8');
      const end = text.indexOf('\\n');
      if (end >= 0) {
        socket.pause();
        parentPort.postMessage({ line: text.slice(0, end) });
      }
    });
  } else {
    let bytes = 0;
    socket.on('data', (chunk) => {
      let from = 0;
      let end;
      while ((end = chunk.indexOf(10, from)) >= 0) {
        parentPort.postMessage({ line: 'bytes:' + (bytes + end - from) });
        bytes = 0;
        from = end + 1;
      }
      bytes += chunk.length - from;
    });
  }
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
parentPort.on('message', (message) => {
  if (message === 'reset') setTimeout(() => first.resetAndDestroy(), 100);
});
`;

describe('EMF over TCP: a stalled write abandoned after the loop was blocked', () => {
  it('a reset that arrived while the loop was blocked still fails the documents written before on that connection', async () => {
    const worker = new Worker(STALLING_AGENT, { eval: true });
    agents.push(worker);
    const lines: string[] = [];
    const port = await new Promise<number>((resolve, reject) => {
      worker.on('error', reject);
      worker.on('message', (message: { port?: number; line?: string }) => {
        if (message.port !== undefined) resolve(message.port);
        else lines.push(message.line!);
      });
    });
    const small = '{"_aws":{"Timestamp":1000,"CloudWatchMetrics":[]},"work":1}';
    // Larger than the loopback socket buffers on both ends, so its write makes no progress once the agent pauses.
    const big = `{"_aws":{"Timestamp":2000,"CloudWatchMetrics":[]},"pad":"${'x'.repeat(48 << 20)}"}`;
    const tcp = agentWriter(parseAgentEndpoint(`tcp://127.0.0.1:${port}`));
    let blocked = false;
    const writer: DocumentWriter = {
      graceMs: tcp.graceMs,
      write(document) {
        if (document === big && !blocked) {
          blocked = true;
          // While the big write stalls: the agent resets (in ~100 ms), and this loop is blocked from before that
          // until past the write's timeout. Blocked in the check phase, so the next turn starts with the timers:
          // the write's timeout runs before any poll could read the reset.
          setTimeout(() => {
            setImmediate(() => {
              worker.postMessage('reset');
              spin(TIMEOUT_MS);
            });
          }, TIMEOUT_MS / 2);
        }
        return tcp.write(document);
      },
      abandon: () => tcp.abandon(),
      confirm: (written, observedThrough) => tcp.confirm!(written, observedThrough),
      close: () => tcp.close(),
    };
    const { delivery, ledger } = emfDelivery(writer, {
      timeoutMs: TIMEOUT_MS,
      maxBacklogBytes: 1 << 30,
      build: (w) => [w.start === 1000 ? small : big],
    });
    delivery.accept([counterWindow(1000)], undefined);
    delivery.accept([counterWindow(2000)], undefined);
    await delivery.flush(10_000);
    await delivery.shutdown(100);
    // The agent had the first document, then reset the connection: it may have dropped it, so it is not sent.
    expect(lines[0]).toBe(small);
    // The second, whose write was abandoned, went again on a new connection, whole, once.
    expect(lines.slice(1)).toEqual([`bytes:${Buffer.byteLength(big)}`]);
    expect(ledger.counts).toMatchObject({ accepted: 2, sent: 1, failed: 1, dropped: 0 });
  }, 20_000);
});

const TIMEOUT_MS = 400;
