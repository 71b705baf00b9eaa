/** `scalesignal/queues`: queue-depth callbacks (SQS, RabbitMQ, BullMQ, in-process) for observed gauges. */
export * from '../integrations/queues/index.js';
