/**
 * The one option and environment parser: integers, numbers, booleans and lists, each checked against its range
 * with an error that names where the value came from (an option or an environment variable) and what it allows.
 * Sinks and integrations read their own options and variables through it.
 */
import { ConfigError, ConfigErrorCode } from './errors.js';

export interface Range {
  readonly min: number;
  readonly max: number;
}

/** An option's value: undefined gives `fallback`; anything else must be an integer in range. */
export function integerOption(value: unknown, name: string, range: Range, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < range.min || value > range.max) {
    throw new ConfigError(`option "${name}" must be an integer from ${range.min} to ${range.max}, got ${show(value)}`);
  }
  return value;
}

/** An option's value: undefined gives `fallback`; anything else must be a finite number in range. */
export function numberOption(value: unknown, name: string, range: Range, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < range.min || value > range.max) {
    throw new ConfigError(`option "${name}" must be a number from ${range.min} to ${range.max}, got ${show(value)}`);
  }
  return value;
}

export function booleanOption(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new ConfigError(`option "${name}" must be true or false, got ${show(value)}`);
  return value;
}

export function stringOption(value: unknown, name: string, fallback: string | undefined): string | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value.length === 0) throw new ConfigError(`option "${name}" must be a non-empty string, got ${show(value)}`);
  return value;
}

/** Rejects keys the factory does not know: a misspelt option is a bug, not a default. */
export function assertKnownOptions(options: object, known: ReadonlySet<string>, where: string): void {
  for (const key of Object.keys(options)) {
    if (!known.has(key)) {
      throw new ConfigError(`${where}: unknown option "${key}"; allowed: ${[...known].join(', ')}`);
    }
  }
}

/** An environment variable: unset or blank gives `fallback`; anything else must be a number in range. */
export function numberFromEnv(env: NodeJS.ProcessEnv, variable: string, range: Range, fallback: number, integer = false): number {
  const raw = env[variable];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw.trim());
  if (!Number.isFinite(value) || value < range.min || value > range.max || (integer && !Number.isInteger(value))) {
    throw new ConfigError(
      `environment variable ${variable}=${show(raw)} must be ${integer ? 'an integer' : 'a number'} from ${range.min} to ${range.max}`,
      ConfigErrorCode.environment,
    );
  }
  return value;
}

/** A comma-separated environment variable, trimmed, lower-cased, blanks removed. */
export function listFromEnv(env: NodeJS.ProcessEnv, variable: string): string[] | undefined {
  const raw = env[variable];
  if (raw === undefined || raw.trim() === '') return undefined;
  return raw
    .split(',')
    .map((item) => item.trim().toLowerCase())
    .filter((item) => item !== '');
}

export function stringFromEnv(env: NodeJS.ProcessEnv, variable: string): string | undefined {
  const raw = env[variable]?.trim();
  return raw === undefined || raw === '' ? undefined : raw;
}

function show(value: unknown): string {
  try {
    return typeof value === 'string' ? JSON.stringify(value) : String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
