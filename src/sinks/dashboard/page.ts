/**
 * The page: static HTML, CSS and a small script (no framework, no build step) that draws one uPlot chart per
 * indicator from the snapshot and the per-window points the server streams over SSE. Served with a CSP that
 * allows only same-origin scripts, styles and connections: nothing inline, nothing from a CDN.
 *
 * A panel's headline is the latest non-empty value of its first series (a window without requests keeps the last
 * latency shown rather than flickering to a dash). For tests and scripts the body carries `data-updates` (points
 * applied), `data-window` (timestamp of the latest point, s) and `data-rendered-at` (epoch ms it was drawn); each
 * panel carries `data-value`, its headline number.
 */

export const HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>scalesignal</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="assets/uplot.min.css">
<link rel="stylesheet" href="assets/dashboard.css">
</head>
<body data-updates="0">
<header>
  <h1><span class="brand">scalesignal</span> <span id="service"></span></h1>
  <div class="meta"><span id="status" class="status">connecting</span> <span id="clock"></span></div>
</header>
<main id="panels"></main>
<footer>One point per window, the same windows every sink receives. Dashed lines: scaling thresholds.</footer>
<script src="assets/uplot.min.js"></script>
<script src="assets/dashboard.js"></script>
</body>
</html>
`;

export const CSS = `
:root { --bg: #f6f7f9; --panel: #fff; --ink: #0f172a; --muted: #64748b; --line: #e2e8f0; --over: #dc2626; --ok: #16a34a; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header { display: flex; align-items: baseline; justify-content: space-between; padding: 14px 20px 6px; }
h1 { margin: 0; font-size: 18px; font-weight: 600; }
h1 .brand { color: var(--muted); font-weight: 500; }
.meta { color: var(--muted); font-variant-numeric: tabular-nums; }
.status { display: inline-block; padding: 1px 8px; border-radius: 999px; background: var(--line); }
.status.live { background: #dcfce7; color: #166534; }
.status.down { background: #fee2e2; color: #991b1b; }
main { display: grid; grid-template-columns: repeat(auto-fill, minmax(460px, 1fr)); gap: 12px; padding: 8px 20px 12px; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px 4px; min-width: 0; }
.panel .head { display: flex; align-items: baseline; justify-content: space-between; margin-bottom: 2px; }
.panel h2 { margin: 0; font-size: 13px; font-weight: 600; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.panel .value { font-size: 24px; font-weight: 600; font-variant-numeric: tabular-nums; }
.panel .value small { font-size: 13px; color: var(--muted); font-weight: 500; margin-left: 2px; }
.panel.over .value { color: var(--over); }
.panel .threshold { color: var(--muted); font-size: 12px; margin-left: 8px; }
.panel .chart { width: 100%; }
.uplot .u-legend { font-size: 12px; text-align: left; margin: 0; }
footer { color: var(--muted); font-size: 12px; padding: 0 20px 16px; }
`;

export const SCRIPT = `(function () {
  'use strict';
  var COLORS = ['#2563eb', '#94a3b8'];
  var FILLS = ['rgba(37,99,235,0.10)', null];
  var fields = [];
  var historyLength = 300;
  var columns = null;
  var panels = [];
  var updates = 0;

  function format(value, unit) {
    if (value === null || value === undefined || !isFinite(value)) return '\\u2013';
    var abs = Math.abs(value);
    var text = abs >= 1e6 ? (value / 1e6).toFixed(1) + 'M' : abs >= 1e4 ? (value / 1e3).toFixed(1) + 'k'
      : abs >= 100 || Number.isInteger(value) ? Math.round(value).toString() : abs >= 10 ? value.toFixed(1) : value.toFixed(2);
    return unit ? text + ' ' + unit : text;
  }

  function pad(n) { return n < 10 ? '0' + n : String(n); }

  function clock(seconds) {
    var d = new Date(seconds * 1000);
    return pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  }

  function column(field) { return columns[1 + fields.indexOf(field)]; }

  function latest(field) {
    var values = column(field);
    for (var i = values.length - 1; i >= 0; i--) if (values[i] !== null) return values[i];
    return null;
  }

  function thresholdPlugin(panel) {
    return {
      hooks: {
        draw: [function (u) {
          if (typeof panel.threshold !== 'number') return;
          var ctx = u.ctx;
          var y = Math.round(u.valToPos(panel.threshold, 'y', true)) + 0.5;
          ctx.save();
          ctx.strokeStyle = '#dc2626';
          ctx.lineWidth = Math.max(1, devicePixelRatio);
          ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
          ctx.beginPath();
          ctx.moveTo(u.bbox.left, y);
          ctx.lineTo(u.bbox.left + u.bbox.width, y);
          ctx.stroke();
          ctx.setLineDash([]);
          ctx.fillStyle = '#dc2626';
          ctx.font = (11 * devicePixelRatio) + 'px system-ui, sans-serif';
          ctx.textAlign = 'right';
          ctx.fillText('threshold ' + format(panel.threshold, panel.unit), u.bbox.left + u.bbox.width - 4, y - 4 * devicePixelRatio);
          ctx.restore();
        }],
      },
    };
  }

  function chartWidth(el) { return Math.max(240, el.clientWidth); }

  function build(definitions) {
    var root = document.getElementById('panels');
    panels.forEach(function (p) { p.plot.destroy(); });
    root.textContent = '';
    panels = definitions.map(function (panel) {
      var section = document.createElement('section');
      section.className = 'panel';
      section.dataset.panel = panel.id;
      var head = document.createElement('div');
      head.className = 'head';
      var title = document.createElement('h2');
      title.textContent = panel.title;
      var right = document.createElement('div');
      var value = document.createElement('span');
      value.className = 'value';
      right.appendChild(value);
      if (typeof panel.threshold === 'number') {
        var t = document.createElement('span');
        t.className = 'threshold';
        t.textContent = 'scale at ' + format(panel.threshold, panel.unit);
        right.appendChild(t);
      }
      head.appendChild(title);
      head.appendChild(right);
      var chart = document.createElement('div');
      chart.className = 'chart';
      section.appendChild(head);
      section.appendChild(chart);
      root.appendChild(section);
      var options = {
        width: chartWidth(chart),
        height: 170,
        padding: [8, 8, 0, 0],
        cursor: { drag: { x: false, y: false } },
        legend: { live: true },
        scales: {
          x: { time: true },
          y: {
            range: function (u, min, max) {
              var top = Math.max(max === null ? 0 : max, typeof panel.threshold === 'number' ? panel.threshold * 1.15 : 0);
              return [0, top > 0 ? top * 1.05 : 1];
            },
          },
        },
        axes: [
          { stroke: '#64748b', space: 70, grid: { stroke: '#eef2f6' }, ticks: { stroke: '#e2e8f0' },
            values: function (u, ticks) { return ticks.map(clock); } },
          { stroke: '#64748b', size: 52, grid: { stroke: '#eef2f6' }, ticks: { stroke: '#e2e8f0' },
            values: function (u, ticks) { return ticks.map(function (v) { return format(v, ''); }); } },
        ],
        series: [{ label: 'time', value: function (u, v) { return v === null ? '' : clock(v); } }].concat(panel.series.map(function (s, i) {
          return {
            label: s.label,
            stroke: COLORS[i % COLORS.length],
            width: i === 0 ? 2 : 1.25,
            fill: FILLS[i % FILLS.length] || undefined,
            points: { show: false },
            value: function (u, v) { return format(v, panel.unit); },
          };
        })),
        plugins: [thresholdPlugin(panel)],
      };
      return { panel: panel, section: section, value: value, chart: chart, plot: new uPlot(options, data(panel), chart) };
    });
  }

  function data(panel) {
    return [columns[0]].concat(panel.series.map(function (s) { return column(s.field); }));
  }

  function render() {
    var last = columns[0].length - 1;
    panels.forEach(function (p) {
      p.plot.setData(data(p.panel));
      // Without a pointer on the chart, the legend shows the latest point rather than dashes.
      if (last >= 0 && (p.plot.cursor.idx === null || p.plot.cursor.idx === undefined)) p.plot.setLegend({ idx: last });
      var headline = latest(p.panel.series[0].field);
      p.section.dataset.value = headline === null ? '' : String(headline);
      p.value.textContent = format(headline, '');
      if (p.panel.unit && headline !== null) {
        var small = document.createElement('small');
        small.textContent = p.panel.unit;
        p.value.appendChild(small);
      }
      p.section.classList.toggle('over', typeof p.panel.threshold === 'number' && headline !== null && headline >= p.panel.threshold);
    });
    var x = columns[0];
    document.body.dataset.updates = String(updates);
    document.body.dataset.window = x.length ? String(x[x.length - 1]) : '';
    document.body.dataset.renderedAt = String(Date.now());
    document.getElementById('clock').textContent = x.length ? clock(x[x.length - 1]) : '';
  }

  function append(point) {
    for (var i = 0; i < columns.length; i++) columns[i].push(point[i]);
    if (columns[0].length > historyLength) columns.forEach(function (c) { c.splice(0, c.length - historyLength); });
  }

  function setService(name) {
    document.getElementById('service').textContent = name || '';
    document.title = name ? name + ' \\u00b7 scalesignal' : 'scalesignal';
  }

  var status = document.getElementById('status');
  function setStatus(text, cls) { status.textContent = text; status.className = 'status ' + cls; }

  var source = new EventSource('events');
  source.addEventListener('open', function () { setStatus('live', 'live'); });
  source.addEventListener('error', function () { setStatus('reconnecting', 'down'); });
  source.addEventListener('snapshot', function (event) {
    var snapshot = JSON.parse(event.data);
    fields = snapshot.fields;
    historyLength = snapshot.historySeconds;
    columns = [[]].concat(fields.map(function () { return []; }));
    snapshot.points.forEach(append);
    setService(snapshot.service);
    build(snapshot.panels);
    render();
  });
  source.addEventListener('meta', function (event) { setService(JSON.parse(event.data).service); });
  source.addEventListener('point', function (event) {
    if (columns === null) return;
    append(JSON.parse(event.data));
    updates++;
    render();
  });
  var resizing = 0;
  window.addEventListener('resize', function () {
    clearTimeout(resizing);
    resizing = setTimeout(function () {
      panels.forEach(function (p) { p.plot.setSize({ width: chartWidth(p.chart), height: 170 }); });
    }, 100);
  });
})();
`;
