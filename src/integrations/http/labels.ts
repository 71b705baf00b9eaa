/**
 * Route labels and their bound handles. Per request the tracker only indexes arrays: the handles of a
 * (method, route) are bound on first use, those of a status class x outcome under it likewise, so no label object
 * is built and no label set is hashed on the hot path.
 */
import type { BoundCounter, BoundHistogram, Counter, Histogram } from '../../core/api.js';
import { OTHER_ROUTE, type Outcome } from './names.js';

export const OUTCOMES: readonly Outcome[] = ['ok', '5xx', 'thrown', 'aborted'];
export const OK = 0;
export const SERVER_ERROR = 1;
export const THROWN = 2;
export const ABORTED = 3;

/** Index = status code / 100; 0 (`none`) when no head was sent or the code is out of range. */
export const STATUS_CLASSES = ['none', '1xx', '2xx', '3xx', '4xx', '5xx', '6xx', '7xx', '8xx', '9xx'];

/** Methods outside the standard set share `_OTHER` (OTel's convention), so a client cannot mint label values. */
export const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', '_OTHER'];

export function methodIndex(method: string | undefined): number {
  switch (method) {
    case 'GET':
      return 0;
    case 'HEAD':
      return 1;
    case 'POST':
      return 2;
    case 'PUT':
      return 3;
    case 'DELETE':
      return 4;
    case 'CONNECT':
      return 5;
    case 'OPTIONS':
      return 6;
    case 'TRACE':
      return 7;
    case 'PATCH':
      return 8;
    default:
      return 9;
  }
}

/** The two instruments every label records into. */
export interface RequestInstruments {
  readonly requests: Counter;
  readonly duration: Histogram;
}

/** The handles of one (method, route): a duration histogram and counters bound lazily per status class x outcome. */
export class RouteEntry {
  private duration: BoundHistogram | undefined = undefined;
  private readonly counters: Array<BoundCounter | undefined> = new Array(STATUS_CLASSES.length * OUTCOMES.length).fill(undefined);

  constructor(
    private readonly instruments: RequestInstruments,
    readonly method: string,
    readonly route: string,
  ) {}

  record(statusClass: number, outcome: number, elapsedMs: number, sse: boolean): void {
    const i = statusClass * OUTCOMES.length + outcome;
    (this.counters[i] ??= this.instruments.requests.bind({
      method: this.method,
      route: this.route,
      status_class: STATUS_CLASSES[statusClass],
      outcome: OUTCOMES[outcome],
    })).add(1);
    if (!sse) (this.duration ??= this.instruments.duration.bind({ method: this.method, route: this.route })).record(elapsedMs);
  }
}

/** One route label and its entries per method, created lazily. */
export class RouteLabel {
  private readonly byMethod: Array<RouteEntry | undefined> = new Array(METHODS.length).fill(undefined);

  constructor(
    private readonly instruments: RequestInstruments,
    readonly route: string,
  ) {}

  entry(method: number): RouteEntry {
    return (this.byMethod[method] ??= new RouteEntry(this.instruments, METHODS[method], this.route));
  }
}

/** The route labels of one integration: one per template, at most `maxRoutes`, then the shared `other`. */
export class RouteTable {
  readonly unmatched: RouteLabel;
  private readonly other: RouteLabel;
  private readonly routes = new Map<string, RouteLabel>();

  constructor(
    private readonly instruments: RequestInstruments,
    unmatchedRoute: string,
    private readonly maxRoutes: number,
  ) {
    this.unmatched = new RouteLabel(instruments, unmatchedRoute);
    this.other = new RouteLabel(instruments, OTHER_ROUTE);
  }

  /** The label for a route template, created on first sight; past `maxRoutes` templates, the shared `other`. */
  label(route: string): RouteLabel {
    let label = this.routes.get(route);
    if (label === undefined) {
      if (this.routes.size >= this.maxRoutes) return this.other;
      label = new RouteLabel(this.instruments, route);
      this.routes.set(route, label);
    }
    return label;
  }
}
