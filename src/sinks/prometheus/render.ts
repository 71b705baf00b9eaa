/**
 * Renders families with a prom-client Registry. The families are exact pre-aggregated values (cumulative bucket
 * counts, totals), which prom-client's Counter/Histogram cannot be set to, so each family is registered as a
 * minimal metric object whose `get()` returns its values: the Registry does the format, escaping and OpenMetrics
 * specifics (counter `_total` handling, `# EOF`).
 */
import type * as PromClient from 'prom-client';
import type { Family } from './families.js';

export type ContentKind = 'text' | 'openmetrics' | 'protobuf';

/** The formats prom-client renders. */
export type TextKind = Exclude<ContentKind, 'protobuf'>;

type PromModule = typeof PromClient;

/** What Registry.metrics() reads from a registered metric. */
class FamilyMetric {
  readonly aggregator = 'sum';
  name: string; // prom-client renames OpenMetrics counters in place (`x_total` -> `x`), so this must be writable
  readonly help: string;
  readonly type: Family['type'];
  private readonly values: Family['samples'];

  constructor(family: Family) {
    this.name = family.name;
    this.help = family.help;
    this.type = family.type;
    this.values = family.samples;
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: Family['samples'] } {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.values };
  }

  reset(): void {}
}

export function contentType(prom: PromModule, kind: TextKind): string {
  return kind === 'openmetrics' ? prom.Registry.OPENMETRICS_CONTENT_TYPE : prom.Registry.PROMETHEUS_CONTENT_TYPE;
}

export async function renderFamilies(prom: PromModule, families: readonly Family[], kind: TextKind): Promise<string> {
  // prom-client would emit a lone blank line before `# EOF`, which OpenMetrics parsers reject.
  if (families.length === 0) return kind === 'openmetrics' ? '# EOF\n' : '';
  const registry = new prom.Registry<PromClient.RegistryContentType>();
  registry.setContentType(contentType(prom, kind) as PromClient.RegistryContentType);
  for (const family of families) {
    registry.registerMetric(new FamilyMetric(family) as unknown as PromClient.Metric<string>);
  }
  return registry.metrics();
}
