/**
 * The layering rule, enforced in `npm test`: contract <- core <- {sinks, integrations, workers, otel} <- composition
 * root (create-metrics, wiring) <- entry points. Each rule names the direction it protects.
 */
module.exports = {
  forbidden: [
    {
      name: 'core-imports-nothing-above-it',
      comment: 'src/core is the contract and the recording engine; everything else depends on it, never the reverse.',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: '^src/(?!core/)' },
    },
    {
      name: 'sinks-depend-on-core-only',
      comment: 'A sink speaks one backend; shared AWS rules live in src/sinks/aws.',
      severity: 'error',
      from: { path: '^src/sinks/' },
      to: { path: '^src/(integrations|workers|wiring|entries|otel|cli)/|^src/(create-metrics|index)\\.ts$' },
    },
    {
      name: 'one-sink-does-not-reach-into-another',
      severity: 'error',
      from: { path: '^src/sinks/([^/.]+)' },
      to: { path: '^src/sinks/', pathNot: ['^src/sinks/$1', '^src/sinks/aws/'] },
    },
    {
      name: 'integrations-depend-on-core-only',
      severity: 'error',
      from: { path: '^src/integrations/' },
      to: { path: '^src/(sinks|workers|wiring|entries|otel|cli)/|^src/(create-metrics|index)\\.ts$' },
    },
    {
      name: 'workers-reach-the-core-through-its-port',
      severity: 'error',
      from: { path: '^src/workers/' },
      to: { path: '^src/(sinks|integrations|wiring|entries|otel|cli)/|^src/core/(registry|window-clock|sealer|self-metrics|sink-runner)\\.ts$|^src/(create-metrics|index)\\.ts$' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(dist|node_modules)/' },
  },
};
