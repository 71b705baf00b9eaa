/**
 * Queue-depth recipes against real brokers started here: RabbitMQ (amqplib checkQueue) and Redis (BullMQ
 * getJobCounts), from Debian's packages. Messages are really published and consumed; the depth the recipes report
 * through sealed windows must equal what the broker holds.
 * With SCALESIGNAL_E2E_REQUIRED=1 a missing server fails the suite; otherwise it is skipped with the reason.
 */
import amqplib from 'amqplib';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Window } from '../../src/core/window.js';
import { bullmqQueueDepth, rabbitmqQueueDepth } from '../../src/integrations/queues/index.js';
import { collectingMetrics, type Collected } from '../integrations/support.js';
import {
  e2eRequired,
  INSTALL_HINT,
  RABBITMQ_SERVER,
  rabbitmqAvailable,
  REDIS_SERVER,
  redisAvailable,
  startRabbitmq,
  startRedis,
  type Running,
} from './queue-servers.js';

for (const [name, available, binary] of [
  ['RabbitMQ', rabbitmqAvailable, RABBITMQ_SERVER],
  ['Redis', redisAvailable, REDIS_SERVER],
] as const) {
  if (!available && e2eRequired) {
    describe(`${name} queue e2e`, () => {
      it(`needs ${binary}`, () => {
        expect.fail(`SCALESIGNAL_E2E_REQUIRED=1 but ${binary} is missing: ${INSTALL_HINT}`);
      });
    });
  }
}

/** The queue.depth values of the latest window that has `count` of them, once it equals `expected`. */
async function depthBecomes(c: Collected, expected: Record<string, number>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: Record<string, number> = {};
  while (Date.now() < deadline) {
    const window: Window | undefined = c.windows.at(-1);
    if (window !== undefined) {
      last = Object.fromEntries(
        window.series.filter((s) => s.name === 'queue.depth' && s.count > 0).map((s) => [Object.values(s.labels).join(' '), s.last]),
      );
      if (JSON.stringify(sorted(last)) === JSON.stringify(sorted(expected))) return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(last).toEqual(expected);
}
const sorted = (r: Record<string, number>) => Object.fromEntries(Object.entries(r).sort(([a], [b]) => a.localeCompare(b)));

describe.skipIf(!rabbitmqAvailable)(`rabbitmqQueueDepth e2e${rabbitmqAvailable ? '' : ` (skipped: ${RABBITMQ_SERVER} missing; ${INSTALL_HINT})`}`, () => {
  let broker: Running;
  let connection: amqplib.ChannelModel;

  beforeAll(async () => {
    broker = await startRabbitmq(async (port) => {
      try {
        const probe = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${port}`);
        await probe.close();
        return true;
      } catch {
        return false;
      }
    });
    connection = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${broker.port}`);
  }, 120_000);
  afterAll(async () => {
    await connection?.close().catch(() => {});
    await broker?.stop();
  }, 60_000);

  it('reports ready messages per queue, survives a missing queue, follows publishes and consumption', async () => {
    const setup = await connection.createConfirmChannel();
    await setup.assertQueue('jobs', { durable: false });
    await setup.assertQueue('emails', { durable: false });
    for (let i = 0; i < 25; i++) setup.sendToQueue('jobs', Buffer.from(`job ${i}`));
    for (let i = 0; i < 4; i++) setup.sendToQueue('emails', Buffer.from(`mail ${i}`));
    await setup.waitForConfirms();

    const c = collectingMetrics({ intervalMs: 200 });
    const errors: string[] = [];
    const observe = rabbitmqQueueDepth({ connection, queues: ['jobs', 'emails', 'missing'], onError: (_e, queue) => errors.push(queue) });
    c.metrics.gauge('queue.depth', { unit: '{message}', observe });
    try {
      await depthBecomes(c, { jobs: 25, emails: 4 });
      expect(errors).toContain('missing');
      // The missing queue closed the recipe's channel; later windows reopen one and keep reporting.
      const before = c.windows.length;
      for (let i = 0; i < 5; i++) await setup.get('jobs', { noAck: true });
      for (let i = 0; i < 10; i++) setup.sendToQueue('emails', Buffer.from('more'));
      await setup.waitForConfirms();
      await depthBecomes(c, { jobs: 20, emails: 14 });
      expect(c.windows.length).toBeGreaterThan(before);
    } finally {
      await c.metrics.shutdown();
      await observe.close();
      await setup.close();
    }
  });

  it('reports ready messages and consumers by state', async () => {
    const setup = await connection.createConfirmChannel();
    await setup.assertQueue('work', { durable: false });
    for (let i = 0; i < 3; i++) setup.sendToQueue('work', Buffer.from('w'));
    await setup.waitForConfirms();
    const consumer = await connection.createChannel();
    await consumer.prefetch(1);
    // One consumer holding one unacknowledged message: ready drops to 2, consumers is 1.
    await consumer.consume('work', () => {}, { noAck: false });
    const c = collectingMetrics({ intervalMs: 200 });
    const observe = rabbitmqQueueDepth({ connection, queue: 'work', byState: true, consumers: true });
    c.metrics.gauge('queue.depth', { unit: '{message}', observe });
    try {
      await depthBecomes(c, { 'work ready': 2, 'work consumers': 1 });
    } finally {
      await c.metrics.shutdown();
      await observe.close();
      await consumer.close();
      await setup.close();
    }
  });
});

describe.skipIf(!redisAvailable)(`bullmqQueueDepth e2e${redisAvailable ? '' : ` (skipped: ${REDIS_SERVER} missing; ${INSTALL_HINT})`}`, () => {
  let redis: Running;
  const queues: Queue[] = [];

  beforeAll(async () => {
    redis = await startRedis();
  }, 60_000);
  afterAll(async () => {
    for (const queue of queues) await queue.close();
    await redis?.stop();
  }, 60_000);

  const queue = (name: string) => {
    const q = new Queue(name, { connection: { host: '127.0.0.1', port: redis.port } });
    queues.push(q);
    return q;
  };

  it('reports waiting + prioritized + active per queue, delayed only when asked', async () => {
    const jobs = queue('jobs');
    const mail = queue('mail');
    await jobs.addBulk(Array.from({ length: 6 }, (_, i) => ({ name: 'job', data: { i } })));
    await jobs.add('urgent', {}, { priority: 1 });
    await mail.add('now', {});
    await mail.add('later', {}, { delay: 60_000 });
    await mail.add('later', {}, { delay: 60_000 });

    const c = collectingMetrics({ intervalMs: 200 });
    c.metrics.gauge('queue.depth', { unit: '{job}', observe: bullmqQueueDepth({ queues: [jobs, mail] }) });
    try {
      await depthBecomes(c, { jobs: 7, mail: 1 });
      await jobs.add('one more', {});
      await depthBecomes(c, { jobs: 8, mail: 1 });
    } finally {
      await c.metrics.shutdown();
    }

    const byState = collectingMetrics({ intervalMs: 200 });
    byState.metrics.gauge('queue.depth', {
      unit: '{job}',
      observe: bullmqQueueDepth({ queue: mail, byState: true, states: ['waiting', 'delayed'] }),
    });
    try {
      await depthBecomes(byState, { 'mail waiting': 1, 'mail delayed': 2 });
    } finally {
      await byState.metrics.shutdown();
    }
  });
});
