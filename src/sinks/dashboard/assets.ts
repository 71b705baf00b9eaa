/**
 * uPlot's JS and CSS, read from the installed `uplot` package (a runtime dependency) when the sink starts, so the
 * page works offline and behind strict egress: no CDN.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';

export interface ChartLibrary {
  readonly script: Buffer;
  readonly style: Buffer;
}

/**
 * Resolves from this module: its URL in the ESM build, its file in the CJS build (where import.meta is empty and
 * a bundler's `require` may be a shim without `resolve`), else from the working directory.
 */
function resolveFromHere(id: string): string {
  const url: unknown = import.meta.url;
  if (typeof url === 'string' && url !== '') return createRequire(url).resolve(id);
  if (typeof __filename === 'string') return createRequire(__filename).resolve(id);
  return createRequire(join(process.cwd(), 'index.js')).resolve(id);
}

export async function loadChartLibrary(): Promise<ChartLibrary> {
  const [script, style] = await Promise.all([
    readFile(resolveFromHere('uplot/dist/uPlot.iife.min.js')),
    readFile(resolveFromHere('uplot/dist/uPlot.min.css')),
  ]);
  return { script, style };
}
