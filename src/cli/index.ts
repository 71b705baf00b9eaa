/** The manifest generator as a library: what `scalesignal manifests` prints, and the targets it scales to. */
export { DEFAULT_TARGETS, INDICATORS, parseTarget, type Indicator, type Targets } from './targets.js';
export {
  CLOUDWATCH_SOURCES,
  generateManifests,
  PATH_INDICATORS,
  prometheusAdapterRules,
  SCALING_PATHS,
  type AdapterRule,
  type CloudWatchSource,
  type Manifest,
  type ManifestOptions,
  type ScalingPath,
} from './manifests.js';
export { renderManifests } from './render.js';
export { ManifestError } from './errors.js';
export { DEFAULT_BEHAVIOR, TUNED_BEHAVIOR, type Behavior } from './behavior.js';
export { main, parseManifestArgs, USAGE } from './main.js';
