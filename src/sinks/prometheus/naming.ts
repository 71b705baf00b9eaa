/**
 * Prometheus names from a canonical (dotted, OTel style) name and a UCUM unit, following the OpenTelemetry
 * "Prometheus and OpenMetrics compatibility" rules, so dashboards written for the OTel Prometheus exporter match.
 */
import type { MetricKind } from '../../core/window.js';

/** Converts recorded values to the unit named in the metric name (identity unless `baseUnits`). */
export interface UnitConversion {
  /** Word(s) appended to the name, e.g. `milliseconds`, `bytes_per_second`; empty for none. */
  readonly suffix: string;
  /** value * mul / div; division keeps `2^k / 1000` as exact as the decimal the user expects. */
  readonly mul: number;
  readonly div: number;
}

const UNIT_WORDS: Readonly<Record<string, string>> = {
  d: 'days',
  h: 'hours',
  min: 'minutes',
  s: 'seconds',
  ms: 'milliseconds',
  us: 'microseconds',
  ns: 'nanoseconds',
  By: 'bytes',
  KiBy: 'kibibytes',
  MiBy: 'mebibytes',
  GiBy: 'gibibytes',
  TiBy: 'tibibytes',
  KBy: 'kilobytes',
  MBy: 'megabytes',
  GBy: 'gigabytes',
  TBy: 'terabytes',
  bit: 'bits',
  m: 'meters',
  V: 'volts',
  A: 'amperes',
  J: 'joules',
  W: 'watts',
  g: 'grams',
  Cel: 'celsius',
  Hz: 'hertz',
  '%': 'percent',
};

const PER_WORDS: Readonly<Record<string, string>> = {
  s: 'second',
  min: 'minute',
  h: 'hour',
  d: 'day',
  wk: 'week',
  mo: 'month',
  a: 'year',
};

/** Prometheus recommends base units; `baseUnits: true` rescales these (values, `le` bounds and quantiles). */
const TO_BASE: Readonly<Record<string, { word: string; mul: number; div: number }>> = {
  ms: { word: 'seconds', mul: 1, div: 1000 },
  us: { word: 'seconds', mul: 1, div: 1e6 },
  ns: { word: 'seconds', mul: 1, div: 1e9 },
  min: { word: 'seconds', mul: 60, div: 1 },
  h: { word: 'seconds', mul: 3600, div: 1 },
  d: { word: 'seconds', mul: 86400, div: 1 },
  KiBy: { word: 'bytes', mul: 1024, div: 1 },
  MiBy: { word: 'bytes', mul: 1024 ** 2, div: 1 },
  GiBy: { word: 'bytes', mul: 1024 ** 3, div: 1 },
  TiBy: { word: 'bytes', mul: 1024 ** 4, div: 1 },
  KBy: { word: 'bytes', mul: 1e3, div: 1 },
  MBy: { word: 'bytes', mul: 1e6, div: 1 },
  GBy: { word: 'bytes', mul: 1e9, div: 1 },
  TBy: { word: 'bytes', mul: 1e12, div: 1 },
};

const IDENTITY = { mul: 1, div: 1 } as const;

/** `[a-zA-Z0-9_]` only, runs of `_` collapsed. Colons are reserved for recording rules, so they go too. */
export function sanitizeMetricName(name: string): string {
  let out = name.replace(/[^a-zA-Z0-9_]/g, '_').replace(/__+/g, '_');
  if (out === '' || out === '_') return 'metric';
  if (/^[0-9]/.test(out)) out = `_${out}`;
  return out;
}

/**
 * Label names: `[a-zA-Z_][a-zA-Z0-9_]*`. A leading digit gets `key_` (OTel rule); `__` is reserved for
 * Prometheus internals, so such names get `key` in front too.
 */
export function sanitizeLabelName(name: string): string {
  let out = name.replace(/[^a-zA-Z0-9_]/g, '_');
  if (out === '') return 'key_empty';
  if (/^[0-9]/.test(out)) out = `key_${out}`;
  else if (out.startsWith('__')) out = `key${out}`;
  return out;
}

/** Suffix and conversion for a UCUM unit; `{annotations}` carry no unit and add nothing. */
export function unitConversion(unit: string, kind: MetricKind, baseUnits: boolean): UnitConversion {
  const stripped = unit.replace(/\{[^}]*\}/g, '').trim();
  if (stripped === '') return { suffix: '', ...IDENTITY };
  // `1` is a ratio for gauges and distributions; a counter of "1" is a plain count (OTel rule).
  if (stripped === '1') return { suffix: kind === 'counter' ? '' : 'ratio', ...IDENTITY };
  const slash = stripped.indexOf('/');
  const main = slash === -1 ? stripped : stripped.slice(0, slash);
  const per = slash === -1 ? '' : stripped.slice(slash + 1);
  let mul = 1;
  let div = 1;
  let mainWord = '';
  if (main !== '' && main !== '1') {
    const base = baseUnits ? TO_BASE[main] : undefined;
    if (base !== undefined) {
      mainWord = base.word;
      mul = base.mul;
      div = base.div;
    } else {
      mainWord = UNIT_WORDS[main] ?? sanitizeUnitWord(main);
    }
  }
  const perWord = per === '' ? '' : `per_${PER_WORDS[per] ?? UNIT_WORDS[per] ?? sanitizeUnitWord(per)}`;
  const suffix = [mainWord, perWord].filter((w) => w !== '' && w !== 'per_').join('_');
  return { suffix, mul, div };
}

function sanitizeUnitWord(word: string): string {
  return word
    .replace(/[^a-zA-Z0-9]/g, '_')
    .replace(/__+/g, '_')
    .replace(/^_|_$/g, '');
}

function containsToken(name: string, token: string): boolean {
  return name === token || name.startsWith(`${token}_`) || name.endsWith(`_${token}`) || name.includes(`_${token}_`);
}

export interface FamilyNames {
  /** Family name: counters end in `_total`, others carry the unit suffix. */
  readonly family: string;
  /** Counters: the name without `_total` (the OpenMetrics family name). Others: same as `family`. */
  readonly base: string;
  readonly conversion: UnitConversion;
}

/** Prometheus family name for a canonical name + unit + kind; `prefix` goes first, `_` joined. */
export function familyNames(
  canonical: string,
  unit: string,
  kind: MetricKind,
  options: { prefix: string; baseUnits: boolean },
): FamilyNames {
  const conversion = unitConversion(unit, kind, options.baseUnits);
  let name = sanitizeMetricName(options.prefix === '' ? canonical : `${options.prefix}_${canonical}`);
  if (kind === 'counter') name = name.replace(/_total$/, '') || 'metric';
  if (conversion.suffix !== '' && !containsToken(name, conversion.suffix)) name = `${name}_${conversion.suffix}`;
  if (kind === 'counter') return { family: `${name}_total`, base: name, conversion };
  return { family: name, base: name, conversion };
}

/** `p50`, `p99`, `p999` for 0.5, 0.99, 0.999. */
export function quantileSuffix(q: number): string {
  const percent = Number((q * 100).toFixed(6));
  return `p${String(percent).replace('.', '')}`;
}

/** Label value for `le`: shortest round-trip decimal, identical on every pod for the same bound. */
export function formatBound(bound: number): string {
  return bound === Infinity ? '+Inf' : String(bound);
}
