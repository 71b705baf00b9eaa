/** `scalesignal/fastify`: request and in-flight metrics for Fastify 4 and 5. */
export { fastifyMetrics, type FastifyMetricsOptions } from '../integrations/fastify.js';
