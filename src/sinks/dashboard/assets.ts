/**
 * uPlot's JS and CSS, read from the installed `uplot` package (a runtime dependency) when the sink starts, so the
 * page works offline and behind strict egress: no CDN.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

export interface ChartLibrary {
  readonly script: Buffer;
  readonly style: Buffer;
}

// In the CJS build `require` is the module's own; in ESM it is made from this module's URL.
const requireHere: NodeJS.Require = typeof require === 'function' ? require : createRequire(import.meta.url);

export async function loadChartLibrary(): Promise<ChartLibrary> {
  const [script, style] = await Promise.all([
    readFile(requireHere.resolve('uplot/dist/uPlot.iife.min.js')),
    readFile(requireHere.resolve('uplot/dist/uPlot.min.css')),
  ]);
  return { script, style };
}
