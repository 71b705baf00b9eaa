/** UCUM unit (what instruments declare) -> CloudWatch StandardUnit. Unknown units become `None`, never an error. */
import type { MetricKind } from '../../core/window.js';
import type { StandardUnit } from './types.js';

const BASE: Readonly<Record<string, StandardUnit>> = {
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
  '1': 'None',
};

const PER_SECOND: Readonly<Record<string, StandardUnit>> = {
  By: 'Bytes/Second',
  kBy: 'Kilobytes/Second',
  KiBy: 'Kilobytes/Second',
  MBy: 'Megabytes/Second',
  MiBy: 'Megabytes/Second',
  GBy: 'Gigabytes/Second',
  GiBy: 'Gigabytes/Second',
  TBy: 'Terabytes/Second',
  TiBy: 'Terabytes/Second',
  bit: 'Bits/Second',
  kbit: 'Kilobits/Second',
  Mbit: 'Megabits/Second',
  Gbit: 'Gigabits/Second',
  Tbit: 'Terabits/Second',
  '1': 'Count/Second',
};

/** `{request}` and friends are UCUM annotations: dimensionless counts of things. */
const ANNOTATION = /^\{[^{}]*\}$/;

export function cloudWatchUnit(ucum: string, kind: MetricKind): StandardUnit {
  const unit = ucum.trim();
  // A counter without a unit still counts something.
  if (unit === '') return kind === 'counter' ? 'Count' : 'None';
  const direct = BASE[unit];
  if (direct !== undefined) return direct;
  if (ANNOTATION.test(unit)) return 'Count';
  if (unit.endsWith('/s')) {
    const numerator = unit.slice(0, -2);
    if (ANNOTATION.test(numerator)) return 'Count/Second';
    return PER_SECOND[numerator] ?? 'None';
  }
  return 'None';
}
