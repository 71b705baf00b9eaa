/**
 * The CloudWatch sink's system clock for tests under vitest's fake timers, except that the conversion's slices
 * resume in a microtask (as in the fleet simulation, bench/fleet.ts): a slice that yields through setImmediate
 * would be run a fake millisecond later when it yields during a tick, and whether it yields at all depends on real
 * time (the slice budget), so a loaded machine would shift sends by a millisecond at random.
 */
import type { CloudWatchClock } from '../../src/sinks/cloudwatch.js';
import { systemClock } from '../../src/sinks/cloudwatch/publisher.js';

export const fakeTimeClock: CloudWatchClock = { ...systemClock, yield: () => Promise.resolve() };
