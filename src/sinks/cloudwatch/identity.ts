/**
 * Pod identity -> where in the pacing period this pod sends. Pods never coordinate: each derives its phase from
 * its own name, so a fleet spreads its requests over the period instead of bursting into one second.
 *
 * A StatefulSet ordinal (`worker-17`) gives a perfectly even spread (ordinal mod period); any other name
 * (Deployment pods `api-7d9f8c6b5-xk2p9`) is hashed, which spreads binomially: the headroom absorbs that.
 */
import { podIdentity } from '../aws/pod-identity.js';

/** The `identity` option, else the pod identity both AWS sinks use (POD_NAME, K8S_POD_NAME, HOSTNAME, host name). */
export function resolveIdentity(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit !== undefined && explicit.trim() !== '') return explicit.trim();
  return podIdentity(undefined, env);
}

/** FNV-1a over UTF-16 code units, then the murmur3 finaliser so nearby names land far apart. */
export function hash32(text: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const ORDINAL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?-(\d{1,6})$/;
/** Deployment pods end in `-<pod-template-hash>-<5 chars>`; their last segment is not an ordinal. */
const DEPLOYMENT = /-[a-z0-9]{6,10}-[a-z0-9]{5}$/;

/** The StatefulSet ordinal of a pod name, if it has one. */
export function ordinalOf(identity: string): number | undefined {
  if (DEPLOYMENT.test(identity)) return undefined;
  const match = ORDINAL.exec(identity);
  return match === null ? undefined : Number(match[2]);
}

/**
 * Second of the period (0..period-1) this pod sends in. `salt` > 0 after throttling moves the pod to another
 * pseudo-random phase, so an over-subscribed second sheds pods rather than throttling the same ones forever.
 */
export function phaseOf(identity: string, period: number, salt: number): number {
  if (period <= 1) return 0;
  const ordinal = salt === 0 ? ordinalOf(identity) : undefined;
  if (ordinal !== undefined) return ordinal % period;
  return hash32(identity, salt) % period;
}

/** Millisecond inside the chosen second: after the window for the previous second is sealed, spread over 400 ms. */
export function offsetOf(identity: string): number {
  return 100 + (hash32(identity, 0x9e3779b9) % 400);
}

/** Small deterministic PRNG (xorshift32) for jitter, seeded per pod so simulations are reproducible. */
export function prng(seed: number): () => number {
  let x = seed >>> 0 || 0x6d2b79f5;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}
