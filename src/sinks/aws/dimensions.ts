/**
 * The dimensions of a series, the same on EMF and PutMetricData, in this order: the service dimension, the
 * constant dimensions, the opt-in pod dimension, then the series' labels by sorted key, at most 30 in all.
 *
 * No per-pod dimension by default: the same name and dimensions from every pod is what lets CloudWatch aggregate
 * the fleet (Sum, SampleCount, percentiles), and a metric per pod multiplies cost.
 *
 * A label is left out (counted in `labels_dropped`) when its key is empty, clashes with a base dimension, `_aws`
 * (EMF's metadata member) or an earlier label's cleaned key, or would be the 31st dimension. Series that then
 * look alike are merged by the view (merge.ts), never dropped.
 */
import { ConfigError } from '../../core/errors.js';
import type { Labels, Resource } from '../../core/window.js';
import { dimensionName, dimensionValue, isPlainDimensionText } from './dimension-text.js';
import { MAX_DIMENSION_NAME_LENGTH, MAX_DIMENSION_VALUE_LENGTH, MAX_DIMENSIONS } from './limits.js';
import { podIdentity } from './pod-identity.js';

export interface Dimension {
  readonly Name: string;
  readonly Value: string;
}

export interface DimensionOptions {
  /** Dimension holding the service name, or false for none. Default `ServiceName`. */
  readonly serviceDimension?: string | false;
  /** Constant dimensions on every metric, e.g. `{ Environment: 'prod' }`. */
  readonly dimensions?: Readonly<Record<string, string>>;
  /** Per-pod dimension: true for `PodName`, or its name. Default false. */
  readonly podDimension?: boolean | string;
}

export interface DimensionRules {
  readonly service: string | undefined;
  readonly constants: readonly Dimension[];
  readonly pod: string | undefined;
  /** Keys labels cannot use: the base dimensions' and `_aws`. */
  readonly reserved: ReadonlySet<string>;
}

export const DEFAULT_SERVICE_DIMENSION = 'ServiceName';
export const DEFAULT_POD_DIMENSION = 'PodName';
const RESERVED = '_aws';

/** Validates the options once, at configuration: a mistake is a ConfigError naming the option. */
export function dimensionRules(options: DimensionOptions, where: string): DimensionRules {
  const service = options.serviceDimension === undefined ? DEFAULT_SERVICE_DIMENSION : options.serviceDimension === false ? undefined : options.serviceDimension;
  const pod =
    options.podDimension === undefined || options.podDimension === false ? undefined : options.podDimension === true ? DEFAULT_POD_DIMENSION : options.podDimension;
  if (service !== undefined) checkName(service, 'serviceDimension', where);
  if (pod !== undefined) checkName(pod, 'podDimension', where);
  const given = options.dimensions ?? {};
  if (typeof given !== 'object' || given === null) throw new ConfigError(`${where}: option "dimensions" must be an object of strings`);
  const constants: Dimension[] = [];
  for (const [name, value] of Object.entries(given)) {
    checkName(name, `dimensions.${name}`, where);
    if (typeof value !== 'string' || !isPlainDimensionText(value, MAX_DIMENSION_VALUE_LENGTH)) {
      throw new ConfigError(
        `${where}: dimension ${JSON.stringify(name)} needs a value of 1 to ${MAX_DIMENSION_VALUE_LENGTH} printable ASCII characters with one non-space, got ${JSON.stringify(value)}`,
      );
    }
    constants.push({ Name: name, Value: value });
  }
  const keys = [...(service === undefined ? [] : [service]), ...constants.map((d) => d.Name), ...(pod === undefined ? [] : [pod])];
  if (new Set(keys).size !== keys.length) throw new ConfigError(`${where}: dimension names repeat: ${keys.join(', ')}`);
  if (keys.length > MAX_DIMENSIONS) throw new ConfigError(`${where}: at most ${MAX_DIMENSIONS} dimensions, got ${keys.length}`);
  return { service, constants, pod, reserved: new Set([...keys, RESERVED]) };
}

function checkName(name: unknown, option: string, where: string): void {
  if (typeof name !== 'string' || !isPlainDimensionText(name, MAX_DIMENSION_NAME_LENGTH) || name.startsWith(':') || name === RESERVED) {
    throw new ConfigError(
      `${where}: option "${option}" must be a dimension name of 1 to ${MAX_DIMENSION_NAME_LENGTH} printable ASCII characters, not starting with ":" and not "_aws", got ${JSON.stringify(name)}`,
    );
  }
}

/** The dimensions every series of a process shares: service, constants, pod. */
export function baseDimensions(rules: DimensionRules, resource: Resource, env: NodeJS.ProcessEnv): Dimension[] {
  const out: Dimension[] = [];
  if (rules.service !== undefined) out.push({ Name: rules.service, Value: dimensionValue(resource.service) });
  for (const d of rules.constants) out.push(d);
  if (rules.pod !== undefined) out.push({ Name: rules.pod, Value: dimensionValue(podIdentity(resource.attributes, env)) });
  return out;
}

/** Appends a series' labels to `out` (which holds the base dimensions); returns how many labels were left out. */
export function appendLabelDimensions(labels: Labels, rules: DimensionRules, out: Dimension[]): number {
  const keys = Object.keys(labels);
  if (keys.length === 0) return 0;
  if (keys.length > 1) keys.sort();
  let dropped = 0;
  const base = out.length;
  for (const key of keys) {
    const name = dimensionName(key);
    if (name === undefined || rules.reserved.has(name) || out.length >= MAX_DIMENSIONS || taken(out, base, name)) {
      dropped++;
      continue;
    }
    out.push({ Name: name, Value: dimensionValue(String(labels[key])) });
  }
  return dropped;
}

function taken(list: readonly Dimension[], from: number, name: string): boolean {
  for (let i = from; i < list.length; i++) if (list[i].Name === name) return true;
  return false;
}
