/**
 * UCUM unit (what instruments declare) -> CloudWatch's StandardUnit enum, for EMF's `Unit` and PutMetricData's
 * `Unit` alike. Unknown units become `None`, never an error: the value stays exact, only the label is lost.
 */
import type { MetricKind } from '../../core/window.js';

/** The StandardUnit enum of the CloudWatch API model. */
export type StandardUnit =
  | 'Seconds'
  | 'Microseconds'
  | 'Milliseconds'
  | 'Bytes'
  | 'Kilobytes'
  | 'Megabytes'
  | 'Gigabytes'
  | 'Terabytes'
  | 'Bits'
  | 'Kilobits'
  | 'Megabits'
  | 'Gigabits'
  | 'Terabits'
  | 'Percent'
  | 'Count'
  | 'Bytes/Second'
  | 'Kilobytes/Second'
  | 'Megabytes/Second'
  | 'Gigabytes/Second'
  | 'Terabytes/Second'
  | 'Bits/Second'
  | 'Kilobits/Second'
  | 'Megabits/Second'
  | 'Gigabits/Second'
  | 'Terabits/Second'
  | 'Count/Second'
  | 'None';

// CloudWatch does not say whether a Kilobyte is 1000 or 1024 bytes, so both UCUM prefixes map to it.
const AMOUNTS: Readonly<Record<string, StandardUnit>> = {
  s: 'Seconds',
  ms: 'Milliseconds',
  us: 'Microseconds',
  By: 'Bytes',
  kBy: 'Kilobytes',
  KiBy: 'Kilobytes',
  MBy: 'Megabytes',
  MiBy: 'Megabytes',
  GBy: 'Gigabytes',
  GiBy: 'Gigabytes',
  TBy: 'Terabytes',
  TiBy: 'Terabytes',
  bit: 'Bits',
  kbit: 'Kilobits',
  Mbit: 'Megabits',
  Gbit: 'Gigabits',
  Tbit: 'Terabits',
  '%': 'Percent',
};

/** `{request}` and friends are UCUM annotations: dimensionless counts of things. */
const ANNOTATION = /^\{[^{}]*\}$/;

/**
 * `''` and `1` mean "a number of things" for a counter (Count) and "a plain number" otherwise (None). A rate
 * (`By/s`, `{request}/s`, `1/s`) maps to the per-second unit when CloudWatch has one.
 */
export function cloudWatchUnit(ucum: string, kind: MetricKind): StandardUnit {
  const unit = ucum.trim();
  if (unit === '' || unit === '1') return kind === 'counter' ? 'Count' : 'None';
  if (ANNOTATION.test(unit)) return 'Count';
  const amount = AMOUNTS[unit];
  if (amount !== undefined) return amount;
  if (unit.endsWith('/s')) {
    const numerator = unit.slice(0, -2);
    if (numerator === '1' || ANNOTATION.test(numerator)) return 'Count/Second';
    const base = AMOUNTS[numerator];
    if (base !== undefined && /(bytes|bits)$/i.test(base)) return `${base}/Second` as StandardUnit;
  }
  return 'None';
}
