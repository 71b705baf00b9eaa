/**
 * Validates a CloudWatch Embedded Metric Format document against the specification, independently of the sink's
 * code. Throws with every problem found; returns the parsed document.
 *
 * Two layers:
 * 1. EMF_SCHEMA, a JSON Schema of the document structure, run with ajv. Source: the EMF specification
 *    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html:
 *    root member `_aws` with `Timestamp` (integer epoch ms) and `CloudWatchMetrics` (MetricDirective objects with
 *    `Namespace`, `Dimensions` = arrays of dimension keys, `Metrics` = MetricDefinition objects with `Name`,
 *    optional `Unit` from the CloudWatch unit enum and optional `StorageResolution` 1 or 60)), and the JSON schema
 *    AWS published with it, as carried by aws-lambda-powertools-python
 *    (`aws_lambda_powertools/metrics/provider/cloudwatch_emf/`, CLOUDWATCH_EMF_SCHEMA). That copy limits a
 *    DimensionSet to 9 keys, the specification's old limit; the current text says 30, which is used here.
 * 2. What a schema cannot express, from the same specification: every dimension key and metric name refers to a
 *    root member (a string for a dimension, a number or an array of at most 100 numbers for a metric), at most 100
 *    metrics per directive, 1 MB per document, and CloudWatch's dimension-value rules (ASCII, one non-space,
 *    at most 1024 characters, from the API reference of Dimension).
 */
import Ajv from 'ajv';

export const CLOUDWATCH_UNITS = new Set([
  'Seconds', 'Microseconds', 'Milliseconds', 'Bytes', 'Kilobytes', 'Megabytes', 'Gigabytes', 'Terabytes',
  'Bits', 'Kilobits', 'Megabits', 'Gigabits', 'Terabits', 'Percent', 'Count', 'Bytes/Second', 'Kilobytes/Second',
  'Megabytes/Second', 'Gigabytes/Second', 'Terabytes/Second', 'Bits/Second', 'Kilobits/Second', 'Megabits/Second',
  'Gigabits/Second', 'Terabits/Second', 'Count/Second', 'None',
]);

export interface EmfMetricDefinition {
  Name: string;
  Unit?: string;
  StorageResolution?: number;
}
export interface EmfDirective {
  Namespace: string;
  Dimensions: string[][];
  Metrics: EmfMetricDefinition[];
}
export interface EmfDocument {
  _aws: { Timestamp: number; CloudWatchMetrics: EmfDirective[]; LogGroupName?: string; LogStreamName?: string };
  [member: string]: unknown;
}

export interface EmfLimits {
  maxBytes: number;
  /** Our sink always asks for 1-second resolution. */
  requireHighResolution: boolean;
}

const DEFAULT_LIMITS: EmfLimits = { maxBytes: 1_000_000, requireHighResolution: true };

export const EMF_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'EMF root node',
  type: 'object',
  required: ['_aws'],
  properties: {
    _aws: {
      title: 'Metadata',
      type: 'object',
      required: ['Timestamp', 'CloudWatchMetrics'],
      properties: {
        Timestamp: { type: 'integer', minimum: 0 },
        CloudWatchMetrics: {
          type: 'array',
          items: {
            title: 'MetricDirective',
            type: 'object',
            required: ['Namespace', 'Dimensions', 'Metrics'],
            properties: {
              Namespace: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[a-zA-Z0-9 ._#:/-]*[a-zA-Z0-9._#:/-][a-zA-Z0-9 ._#:/-]*$' },
              Dimensions: {
                type: 'array',
                items: { title: 'DimensionSet', type: 'array', maxItems: 30, items: { type: 'string', minLength: 1 } },
              },
              Metrics: {
                type: 'array',
                maxItems: 100,
                items: {
                  title: 'MetricDefinition',
                  type: 'object',
                  required: ['Name'],
                  properties: {
                    Name: { type: 'string', minLength: 1 },
                    Unit: { enum: [...CLOUDWATCH_UNITS] },
                    StorageResolution: { enum: [1, 60] },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
} as const;

const ajv = new Ajv.default({ allErrors: true, strict: true });
const checkSchema = ajv.compile(EMF_SCHEMA);

export function validateEmf(text: string, limits: Partial<EmfLimits> = {}): EmfDocument {
  const { maxBytes, requireHighResolution } = { ...DEFAULT_LIMITS, ...limits };
  const problems: string[] = [];
  const bytes = Buffer.byteLength(text);
  if (bytes > maxBytes) problems.push(`document is ${bytes} bytes, limit ${maxBytes}`);
  if (text.includes('\n')) problems.push('document spans several lines');
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`not JSON: ${String(error)}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error('root is not an object');
  if (!checkSchema(doc)) problems.push(...(checkSchema.errors ?? []).map((e) => `schema: ${e.instancePath || '/'} ${e.message ?? ''}`));
  const aws = doc._aws as Record<string, unknown> | undefined;
  if (typeof aws !== 'object' || aws === null) throw new Error('_aws missing');
  if (typeof aws.Timestamp !== 'number' || !Number.isInteger(aws.Timestamp) || aws.Timestamp <= 0) problems.push(`_aws.Timestamp ${String(aws.Timestamp)} is not epoch ms`);
  const directives = aws.CloudWatchMetrics;
  if (!Array.isArray(directives) || directives.length === 0) {
    problems.push('_aws.CloudWatchMetrics is not a non-empty array');
  } else {
    for (const [d, directive] of (directives as Record<string, unknown>[]).entries()) {
      const at = `CloudWatchMetrics[${d}]`;
      const ns = directive.Namespace;
      if (typeof ns !== 'string' || ns.trim() === '' || ns.length > 256 || !/^[a-zA-Z0-9 ._#:/-]+$/.test(ns)) problems.push(`${at}.Namespace ${String(ns)} invalid`);
      const dims = directive.Dimensions;
      if (!Array.isArray(dims)) problems.push(`${at}.Dimensions is not an array`);
      else {
        for (const set of dims as unknown[]) {
          if (!Array.isArray(set)) {
            problems.push(`${at}: a dimension set is not an array`);
            continue;
          }
          if (set.length > 30) problems.push(`${at}: dimension set of ${set.length} keys (max 30)`);
          for (const key of set as unknown[]) {
            const value = typeof key === 'string' ? doc[key] : undefined;
            if (typeof key !== 'string') problems.push(`${at}: dimension key ${String(key)} is not a string`);
            else if (typeof value !== 'string') problems.push(`${at}: dimension ${key} has no string root member`);
            else if (value.trim() === '' || value.length > 1024 || !/^[\x20-\x7e]+$/.test(value)) problems.push(`${at}: dimension value of ${key} invalid`);
          }
        }
      }
      const metrics = directive.Metrics;
      if (!Array.isArray(metrics)) {
        problems.push(`${at}.Metrics is not an array`);
        continue;
      }
      if (metrics.length > 100) problems.push(`${at}: ${metrics.length} metrics (max 100)`);
      const names = new Set<string>();
      for (const m of metrics as Record<string, unknown>[]) {
        const name = m.Name;
        if (typeof name !== 'string' || name.trim() === '' || name.length > 255) {
          problems.push(`${at}: metric name ${String(name)} invalid`);
          continue;
        }
        if (names.has(name)) problems.push(`${at}: metric ${name} defined twice`);
        names.add(name);
        if (m.Unit !== undefined && !CLOUDWATCH_UNITS.has(m.Unit as string)) problems.push(`${name}: unit ${String(m.Unit)} is not a CloudWatch unit`);
        if (requireHighResolution && m.StorageResolution !== 1) problems.push(`${name}: StorageResolution ${String(m.StorageResolution)} is not 1`);
        if (m.StorageResolution !== undefined && m.StorageResolution !== 1 && m.StorageResolution !== 60) problems.push(`${name}: StorageResolution must be 1 or 60`);
        const value = doc[name];
        const finite = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
        if (Array.isArray(value)) {
          if (value.length === 0 || value.length > 100) problems.push(`${name}: value array of ${value.length} (1..100)`);
          if (!value.every(finite)) problems.push(`${name}: value array holds a non-number`);
        } else if (!finite(value)) {
          problems.push(`${name}: root member is ${JSON.stringify(value)}, not a number`);
        }
      }
    }
  }
  if (problems.length > 0) throw new Error(`invalid EMF document:\n  ${problems.join('\n  ')}`);
  return doc as EmfDocument;
}

/** Every metric of a set of documents as `name{dim=value,...}` -> { value, unit, timestamp }. */
export function emfMetrics(docs: readonly EmfDocument[]): Map<string, { value: unknown; unit?: string; timestamp: number; dimensions: string[][] }> {
  const out = new Map<string, { value: unknown; unit?: string; timestamp: number; dimensions: string[][] }>();
  for (const doc of docs) {
    for (const directive of doc._aws.CloudWatchMetrics) {
      const keys = [...new Set(directive.Dimensions.flat())].sort();
      const dims = keys.map((k) => `${k}=${String(doc[k])}`).join(',');
      for (const m of directive.Metrics) {
        const id = `${m.Name}{${dims}}@${doc._aws.Timestamp}`;
        if (out.has(id)) throw new Error(`metric ${id} appears twice`);
        out.set(id, { value: doc[m.Name], unit: m.Unit, timestamp: doc._aws.Timestamp, dimensions: directive.Dimensions });
      }
    }
  }
  return out;
}
