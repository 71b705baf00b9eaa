/**
 * The pacer: when this pod may call PutMetricData so the whole fleet stays under the account's request quota.
 *
 * Budget: the quota (requests/s, per account and Region) times a headroom, shared by `fleetSize` pods, gives each
 * pod r0 = quotaTps * headroom / fleetSize requests a second. Below one a second, the pod sends once every
 * `period = ceil(fleetSize / (quotaTps * headroom))` seconds, in the second of the period given by its phase,
 * and each request carries every pending second (each datum keeps its own timestamp), so resolution survives
 * while the request rate falls. Above one a second (small fleets), it may send floor(r0) requests in a second,
 * which only matters when a second holds more than one request's worth of datapoints.
 *
 * Hashed phases spread binomially: with ~800 pods a second the busiest second is a few per cent above the mean,
 * with ~10 it can be double. So, unless the pod's name is a StatefulSet ordinal (exact spread), the period is also
 * at least long enough that the busiest second stays under the quota itself with high probability
 * (mean + 4 standard deviations <= quotaTps), capped at twice the plain period. This only bites for small
 * quotas: 200 pods at 20 TPS get 24 s instead of 13 s; 15,000 pods at 1,000 TPS keep 19 s.
 *
 * AIMD on the rate: a throttled request halves it (the period doubles, capped by `maxPeriodSeconds`) and moves the
 * pod to another phase; each clean send adds back r0/8, so recovery takes several periods, not one.
 *
 * Pure state, no timers: the sink drives it with wall-clock time and the fleet simulation with virtual time.
 */
import { offsetOf, ordinalOf, phaseOf } from './identity.js';

export interface PacerOptions {
  readonly quotaTps: number;
  readonly headroom: number;
  readonly fleetSize: number;
  /** Longest period AIMD may reach. Default max(60, 4 x the base period). */
  readonly maxPeriodSeconds?: number;
  readonly identity: string;
}

/** Requests one pod sends in one second at most, however generous the budget. */
const MAX_PER_SLOT = 10;
/** Additive increase per clean slot, as a fraction of the budget. */
const RECOVERY_STEP = 1 / 8;
/** Standard deviations of per-second load the quota must cover when phases are hashed. */
const SPREAD_SIGMAS = 4;

export class Pacer {
  private readonly identity: string;
  private readonly quotaTps: number;
  private readonly headroom: number;
  private readonly fixedMaxPeriod: number | undefined;
  private fleet: number;
  private budget = 1;
  private rate = 1;
  private minRate = 1 / 60;
  private salt = 0;
  private currentPeriod = 1;
  private currentPhase = 0;
  /** Millisecond of the second to send at; moved at random after a throttle so retries do not line up. */
  private offset: number;
  private readonly homeOffset: number;
  /** Second of the last send, for the minimum gap after the period or phase changes. */
  private lastSendSecond = -Infinity;

  constructor(options: PacerOptions) {
    this.identity = options.identity;
    this.quotaTps = options.quotaTps;
    this.headroom = options.headroom;
    this.fixedMaxPeriod = options.maxPeriodSeconds;
    this.fleet = options.fleetSize;
    this.homeOffset = offsetOf(options.identity);
    this.offset = this.homeOffset;
    this.applyBudget(true);
  }

  /** Requests a second this pod may average: quotaTps x headroom / fleetSize. */
  get budgetTps(): number {
    return this.budget;
  }

  /** The period before any back-off: ceil(fleetSize / (quotaTps x headroom)), or the spread period if longer. */
  get basePeriod(): number {
    return periodFor(this.budget);
  }

  /** ceil(fleetSize / (quotaTps x headroom)) alone. */
  get plainPeriod(): number {
    return periodFor((this.quotaTps * this.headroom) / this.fleet);
  }

  /** Current period in seconds (grows under throttling). */
  get period(): number {
    return this.currentPeriod;
  }

  /** Current rate in requests per second (AIMD state). */
  get rateTps(): number {
    return this.rate;
  }

  get phase(): number {
    return this.currentPhase;
  }

  get offsetMs(): number {
    return this.offset;
  }

  get maxPeriod(): number {
    return Math.round(1 / this.minRate);
  }

  /** Requests allowed in one send slot. */
  get perSlot(): number {
    return this.rate >= 1 ? Math.min(MAX_PER_SLOT, Math.floor(this.rate)) : 1;
  }

  /** A new fleet size (e.g. the HPA's replicas changed); keeps any back-off already in force. */
  setFleetSize(fleetSize: number): void {
    if (!(fleetSize >= 1) || fleetSize === this.fleet) return;
    this.fleet = fleetSize;
    this.applyBudget(false);
  }

  /**
   * Epoch ms of the next send, strictly after `nowMs` (a slot that just ran, empty or not, is used up): the first
   * second from `notBefore` on that is this pod's phase of the period, at least half a period after the previous
   * send (the phase may have just moved), at the pod's offset.
   */
  nextSendAt(nowMs: number, notBeforeMs = nowMs): number {
    const earliest = Math.max(nowMs, notBeforeMs);
    let second = Math.floor(earliest / 1000);
    if (second * 1000 + this.offset <= earliest) second++;
    const gap = Math.ceil(this.currentPeriod / 2);
    if (second < this.lastSendSecond + gap) second = this.lastSendSecond + gap;
    const p = this.currentPeriod;
    const shift = (((this.currentPhase - second) % p) + p) % p;
    return (second + shift) * 1000 + this.offset;
  }

  /** Records a send in the second containing `nowMs`. */
  sent(nowMs: number): void {
    this.lastSendSecond = Math.floor(nowMs / 1000);
  }

  /** Every request of a slot succeeded: additive increase. */
  onSuccess(): void {
    this.offset = this.homeOffset;
    if (this.rate >= this.budget) return;
    this.rate = Math.min(this.budget, this.rate + this.budget * RECOVERY_STEP);
    this.derive();
  }

  /** A request was throttled: halve the rate, move to another phase, jitter the offset. */
  onThrottle(random: () => number): void {
    this.rate = Math.max(this.minRate, this.rate / 2);
    this.salt++;
    this.offset = 100 + Math.floor(random() * 800);
    this.derive();
  }

  private applyBudget(initial: boolean): void {
    const plain = (this.quotaTps * this.headroom) / this.fleet;
    const spread = ordinalOf(this.identity) === undefined ? spreadPeriod(this.fleet, this.quotaTps, periodFor(plain)) : 1;
    this.budget = spread > 1 ? Math.min(plain, 1 / spread) : plain;
    const base = periodFor(this.budget);
    const maxPeriod = Math.max(base, this.fixedMaxPeriod ?? Math.max(60, 4 * base));
    this.minRate = Math.min(this.budget, 1 / maxPeriod);
    this.rate = initial ? this.budget : Math.max(this.minRate, Math.min(this.rate, this.budget));
    this.derive();
  }

  private derive(): void {
    const period = periodFor(this.rate);
    if (period !== this.currentPeriod || this.salt > 0 || this.currentPhase >= period) {
      this.currentPeriod = period;
      this.currentPhase = phaseOf(this.identity, period, this.salt);
    }
  }
}

/** Whole seconds between sends at a rate; 1 when the rate allows a request every second or more. */
export function periodFor(rateTps: number): number {
  if (rateTps >= 1) return 1;
  // The epsilon keeps 15000 / (1000 * 0.8) = 18.75 -> 19, and exact quotients from rounding up by one.
  return Math.max(1, Math.ceil(1 / rateTps - 1e-9));
}

/**
 * Shortest period whose busiest second, with `fleet` pods on hashed phases, stays within `quotaTps`: pods per second
 * m with m + 4 sqrt(m) <= quotaTps (Poisson approximation of the binomial). At most twice `plain`: below a few
 * pods a second collisions cannot be priced away, and throttling (AIMD, phase hop) takes over.
 */
export function spreadPeriod(fleet: number, quotaTps: number, plain: number): number {
  const root = (-SPREAD_SIGMAS + Math.sqrt(SPREAD_SIGMAS * SPREAD_SIGMAS + 4 * quotaTps)) / 2;
  const perSecond = root * root;
  if (!(perSecond > 0)) return 2 * plain;
  return Math.min(2 * plain, Math.max(1, Math.ceil(fleet / perSecond - 1e-9)));
}
