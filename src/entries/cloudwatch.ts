/** `scalesignal/cloudwatch`: high-resolution PutMetricData, paced under the account's quota. */
export {
  cloudWatchSink,
  type CloudWatchClientLike,
  type CloudWatchSink,
  type CloudWatchSinkOptions,
  type CloudWatchTransport,
  type MetricDatum,
  type PutMetricDataInput,
  type StandardUnit,
} from '../sinks/cloudwatch.js';
