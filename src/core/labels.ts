import type { LabelInput } from './api.js';
import type { Labels } from './window.js';

const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_.\-/]{0,254}$/;
export const MAX_LABEL_VALUE_LENGTH = 1024;

/**
 * Cheap cache key of a label object in its insertion order: a for-in walk and string concatenation,
 * no sorting and no intermediate arrays. Different orders of the same labels map to the same series through
 * `canonicalLabels`, and each order is then cached on its own.
 */
export function insertionKey(labels: LabelInput): string {
  let key = '';
  for (const name in labels) key += name + '\u0001' + labels[name] + '\u0002';
  return key;
}

export interface CanonicalLabels {
  readonly labels: Labels;
  /** `name=value` pairs sorted by name: identical for every order of the same labels. */
  readonly key: string;
  /** Label names that were invalid and dropped. */
  readonly rejected: number;
}

export function canonicalLabels(input: LabelInput | undefined): CanonicalLabels {
  if (input === undefined) return { labels: Object.freeze({}), key: '', rejected: 0 };
  const names = Object.keys(input).sort();
  const labels: Record<string, string> = {};
  let key = '';
  let rejected = 0;
  for (const name of names) {
    const raw = input[name];
    if (!LABEL_NAME.test(name) || raw === undefined || raw === null) {
      rejected++;
      continue;
    }
    let value = String(raw);
    if (value.length > MAX_LABEL_VALUE_LENGTH) value = value.slice(0, MAX_LABEL_VALUE_LENGTH);
    labels[name] = value;
    key += (key === '' ? '' : ',') + name + '=' + JSON.stringify(value);
  }
  return { labels: Object.freeze(labels), key, rejected };
}

/** Configuration-time check for labels given to bind(): bad names throw here, not on the hot path. */
export function assertValidLabels(input: LabelInput | undefined, where: string): void {
  if (input === undefined) return;
  if (typeof input !== 'object' || input === null) {
    throw new TypeError(`${where}: labels must be an object of string, number or boolean values`);
  }
  for (const name of Object.keys(input)) {
    if (!LABEL_NAME.test(name)) {
      throw new TypeError(`${where}: label name ${JSON.stringify(name)} must match ${LABEL_NAME}`);
    }
    const type = typeof input[name];
    if (type !== 'string' && type !== 'number' && type !== 'boolean') {
      throw new TypeError(`${where}: label ${name} must be a string, number or boolean, got ${type}`);
    }
  }
}
