/**
 * Sinks named in SCALESIGNAL_SINKS: loaded on demand through the package's own subpaths, validated at
 * createMetrics (a misspelt name is a ConfigError with the environment code), none under NODE_ENV=production
 * unless named. Loading and serving a named sink for real is driven by test/k8s/resolution.e2e.test.ts, which
 * starts the SDK with each example Deployment's own SCALESIGNAL_SINKS and scrapes it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, ConfigErrorCode, createMetrics } from '../../src/index.js';
import { sinksFromEnv } from '../../src/wiring/sinks-from-env.js';

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

describe('SCALESIGNAL_SINKS', () => {
  it('refuses an unknown sink name at createMetrics, before loading any, naming the allowed ones', () => {
    process.env.SCALESIGNAL_SINKS = 'prometheus,prometeus';
    let error: unknown;
    try {
      createMetrics({ eventLoop: false });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe(ConfigErrorCode.environment);
    expect((error as Error).message).toMatch(/unknown sink "prometeus"; allowed: console, prometheus, otlp, emf, cloudwatch, dashboard, none/);
  });

  it('defaults to the console in development, nothing (with a warning) in production, nothing for `none`', () => {
    const warnings: string[] = [];
    const logger = { warn: (m: string) => void warnings.push(m) };
    expect(sinksFromEnv({}, logger).map((s) => s.name)).toEqual(['console']);
    expect(sinksFromEnv({ NODE_ENV: 'production' }, logger)).toEqual([]);
    expect(warnings.some((w) => w.includes('no sinks configured'))).toBe(true);
    expect(sinksFromEnv({ SCALESIGNAL_SINKS: 'none' }, logger)).toEqual([]);
    expect(sinksFromEnv({ SCALESIGNAL_SINKS: ' Console , console ' }, logger).map((s) => s.name)).toEqual(['console']);
  });
});
