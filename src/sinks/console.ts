/**
 * The console sink: one compact table per window, for development. Histograms show P50/P99/max,
 * gauges the value and the window's max, counters the per-second rate and the total.
 */
import type { SeriesWindow, Window } from '../core/window.js';
import type { Sink } from '../core/sink.js';

export interface ConsoleSinkOptions {
  /** Where lines go. Default: process.stdout. */
  write?: (text: string) => void;
  /** Only series whose name matches. Default: every series except scalesignal's own self-metrics. */
  filter?: (series: SeriesWindow) => boolean;
  /** Print windows with nothing to show. Default false. */
  showEmpty?: boolean;
}

const defaultFilter = (series: SeriesWindow) => !series.name.startsWith('scalesignal.');

export function consoleSink(options: ConsoleSinkOptions = {}): Sink {
  const write = options.write ?? ((text: string) => process.stdout.write(text));
  const filter = options.filter ?? defaultFilter;
  return {
    name: 'console',
    export(windows) {
      for (const window of windows) {
        const text = renderTable(window, filter, options.showEmpty ?? false);
        if (text !== '') write(text);
      }
    },
  };
}

export function renderTable(window: Window, filter: (series: SeriesWindow) => boolean, showEmpty = false): string {
  const rows: string[][] = [];
  for (const series of window.series) {
    if (!filter(series)) continue;
    rows.push([seriesLabel(series), series.kind, ...cells(series)]);
  }
  if (rows.length === 0 && !showEmpty) return '';
  const header = ['series', 'kind', 'value', 'rate/s', 'p50', 'p99', 'max'];
  const table = [header, ...rows];
  const widths = header.map((_, column) => Math.max(...table.map((row) => row[column].length)));
  const time = new Date(window.start).toISOString().slice(11, 19);
  const lines = table.map((row) =>
    row.map((cell, column) => (column < 2 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join('  '),
  );
  return `── ${time} ${'─'.repeat(Math.max(0, lines[0].length - 12))}\n${lines.join('\n')}\n`;
}

function seriesLabel(series: SeriesWindow): string {
  const labels = Object.entries(series.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const unit = series.unit && !series.unit.startsWith('{') ? ` [${series.unit}]` : '';
  return `${series.name}${labels ? `{${labels}}` : ''}${unit}`;
}

function cells(series: SeriesWindow): string[] {
  if (series.kind === 'counter') return [format(series.total), format(series.rate), '', '', ''];
  if (series.kind === 'gauge') return [format(series.last), '', '', '', format(series.max)];
  return [format(series.count), format(series.rate), format(series.p50), format(series.p99), format(series.max)];
}

function format(value: number): string {
  if (Number.isNaN(value)) return '-';
  if (Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  return abs >= 100 ? value.toFixed(0) : abs >= 1 ? value.toFixed(2) : value.toPrecision(3);
}
