/**
 * A worker whose backlog is a leading indicator: `queue.depth` is an observed gauge, read once per window (never
 * overlapping, cancelled at the window's timeout), next to the jobs' duration and throughput.
 *
 *   npx tsx examples/queue-worker.ts                        # in-process queue, until Ctrl-C
 *   npx tsx examples/queue-worker.ts --seconds 10
 *   npx tsx examples/queue-worker.ts --backend rabbitmq     # AMQP_URL (default amqp://localhost), queue "jobs"
 *   npx tsx examples/queue-worker.ts --backend bullmq       # REDIS_HOST / REDIS_PORT (default localhost:6379)
 *   npx tsx examples/queue-worker.ts --backend sqs          # SQS_QUEUE_URL, AWS credentials and region from the
 *                                                           # environment (AWS_ENDPOINT_URL_SQS for a local SQS)
 *
 * Every variant produces bursts of jobs and works them off with four concurrent workers, so the depth rises and
 * falls. The recipes in one line each:
 *   observe: inProcessQueueDepth({ queues: { jobs } })
 *   observe: rabbitmqQueueDepth({ connection, queue: 'jobs' })
 *   observe: bullmqQueueDepth({ queue })
 *   observe: sqsQueueDepth({ client: new SQSClient({}), queueUrl })
 */
import { parseArgs } from 'node:util';
import { bullmqQueueDepth, consoleSink, createMetrics, type GaugeOptions, inProcessQueueDepth, rabbitmqQueueDepth, sqsQueueDepth } from '../src/index.js';

const { values } = parseArgs({
  options: { seconds: { type: 'string' }, backend: { type: 'string', default: 'memory' }, concurrency: { type: 'string', default: '4' } },
});
const metrics = createMetrics({
  service: 'example-worker',
  sinks: [consoleSink({ filter: (s) => s.name.startsWith('queue.') })],
});
const done = metrics.counter('queue.jobs.processed', { unit: '{job}' }).bind();
const duration = metrics.histogram('queue.job.duration', { unit: 'ms' }).bind();
const CONCURRENCY = Number(values.concurrency);
const work = async () => {
  const stop = duration.startTimer();
  await new Promise((r) => setTimeout(r, 20 + Math.random() * 40));
  stop();
  done.add(1);
};
/** Bursts: 30 jobs a second, 400 every fifth second (the second one first); four workers handle about 130 a second. */
const burst = (tick: number) => (tick % 5 === 1 ? 400 : 30);
const depthGauge = (observe: NonNullable<GaugeOptions['observe']>) => metrics.gauge('queue.depth', { unit: '{job}', observe });
const cleanups: Array<() => Promise<unknown> | void> = [];

if (values.backend === 'memory') {
  const jobs: number[] = [];
  depthGauge(inProcessQueueDepth({ queues: { jobs } }));
  let tick = 0;
  const producer = setInterval(() => {
    for (let i = burst(tick++); i > 0; i--) jobs.push(Date.now());
  }, 1000);
  let running = true;
  const worker = async () => {
    while (running) {
      if (jobs.shift() === undefined) await new Promise((r) => setTimeout(r, 5));
      else await work();
    }
  };
  const workers = Array.from({ length: CONCURRENCY }, worker);
  cleanups.push(() => clearInterval(producer), async () => {
    running = false;
    await Promise.all(workers);
  });
} else if (values.backend === 'rabbitmq') {
  const amqplib = (await import('amqplib')).default;
  const connection = await amqplib.connect(process.env.AMQP_URL ?? 'amqp://localhost');
  const channel = await connection.createChannel();
  await channel.assertQueue('jobs', { durable: false });
  await channel.prefetch(CONCURRENCY);
  const observe = rabbitmqQueueDepth({ connection, queue: 'jobs' });
  depthGauge(observe);
  await channel.consume('jobs', (message) => {
    if (message !== null) void work().then(() => channel.ack(message));
  });
  let tick = 0;
  const producer = setInterval(() => {
    for (let i = burst(tick++); i > 0; i--) channel.sendToQueue('jobs', Buffer.from(String(Date.now())));
  }, 1000);
  cleanups.push(() => clearInterval(producer), () => observe.close(), () => connection.close());
} else if (values.backend === 'bullmq') {
  const { Queue, Worker } = await import('bullmq');
  const connection = { host: process.env.REDIS_HOST ?? 'localhost', port: Number(process.env.REDIS_PORT ?? 6379) };
  const queue = new Queue('jobs', { connection });
  depthGauge(bullmqQueueDepth({ queue }));
  const worker = new Worker('jobs', work, { connection, concurrency: CONCURRENCY });
  let tick = 0;
  const producer = setInterval(() => {
    void queue.addBulk(Array.from({ length: burst(tick++) }, () => ({ name: 'job', data: {}, opts: { removeOnComplete: true } })));
  }, 1000);
  cleanups.push(() => clearInterval(producer), () => worker.close(), () => queue.close());
} else if (values.backend === 'sqs') {
  const { SQSClient, SendMessageBatchCommand, ReceiveMessageCommand, DeleteMessageCommand } = await import('@aws-sdk/client-sqs');
  const queueUrl = process.env.SQS_QUEUE_URL;
  if (queueUrl === undefined) throw new Error('set SQS_QUEUE_URL');
  const client = new SQSClient({});
  depthGauge(sqsQueueDepth({ client, queueUrl }));
  let running = true;
  let tick = 0;
  const producer = setInterval(() => {
    const count = Math.min(burst(tick++), 50);
    for (let start = 0; start < count; start += 10) {
      const entries = Array.from({ length: Math.min(10, count - start) }, (_, i) => ({ Id: String(i), MessageBody: String(Date.now()) }));
      void client.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries })).catch(() => {});
    }
  }, 1000);
  const worker = async () => {
    while (running) {
      const { Messages = [] } = await client.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 1 }));
      for (const message of Messages) {
        await work();
        await client.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
      }
    }
  };
  const workers = Array.from({ length: CONCURRENCY }, () => worker().catch(() => {}));
  cleanups.push(() => clearInterval(producer), async () => {
    running = false;
    await Promise.all(workers);
  }, () => client.destroy());
} else {
  throw new Error(`--backend must be memory, rabbitmq, bullmq or sqs, got ${values.backend}`);
}
console.log(`worker running on the ${values.backend} queue, ${CONCURRENCY} at a time`);

async function stop(): Promise<void> {
  for (const cleanup of cleanups) await cleanup();
  await metrics.shutdown();
  process.exit(0);
}
process.once('SIGINT', () => void stop());
if (values.seconds !== undefined) setTimeout(() => void stop(), Number(values.seconds) * 1000);
