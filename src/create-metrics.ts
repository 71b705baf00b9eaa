/**
 * The composition root: options + environment -> a registry with its sinks, resource and integrations. The only
 * place that reads process.env for wiring; src/core never does.
 */
import type { Metrics, MetricsOptions } from './core/api.js';
import { resolveOptions } from './core/options.js';
import { MetricsRegistry, type Binder } from './core/registry.js';
import { installEventLoopMetrics } from './integrations/event-loop.js';
import { resolveResource } from './wiring/resource-from-env.js';
import { handleSignals } from './wiring/signals.js';
import { sinksFromEnv } from './wiring/sinks-from-env.js';

export function createMetrics(options?: MetricsOptions): Metrics {
  const resolved = resolveOptions(options);
  const env = process.env;
  const binders: Binder[] = [];
  if (resolved.eventLoop) binders.push(installEventLoopMetrics);
  if (resolved.handleSignals) binders.push(handleSignals);
  return new MetricsRegistry({
    ...resolved,
    resource: resolveResource(resolved.service, resolved.resource, env),
    sinks: resolved.sinks ?? sinksFromEnv(env, resolved.logger),
    binders,
  });
}
