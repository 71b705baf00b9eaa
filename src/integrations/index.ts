/** Built-in leading indicators: HTTP servers (Express, Fastify, node:http), SSE, queue depth, event loop. */
export { expressMetrics, type ExpressMetricsMiddleware, type ExpressMetricsOptions } from './express.js';
export { fastifyMetrics, type FastifyMetricsOptions } from './fastify.js';
export { instrumentHttpServer, type HttpServerMetricsOptions } from './http-server.js';
export { trackSse, type SseTracker } from './sse.js';
export {
  ACTIVE_REQUESTS,
  OTHER_ROUTE,
  REQUEST_DURATION,
  REQUESTS,
  SSE_CONNECTIONS,
  UNMATCHED_ROUTE,
  type HttpMetricsOptions,
  type Outcome,
} from './http/names.js';
export {
  bullmqQueueDepth,
  combineQueueDepths,
  DEFAULT_BULLMQ_STATES,
  inProcessQueueDepth,
  rabbitmqQueueDepth,
  sqsQueueDepth,
  type AmqpChannelLike,
  type AmqpConnectionLike,
  type BullmqQueueDepthOptions,
  type BullQueueLike,
  type InProcessQueueDepthOptions,
  type QueueDepthObserver,
  type QueueDepthOptions,
  type QueueSource,
  type RabbitmqQueueDepthOptions,
  type SqsClientLike,
  type SqsQueueDepthOptions,
} from './queues/index.js';
