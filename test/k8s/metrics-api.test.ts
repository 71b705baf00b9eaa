/**
 * The KEDA metrics-api evaluation the resolution test relies on, checked against the upstream projects' own test
 * cases: prometheus/common's `expfmt/text_parse_test.go` (error scenarios and the tricky positive ones) and
 * kedacore/keda's `TestGetValueFromResponse` (format prometheus). A port that passes these reads `/metrics` the
 * way KEDA does; the two scenarios built from invalid UTF-8 bytes (20, 36) cannot be written as JS strings and are
 * not ported. The port is also compared with the real expfmt (Go, Debian's prometheus/common 0.39, which predates
 * quoted UTF-8 names) on the SDK's own exposition and on the upstream scenarios both versions share.
 */
import { describe, expect, it } from 'vitest';
import { createMetrics, prometheusSink } from '../../src/index.js';
import { textToMetricFamilies } from './expfmt.js';
import { fetchExposition, getValueFromPrometheusResponse, parseMetricSelector, realExpfmt } from './metrics-api.js';

describe('expfmt text parser port', () => {
  // prometheus/common expfmt/text_parse_test.go, testTextParseError (UTF-8 validation), in order.
  const errors: ReadonlyArray<[string, string]> = [
    ['\nbla 3.14\nblubber 42', 'text format parsing error in line 3: unexpected end of input stream'],
    ['metric{label="\\t"} 3.14', 'text format parsing error in line 1: invalid escape sequence'],
    ['\nmetric{label="new\nline"} 3.14\n', 'text format parsing error in line 2: label value "new" contains unescaped new-line'],
    ['metric{@="bla"} 3.14', 'text format parsing error in line 1: invalid label name for metric'],
    ['metric{__name__="bla"} 3.14', 'text format parsing error in line 1: label name "__name__" is reserved'],
    ['metric{label+="bla"} 3.14', "text format parsing error in line 1: expected '=' after label name"],
    ['metric{label=bla} 3.14', 'text format parsing error in line 1: expected \'"\' at start of label value'],
    ['\n# TYPE metric summary\nmetric{quantile="bla"} 3.14\n', "text format parsing error in line 3: expected float as value for 'quantile' label"],
    ['metric{label="bla"+} 3.14', 'text format parsing error in line 1: unexpected end of label value'],
    ['metric{label="bla"} 3.14 2.72\n', 'text format parsing error in line 1: expected integer as timestamp'],
    ['metric{label="bla"} 3.14 2 3\n', 'text format parsing error in line 1: spurious string after timestamp'],
    ['metric{label="bla"} blubb\n', 'text format parsing error in line 1: expected float as value'],
    ['\n# HELP metric one\n# HELP metric two\n', 'text format parsing error in line 3: second HELP line for metric name'],
    ['\n# TYPE metric counter\n# TYPE metric untyped\n', 'text format parsing error in line 3: second TYPE line for metric name "metric", or TYPE reported after samples'],
    ['\nmetric 4.12\n# TYPE metric counter\n', 'text format parsing error in line 3: second TYPE line for metric name "metric", or TYPE reported after samples'],
    ['\n# TYPE metric bla\n', 'text format parsing error in line 2: unknown metric type'],
    ['\n# TYPE met-ric\n', 'text format parsing error in line 2: invalid metric name in comment'],
    ['@invalidmetric{label="bla"} 3.14 2', 'text format parsing error in line 1: invalid metric name'],
    ['{label="bla"} 3.14 2', 'text format parsing error in line 1: invalid metric name'],
    ['\n# TYPE metric histogram\nmetric_bucket{le="bla"} 3.14\n', "text format parsing error in line 3: expected float as value for 'le' label"],
    ['foo 1_2\n', 'text format parsing error in line 1: expected float as value'],
    ['foo 0x1p-3\n', 'text format parsing error in line 1: expected float as value'],
    ['foo 0x1P-3\n', 'text format parsing error in line 1: expected float as value'],
    ['foo 0B1\n', 'text format parsing error in line 1: expected float as value'],
    ['foo 0O1\n', 'text format parsing error in line 1: expected float as value'],
    ['foo 0X1\n', 'text format parsing error in line 1: expected float as value'],
    ['foo 0x1\n', 'text format parsing error in line 1: expected float as value'],
    ['foo 0b1\n', 'text format parsing error in line 1: expected float as value'],
    ['foo 0o1\n', 'text format parsing error in line 1: expected float as value'],
    ['\n# TYPE metric histogram\nmetric_bucket{le="0x1p-3"} 3.14\n', "text format parsing error in line 3: expected float as value for 'le' label"],
    ['\n# TYPE metric summary\nmetric{quantile="0x1p-3"} 3.14\n', "text format parsing error in line 3: expected float as value for 'quantile' label"],
    ['metric{label="bla",label="bla"} 3.14', 'text format parsing error in line 1: duplicate label names for metric'],
    ['{"one.name","another.name"} 3.14', 'text format parsing error in line 1: multiple metric names'],
    ['{"metric.name".label="bla"} 3.14', 'text format parsing error in line 1: unexpected end of metric name'],
    ['\n# TYPE "metric.name\\t" counter\n{"metric.name\\t",label="bla"} 3.14\n', 'text format parsing error in line 2: invalid escape sequence'],
    ['\n# TYPE "metric\nname" counter\n{"metric\nname",label="bla"} 3.14\n', 'text format parsing error in line 2: metric name "metric" contains unescaped new-line'],
    ['\n{"metric.name","new\nline"="bla"} 3.14\n', 'text format parsing error in line 2: label name "new" contains unescaped new-line'],
    [histogram({ count: '-2693' }), 'text format parsing error in line 10: negative count for histogram "request_duration_microseconds"'],
    [histogram({ bucket120: '-412' }), 'text format parsing error in line 5: negative bucket population for histogram "request_duration_microseconds"'],
    [histogram({ count: '-2693.123' }), 'text format parsing error in line 10: negative count for histogram "request_duration_microseconds"'],
    [histogram({ bucket120: '-412.456' }), 'text format parsing error in line 5: negative bucket population for histogram "request_duration_microseconds"'],
    ['{} 3.14', 'text format parsing error in line 1: invalid metric name'],
  ];
  errors.forEach(([input, message], i) => {
    it(`error scenario ${i}: ${message.replace('text format parsing error in ', '')}`, () => {
      expect(() => textToMetricFamilies(input)).toThrow();
      try {
        textToMetricFamilies(input);
      } catch (error) {
        expect((error as Error).message.startsWith(message), (error as Error).message).toBe(true);
      }
    });
  });

  it('dotted names (UTF-8 validation, as KEDA uses) parse', () => {
    expect(textToMetricFamilies('{"metric.name",foo="bla"} 3.14\n').get('metric.name')?.metric[0].untyped).toBe(3.14);
    expect(textToMetricFamilies('metric_name{"foo"="bar", "dotted.label"="bla"} 3.14\n').get('metric_name')?.metric[0].label).toEqual([
      { name: 'foo', value: 'bar' },
      { name: 'dotted.label', value: 'bla' },
    ]);
  });

  it('the histogram scenario: _bucket/_sum/_count join the family declared first', () => {
    const families = textToMetricFamilies(histogram({}));
    expect([...families.keys()]).toEqual(['request_duration_microseconds']);
    const h = families.get('request_duration_microseconds')!;
    expect(h.type).toBe('HISTOGRAM');
    expect(h.help).toBe('The response latency.');
    expect(h.metric).toHaveLength(1);
    expect(h.metric[0].histogram).toEqual({
      buckets: [
        { upperBound: 100, cumulativeCount: 123 },
        { upperBound: 120, cumulativeCount: 412 },
        { upperBound: 144, cumulativeCount: 592 },
        { upperBound: 172.8, cumulativeCount: 1524 },
        { upperBound: Infinity, cumulativeCount: 2693 },
      ],
      sum: 1756047.3,
      count: 2693,
    });
  });

  it('the evil summary: grouping by label set, decoys stay untyped families', () => {
    const families = textToMetricFamilies(
      [
        '',
        '# TYPE my_summary summary',
        'my_summary{n1="val1",quantile="0.5"} 110',
        'decoy -1 -2',
        'my_summary{n1="val1",quantile="0.9"} 140 1',
        'my_summary_count{n1="val1"} 42',
        '# Latest timestamp wins in case of a summary.',
        'my_summary_sum{n1="val1"} 4711 2',
        'fake_sum{n1="val1"} 2001',
        '# TYPE another_summary summary',
        'another_summary_count{n2="val2",n1="val1"} 20',
        'my_summary_count{n2="val2",n1="val1"} 5 5',
        'another_summary{n1="val1",n2="val2",quantile=".3"} -1.2',
        'my_summary_sum{n1="val2"} 08 15',
        'my_summary{n1="val3", quantile="0.2"} 4711',
        '  my_summary{n1="val1",n2="val2",quantile="-12.34",} NaN',
        '# some',
        '# funny comments',
        '# HELP',
        '# HELP',
        '# HELP my_summary',
        '# HELP my_summary',
        '',
      ].join('\n'),
    );
    expect(new Set(families.keys())).toEqual(new Set(['fake_sum', 'decoy', 'my_summary', 'another_summary']));
    expect(families.get('fake_sum')!.metric[0].untyped).toBe(2001);
    expect(families.get('decoy')!.metric[0]).toMatchObject({ untyped: -1, timestampMs: -2 });
    const my = families.get('my_summary')!;
    expect(my.metric).toHaveLength(4);
    expect(my.metric[0].summary).toEqual({ quantiles: [{ quantile: 0.5, value: 110 }, { quantile: 0.9, value: 140 }], count: 42, sum: 4711 });
    expect(my.metric[1].summary?.count).toBe(5);
    expect(my.metric[2].summary?.sum).toBe(8);
    expect(my.metric[1].summary?.quantiles[0].quantile).toBe(-12.34);
    expect(Number.isNaN(my.metric[1].summary?.quantiles[0].value)).toBe(true);
    expect(my.metric[3]).toEqual({ label: [{ name: 'n1', value: 'val3' }], summary: { quantiles: [{ quantile: 0.2, value: 4711 }] } });
    expect(families.get('another_summary')!.metric[0].summary).toEqual({ count: 20, quantiles: [{ quantile: 0.3, value: -1.2 }] });
  });

  it('escapes in quoted names and a quoted name after a label', () => {
    const a = textToMetricFamilies('\n# HELP "my\\"noncompliant\\nmetric\\\\" help text\n# TYPE "my\\"noncompliant\\nmetric\\\\" counter\n{"my\\"noncompliant\\nmetric\\\\","label\\"name\\n"="value"} 1\n');
    const f = a.get('my"noncompliant\nmetric\\')!;
    expect(f).toMatchObject({ help: 'help text', type: 'COUNTER' });
    expect(f.metric[0]).toEqual({ label: [{ name: 'label"name\n', value: 'value' }], counter: 1 });
    const b = textToMetricFamilies('\n# TYPE "my.noncompliant.metric" counter\n{labelname="value", "my.noncompliant.metric"} 1\n');
    expect(b.get('my.noncompliant.metric')!.metric[0]).toEqual({ label: [{ name: 'labelname', value: 'value' }], counter: 1 });
  });
});

describe("KEDA's valueLocation evaluation", () => {
  // kedacore/keda pkg/scalers/metrics_api_scaler_test.go, TestGetValueFromResponse, format prometheus (the Go raw
  // string keeps the test file's leading tabs, and it ends without a newline on purpose: keda issue 6559).
  const input = [
    '# HELP backend_queue_size Total number of items',
    '\t# TYPE backend_queue_size counter',
    '\tbackend_queue_size{queueName="zero"} 0',
    '\tbackend_queue_size{queueName="one"} 1',
    '\tbackend_queue_size{queueName="two", instance="random"} 2',
    '\tbackend_queue_size{queueName="two", instance="zero"} 20',
    '\t# HELP random_metric Random metric generate to include noise',
    '\t# TYPE random_metric counter',
    '\trandom_metric 10',
  ].join('\n');
  it.each([
    ['random_metric', 10],
    ['backend_queue_size{queueName="one"}', 1],
    ['backend_queue_size{queueName="two"}', 2],
    ['backend_queue_size{queueName="two", instance="zero"}', 20],
  ])('%s -> %d', (location, value) => {
    expect(getValueFromPrometheusResponse(input, location)).toBe(value);
  });
  it('invalid selector: error', () => {
    expect(() => getValueFromPrometheusResponse(input, 'backend_queue_size{invalid=test}')).toThrow();
  });

  it('reads gauges, counters and untyped samples, never a histogram or its parts', () => {
    const body = ['# TYPE g gauge', 'g 3', 'u 4', '# TYPE h histogram', 'h_bucket{le="1"} 1', 'h_bucket{le="+Inf"} 2', 'h_sum 3', 'h_count 2', ''].join('\n');
    expect(getValueFromPrometheusResponse(body, 'g')).toBe(3);
    expect(getValueFromPrometheusResponse(body, 'u')).toBe(4);
    expect(() => getValueFromPrometheusResponse(body, 'h')).toThrow(/value h not found/);
    expect(() => getValueFromPrometheusResponse(body, 'h_bucket{le="1"}')).toThrow(/metric 'h_bucket' not found/);
    expect(() => getValueFromPrometheusResponse(body, 'h_count')).toThrow(/metric 'h_count' not found/);
  });

  it('compares label values for equality whatever the operator (as KEDA does)', () => {
    const body = 'm{a="x"} 1\nm{a="y"} 2\n';
    expect(getValueFromPrometheusResponse(body, 'm{a!="x"}')).toBe(1);
    expect(getValueFromPrometheusResponse(body, 'm{a=~"y"}')).toBe(2);
    expect(() => getValueFromPrometheusResponse(body, 'm{a=~"x|y"}')).toThrow(/not found/);
  });

  it('a body the parser refuses fails the whole read', () => {
    expect(() => getValueFromPrometheusResponse('# TYPE m gauge\n# TYPE m gauge\nm 1\n', 'm')).toThrow(/prometheus format parsing error/);
  });

  it('selector syntax as PromQL parses it', () => {
    expect(parseMetricSelector(' x_total { a = "1", b=\'2\', c=`3`, } ')).toEqual([
      { name: '__name__', type: '=', value: 'x_total' },
      { name: 'a', type: '=', value: '1' },
      { name: 'b', type: '=', value: '2' },
      { name: 'c', type: '=', value: '3' },
    ]);
    expect(parseMetricSelector('{__name__="m", route="/orders/:id"}')).toEqual([
      { name: '__name__', type: '=', value: 'm' },
      { name: 'route', type: '=', value: '/orders/:id' },
    ]);
    expect(parseMetricSelector('m{a="\\u00e9\\n"}')[1].value).toBe('é\n');
    for (const bad of ['', '{}', 'm{a}', 'm{a="1"', 'm{a=1}', 'm extra', 'm{a=~"("}']) expect(() => parseMetricSelector(bad), bad).toThrow();
  });
});

function histogram(o: { count?: string; bucket120?: string }): string {
  return [
    '',
    '# HELP request_duration_microseconds The response latency.',
    '# TYPE request_duration_microseconds histogram',
    'request_duration_microseconds_bucket{le="100"} 123',
    `request_duration_microseconds_bucket{le="120"} ${o.bucket120 ?? '412'}`,
    'request_duration_microseconds_bucket{le="144"} 592',
    'request_duration_microseconds_bucket{le="172.8"} 1524',
    'request_duration_microseconds_bucket{le="+Inf"} 2693',
    'request_duration_microseconds_sum 1.7560473e+06',
    `request_duration_microseconds_count ${o.count ?? '2693'}`,
    '',
  ].join('\n');
}

describe('the port agrees with the real expfmt', () => {
  it("on the SDK's own exposition: counters, gauges, histograms, quantile gauges, hostile label values", async () => {
    const prom = prometheusSink({ port: 0, host: '127.0.0.1' });
    const metrics = createMetrics({ service: 'agree', sinks: [prom], eventLoop: false });
    try {
      const requests = metrics.counter('http.server.requests', { unit: '{request}' });
      const latency = metrics.histogram('http.server.request.duration', { unit: 'ms' });
      const inflight = metrics.gauge('http.server.active_requests', { unit: '{request}' });
      const hostile = ['plain', 'quote " inside', 'back\\slash', 'new\nline', 'ünïcødé ✓', '', '{curly}=,'];
      hostile.forEach((route, i) => {
        requests.add(i + 1, { route, method: 'GET' });
        for (let k = 0; k < 50; k++) latency.record(1 + k * (i + 1), { route, method: 'POST' });
      });
      inflight.set(7);
      await prom.ready;
      await metrics.flush();
      const text = await fetchExposition(prom.url!);
      expect(text).toContain('http_server_request_duration_milliseconds_p99');
      const port = textToMetricFamilies(text);
      const real = realExpfmt(text);
      expect([...port.keys()].sort()).toEqual([...real.keys()].sort());
      for (const [name, family] of real) expect(port.get(name), name).toEqual(family);
      for (const route of hostile) {
        const selector = `http_server_requests_total{route=${JSON.stringify(route)},method="GET"}`;
        expect(getValueFromPrometheusResponse(text, selector), route).toBe(getValueFromPrometheusResponse(text, selector, realExpfmt));
      }
    } finally {
      await metrics.shutdown();
    }
  });

  it('on the upstream scenarios: same families, same rejections', () => {
    const positive = [
      histogram({}),
      '\n# TYPE my_summary summary\nmy_summary{n1="val1",quantile="0.5"} 110\ndecoy -1 -2\nmy_summary{n1="val1",quantile="0.9"} 140 1\nmy_summary_count{n1="val1"} 42\nmy_summary_sum{n1="val1"} 4711 2\nfake_sum{n1="val1"} 2001\n',
      '# HELP backend_queue_size Total\n\t# TYPE backend_queue_size counter\n\tbackend_queue_size{queueName="zero"} 0\n\tbackend_queue_size{queueName="two", instance="zero"} 20\n',
      'minimal_metric 1.234\nanother_metric -3e3 103948\n# Even that:\nno_labels{} 3\n# HELP line for non-existing metric will be ignored.\n',
    ];
    // The Go helper does not print sample timestamps; everything else must be identical.
    const noTimestamps = (families: Map<string, unknown>): Array<[string, unknown]> =>
      JSON.parse(JSON.stringify([...families], (k, v) => (k === 'timestampMs' ? undefined : v))) as Array<[string, unknown]>;
    for (const text of positive) {
      const real = new Map(noTimestamps(realExpfmt(text)));
      const port = new Map(noTimestamps(textToMetricFamilies(text)));
      for (const [name, family] of real) expect(port.get(name), name).toEqual(family);
      expect(port.size).toBe(real.size);
    }
    const negative = ['\nbla 3.14\nblubber 42', 'metric{label="\\t"} 3.14', 'metric{label=bla} 3.14', 'metric{label="bla"} 3.14 2.72\n', '\n# TYPE metric counter\n# TYPE metric untyped\n', '\nmetric 4.12\n# TYPE metric counter\n', 'metric{label="bla",label="bla"} 3.14', 'foo 0x1p-3\n'];
    // (Negative histogram counts are refused only by expfmt versions after 0.39: scenario 43 above, port only.)
    for (const text of negative) {
      expect(() => realExpfmt(text), JSON.stringify(text)).toThrow();
      expect(() => textToMetricFamilies(text), JSON.stringify(text)).toThrow();
    }
  });
});
