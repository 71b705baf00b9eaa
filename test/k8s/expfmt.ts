/**
 * Prometheus' text-format parser (github.com/prometheus/common `expfmt/text_parse.go`, `TextParser.
 * TextToMetricFamilies`, at d2417e2cbb82c4c81e4d28d55f354058169a9f08), ported state for state, because that is
 * the parser KEDA's metrics-api scaler runs on a pod's `/metrics` (`format: prometheus`, parsed with
 * `expfmt.NewTextParser(model.UTF8Validation)`). What matters for KEDA is kept exactly: how samples are grouped
 * into families (a `_bucket` / `_sum` / `_count` line joins its histogram or summary only if that family's TYPE
 * came first), the order of metrics in a family, which value slot (counter, gauge, untyped, histogram, summary)
 * a sample fills, and every error that makes the whole body unreadable. Input is a JS string; the Go code reads
 * bytes, which is the same for the ASCII the SDK writes.
 */

export type MetricType = 'COUNTER' | 'GAUGE' | 'SUMMARY' | 'UNTYPED' | 'HISTOGRAM' | 'GAUGE_HISTOGRAM';

export interface LabelPair {
  readonly name: string;
  readonly value: string;
}

export interface Metric {
  label: LabelPair[];
  counter?: number;
  gauge?: number;
  untyped?: number;
  histogram?: { count?: number; sum?: number; buckets: Array<{ upperBound: number; cumulativeCount: number }> };
  summary?: { count?: number; sum?: number; quantiles: Array<{ quantile: number; value: number }> };
  timestampMs?: number;
}

export interface MetricFamily {
  readonly name: string;
  help?: string;
  type?: MetricType;
  readonly metric: Metric[];
}

export class ExpfmtParseError extends Error {
  constructor(
    readonly line: number,
    readonly msg: string,
  ) {
    super(`text format parsing error in line ${line}: ${msg}`);
  }
}

const EOF = Symbol('eof');
type Byte = string | typeof EOF;
type State = (() => State) | null;

const TYPES: Readonly<Record<string, MetricType>> = {
  COUNTER: 'COUNTER',
  GAUGE: 'GAUGE',
  SUMMARY: 'SUMMARY',
  UNTYPED: 'UNTYPED',
  HISTOGRAM: 'HISTOGRAM',
  GAUGE_HISTOGRAM: 'GAUGE_HISTOGRAM',
};

/** `TextToMetricFamilies`: families by name (empty ones removed), or throws the first parse error. */
export function textToMetricFamilies(input: string): Map<string, MetricFamily> {
  return new TextParser(input).parse();
}

class TextParser {
  private pos = 0;
  private families = new Map<string, MetricFamily>();
  private err: ExpfmtParseError | typeof EOF | Error | null = null;
  private lineCount = 0;
  private currentByte: Byte = '';
  private token = '';
  private currentMF: MetricFamily | undefined;
  private currentMetric: Metric | undefined;
  private currentLabelPair: { name: string; value?: string } | undefined;
  private currentLabelPairs: LabelPair[] | null = null;
  private currentLabels: Map<string, string> = new Map();
  private summaries = new Map<string, Metric>();
  private histograms = new Map<string, Metric>();
  private currentQuantile = NaN;
  private currentBucket = NaN;
  private currentIsSummaryCount = false;
  private currentIsSummarySum = false;
  private currentIsHistogramCount = false;
  private currentIsHistogramSum = false;
  private insideBraces = false;
  private insideBracesPresent = false;

  constructor(private readonly input: string) {}

  parse(): Map<string, MetricFamily> {
    for (let next: State = () => this.startOfLine(); next !== null; next = next()) {
      // the state machine runs until a state returns null
    }
    for (const [k, mf] of this.families) if (mf.metric.length === 0) this.families.delete(k);
    if (this.err === EOF) this.parseError('unexpected end of input stream');
    if (this.err instanceof Error) throw this.err;
    return this.families;
  }

  private readByte(): Byte {
    if (this.pos >= this.input.length) {
      this.err = EOF;
      return EOF;
    }
    return this.input[this.pos++];
  }

  private parseError(msg: string): void {
    this.err = new ExpfmtParseError(this.lineCount, msg);
  }

  private startOfLine(): State {
    this.lineCount++;
    this.insideBraces = false;
    this.insideBracesPresent = false;
    this.skipBlankTab();
    if (this.err !== null) {
      if (this.err === EOF) this.err = null; // the only place EOF is the legitimate end
      return null;
    }
    switch (this.currentByte) {
      case '#':
        return () => this.startComment();
      case '\n':
        return () => this.startOfLine();
      case '{':
        this.insideBraces = true;
        return () => this.readingLabels();
    }
    return () => this.readingMetricName();
  }

  private startComment(): State {
    this.skipBlankTab();
    if (this.err !== null) return null;
    if (this.currentByte === '\n') return () => this.startOfLine();
    this.readTokenUntilWhitespace();
    if (this.err !== null) return null;
    if (this.currentByte === '\n') return () => this.startOfLine();
    const keyword = this.token;
    if (keyword !== 'HELP' && keyword !== 'TYPE') {
      while (this.currentByte !== '\n') {
        this.currentByte = this.readByte();
        if (this.err !== null) return null;
      }
      return () => this.startOfLine();
    }
    this.skipBlankTab();
    if (this.err !== null) return null;
    this.readTokenAsMetricName();
    if (this.err !== null) return null;
    if (this.currentByte === '\n') return () => this.startOfLine();
    if (!isBlankOrTab(this.currentByte)) {
      this.parseError('invalid metric name in comment');
      return null;
    }
    this.setOrCreateCurrentMF();
    if (this.err !== null) return null;
    this.skipBlankTab();
    if (this.err !== null) return null;
    if (this.currentByte === '\n') return () => this.startOfLine();
    return keyword === 'HELP' ? () => this.readingHelp() : () => this.readingType();
  }

  private readingMetricName(): State {
    this.readTokenAsMetricName();
    if (this.err !== null) return null;
    if (this.token.length === 0) {
      this.parseError('invalid metric name');
      return null;
    }
    this.setOrCreateCurrentMF();
    if (this.err !== null) return null;
    const mf = this.currentMF!;
    if (mf.type === undefined) mf.type = 'UNTYPED';
    this.currentMetric = { label: [] };
    this.skipBlankTabIfCurrentBlankTab();
    if (this.err !== null) return null;
    return () => this.readingLabels();
  }

  private isSummaryOrHistogram(): boolean {
    const t = this.currentMF?.type;
    return t === 'SUMMARY' || t === 'HISTOGRAM' || t === 'GAUGE_HISTOGRAM';
  }

  private readingLabels(): State {
    if (this.isSummaryOrHistogram()) {
      this.currentLabels = new Map([['__name__', this.currentMF!.name]]);
      this.currentQuantile = NaN;
      this.currentBucket = NaN;
    }
    if (this.currentByte !== '{') return () => this.readingValue();
    return () => this.startLabelName();
  }

  private startLabelName(): State {
    this.skipBlankTab();
    if (this.err !== null) return null;
    if (this.currentByte === '}') {
      if (this.currentMF === undefined) {
        this.parseError('invalid metric name');
        this.currentLabelPairs = null;
        return null;
      }
      this.currentMetric!.label.push(...(this.currentLabelPairs ?? []));
      this.currentLabelPairs = null;
      this.skipBlankTab();
      if (this.err !== null) return null;
      return () => this.readingValue();
    }
    this.readTokenAsLabelName();
    if (this.err !== null) return null;
    if (this.token.length === 0) {
      this.parseError(`invalid label name for metric ${JSON.stringify(this.currentMF?.name ?? '')}`);
      return null;
    }
    this.skipBlankTabIfCurrentBlankTab();
    if (this.err !== null) return null;
    if (this.currentByte !== '=') {
      if (this.insideBraces) {
        if (this.insideBracesPresent) {
          this.parseError(`multiple metric names for metric ${JSON.stringify(this.currentMF?.name ?? '')}`);
          return null;
        }
        if (this.currentByte === ',' || this.currentByte === '}') {
          const closing = this.currentByte === '}';
          this.setOrCreateCurrentMF();
          if (this.err !== null) {
            this.currentLabelPairs = null;
            return null;
          }
          if (this.currentMF!.type === undefined) this.currentMF!.type = 'UNTYPED';
          this.currentMetric = { label: [] };
          if (!closing) {
            this.insideBracesPresent = true;
            return () => this.startLabelName();
          }
          this.currentMetric.label.push(...(this.currentLabelPairs ?? []));
          this.currentLabelPairs = null;
          this.skipBlankTab();
          if (this.err !== null) return null;
          return () => this.readingValue();
        }
        this.parseError(`unexpected end of metric name ${JSON.stringify(this.currentByte)}`);
        return null;
      }
      this.parseError(`expected '=' after label name, found ${JSON.stringify(this.currentByte)}`);
      this.currentLabelPairs = null;
      return null;
    }
    this.currentLabelPair = { name: this.token };
    if (this.currentLabelPair.name === '__name__') {
      this.parseError('label name "__name__" is reserved');
      this.currentLabelPairs = null;
      return null;
    }
    // model.UTF8Validation accepts any valid UTF-8 label name.
    const type = this.currentMF?.type;
    const special =
      (type === 'SUMMARY' && this.currentLabelPair.name === 'quantile') ||
      ((type === 'HISTOGRAM' || type === 'GAUGE_HISTOGRAM') && this.currentLabelPair.name === 'le');
    this.currentLabelPairs ??= [];
    if (!special) this.currentLabelPairs.push(this.currentLabelPair as LabelPair);
    const seen = new Set<string>();
    for (const l of this.currentLabelPairs) {
      if (seen.has(l.name)) {
        this.parseError(`duplicate label names for metric ${JSON.stringify(this.currentMF?.name ?? "")}`);
        this.currentLabelPairs = null;
        return null;
      }
      seen.add(l.name);
    }
    return () => this.startLabelValue();
  }

  private startLabelValue(): State {
    this.skipBlankTab();
    if (this.err !== null) return null;
    if (this.currentByte !== '"') {
      this.parseError(`expected '"' at start of label value, found ${JSON.stringify(this.currentByte)}`);
      return null;
    }
    this.readTokenAsLabelValue();
    if (this.err !== null) return null;
    const pair = this.currentLabelPair!;
    pair.value = this.token;
    const type = this.currentMF?.type;
    if (type === 'SUMMARY') {
      if (pair.name === 'quantile') {
        const q = parseFloatGo(pair.value);
        if (Number.isNaN(q) && !/^[+-]?nan$/i.test(pair.value)) {
          this.parseError(`expected float as value for 'quantile' label, got ${JSON.stringify(pair.value)}`);
          this.currentLabelPairs = null;
          return null;
        }
        this.currentQuantile = q;
      } else this.currentLabels.set(pair.name, pair.value);
    }
    if (type === 'HISTOGRAM' || type === 'GAUGE_HISTOGRAM') {
      if (pair.name === 'le') {
        const b = parseFloatGo(pair.value);
        if (Number.isNaN(b) && !/^[+-]?nan$/i.test(pair.value)) {
          this.parseError(`expected float as value for 'le' label, got ${JSON.stringify(pair.value)}`);
          return null;
        }
        this.currentBucket = b;
      } else this.currentLabels.set(pair.name, pair.value);
    }
    this.skipBlankTab();
    if (this.err !== null) return null;
    switch (this.currentByte as Byte) {
      case ',':
        return () => this.startLabelName();
      case '}':
        if (this.currentMF === undefined) {
          this.parseError('invalid metric name');
          return null;
        }
        this.currentMetric!.label.push(...(this.currentLabelPairs ?? []));
        this.currentLabelPairs = null;
        this.skipBlankTab();
        if (this.err !== null) return null;
        return () => this.readingValue();
      default:
        this.parseError(`unexpected end of label value ${JSON.stringify(pair.value)}`);
        this.currentLabelPairs = null;
        return null;
    }
  }

  private readingValue(): State {
    const mf = this.currentMF!;
    // model.LabelsToSignature: a stable signature of the label set (sorted), without quantile / le.
    const signature = () => JSON.stringify([...this.currentLabels.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    switch (mf.type) {
      case 'SUMMARY': {
        const sig = signature();
        const existing = this.summaries.get(sig);
        if (existing !== undefined) this.currentMetric = existing;
        else {
          this.summaries.set(sig, this.currentMetric!);
          mf.metric.push(this.currentMetric!);
        }
        break;
      }
      case 'HISTOGRAM':
      case 'GAUGE_HISTOGRAM': {
        const sig = signature();
        const existing = this.histograms.get(sig);
        if (existing !== undefined) this.currentMetric = existing;
        else {
          this.histograms.set(sig, this.currentMetric!);
          mf.metric.push(this.currentMetric!);
        }
        break;
      }
      default:
        mf.metric.push(this.currentMetric!);
    }
    this.readTokenUntilWhitespace();
    if (this.err !== null) return null;
    const value = parseFloatGo(this.token);
    if (Number.isNaN(value) && !/^[+-]?nan$/i.test(this.token)) {
      this.parseError(`expected float as value, got ${JSON.stringify(this.token)}`);
      return null;
    }
    const m = this.currentMetric!;
    switch (mf.type) {
      case 'COUNTER':
        m.counter = value;
        break;
      case 'GAUGE':
        m.gauge = value;
        break;
      case 'UNTYPED':
        m.untyped = value;
        break;
      case 'SUMMARY':
        m.summary ??= { quantiles: [] };
        if (this.currentIsSummaryCount) m.summary.count = value;
        else if (this.currentIsSummarySum) m.summary.sum = value;
        else if (!Number.isNaN(this.currentQuantile)) m.summary.quantiles.push({ quantile: this.currentQuantile, value });
        break;
      case 'HISTOGRAM':
      case 'GAUGE_HISTOGRAM':
        m.histogram ??= { buckets: [] };
        if (this.currentIsHistogramCount) {
          // Go: a value that is not a uint64 and is negative is refused (so every negative count).
          if (value < 0) {
            this.parseError(`negative count for histogram ${JSON.stringify(mf.name)}`);
            return null;
          }
          m.histogram.count = value;
        } else if (this.currentIsHistogramSum) m.histogram.sum = value;
        else if (!Number.isNaN(this.currentBucket)) {
          if (value < 0) {
            this.parseError(`negative bucket population for histogram ${JSON.stringify(mf.name)}`);
            return null;
          }
          m.histogram.buckets.push({ upperBound: this.currentBucket, cumulativeCount: value });
        }
        break;
      default:
        this.err = new Error(`unexpected type for metric name ${JSON.stringify(mf.name)}`);
    }
    if (this.currentByte === '\n') return () => this.startOfLine();
    return () => this.startTimestamp();
  }

  private startTimestamp(): State {
    this.skipBlankTab();
    if (this.err !== null) return null;
    this.readTokenUntilWhitespace();
    if (this.err !== null) return null;
    if (!/^[+-]?\d+$/.test(this.token)) {
      this.parseError(`expected integer as timestamp, got ${JSON.stringify(this.token)}`);
      return null;
    }
    this.currentMetric!.timestampMs = Number(this.token);
    this.readTokenUntilNewline(false);
    if (this.err !== null) return null;
    if (this.token.length > 0) {
      this.parseError(`spurious string after timestamp: ${JSON.stringify(this.token)}`);
      return null;
    }
    return () => this.startOfLine();
  }

  private readingHelp(): State {
    const mf = this.currentMF!;
    if (mf.help !== undefined) {
      this.parseError(`second HELP line for metric name ${JSON.stringify(mf.name)}`);
      return null;
    }
    this.readTokenUntilNewline(true);
    if (this.err !== null) return null;
    mf.help = this.token;
    return () => this.startOfLine();
  }

  private readingType(): State {
    const mf = this.currentMF!;
    if (mf.type !== undefined) {
      this.parseError(`second TYPE line for metric name ${JSON.stringify(mf.name)}, or TYPE reported after samples`);
      return null;
    }
    this.readTokenUntilNewline(false);
    if (this.err !== null) return null;
    const typ = this.token.toUpperCase();
    const t = TYPES[typ] ?? (typ === 'GAUGEHISTOGRAM' ? 'GAUGE_HISTOGRAM' : undefined);
    if (t === undefined) {
      this.parseError(`unknown metric type ${JSON.stringify(this.token)}`);
      return null;
    }
    mf.type = t;
    return () => this.startOfLine();
  }

  private skipBlankTab(): void {
    for (;;) {
      this.currentByte = this.readByte();
      if (this.err !== null || !isBlankOrTab(this.currentByte)) return;
    }
  }

  private skipBlankTabIfCurrentBlankTab(): void {
    if (isBlankOrTab(this.currentByte)) this.skipBlankTab();
  }

  private readTokenUntilWhitespace(): void {
    this.token = '';
    while (this.err === null && !isBlankOrTab(this.currentByte) && this.currentByte !== '\n') {
      this.token += this.currentByte as string;
      this.currentByte = this.readByte();
    }
  }

  private readTokenUntilNewline(recognizeEscapes: boolean): void {
    this.token = '';
    let escaped = false;
    while (this.err === null) {
      if (recognizeEscapes && escaped) {
        switch (this.currentByte) {
          case '\\':
            this.token += '\\';
            break;
          case 'n':
            this.token += '\n';
            break;
          case '"':
            this.token += '"';
            break;
          default:
            this.parseError(`invalid escape sequence '\\${String(this.currentByte)}'`);
            return;
        }
        escaped = false;
      } else {
        switch (this.currentByte) {
          case '\n':
            return;
          case '\\':
            escaped = true;
            break;
          default:
            this.token += this.currentByte as string;
        }
      }
      this.currentByte = this.readByte();
    }
  }

  /** Shared by metric and label names: optionally quoted (UTF-8 names), with `\\`, `\n`, `\"` escapes. */
  private readTokenAsName(isStart: (b: Byte) => boolean, isContinuation: (b: Byte, quoted: boolean) => boolean, stop: string, what: string): void {
    this.token = '';
    let quoted = false;
    let escaped = false;
    if (!isStart(this.currentByte)) return;
    while (this.err === null) {
      if (escaped) {
        switch (this.currentByte) {
          case '\\':
            this.token += '\\';
            break;
          case 'n':
            this.token += '\n';
            break;
          case '"':
            this.token += '"';
            break;
          default:
            this.parseError(`invalid escape sequence '\\${String(this.currentByte)}'`);
            return;
        }
        escaped = false;
      } else {
        switch (this.currentByte) {
          case '"':
            quoted = !quoted;
            if (!quoted) {
              this.currentByte = this.readByte();
              return;
            }
            break;
          case '\n':
            this.parseError(`${what} ${JSON.stringify(this.token)} contains unescaped new-line`);
            return;
          case '\\':
            escaped = true;
            break;
          default:
            this.token += this.currentByte as string;
        }
      }
      this.currentByte = this.readByte();
      if (!isContinuation(this.currentByte, quoted) || (!quoted && this.currentByte === stop)) return;
    }
  }

  private readTokenAsMetricName(): void {
    this.readTokenAsName(isValidMetricNameStart, isValidMetricNameContinuation, ' ', 'metric name');
  }

  private readTokenAsLabelName(): void {
    this.readTokenAsName(isValidLabelNameStart, isValidLabelNameContinuation, '=', 'label name');
  }

  private readTokenAsLabelValue(): void {
    this.token = '';
    let escaped = false;
    for (;;) {
      this.currentByte = this.readByte();
      if (this.err !== null) return;
      if (escaped) {
        switch (this.currentByte) {
          case '"':
          case '\\':
            this.token += this.currentByte as string;
            break;
          case 'n':
            this.token += '\n';
            break;
          default:
            this.parseError(`invalid escape sequence '\\${String(this.currentByte)}'`);
            this.currentLabelPairs = null;
            return;
        }
        escaped = false;
        continue;
      }
      switch (this.currentByte) {
        case '"':
          return;
        case '\n':
          this.parseError(`label value ${JSON.stringify(this.token)} contains unescaped new-line`);
          return;
        case '\\':
          escaped = true;
          break;
        default:
          this.token += this.currentByte as string;
      }
    }
  }

  private setOrCreateCurrentMF(): void {
    this.currentIsSummaryCount = false;
    this.currentIsSummarySum = false;
    this.currentIsHistogramCount = false;
    this.currentIsHistogramSum = false;
    const name = this.token;
    if (name === '') {
      // model.UTF8Validation.IsValidMetricName: any non-empty valid UTF-8 string.
      this.parseError(`invalid metric name ${JSON.stringify(name)}`);
      return;
    }
    this.currentMF = this.families.get(name);
    if (this.currentMF !== undefined) return;
    const summaryName = summaryMetricName(name);
    this.currentMF = this.families.get(summaryName);
    if (this.currentMF !== undefined && this.currentMF.type === 'SUMMARY') {
      if (isCount(name)) this.currentIsSummaryCount = true;
      if (isSum(name)) this.currentIsSummarySum = true;
      return;
    }
    const histogramName = histogramMetricName(name);
    this.currentMF = this.families.get(histogramName);
    if (this.currentMF !== undefined && (this.currentMF.type === 'HISTOGRAM' || this.currentMF.type === 'GAUGE_HISTOGRAM')) {
      if (isCount(name)) this.currentIsHistogramCount = true;
      if (isSum(name)) this.currentIsHistogramSum = true;
      return;
    }
    this.currentMF = { name, metric: [] };
    this.families.set(name, this.currentMF);
  }
}

const isBlankOrTab = (b: Byte): boolean => b === ' ' || b === '\t';
const isLetterOrUnderscore = (b: Byte): boolean => typeof b === 'string' && /^[a-zA-Z_]$/.test(b);
const isValidLabelNameStart = (b: Byte): boolean => isLetterOrUnderscore(b) || b === '"';
const isValidLabelNameContinuation = (b: Byte, quoted: boolean): boolean =>
  isValidLabelNameStart(b) || (typeof b === 'string' && /^[0-9]$/.test(b)) || (quoted && typeof b === 'string');
const isValidMetricNameStart = (b: Byte): boolean => isValidLabelNameStart(b) || b === ':';
const isValidMetricNameContinuation = (b: Byte, quoted: boolean): boolean => isValidLabelNameContinuation(b, quoted) || b === ':';

const isCount = (name: string): boolean => name.length > 6 && name.endsWith('_count');
const isSum = (name: string): boolean => name.length > 4 && name.endsWith('_sum');
const isBucket = (name: string): boolean => name.length > 7 && name.endsWith('_bucket');
const summaryMetricName = (name: string): string => (isCount(name) ? name.slice(0, -6) : isSum(name) ? name.slice(0, -4) : name);
const histogramMetricName = (name: string): string =>
  isCount(name) ? name.slice(0, -6) : isSum(name) ? name.slice(0, -4) : isBucket(name) ? name.slice(0, -7) : name;

/**
 * Go's strconv.ParseFloat(s, 64) as expfmt calls it (which first refuses `p`, `P` and `_`): decimal and hex
 * floats, `inf` / `infinity` / `nan` in any case with an optional sign. Returns NaN for invalid input; callers
 * tell a parsed "NaN" from an error by the text.
 */
export function parseFloatGo(s: string): number {
  if (/[pP_]/.test(s)) return NaN;
  if (/^[+-]?(inf|infinity)$/i.test(s)) return s.startsWith('-') ? -Infinity : Infinity;
  if (/^[+-]?nan$/i.test(s)) return NaN;
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return Number(s);
  return NaN;
}
