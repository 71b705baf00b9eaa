/** Builds scalesignal from src/ (or a git ref's src/) the way it is published, for benches that load it in children. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/**
 * Bundles src/ the way tsup publishes it (ESM, node20, no keepNames, dependencies external) into a temp dir;
 * returns the bundle's path. The children import it through SCALESIGNAL_BUNDLE. With `ref`, the src/ of that git
 * commit instead (setup `before`, through SCALESIGNAL_BASE_BUNDLE): before and after measured side by side.
 */
export async function bundleScalesignal(ref?: string): Promise<string> {
  const esbuild = await import('esbuild');
  // Inside the repository, so the bundle's external imports (prom-client...) resolve from its node_modules.
  await mkdir(join(here, '../.tmp'), { recursive: true });
  const dir = mkdtempSync(join(here, '../.tmp/bench-'));
  let root = join(here, '..');
  if (ref !== undefined) {
    root = join(dir, 'base');
    await mkdir(root);
    execFileSync('sh', ['-c', `git -C "${join(here, '..')}" archive "${ref}" src | tar -x -C "${root}"`]);
  }
  const outfile = join(dir, 'scalesignal.mjs');
  await esbuild.build({
    stdin: { contents: "export * from './src/index.ts';", resolveDir: root, loader: 'ts' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outfile,
    logLevel: 'warning',
  });
  return outfile;
}
