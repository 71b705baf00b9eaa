/**
 * OpenTelemetry attributes -> scalesignal labels.
 *
 * Values the API allows become label strings as OTel's non-OTLP exporters write them (spec "Attribute" and
 * "Prometheus and OpenMetrics compatibility"): strings as they are, numbers in JavaScript's shortest decimal form
 * (`200`, `1.5`, `1e+21`, `NaN`), booleans `true`/`false`, arrays JSON-encoded (`["a","b"]`, `[1,null]`).
 * Keys whose value is undefined or null are left out, as are values the API does not allow (objects, functions,
 * symbols, bigints). The core turns string, number and boolean values into strings itself, so the common case (no
 * array) passes the caller's object through untouched: no copy, no allocation.
 */
import type { Attributes } from '@opentelemetry/api';
import type { LabelInput } from '../core/api.js';

type LabelValue = string | number | boolean;

/** The labels for `attributes`: the object itself when every value is a primitive, else a converted copy. */
export function toLabels(attributes: Attributes): LabelInput {
  for (const key in attributes) {
    const type = typeof attributes[key];
    if (type !== 'string' && type !== 'number' && type !== 'boolean' && type !== 'undefined') return convert(attributes);
  }
  return attributes as LabelInput;
}

/** A converted copy, always a new object: for observations, which are applied after the caller may have reused its object. */
export function copyLabels(attributes: Attributes): LabelInput {
  return convert(attributes);
}

function convert(attributes: Attributes): LabelInput {
  const labels: Record<string, LabelValue> = {};
  for (const key in attributes) {
    const value: unknown = attributes[key];
    const type = typeof value;
    if (type === 'string' || type === 'number' || type === 'boolean') labels[key] = value as LabelValue;
    else if (Array.isArray(value)) {
      const json = arrayJson(value);
      if (json !== undefined) labels[key] = json;
    }
  }
  return labels;
}

/** JSON of an attribute array; undefined when it cannot be encoded (a bigint or a cycle inside): never throws. */
function arrayJson(value: readonly unknown[]): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}

/**
 * A key identifying the label set the core will file `labels` under: every key with a value, sorted, values as
 * strings. Used to buffer observable callbacks' observations (the last one per label set wins, as in the SDK).
 */
export function labelSetKey(labels: LabelInput): string {
  const names = Object.keys(labels).sort();
  let key = '';
  for (const name of names) {
    const value = labels[name];
    if (value === undefined || value === null) continue;
    key += name + '\u0001' + String(value) + '\u0002';
  }
  return key;
}

/** Attributes a caller might pass against the API's types (null, a string) are treated as no attributes. */
export function isAttributes(attributes: unknown): attributes is Attributes {
  return typeof attributes === 'object' && attributes !== null;
}
