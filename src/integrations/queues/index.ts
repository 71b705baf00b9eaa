/** Queue-depth recipes: observe callbacks for `metrics.gauge('queue.depth', { observe })`. */
export { combineQueueDepths, type QueueDepthObserver, type QueueDepthOptions } from './common.js';
export { sqsQueueDepth, type SqsClientLike, type SqsQueueDepthOptions } from './sqs.js';
export { rabbitmqQueueDepth, type AmqpChannelLike, type AmqpConnectionLike, type RabbitmqQueueDepthOptions } from './rabbitmq.js';
export { bullmqQueueDepth, DEFAULT_BULLMQ_STATES, type BullQueueLike, type BullmqQueueDepthOptions } from './bullmq.js';
export { inProcessQueueDepth, type InProcessQueueDepthOptions, type QueueSource } from './in-process.js';
