import { defineConfig } from 'tsup';

/** Root entry plus one subpath entry per sink and integration: an app bundles only what it imports. */
const subpaths = ['console', 'prometheus', 'otlp', 'emf', 'cloudwatch', 'dashboard', 'express', 'fastify', 'workers', 'queues', 'otel'] as const;

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    ...Object.fromEntries(subpaths.map((name) => [name, `src/entries/${name}.ts`])),
    // The `scalesignal` executable (package.json `bin`).
    cli: 'src/cli/bin.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  // import.meta.url in the CJS build (the dashboard resolves uPlot from its own location).
  shims: true,
  // Shared chunks: the core exists once however many subpaths an app imports (classes and brands stay one).
  splitting: true,
  // Optional backends stay out of the bundle and load only when their sink is created. The package's own
  // subpaths are loaded lazily by name for SCALESIGNAL_SINKS.
  external: ['@aws-sdk/client-cloudwatch', '@aws-sdk/client-sqs', '@opentelemetry/exporter-metrics-otlp-http', 'aws-embedded-metrics', 'prom-client', /^scalesignal(\/|$)/],
});
