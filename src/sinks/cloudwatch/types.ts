/**
 * The PutMetricData shapes this sink produces, declared structurally so the public types never reference the
 * optional `@aws-sdk/client-cloudwatch` package (users without it must still compile). They are assignable to the
 * SDK's own `PutMetricDataCommandInput`.
 */

import type { StandardUnit } from '../aws/units.js';

export type { StandardUnit } from '../aws/units.js';

export interface Dimension {
  readonly Name: string;
  readonly Value: string;
}

export interface StatisticSet {
  readonly SampleCount: number;
  readonly Sum: number;
  readonly Minimum: number;
  readonly Maximum: number;
}

/** Exactly one of Value, StatisticValues or Values/Counts is set (CloudWatch rejects combinations). */
export interface MetricDatum {
  readonly MetricName: string;
  readonly Dimensions?: readonly Dimension[];
  /** The start of the datum's own second. */
  readonly Timestamp: Date;
  readonly Value?: number;
  readonly StatisticValues?: StatisticSet;
  readonly Values?: readonly number[];
  readonly Counts?: readonly number[];
  readonly Unit?: StandardUnit;
  readonly StorageResolution?: 1 | 60;
}

export interface PutMetricDataInput {
  readonly Namespace: string;
  readonly MetricData: readonly MetricDatum[];
}

/**
 * Sends one PutMetricData request. Resolve on success; reject with the SDK's error (or anything carrying
 * `name`/`Code`/`$metadata.httpStatusCode`, or a `SinkError`) so throttling and transient failures are recognised.
 * `signal` aborts when the sink's request timeout passes.
 */
export type CloudWatchTransport = (input: PutMetricDataInput, options: { readonly signal: AbortSignal }) => Promise<unknown>;
