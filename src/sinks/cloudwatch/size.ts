/**
 * Upper estimates of a datum's size in the JSON body the SDK writes (AWS JSON 1.0: field names, quoted strings,
 * numbers in JavaScript's shortest form, timestamps as epoch seconds), so a request never exceeds 1 MB.
 * The part that depends only on the series (name, dimensions, unit) is computed once per series by the converter.
 */
import type { Dimension, MetricDatum } from './types.js';

/** Per-datum slack on top of the estimate: covers a serializer that adds a field or whitespace. */
const DATUM_MARGIN = 16;
const PLAIN = /^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/;

/** Exact size of a JSON string literal, quotes included. */
function jsonStringLiteralBytes(text: string): number {
  if (PLAIN.test(text)) return text.length + 2;
  return Buffer.byteLength(JSON.stringify(text));
}

/** `{"Namespace":"…","MetricData":[]}` */
export function envelopeBytes(namespace: string): number {
  return 30 + jsonStringLiteralBytes(namespace);
}

/** Everything but the values: name, dimensions, timestamp, unit, resolution, separators, margin. */
export function fixedBytes(name: string, dimensions: readonly Dimension[] | undefined, unit: string | undefined, resolution: number | undefined): number {
  // {"MetricName":"…","Timestamp":1700000000.123}, plus the comma between datums
  let n = 30 + jsonStringLiteralBytes(name) + 14 + 1 + DATUM_MARGIN;
  if (dimensions !== undefined && dimensions.length > 0) {
    // ,"Dimensions":[ … ] and {"Name":"…","Value":"…"}, per dimension
    n += 16;
    for (const d of dimensions) n += 20 + jsonStringLiteralBytes(d.Name) + jsonStringLiteralBytes(d.Value);
  }
  if (unit !== undefined) n += 10 + unit.length;
  if (resolution !== undefined) n += 23;
  return n;
}

/** The value fields: Value, StatisticValues, Values and Counts. */
export function valueBytes(d: MetricDatum): number {
  let n = 0;
  if (d.Value !== undefined) n += 9 + numberBytes(d.Value);
  const s = d.StatisticValues;
  // ,"StatisticValues":{"SampleCount":,"Sum":,"Minimum":,"Maximum":}
  if (s !== undefined) n += 66 + numberBytes(s.SampleCount) + numberBytes(s.Sum) + numberBytes(s.Minimum) + numberBytes(s.Maximum);
  if (d.Values !== undefined) n += 12 + numbersBytes(d.Values);
  if (d.Counts !== undefined) n += 12 + numbersBytes(d.Counts);
  return n;
}

/** Characters of a finite number in JSON; integers counted without formatting them. */
function numberBytes(value: number): number {
  if (Number.isInteger(value) && value > -1e15 && value < 1e15) {
    let n = value < 0 ? 2 : 1;
    let v = value < 0 ? -value : value;
    while (v >= 10) {
      v /= 10;
      n++;
    }
    return n;
  }
  return String(value).length;
}

function numbersBytes(values: readonly number[]): number {
  let n = values.length;
  for (let i = 0; i < values.length; i++) n += numberBytes(values[i]);
  return n;
}
