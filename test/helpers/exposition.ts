/** A small, strict parser for Prometheus text 0.0.4 / OpenMetrics expositions, so tests assert on values, not strings. */

export interface ParsedSample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

export interface ParsedExposition {
  readonly samples: ParsedSample[];
  readonly help: Map<string, string>;
  readonly type: Map<string, string>;
  readonly eof: boolean;
}

function parseValue(raw: string): number {
  const lower = raw.toLowerCase();
  if (lower === '+inf' || lower === 'inf') return Infinity;
  if (lower === '-inf') return -Infinity;
  if (lower === 'nan') return NaN;
  const value = Number(raw);
  if (raw.trim() === '' || Number.isNaN(value)) throw new Error(`bad sample value ${JSON.stringify(raw)}`);
  return value;
}

function unescape(value: string): string {
  return value.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c));
}

export function parseExposition(text: string): ParsedExposition {
  const samples: ParsedSample[] = [];
  const help = new Map<string, string>();
  const type = new Map<string, string>();
  let eof = false;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (eof) throw new Error(`content after # EOF: ${line}`);
    if (line === '# EOF') {
      eof = true;
      continue;
    }
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) ?(.*)$/.exec(line);
    if (meta) {
      (meta[1] === 'HELP' ? help : type).set(meta[2], meta[3]);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparseable line: ${line}`);
    const labels: Record<string, string> = {};
    if (m[3] !== undefined && m[3] !== '') {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/gy;
      let consumed = 0;
      for (let l = re.exec(m[3]); l !== null; l = re.exec(m[3])) {
        if (l[1] in labels) throw new Error(`duplicate label ${l[1]} in ${line}`);
        labels[l[1]] = unescape(l[2]);
        consumed = re.lastIndex;
      }
      if (consumed !== m[3].length) throw new Error(`bad labels in ${line}`);
    }
    samples.push({ name: m[1], labels, value: parseValue(m[4]) });
  }
  return { samples, help, type, eof };
}

/** The one sample with this name and exactly these labels (others must not match); throws when absent or ambiguous. */
export function sampleValue(parsed: ParsedExposition, name: string, labels: Record<string, string> = {}): number {
  const found = findSamples(parsed, name, labels).filter((s) => Object.keys(s.labels).length === Object.keys(labels).length);
  if (found.length !== 1) throw new Error(`expected one ${name}${JSON.stringify(labels)}, found ${found.length}`);
  return found[0].value;
}

/** Samples with this name whose labels include `labels`. */
export function findSamples(parsed: ParsedExposition, name: string, labels: Record<string, string> = {}): ParsedSample[] {
  return parsed.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}
