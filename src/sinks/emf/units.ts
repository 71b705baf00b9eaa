import type { MetricKind } from '../../core/window.js';

/** CloudWatch's unit enum, as EMF's `Unit` field takes it. */
export type CloudWatchUnit =
  | 'Seconds' | 'Microseconds' | 'Milliseconds'
  | 'Bytes' | 'Kilobytes' | 'Megabytes' | 'Gigabytes' | 'Terabytes'
  | 'Bits' | 'Kilobits' | 'Megabits' | 'Gigabits' | 'Terabits'
  | 'Percent' | 'Count'
  | 'Bytes/Second' | 'Kilobytes/Second' | 'Megabytes/Second' | 'Gigabytes/Second' | 'Terabytes/Second'
  | 'Bits/Second' | 'Kilobits/Second' | 'Megabits/Second' | 'Gigabits/Second' | 'Terabits/Second'
  | 'Count/Second' | 'None';

// CloudWatch does not say whether a Kilobyte is 1000 or 1024 bytes, so both UCUM prefixes map to it.
const AMOUNTS: Readonly<Record<string, CloudWatchUnit>> = {
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

/**
 * Maps a UCUM unit to CloudWatch's enum. Annotations (`{request}`) are counts; a rate (`By/s`, `{request}/s`)
 * maps to the per-second unit when CloudWatch has one. Units CloudWatch cannot express (`ns`, `Cel`, `1` for
 * a ratio) become `None`: the value is still exact, only the label is lost.
 * `''` and `1` mean "a number of things" for a counter (Count) and "a plain number" for a gauge (None).
 */
export function cloudWatchUnit(ucum: string, kind: MetricKind | 'count'): CloudWatchUnit {
  if (kind === 'count') return 'Count';
  const unit = ucum.trim();
  if (unit === '' || unit === '1') return kind === 'counter' ? 'Count' : 'None';
  if (isAnnotation(unit)) return 'Count';
  const amount = AMOUNTS[unit];
  if (amount !== undefined) return amount;
  const slash = unit.lastIndexOf('/');
  if (slash > 0 && unit.slice(slash + 1) === 's') {
    const numerator = unit.slice(0, slash);
    if (numerator === '1' || isAnnotation(numerator)) return 'Count/Second';
    const base = AMOUNTS[numerator];
    if (base !== undefined && (base.endsWith('bytes') || base.endsWith('Bytes') || base.endsWith('bits') || base.endsWith('Bits'))) {
      return `${base}/Second` as CloudWatchUnit;
    }
  }
  return 'None';
}

function isAnnotation(unit: string): boolean {
  return /^\{[^{}]*\}$/.test(unit);
}
