/**
 * The one exponential-histogram module: value -> bucket mapping, a bucket accumulator (add, subtract, downscale)
 * and quantiles. The sealer, every sink and the worker side use it; nothing else does this maths.
 */
export * from './mapping.js';
export * from './accumulator.js';
export * from './quantiles.js';
export * from './window-histograms.js';
