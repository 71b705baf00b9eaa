import { hostname } from 'node:os';
import type { Labels, Resource } from '../../core/window.js';

/** EMF / CloudWatch limits on dimensions. */
export const MAX_DIMENSIONS = 30;
const MAX_KEY_LENGTH = 250;
const MAX_VALUE_LENGTH = 1024;
const MAX_NAMESPACE_LENGTH = 255;

export interface DimensionConfig {
  /** Key of the service dimension, or false for none. */
  readonly serviceDimension: string | false;
  /** Constant dimensions added to every metric. */
  readonly extra: Readonly<Record<string, string>>;
  /** Key of the per-pod dimension, or false for none. */
  readonly podDimension: string | false;
}

/**
 * The dimensions every series of a window shares, in order: service, constants, pod. No pod by default: the
 * same metric name and dimensions from every pod is what lets CloudWatch aggregate the fleet.
 */
export function baseDimensions(config: DimensionConfig, resource: Resource): Record<string, string> {
  const dims: Record<string, string> = {};
  if (config.serviceDimension !== false) dims[config.serviceDimension] = dimensionValue(resource.service);
  for (const [key, value] of Object.entries(config.extra)) dims[key] = dimensionValue(value);
  if (config.podDimension !== false) {
    const pod = resource.attributes['k8s.pod.name'] ?? resource.attributes['host.name'] ?? hostname();
    dims[config.podDimension] = dimensionValue(pod);
  }
  return dims;
}

/**
 * A series' labels as dimensions: sorted keys after the base ones, at most 30 keys in all. Keys CloudWatch would
 * reject (empty, too long, non-ASCII, leading ':') or that clash with a base key or `_aws` are left out.
 * Returns how many labels were left out.
 */
export function labelDimensions(labels: Labels, base: Readonly<Record<string, string>>, into: Record<string, string>): number {
  let dropped = 0;
  let room = MAX_DIMENSIONS - Object.keys(base).length;
  for (const key of Object.keys(labels).sort()) {
    if (!validKey(key) || key in base || room <= 0) {
      dropped++;
      continue;
    }
    into[key] = dimensionValue(labels[key]);
    room--;
  }
  return dropped;
}

function validKey(key: string): boolean {
  return key.trim() !== '' && key.length <= MAX_KEY_LENGTH && !key.startsWith(':') && key !== '_aws' && isAscii(key);
}

/** Dimension values must be ASCII with a non-space character and at most 1024 characters long. */
export function dimensionValue(value: string): string {
  let v = isAscii(value) ? value : value.replace(/[^\x00-\x7f]/g, '?');
  if (v.length > MAX_VALUE_LENGTH) v = v.slice(0, MAX_VALUE_LENGTH);
  return v.trim() === '' ? 'none' : v;
}

/** Namespaces allow letters, digits and ` ._#:/-`; anything else becomes `_`. */
export function namespaceOf(name: string): string {
  const cleaned = name.replace(/[^a-zA-Z0-9 ._#:/-]/g, '_').slice(0, MAX_NAMESPACE_LENGTH);
  return cleaned.trim() === '' ? 'scalesignal' : cleaned;
}

function isAscii(s: string): boolean {
  return /^[\x00-\x7f]*$/.test(s);
}
