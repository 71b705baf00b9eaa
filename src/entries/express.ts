/** `scalesignal/express`: request and in-flight metrics for Express 4 and 5. */
export { expressMetrics, type ExpressMetricsMiddleware, type ExpressMetricsOptions } from '../integrations/express.js';
