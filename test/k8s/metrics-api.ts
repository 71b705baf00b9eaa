/**
 * KEDA's `metrics-api` scaler with `format: prometheus`, as kedacore/keda `pkg/scalers/metrics_api_scaler.go`
 * (commit 8b4f083ca8c8c2baf8477e322bd4d16ac4dfa09a) evaluates it:
 *   1. `valueLocation` goes through PromQL's `ParseMetricSelector`; the `__name__` matcher names the family.
 *   2. The body (CRLF -> LF, a final newline added) goes through expfmt's text parser: the real one (Go, built
 *      by test/helpers/expfmt.ts: `realExpfmt`) or its port (./expfmt.ts, in-process, for the bench's fast
 *      polling; metrics-api.test.ts checks the two agree); any parse error fails the read.
 *   3. The family is looked up by that name (so a histogram's `_bucket` / `_sum` / `_count` are not reachable:
 *      they belong to the histogram family).
 *   4. The FIRST metric of the family whose labels contain every other matcher's name with exactly the matcher's
 *      value wins. KEDA compares values for equality whatever the operator: `!=`, `=~` and `!~` act like `=`.
 *   5. Its untyped, else counter, else gauge value is the result; a histogram or summary has none, and the read
 *      fails with "value ... not found".
 * With `aggregateFromKubeServiceEndpoints`, every ready endpoint is read (GET, Go's client: no Accept header, so
 * text format 0.0.4; gzip accepted and decoded); failed reads are left out, `average` divides by the reads that
 * succeeded, and the trigger fails only when every read failed.
 */
import http from 'node:http';
import zlib from 'node:zlib';
import { parseWithExpfmt, toNumber, type ExpfmtFamily } from '../helpers/expfmt.js';
import { textToMetricFamilies, type MetricFamily, type MetricType } from './expfmt.js';

/** A text-format parser returning expfmt's families by name. */
export type FamiliesParser = (text: string) => Map<string, MetricFamily>;

const GO_TYPES: readonly MetricType[] = ['COUNTER', 'GAUGE', 'SUMMARY', 'UNTYPED', 'HISTOGRAM', 'GAUGE_HISTOGRAM'];

/** Prometheus' real expfmt (Go, test/helpers/expfmt.ts), in the port's shape. */
export const realExpfmt: FamiliesParser = (text) => new Map(parseWithExpfmt(text).map((f) => [f.name, fromGo(f)]));

function fromGo(f: ExpfmtFamily): MetricFamily {
  return {
    name: f.name,
    ...(f.help !== undefined && f.help !== '' ? { help: f.help } : {}),
    type: GO_TYPES[f.type],
    metric: f.metric.map((m) => ({
      label: (m.label ?? []).map((l) => ({ name: l.name, value: l.value })),
      ...(m.counter ? { counter: toNumber(m.counter.value) } : {}),
      ...(m.gauge ? { gauge: toNumber(m.gauge.value) } : {}),
      ...(m.untyped ? { untyped: toNumber(m.untyped.value) } : {}),
      ...(m.histogram
        ? {
            histogram: {
              count: m.histogram.sample_count,
              sum: toNumber(m.histogram.sample_sum),
              buckets: (m.histogram.bucket ?? []).map((b) => ({ upperBound: toNumber(b.upper_bound), cumulativeCount: b.cumulative_count })),
            },
          }
        : {}),
      ...(m.summary
        ? {
            summary: {
              count: m.summary.sample_count,
              sum: toNumber(m.summary.sample_sum),
              quantiles: (m.summary.quantile ?? []).map((q) => ({ quantile: q.quantile, value: toNumber(q.value) })),
            },
          }
        : {}),
    })),
  };
}

export interface Matcher {
  readonly name: string;
  readonly type: '=' | '!=' | '=~' | '!~';
  readonly value: string;
}

export type AggregationType = 'average' | 'sum' | 'max' | 'min';

/**
 * PromQL's `ParseMetricSelector` for what a selector can hold: `name`, `name{...}`, `{...}` with matchers
 * `label op "value"` (double-, single- or back-quoted strings with Go escapes), an optional trailing comma.
 * Throws on anything else, as the Go parser does.
 */
export function parseMetricSelector(input: string): Matcher[] {
  let i = 0;
  const fail = (msg: string): never => {
    throw new Error(`parse error at char ${i + 1}: ${msg}`);
  };
  const ws = () => {
    while (i < input.length && /\s/.test(input[i])) i++;
  };
  const ident = (metric: boolean): string => {
    const re = metric ? /[a-zA-Z_:][a-zA-Z0-9_:]*/y : /[a-zA-Z_][a-zA-Z0-9_]*/y;
    re.lastIndex = i;
    const m = re.exec(input);
    if (m === null) return '';
    i += m[0].length;
    return m[0];
  };
  const str = (): string => {
    const quote = input[i];
    if (quote !== '"' && quote !== "'" && quote !== '`') fail(`unexpected character ${JSON.stringify(input[i] ?? 'end of input')}, expected a string`);
    i++;
    let out = '';
    for (;;) {
      if (i >= input.length) fail('unterminated quoted string');
      const c = input[i++];
      if (c === quote) return out;
      if (quote !== '`' && c === '\\') {
        const e = input[i++];
        const simple: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"', "'": "'" };
        if (e !== undefined && simple[e] !== undefined && (e !== '"' || quote === '"') && (e !== "'" || quote === "'")) out += simple[e];
        else if (e === 'x' && /^[0-9a-fA-F]{2}$/.test(input.slice(i, i + 2))) {
          out += String.fromCharCode(parseInt(input.slice(i, i + 2), 16));
          i += 2;
        } else if ((e === 'u' || e === 'U') && new RegExp(`^[0-9a-fA-F]{${e === 'u' ? 4 : 8}}$`).test(input.slice(i, i + (e === 'u' ? 4 : 8)))) {
          const n = e === 'u' ? 4 : 8;
          out += String.fromCodePoint(parseInt(input.slice(i, i + n), 16));
          i += n;
        } else if (e !== undefined && /[0-7]/.test(e) && /^[0-7]{2}$/.test(input.slice(i, i + 2))) {
          out += String.fromCharCode(parseInt(e + input.slice(i, i + 2), 8));
          i += 2;
        } else fail(`unknown escape sequence \\${e ?? ''}`);
      } else if (quote !== '`' && c === '\n') fail('newline in string');
      else out += c;
    }
  };

  const matchers: Matcher[] = [];
  ws();
  const name = ident(true);
  if (name !== '') matchers.push({ name: '__name__', type: '=', value: name });
  ws();
  if (input[i] === '{') {
    i++;
    for (;;) {
      ws();
      if (input[i] === '}') {
        i++;
        break;
      }
      let label: string;
      if (input[i] === '"' || input[i] === "'") {
        label = str(); // a quoted UTF-8 name; alone it is the metric name
        ws();
        if (input[i] === ',' || input[i] === '}') {
          matchers.push({ name: '__name__', type: '=', value: label });
          if (input[i] === ',') i++;
          continue;
        }
      } else {
        label = ident(false);
        if (label === '') fail(`unexpected character inside braces: ${JSON.stringify(input[i] ?? 'end of input')}`);
      }
      ws();
      const op = /^(=~|!~|!=|=)/.exec(input.slice(i))?.[0] as Matcher['type'] | undefined;
      if (op === undefined) fail(`unexpected character after label name: ${JSON.stringify(input[i] ?? 'end of input')}`);
      i += op!.length;
      ws();
      const value = str();
      if (op === '=~' || op === '!~') {
        try {
          new RegExp(`^(?:${value})$`);
        } catch (error) {
          fail(`invalid regular expression ${JSON.stringify(value)}: ${(error as Error).message}`);
        }
      }
      matchers.push({ name: label, type: op!, value });
      ws();
      if (input[i] === ',') {
        i++;
        continue;
      }
      if (input[i] !== '}') fail(`unexpected character inside braces: ${JSON.stringify(input[i] ?? 'end of input')}`);
    }
  }
  ws();
  if (i < input.length) fail(`unexpected ${JSON.stringify(input.slice(i))}`);
  if (matchers.length === 0) fail('vector selector must contain at least one non-empty matcher');
  const names = matchers.filter((m) => m.name === '__name__');
  if (names.length > 1 && name !== '') fail('metric name must not be set twice');
  // PromQL: at least one matcher must not match the empty string.
  if (!matchers.some((m) => (m.type === '=' && m.value !== '') || (m.type === '!=' && m.value === '') || (m.type === '=~' && !new RegExp(`^(?:${m.value})$`).test('')) || (m.type === '!~' && new RegExp(`^(?:${m.value})$`).test('')))) {
    fail('vector selector must contain at least one non-empty matcher');
  }
  return matchers;
}

/** `getValueFromPrometheusResponse`: the value of the first metric the selector picks, or throws KEDA's error. */
export function getValueFromPrometheusResponse(body: string, valueLocation: string, parse: FamiliesParser = textToMetricFamilies): number {
  const matchers = parseMetricSelector(valueLocation);
  let metricName = '';
  for (const m of matchers) if (m.name === '__name__') metricName = m.value;
  let text = body.replace(/\r\n/g, '\n');
  if (text.length > 0 && !text.endsWith('\n')) text += '\n';
  let families;
  try {
    families = parse(text);
  } catch (error) {
    throw new Error(`prometheus format parsing error: ${(error as Error).message}`);
  }
  const family = families.get(metricName);
  if (family === undefined) throw new Error(`metric '${metricName}' not found`);
  for (const metric of family.metric) {
    let match = true;
    for (const matcher of matchers) {
      if (matcher.name === '__name__') continue;
      if (!metric.label.some((l) => l.name === matcher.name && l.value === matcher.value)) match = false;
    }
    if (!match) continue;
    if (metric.untyped !== undefined) return metric.untyped;
    if (metric.counter !== undefined) return metric.counter;
    if (metric.gauge !== undefined) return metric.gauge;
  }
  throw new Error(`value ${valueLocation} not found`);
}

/** One endpoint read as KEDA's HTTP client makes it. */
export function fetchExposition(url: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { 'User-Agent': 'Go-http-client/1.1', 'Accept-Encoding': 'gzip' }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`${new URL(url).pathname}: api returned ${res.statusCode}`));
        const raw = Buffer.concat(chunks);
        try {
          resolve((res.headers['content-encoding'] === 'gzip' ? zlib.gunzipSync(raw) : raw).toString('utf8'));
        } catch (error) {
          reject(error as Error);
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

export interface AggregatedRead {
  readonly value: number;
  /** Per endpoint: its value or why it failed. */
  readonly reads: ReadonlyArray<{ url: string; value?: number; error?: string }>;
}

/** `aggregateMetricsFromMultipleEndpoints`. Throws (as KEDA's trigger fails) only when no endpoint could be read. */
export async function readEndpoints(urls: readonly string[], valueLocation: string, aggregation: AggregationType, parse?: FamiliesParser): Promise<AggregatedRead> {
  if (urls.length === 0) throw new Error('no endpoints provided');
  // Fetch every pod first, then parse: the real parser runs synchronously in this process, and the pods under
  // test serve from this process too, so parsing one answer while another is in flight would stall it.
  const fetched = await Promise.all(
    urls.map(async (url) => {
      try {
        return { url, text: await fetchExposition(url) };
      } catch (error) {
        return { url, error: (error as Error).message };
      }
    }),
  );
  const reads = fetched.map(({ url, text, error }) => {
    if (text === undefined) return { url, error };
    try {
      return { url, value: getValueFromPrometheusResponse(text, valueLocation, parse) };
    } catch (error) {
      return { url, error: (error as Error).message };
    }
  });
  const ok = reads.filter((r) => r.value !== undefined).map((r) => r.value as number);
  if (ok.length === 0) throw new Error(`could not get any metric successfully from the ${urls.length} provided endpoints: ${reads.map((r) => r.error).join('; ')}`);
  let value: number;
  switch (aggregation) {
    case 'min':
      value = Math.min(...ok);
      break;
    case 'max':
      value = Math.max(...ok);
      break;
    case 'sum':
      value = ok.reduce((a, b) => a + b, 0);
      break;
    case 'average':
      value = ok.reduce((a, b) => a + b, 0) / ok.length;
      break;
  }
  return { value, reads };
}
