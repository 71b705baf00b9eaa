/**
 * Sinks chosen from the environment when createMetrics gets no `sinks` option:
 * `SCALESIGNAL_SINKS=prometheus,emf` (console, prometheus, otlp, emf, cloudwatch, dashboard; comma-separated; each
 * sink reads its own settings from its variables). Unset: the console sink, except under NODE_ENV=production
 * where printing a table every second to a service's stdout would be a surprise; there the metrics record but go
 * nowhere until a sink is named.
 *
 * Each sink is loaded on demand through the package's own subpath (`scalesignal/prometheus`, ...) with a computed
 * specifier: an app that imports only createMetrics carries no sink code in its bundle. An app bundled without
 * node_modules passes `sinks` explicitly instead.
 */
import type { Logger } from '../core/api.js';
import { listFromEnv } from '../core/config.js';
import { ConfigError, ConfigErrorCode } from '../core/errors.js';
import { SinkError, type ExportContext, type Sink, type SinkContext } from '../core/sink.js';
import type { Window } from '../core/window.js';

/** Subpath and factory of every sink the environment can name. */
const SINKS: Readonly<Record<string, readonly [subpath: string, factory: string]>> = {
  console: ['console', 'consoleSink'],
  prometheus: ['prometheus', 'prometheusSink'],
  otlp: ['otlp', 'otlpSink'],
  emf: ['emf', 'emfSink'],
  cloudwatch: ['cloudwatch', 'cloudWatchSink'],
  dashboard: ['dashboard', 'dashboardSink'],
};

export const PACKAGE_NAME = 'scalesignal';

export function sinksFromEnv(env: NodeJS.ProcessEnv, logger: Logger): Sink[] {
  const names = listFromEnv(env, 'SCALESIGNAL_SINKS')?.filter((name) => name !== 'none');
  if (names === undefined) {
    if (env.NODE_ENV === 'production') {
      logger.warn('scalesignal: no sinks configured (pass `sinks` or set SCALESIGNAL_SINKS); metrics are recorded but not exported');
      return [];
    }
    return [lazySink('console')];
  }
  for (const name of names) {
    if (SINKS[name] === undefined) {
      throw new ConfigError(
        `SCALESIGNAL_SINKS names unknown sink "${name}"; allowed: ${Object.keys(SINKS).join(', ')}, none`,
        ConfigErrorCode.environment,
      );
    }
  }
  return [...new Set(names)].map(lazySink);
}

function lazySink(name: string): Sink {
  const [subpath, factory] = SINKS[name];
  const specifier = `${PACKAGE_NAME}/${subpath}`;
  return new LazySink(name, async () => {
    const module = (await import(specifier)) as Record<string, unknown>;
    const make = module[factory];
    if (typeof make !== 'function') throw new Error(`${specifier} has no ${factory}()`);
    return (make as () => Sink)();
  });
}

/** Stands in for a sink while its module loads; a sink that fails to load fails its exports, never the host. */
class LazySink implements Sink {
  private loaded: Sink | undefined;
  private readonly loading: Promise<Sink>;
  private context: SinkContext | undefined;

  constructor(
    readonly name: string,
    load: () => Promise<Sink>,
  ) {
    this.loading = load().then((sink) => {
      this.loaded = sink;
      if (this.context !== undefined) sink.start?.(this.context);
      return sink;
    });
    // Reported through export(); an unhandled rejection here would crash a strict host.
    this.loading.catch(() => undefined);
  }

  start(context: SinkContext): void {
    this.context = context;
    this.loaded?.start?.(context);
  }

  async export(windows: readonly Window[], context?: ExportContext): Promise<void> {
    let sink = this.loaded;
    if (sink === undefined) {
      try {
        sink = await this.loading;
      } catch (error) {
        throw new SinkError(`sink "${this.name}" could not be loaded: ${String(error)}`, { retryable: false, cause: error });
      }
    }
    await sink.export(windows, context);
  }

  async shutdown(): Promise<void> {
    const sink = await this.loading.catch(() => undefined);
    await sink?.shutdown?.();
  }

  stats(): Readonly<Record<string, number>> {
    return this.loaded?.stats?.() ?? {};
  }
}
