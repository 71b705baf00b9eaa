/**
 * Route templates of Express 4 and 5 requests, rebuilt from the app's layer stack, never from `req.baseUrl` (which
 * holds the matched path: `app.use('/orgs/:org', router)` gives `/orgs/acme`). The route a request ended on
 * (`req.route`) is searched in the router tree the way Express reached it: from the top app, through the mount
 * layers whose pattern matches the next part of `req.baseUrl`, down to the router holding the route. Each mount
 * contributes its pattern:
 * - Express 5 (router >= 2.3): `layer.rawPath`, the path given to `use()`;
 * - Express 4: the layer's RegExp re-run with match indices on its part of `baseUrl`, each parameter's span
 *   replaced by `:name` (literal text lower-cased when the layer ignores case, so `/ORGS/x` and `/orgs/x` share a
 *   label);
 * - older routers (no rawPath): the matched part with each parameter's segment replaced by `:name`; a parameter
 *   that is not a whole segment makes the mount unknown.
 * A route found nowhere (a router used outside an app, an app changed after it served) is labelled by its own
 * path alone: a template still, never a raw value.
 *
 * Cost: the search runs on a route's first request. A route reachable through one chain of mounts that holds no
 * alternatives (nearly every app) then has a fixed label: one WeakMap lookup per request. Otherwise labels are
 * cached per base URL (up to 64 per route) and, past that, searched per request.
 */
import type { IncomingMessage } from 'node:http';

interface MatchResult {
  readonly path: string;
  readonly params: Readonly<Record<string, unknown>>;
}

/** What Express 4 (router/layer.js) and router 2 (lib/layer.js) keep on a layer. */
interface LayerLike {
  readonly route?: unknown;
  readonly handle?: unknown;
  // Express 4
  readonly regexp?: RegExp & { fast_slash?: boolean; fast_star?: boolean };
  readonly keys?: ReadonlyArray<{ readonly name: string | number }>;
  // router 2 (Express 5)
  readonly slash?: boolean;
  readonly rawPath?: unknown;
  readonly matchers?: ReadonlyArray<(path: string) => MatchResult | false>;
}

interface RouterLike {
  readonly stack: readonly LayerLike[];
}

interface AppLike {
  readonly _router?: RouterLike;
  readonly router?: RouterLike;
  readonly parent?: AppLike;
}

export interface ExpressRequestLike extends IncomingMessage {
  readonly route?: { readonly path?: unknown };
  readonly baseUrl?: string;
  readonly app?: AppLike;
}

/** One mount layer's share of a template. */
interface Mount {
  /** Characters of the base URL it matched. */
  readonly length: number;
  readonly template: string;
  /** The same template for every request that passes (no alternatives, no value-dependent substitution). */
  readonly fixed: boolean;
}

interface Found {
  readonly template: string;
  readonly fixed: boolean;
}

const MAX_BASES_PER_ROUTE = 64;
const MAX_DEPTH = 32;

/** Per route object: its label once known to be fixed, else labels per base URL. */
interface Entry<L> {
  fixed: L | undefined;
  readonly byBase: Map<string, L>;
}

export class ExpressRoutes<L> {
  private readonly byRoute = new WeakMap<object, Entry<L>>();
  /** Express 4 mount RegExps re-compiled with match indices. */
  private readonly withIndices = new WeakMap<RegExp, RegExp>();

  /** `label` turns a template into the integration's label (cached by the caller). */
  constructor(private readonly label: (template: string) => L) {}

  /** The label of a request that ended on `route` (an object: Express's Route). */
  resolve(req: ExpressRequestLike, route: object): L {
    const entry = this.byRoute.get(route);
    if (entry !== undefined && entry.fixed !== undefined) return entry.fixed;
    return this.search(req, route, entry);
  }

  private search(req: ExpressRequestLike, route: object, known: Entry<L> | undefined): L {
    const entry = known ?? { fixed: undefined, byBase: new Map<string, L>() };
    if (known === undefined) this.byRoute.set(route, entry);
    const baseUrl = typeof req.baseUrl === 'string' ? req.baseUrl : '';
    const cached = entry.byBase.get(baseUrl);
    if (cached !== undefined) return cached;
    let found: Found | undefined;
    try {
      found = this.find(req, route, baseUrl);
    } catch {
      found = undefined; // a framework shape we do not know: fall back below, never throw into the request
    }
    const template = found?.template ?? joinTemplate('', routePath((route as { path?: unknown }).path));
    const label = this.label(template);
    if (found?.fixed === true && this.chainsTo(req, route) === 1) entry.fixed = label;
    else if (entry.byBase.size < MAX_BASES_PER_ROUTE) entry.byBase.set(baseUrl, label);
    return label;
  }

  private find(req: ExpressRequestLike, route: object, baseUrl: string): Found | undefined {
    const apps = appChain(req.app);
    if (apps.length === 0) return undefined;
    const top = routerOf(apps[0]);
    if (top === undefined) return undefined;
    return this.walk(top, baseUrl, route, apps, 0);
  }

  /** Depth-first, in stack order, through the mounts that match the rest of the base URL. */
  private walk(router: RouterLike, base: string, route: object, apps: readonly AppLike[], depth: number): Found | undefined {
    if (depth > MAX_DEPTH || !Array.isArray(router.stack)) return undefined;
    for (const layer of router.stack) {
      if (layer.route !== undefined) {
        if (layer.route === route && base === '') return { template: joinTemplate('', routePath((route as { path?: unknown }).path)), fixed: true };
        continue;
      }
      const handle = layer.handle;
      let child: RouterLike | undefined;
      let rest = apps;
      let isApp = false;
      if (isRouter(handle)) {
        child = handle;
      } else if (typeof handle === 'function' && handle.name === 'mounted_app' && apps.length > 1) {
        // A sub-app: its layer does not expose it, but the request's app chain names the one it went through.
        rest = apps.slice(1);
        child = routerOf(rest[0]);
        isApp = true;
      }
      if (child === undefined) continue;
      const mount = this.mount(layer, base);
      if (mount === undefined) continue;
      const below = this.walk(child, base.slice(mount.length), route, rest, depth + 1);
      if (below === undefined) continue;
      return { template: joinTemplate(mount.template, below.template), fixed: mount.fixed && below.fixed && !isApp };
    }
    return undefined;
  }

  /** What `layer` matches at the start of `base`, on a segment boundary. */
  private mount(layer: LayerLike, base: string): Mount | undefined {
    let result: Mount | undefined;
    if (Array.isArray(layer.matchers)) result = routerMount(layer, base);
    else if (layer.regexp instanceof RegExp) result = this.express4Mount(layer, layer.regexp, base);
    if (result === undefined) return undefined;
    const next = base.charCodeAt(result.length);
    return result.length === base.length || next === 47 /* / */ ? result : undefined;
  }

  private express4Mount(layer: LayerLike, regexp: RegExp & { fast_slash?: boolean; fast_star?: boolean }, base: string): Mount | undefined {
    if (regexp.fast_slash === true) return { length: 0, template: '', fixed: true };
    if (regexp.fast_star === true) return { length: base.length, template: '*', fixed: true };
    let indexed = this.withIndices.get(regexp);
    if (indexed === undefined) {
      indexed = new RegExp(regexp.source, regexp.flags.replace(/[dgy]/g, '') + 'd');
      this.withIndices.set(regexp, indexed);
    }
    const match = indexed.exec(base) as (RegExpExecArray & { indices?: Array<[number, number] | undefined> }) | null;
    if (match === null || match.index !== 0 || match.indices === undefined) return undefined;
    const matched = match[0];
    const lower = regexp.flags.includes('i');
    const keys = layer.keys ?? [];
    let template = '';
    let at = 0;
    for (let group = 1; group < match.length; group++) {
      const span = match.indices[group];
      // Unmatched optional groups have no span; groups nested in one already replaced are skipped.
      if (span === undefined || span[0] < at) continue;
      const literal = matched.slice(at, span[0]);
      template += (lower ? literal.toLowerCase() : literal) + ':' + String(keys[group - 1]?.name ?? group - 1);
      at = span[1];
    }
    const tail = matched.slice(at);
    template += lower ? tail.toLowerCase() : tail;
    // Alternatives (an array of mount paths) make a template that depends on which one matched.
    const fixed = !regexp.source.includes('|^');
    return { length: matched.length, template: trimSlash(template), fixed };
  }

  /** How many chains of routers (sub-apps aside) lead from the top app to `route`: fixed labels need exactly one. */
  private chainsTo(req: ExpressRequestLike, route: object): number {
    const apps = appChain(req.app);
    const top = apps.length > 0 ? routerOf(apps[0]) : undefined;
    if (top === undefined) return 0;
    const count = (router: RouterLike, depth: number): number => {
      if (depth > MAX_DEPTH || !Array.isArray(router.stack)) return 0;
      let n = 0;
      for (const layer of router.stack) {
        if (layer.route === route) n++;
        if (layer.route === undefined && isRouter(layer.handle)) n += count(layer.handle, depth + 1);
      }
      return n;
    };
    try {
      return count(top, 0);
    } catch {
      return 0;
    }
  }
}

/** A Router (a function with its layer stack), as opposed to a middleware or a mounted app. */
function isRouter(handle: unknown): handle is RouterLike {
  return typeof handle === 'function' && Array.isArray((handle as { stack?: unknown }).stack);
}

/** router 2 (Express 5) mounts: the pattern given to use(), or a substitution when the router keeps none. */
function routerMount(layer: LayerLike, base: string): Mount | undefined {
  if (layer.slash === true) return { length: 0, template: '', fixed: true };
  const matchers = layer.matchers!;
  for (let i = 0; i < matchers.length; i++) {
    const match = matchers[i](base);
    if (!match) continue;
    const raw: unknown = Array.isArray(layer.rawPath) ? layer.rawPath[i] : layer.rawPath;
    if (typeof raw === 'string') return { length: match.path.length, template: trimSlash(raw), fixed: !Array.isArray(layer.rawPath) };
    if (raw instanceof RegExp) return { length: match.path.length, template: String(raw), fixed: !Array.isArray(layer.rawPath) };
    const substituted = substitute(match.path, match.params);
    return substituted === undefined ? undefined : { length: match.path.length, template: trimSlash(substituted), fixed: false };
  }
  return undefined;
}

/** `/orgs/acme` with `{ org: 'acme' }` -> `/orgs/:org`; undefined when a parameter is not a whole segment. */
function substitute(path: string, params: Readonly<Record<string, unknown>>): string | undefined {
  const segments = path.split('/');
  let from = 1;
  for (const [name, value] of Object.entries(params)) {
    const values = Array.isArray(value) ? value.map(String) : [String(value)];
    let found = -1;
    for (let i = from; i + values.length <= segments.length && found < 0; i++) {
      if (values.every((v, k) => decodeSegment(segments[i + k]) === v)) found = i;
    }
    if (found < 0) return undefined;
    segments.splice(found, values.length, Array.isArray(value) ? `*${name}` : `:${name}`);
    from = found + 1;
  }
  return segments.join('/');
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The apps from the top one down to `app` (sub-apps know their parent). */
function appChain(app: AppLike | undefined): AppLike[] {
  const chain: AppLike[] = [];
  for (let at = app; at !== undefined && at !== null && chain.length <= MAX_DEPTH; at = at.parent) chain.unshift(at);
  return chain;
}

function routerOf(app: AppLike): RouterLike | undefined {
  // Express 4 keeps `_router` (its `app.router` getter throws); Express 5 has `router`.
  if (app._router !== undefined) return app._router;
  if ('_router' in app) return undefined;
  const router = app.router;
  return router !== undefined && router !== null && Array.isArray(router.stack) ? router : undefined;
}

/** A route's own path: arrays and RegExps keep their source. */
function routePath(path: unknown): string {
  if (typeof path === 'string') return path;
  if (Array.isArray(path)) return path.map(String).join(',');
  return String(path);
}

/** `/api` + `/users/:id`; a router's own `/` is the mount path itself. */
function joinTemplate(mount: string, below: string): string {
  if (mount === '') return below === '' ? '/' : below;
  if (below === '/' || below === '') return mount;
  return mount + below;
}

function trimSlash(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path === '/' ? '' : path;
}
