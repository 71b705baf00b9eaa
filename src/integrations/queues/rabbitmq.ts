/**
 * RabbitMQ backlog with amqplib: `checkQueue(queue).messageCount`, the messages ready for delivery (AMQP's
 * queue.declare-ok; unacknowledged deliveries are not in it, the management API has those).
 *
 *   const connection = await amqplib.connect(url);
 *   metrics.gauge('queue.depth', { unit: '{message}', observe: rabbitmqQueueDepth({ connection, queues: ['jobs'] }) });
 *
 * Give the connection: the recipe opens its own channel, because RabbitMQ closes a channel whose checkQueue names
 * a missing queue; it opens a new one at the next window. amqplib calls cannot be cancelled, so the window's
 * AbortSignal ends the wait instead.
 */
import { abortable, list, readAll, type QueueDepthObserver, type QueueDepthOptions } from './common.js';

/** What is used of an amqplib channel. */
export interface AmqpChannelLike {
  checkQueue(queue: string): Promise<{ messageCount: number; consumerCount: number }>;
  on(event: 'error' | 'close', listener: (...args: unknown[]) => void): unknown;
  close(): Promise<void>;
}
/** What is used of an amqplib connection. */
export interface AmqpConnectionLike {
  createChannel(): Promise<AmqpChannelLike>;
}

export interface RabbitmqQueueDepthOptions extends QueueDepthOptions {
  /** Preferred: the recipe keeps its own channel on it. */
  connection?: AmqpConnectionLike;
  /** A channel used only for this (it is closed by RabbitMQ if a queue is missing). */
  channel?: AmqpChannelLike;
  queue?: string;
  queues?: readonly string[];
  /** Also report the consumer count, as state `consumers` with byState (never summed into the depth). */
  consumers?: boolean;
}

export function rabbitmqQueueDepth(options: RabbitmqQueueDepthOptions): QueueDepthObserver & { close(): Promise<void> } {
  const { connection } = options;
  if ((connection === undefined) === (options.channel === undefined)) {
    throw new TypeError('scalesignal: rabbitmqQueueDepth needs { connection } (preferred) or { channel }');
  }
  const queues = list(options.queue, options.queues, '{ queue } or { queues }');
  let channel: Promise<AmqpChannelLike> | undefined = options.channel === undefined ? undefined : Promise.resolve(options.channel);
  let own: AmqpChannelLike | undefined;

  const open = (): Promise<AmqpChannelLike> => {
    if (channel !== undefined) return channel;
    const opening = (connection as AmqpConnectionLike).createChannel().then((ch) => {
      own = ch;
      // A channel error is also emitted as an event; unhandled, it would crash the process.
      ch.on('error', () => {});
      ch.on('close', () => {
        if (channel === opening) channel = undefined;
        if (own === ch) own = undefined;
      });
      return ch;
    });
    channel = opening;
    opening.catch(() => {
      if (channel === opening) channel = undefined;
    });
    return opening;
  };

  const observe = async (signal: AbortSignal) => {
    const ch = await abortable(open(), signal);
    return readAll(queues, (q) => q, async (queue) => {
      const ok = await abortable(ch.checkQueue(queue), signal);
      const counts: Record<string, number> = { ready: ok.messageCount };
      if (options.consumers && options.byState) counts.consumers = ok.consumerCount;
      return counts;
    }, options);
  };
  return Object.assign(observe, {
    /** Closes the recipe's own channel (not a channel you passed). */
    async close() {
      const ch = own;
      own = undefined;
      channel = undefined;
      if (ch !== undefined) await ch.close().catch(() => {});
    },
  });
}
