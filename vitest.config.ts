import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (path: string) => fileURLToPath(new URL(`./src/${path}`, import.meta.url));

export default defineConfig({
  resolve: {
    // The package's own subpaths (the composition root loads env-named sinks through them) resolve to the sources.
    alias: [
      { find: /^scalesignal\/(console|prometheus|otlp|emf|cloudwatch|express|fastify|workers|queues|otel|dashboard)$/, replacement: src('entries/$1.ts') },
      { find: /^scalesignal$/, replacement: src('index.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
