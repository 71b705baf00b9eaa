/**
 * An app that imports only createMetrics carries no sink code: the composition root loads env-named sinks by a
 * computed specifier, and every module is free of side effects so a bundler drops what is unused. Bundled here
 * with esbuild (tree-shaking on), as an app's build would.
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

async function bundle(source: string) {
  const result = await build({
    stdin: { contents: source, resolveDir: root, loader: 'ts' },
    bundle: true,
    write: false,
    metafile: true,
    format: 'esm',
    platform: 'node',
    treeShaking: true,
    logLevel: 'silent',
    external: ['prom-client', '@opentelemetry/*', '@aws-sdk/*', 'aws-embedded-metrics'],
  });
  const output = Object.values(result.metafile.outputs)[0];
  const modules = Object.entries(output.inputs)
    .filter(([, input]) => input.bytesInOutput > 0)
    .map(([path]) => path);
  return { modules, bytes: result.outputFiles[0].contents.byteLength };
}

describe('bundle size', () => {
  it('an app importing only createMetrics has no sink, HTTP integration or worker module in its bundle', async () => {
    const app = await bundle(`import { createMetrics } from './src/index.ts';\ncreateMetrics().counter('c').add(1);`);
    expect(app.modules.some((path) => path.startsWith('src/core/'))).toBe(true);
    expect(app.modules.filter((path) => path.startsWith('src/sinks/'))).toEqual([]);
    expect(app.modules.filter((path) => path.startsWith('src/workers/'))).toEqual([]);
    expect(app.modules.filter((path) => /src\/integrations\/(http|express|fastify|sse|queues)/.test(path))).toEqual([]);
    // The Prometheus subpath brings its sink and nothing of the others.
    const withPrometheus = await bundle(
      `import { createMetrics } from './src/index.ts';\nimport { prometheusSink } from './src/entries/prometheus.ts';\ncreateMetrics({ sinks: [prometheusSink()] });`,
    );
    expect(withPrometheus.modules.some((path) => path.startsWith('src/sinks/prometheus'))).toBe(true);
    expect(withPrometheus.modules.filter((path) => /src\/sinks\/(otlp|emf|cloudwatch)/.test(path))).toEqual([]);
    console.log(`createMetrics-only bundle: ${(app.bytes / 1024).toFixed(1)} KB, ${app.modules.length} modules; with the Prometheus sink: ${(withPrometheus.bytes / 1024).toFixed(1)} KB`);
  });
});
