import type { Sink } from '../../src/core/sink.js';
import type { SeriesWindow, Window } from '../../src/core/window.js';

/** A custom sink that keeps every window it receives. */
export function collectSink(name = 'collect'): Sink & { windows: Window[] } {
  const windows: Window[] = [];
  return {
    name,
    windows,
    export(batch) {
      windows.push(...batch);
    },
  };
}

export function find(window: Window, name: string, labels: Record<string, string> = {}): SeriesWindow | undefined {
  return window.series.find(
    (s) =>
      s.name === name &&
      Object.keys(labels).length === Object.keys(s.labels).length &&
      Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}
