/**
 * Finds where an OTel record goes: the unlabelled bound handle, a bound handle cached per attributes object, or
 * the core's unbound call with the attributes as labels.
 *
 * Identity caching is limited to frozen attribute objects. A WeakMap from a mutable object to its bound handle
 * would be wrong the moment the caller changes the object after the first record, which instrumentations do:
 * instrumentation-http builds `metricAttributes` and then `Object.assign`s the status code into it, and code that
 * keeps one scratch object per route and rewrites `status` would keep recording into the first status' series.
 * Checking the values on every hit would cost what the core's own lookup costs. A frozen object cannot change,
 * so its handle is bound once (and pinned, as every bound handle is: never evicted while it may be used).
 * Everything else goes through the core's unbound path, a walk of the object's keys through a per-metric trie
 * with no allocation, which is correct whatever the caller does to the object between records.
 */
import type { LabelInput } from '../core/api.js';
import { isAttributes, toLabels } from './attributes.js';

export class Resolver<B> {
  /** The handle for records without attributes, bound on first use so an unused instrument adds no series. */
  private unlabelled: B | undefined;
  /** Frozen attribute objects -> their handle; null: deeply mutable (an unfrozen array inside), take the unbound path. */
  private readonly byIdentity = new WeakMap<object, B | null>();

  constructor(
    private readonly bind: (labels?: LabelInput) => B,
    /** A handle recording through the unbound call, for frozen labels the core refuses to bind. */
    private readonly unbound: (labels: LabelInput) => B,
  ) {}

  plain(): B {
    return (this.unlabelled ??= this.bind());
  }

  /**
   * The cached handle of a frozen attributes object (bound on first sight), else undefined. Object.isFrozen is
   * checked first (~10 ns) so unfrozen objects never pay a WeakMap probe, and frozen ones skip the label walk.
   */
  frozen(attributes: unknown): B | undefined {
    if (!Object.isFrozen(attributes) || !isAttributes(attributes)) return undefined;
    let handle = this.byIdentity.get(attributes);
    if (handle === undefined) {
      const labels = toLabels(attributes);
      // An array inside can still change unless it is frozen too.
      handle = labels === attributes || deeplyFrozen(attributes) ? this.handleFor(labels) : null;
      this.byIdentity.set(attributes, handle);
    }
    return handle ?? undefined;
  }

  /** Labels for the unbound call: undefined for no labels. */
  labels(attributes: unknown): LabelInput | undefined {
    return isAttributes(attributes) ? toLabels(attributes) : undefined;
  }

  private handleFor(labels: LabelInput): B {
    try {
      return this.bind(labels);
    } catch {
      // bind() refuses label names the core does not accept; the unbound call drops those names instead.
      return this.unbound(labels);
    }
  }
}

function deeplyFrozen(attributes: object): boolean {
  for (const value of Object.values(attributes)) if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) return false;
  return true;
}
