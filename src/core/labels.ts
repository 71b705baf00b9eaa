/**
 * Label sets: turning whatever a caller passed as labels into the canonical, frozen `Labels` of a series.
 *
 * Unbound calls may pass anything (the type says an object, JavaScript allows null, a Proxy, a getter that throws);
 * reading it must never throw into the caller. Labels that cannot be read at all (not an object, an array, a getter
 * or Proxy trap that throws) drop the recording, counted in `scalesignal.recordings.dropped{reason="invalid_labels"}`.
 * A single bad label (a name breaking the rule, a value of a type labels do not hold) is left out and the recording
 * kept: the event did happen for the other labels, and dropping it would under-count them (as before for names).
 *
 * Rules (also checked at bind() time, where they throw a ConfigError):
 * - labels: undefined or null (no labels), or an object; own enumerable string keys count, Symbol keys are ignored;
 * - names match LABEL_NAME and are not `__proto__` (it cannot be an own key of a plain labels object, so keeping it
 *   would make a second series with the same labels);
 * - values: string, number, boolean or bigint (stored as String(value)); undefined or null means the label is absent;
 *   symbols, objects and functions are left out (their string form is the caller's code, which may throw);
 * - values are well-formed UTF-16 (lone surrogates become U+FFFD, so every value is valid UTF-8 on the wire) and at
 *   most MAX_LABEL_VALUE_LENGTH UTF-16 units, cut on a code-point boundary.
 */
import type { LabelInput } from './api.js';
import { ConfigError, ConfigErrorCode } from './errors.js';
import type { Labels } from './window.js';

const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_.\-/]{0,254}$/;
/** Longest label value kept, in UTF-16 units (CloudWatch's dimension value limit); longer values are cut. */
export const MAX_LABEL_VALUE_LENGTH = 1024;

const hasOwn = Object.prototype.hasOwnProperty;

export interface CanonicalLabels {
  readonly labels: Labels;
  /** `name="value"` pairs sorted by name: identical for every order of the same labels. */
  readonly key: string;
  /**
   * True when the input maps to these labels one to one: every key kept, every value unchanged (no cut, no
   * replacement, no undefined). Only exact inputs may be cached by the raw values the caller passed.
   */
  readonly exact: boolean;
}

export const NO_LABELS: CanonicalLabels = Object.freeze({ labels: Object.freeze({}), key: '', exact: true });

/** Raw label entries as read once from the caller's object, in its own key order. */
export interface RawLabels {
  readonly names: string[];
  readonly values: unknown[];
  /** An inherited enumerable key was seen: the for-in order the cache walks differs from the own keys. */
  readonly inherited: boolean;
}

/**
 * Reads a labels argument once (names and values in for-in order), or returns undefined when it cannot be read
 * (not an object, a throwing getter or Proxy trap). Never throws.
 */
export function readLabels(input: unknown): RawLabels | undefined {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return undefined;
  const names: string[] = [];
  const values: unknown[] = [];
  let inherited = false;
  try {
    for (const name in input) {
      if (!hasOwn.call(input, name)) {
        inherited = true;
        continue;
      }
      names.push(name);
      values.push((input as Record<string, unknown>)[name]);
    }
  } catch {
    return undefined;
  }
  return { names, values, inherited };
}

/** Canonical labels of raw entries; names and values that are not allowed are left out. Never throws. */
export function canonicalize(raw: RawLabels): CanonicalLabels {
  const { names, values } = raw;
  let exact = !raw.inherited;
  const order = names.map((_, i) => i).sort((a, b) => (names[a] < names[b] ? -1 : names[a] > names[b] ? 1 : 0));
  const labels: Record<string, string> = {};
  let key = '';
  for (const i of order) {
    const name = names[i];
    const rawValue = values[i];
    const text = isLabelName(name) ? labelText(rawValue) : undefined;
    if (text === undefined) {
      exact = false; // left out: undefined or null (absent), a bad name or a value labels do not hold
      continue;
    }
    const value = cleanLabelValue(text);
    if (value !== text) exact = false;
    labels[name] = value;
    key += (key === '' ? '' : ',') + name + '=' + JSON.stringify(value);
  }
  return { labels: Object.freeze(labels), key, exact };
}

function isLabelName(name: string): boolean {
  return LABEL_NAME.test(name) && name !== '__proto__';
}

function labelText(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value);
    default:
      return undefined; // undefined, null; symbols, objects, functions: their string form is the caller's code
  }
}

type WellFormed = string & { toWellFormed(): string };

/**
 * Lone surrogates become U+FFFD (a proto3 string must be valid UTF-8), then the value is cut to at most
 * MAX_LABEL_VALUE_LENGTH UTF-16 units without splitting a surrogate pair.
 */
export function cleanLabelValue(value: string): string {
  let clean = (value as WellFormed).toWellFormed();
  if (clean.length > MAX_LABEL_VALUE_LENGTH) {
    let end = MAX_LABEL_VALUE_LENGTH;
    const last = clean.charCodeAt(end - 1);
    if (last >= 0xd800 && last <= 0xdbff) end--; // high surrogate whose low half lies past the cut
    clean = clean.slice(0, end);
  }
  return clean;
}

/** Configuration-time check for labels given to bind(): what unbound calls would drop throws here instead. */
export function assertValidLabels(input: LabelInput | undefined | null, where: string): void {
  if (input === undefined || input === null) return;
  const raw = readLabels(input);
  if (raw === undefined) {
    throw new ConfigError(`${where}: labels must be a plain object of string, number or boolean values that can be read without throwing`, ConfigErrorCode.labels);
  }
  for (let i = 0; i < raw.names.length; i++) {
    const name = raw.names[i];
    if (!isLabelName(name)) {
      throw new ConfigError(`${where}: label name ${JSON.stringify(name)} must match ${LABEL_NAME} and not be "__proto__"`, ConfigErrorCode.labels);
    }
    const value = raw.values[i];
    if (value !== undefined && value !== null && labelText(value) === undefined) {
      throw new ConfigError(`${where}: label ${name} must be a string, number or boolean, got ${typeof value}`, ConfigErrorCode.labels);
    }
  }
}
