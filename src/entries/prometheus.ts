/** `scalesignal/prometheus`: the pull endpoint Prometheus and KEDA's metrics-api scaler read. */
export {
  prometheusSink,
  powerOfTwoBuckets,
  type BucketsContext,
  type IdleQuantiles,
  type PrometheusSink,
  type PrometheusSinkOptions,
  type ScrapeHandler,
} from '../sinks/prometheus.js';
