/**
 * CloudWatch limits both AWS sinks (EMF and PutMetricData) honour, so one series has one name and one set of
 * dimensions on both. Sources: the CloudWatch API model (botocore `cloudwatch/2010-08-01/service-2.json`:
 * MetricName 1..255, Dimensions <= 30, DimensionName 1..255, DimensionValue 1..1024, Namespace 1..255 matching
 * `[^:].*`; values in +-2^360, no NaN/Infinity), the EMF specification (100 metrics per directive, 30 keys per
 * dimension set, 100 values per array, 1 MB per event) and `aws-embedded-metrics`' validator (dimension names at
 * most 250 characters, namespaces of `[a-zA-Z0-9 ._#:/-]`). Where two sources differ the stricter one wins, so a
 * name valid for one sink is valid for the other.
 */

export const MAX_DIMENSIONS = 30;
/** The API allows 255; aws-embedded-metrics rejects more than 250. */
export const MAX_DIMENSION_NAME_LENGTH = 250;
export const MAX_DIMENSION_VALUE_LENGTH = 1024;
/** EMF allows 1024, but what it extracts is a CloudWatch metric, whose name the API caps at 255. */
export const MAX_METRIC_NAME_LENGTH = 255;
export const MAX_NAMESPACE_LENGTH = 255;
/** CloudWatch rejects magnitudes above 2^360 and non-zero magnitudes below 2^-360. */
export const MAX_MAGNITUDE = 2 ** 360;
export const MIN_MAGNITUDE = 2 ** -360;
