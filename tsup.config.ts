import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  splitting: false,
  // Optional backends stay out of the bundle and load only when their sink is created.
  external: ['@aws-sdk/client-cloudwatch', '@aws-sdk/client-sqs', '@opentelemetry/exporter-metrics-otlp-http', 'aws-embedded-metrics', 'prom-client'],
});
