/**
 * Renders families with a prom-client Registry. The families are exact pre-aggregated values (cumulative bucket
 * counts, totals), which prom-client's Counter/Histogram cannot be set to, so each family is registered as a
 * minimal metric object whose `get()` returns its values: the Registry does the format, escaping and OpenMetrics
 * specifics (counter `_total` handling, `# EOF`).
 *
 * Rendered in slices: prom-client formats a whole registry in one synchronous stretch (~40 ms for 30,000 lines
 * at 2,000 series), so each family is formatted in chunks of CHUNK_SAMPLES samples, one registry per chunk, with
 * a turn of the event loop whenever the slicer says so. The chunks are joined exactly as Registry.metrics() joins
 * families (a test compares the bytes): a continuation chunk loses its `# HELP`/`# TYPE` lines, each chunk its
 * trailer. Each chunk becomes bytes on its own, so no one-piece UTF-8 encoding of megabytes is left at the end.
 */
import type * as PromClient from 'prom-client';
import type { Family } from './families.js';
import type { Slicer } from './slicer.js';

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

/** Samples per prom-client call: ~0.2 ms of formatting. */
export const CHUNK_SAMPLES = 256;

export async function renderFamilies(prom: PromModule, families: readonly Family[], kind: TextKind, slicer: Slicer): Promise<Buffer> {
  // prom-client would emit a lone blank line before `# EOF`, which OpenMetrics parsers reject.
  if (families.length === 0) return Buffer.from(kind === 'openmetrics' ? '# EOF\n' : '');
  const trailer = kind === 'openmetrics' ? '\n# EOF\n' : '\n';
  const parts: Buffer[] = [];
  for (let f = 0; f < families.length; f++) {
    const family = families[f];
    if (f > 0) parts.push(kind === 'openmetrics' ? NEWLINE : BLANK_LINE);
    const samples = family.samples;
    for (let from = 0; from === 0 || from < samples.length; from += CHUNK_SAMPLES) {
      const chunk = samples.length <= CHUNK_SAMPLES ? family : { ...family, samples: samples.slice(from, from + CHUNK_SAMPLES) };
      const text = await registryText(prom, [chunk], kind);
      const block = from === 0 ? withoutSuffix(text, trailer) : sampleLines(withoutSuffix(text, trailer));
      // Not the shape this join relies on (a future prom-client): fall back to one piece.
      if (block === undefined) return renderInOnePiece(prom, families, kind);
      if (from > 0) parts.push(NEWLINE);
      parts.push(Buffer.from(block, 'utf8'));
      if (slicer.due()) await slicer.pause();
    }
  }
  parts.push(Buffer.from(trailer));
  return Buffer.concat(parts);
}

/** Every family through one Registry.metrics() call: the reference the sliced join must equal. */
export async function renderInOnePiece(prom: PromModule, families: readonly Family[], kind: TextKind): Promise<Buffer> {
  if (families.length === 0) return Buffer.from(kind === 'openmetrics' ? '# EOF\n' : '');
  return Buffer.from(await registryText(prom, families, kind), 'utf8');
}

const NEWLINE = Buffer.from('\n');
const BLANK_LINE = Buffer.from('\n\n');

function registryText(prom: PromModule, families: readonly Family[], kind: TextKind): Promise<string> {
  const registry = new prom.Registry<PromClient.RegistryContentType>();
  registry.setContentType(contentType(prom, kind) as PromClient.RegistryContentType);
  for (const family of families) {
    registry.registerMetric(new FamilyMetric(family) as unknown as PromClient.Metric<string>);
  }
  return registry.metrics();
}

function withoutSuffix(text: string | undefined, suffix: string): string | undefined {
  return text !== undefined && text.endsWith(suffix) ? text.slice(0, text.length - suffix.length) : undefined;
}

/** A family's block without its `# HELP` and `# TYPE` lines (each one line: prom-client escapes newlines). */
function sampleLines(block: string | undefined): string | undefined {
  if (block === undefined || !block.startsWith('# HELP ')) return undefined;
  const help = block.indexOf('\n');
  if (help === -1 || !block.startsWith('# TYPE ', help + 1)) return undefined;
  const type = block.indexOf('\n', help + 1);
  return type === -1 ? undefined : block.slice(type + 1);
}
