/**
 * The live page in a real browser: Debian's headless Chromium driven by puppeteer-core, against a real
 * instrumented node:http service on 127.0.0.1 (scalesignal's own HTTP, SSE, queue and event-loop integrations).
 * The page must load with no console error and nothing fetched from elsewhere, apply exactly one update per
 * sealed window showing that window's numbers, and show an in-flight surge in the point of the very window it
 * happened in. The surge-to-screen latency is measured and written to bench/results/dashboard.json, a screenshot
 * to bench/results/dashboard.png.
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics, instrumentHttpServer } from '../../src/index.js';
import type { Metrics } from '../../src/core/api.js';
import type { Window } from '../../src/core/window.js';
import { dashboardSink, type DashboardSink } from '../../src/sinks/dashboard/index.js';
import { FIELDS, Indicators } from '../../src/sinks/dashboard/indicators.js';

/** The DOM as used inside page.evaluate (these functions run in the page; the project compiles without lib.dom). */
interface PageElement {
  readonly dataset: Record<string, string | undefined>;
  readonly classList: { contains(name: string): boolean };
  readonly textContent: string | null;
  querySelector(selector: string): PageElement | null;
}
interface PageGlobals {
  readonly document: { body: PageElement; querySelector(selector: string): PageElement | null; querySelectorAll(selector: string): Iterable<PageElement> };
}

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const results = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results');
const THRESHOLDS = { inflight: 40, p99Ms: 250, sse: 20, queueDepth: 30 };
const SURGE = 50;

let metrics: Metrics;
let sink: DashboardSink;
const windows: Window[] = [];
let server: http.Server;
let base: string;
let browser: Browser;
let page: Page;
let profile: string;
const consoleErrors: string[] = [];
const foreignRequests: string[] = [];

// The service: jobs through a pool of 16 workers (the queue), held requests (in-flight), SSE streams.
const POOL = 16;
let busy = 0;
const waiting: Array<() => void> = [];
const held: http.ServerResponse[] = [];
let onHeld: (() => void) | undefined;
let slowMs = 0;
function job(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const run = () => {
      busy++;
      setTimeout(() => {
        busy--;
        waiting.shift()?.();
        resolve();
      }, ms);
    };
    if (busy < POOL) run();
    else waiting.push(run);
  });
}
const agent = new http.Agent({ keepAlive: true, maxSockets: 400 });
const clients: http.ClientRequest[] = [];
const streams: http.ClientRequest[] = [];
function request(path: string): void {
  const req = http.get(`${base}${path}`, { agent: path === '/work' ? agent : false }, (res) => res.resume());
  req.on('error', () => {});
  if (path === '/events') streams.push(req);
  else if (path !== '/work') clients.push(req);
}

beforeAll(async () => {
  sink = dashboardSink({ port: 0, thresholds: THRESHOLDS, historySeconds: 120 });
  metrics = createMetrics({
    service: 'checkout',
    sinks: [sink, { name: 'collect', export: (batch) => void windows.push(...batch) }],
    logger: { warn() {} },
  });
  metrics.gauge('queue.depth', { unit: '{job}', observe: () => waiting.length });
  server = http.createServer((req, res) => {
    if (req.url === '/hold') {
      held.push(res);
      onHeld?.();
      return;
    }
    if (req.url === '/events') {
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
      res.write('retry: 1000\n\n');
      return;
    }
    void job(slowMs > 0 ? slowMs + Math.random() * 60 : 5 + Math.random() * 25).then(() => res.end('ok'));
  });
  instrumentHttpServer(server, metrics, { route: (req) => req.url });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  await sink.ready;

  profile = mkdtempSync(join(tmpdir(), 'scalesignal-chromium-'));
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: profile,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage();
  await page.setViewport({ width: 1400, height: 900 });
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(String(error)));
  page.on('request', (req) => {
    if (!req.url().startsWith(new URL(sink.url!).origin) && !req.url().startsWith('data:')) foreignRequests.push(req.url());
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  for (const res of held.splice(0)) res.end();
  [...clients, ...streams].forEach((c) => c.destroy());
  agent.destroy();
  server?.closeAllConnections();
  server?.close();
  await metrics?.shutdown();
});

const bodyData = () =>
  page.evaluate(() => {
    const { document } = globalThis as unknown as PageGlobals;
    return {
      updates: Number(document.body.dataset.updates),
      window: Number(document.body.dataset.window),
      values: Object.fromEntries([...document.querySelectorAll('section.panel')].map((s) => [s.dataset.panel!, s.dataset.value ?? ''])),
    };
  });

async function pageAt(windowStartSeconds: number): Promise<Awaited<ReturnType<typeof bodyData>>> {
  await page.waitForFunction(
    (w) => Number((globalThis as unknown as PageGlobals).document.body.dataset.window) >= w,
    { polling: 'mutation', timeout: 10_000 },
    windowStartSeconds,
  );
  return bodyData();
}

async function sealed(count: number): Promise<void> {
  const target = windows.length + count;
  while (windows.length < target) await new Promise((r) => setTimeout(r, 20));
}

describe('the dashboard page in headless Chromium', () => {
  it('loads with no console error, from the sink alone, and draws six charts', async () => {
    const load = setInterval(() => request('/work'), 40);
    try {
      await page.goto(sink.url!, { waitUntil: 'load' });
      await page.waitForFunction(() => Number((globalThis as unknown as PageGlobals).document.body.dataset.updates) >= 2, { timeout: 15_000 });
      const panels = await page.evaluate(() =>
        [...(globalThis as unknown as PageGlobals).document.querySelectorAll('section.panel')].map((s) => ({
          id: s.dataset.panel,
          canvas: s.querySelector('canvas') !== null,
        })),
      );
      expect(panels.map((p) => p.id)).toEqual(['inflight', 'rate', 'latency', 'sse', 'queue', 'loop']);
      expect(panels.every((p) => p.canvas)).toBe(true);
      expect(await page.$eval('#service', (el) => el.textContent)).toBe('checkout');
      expect(await page.$eval('#status', (el) => el.textContent)).toBe('live');
      expect(consoleErrors).toEqual([]);
      expect(foreignRequests).toEqual([]);
    } finally {
      clearInterval(load);
    }
  });

  it('applies one update per sealed window, showing that window\'s numbers', async () => {
    const load = setInterval(() => request('/work'), 25);
    try {
      await sealed(1);
      const first = await pageAt(windows.at(-1)!.timestamp / 1000);
      await sealed(4);
      const now = await pageAt(windows.at(-1)!.timestamp / 1000);
      // Exactly one update per window sealed in between, whichever windows the two readings landed on.
      const between = windows.filter((w) => w.timestamp / 1000 > first.window && w.timestamp / 1000 <= now.window);
      expect(between.length).toBeGreaterThanOrEqual(3);
      expect(now.updates - first.updates).toBe(between.length);
      // The headline numbers are the shown window's own.
      const shownWindow = windows.find((w) => w.timestamp / 1000 === now.window)!;
      const point = new Indicators().point(shownWindow);
      const value = (f: (typeof FIELDS)[number]) => point[1 + FIELDS.indexOf(f)];
      expect(Number(now.values.rate)).toBe(value('requestRate'));
      expect(Number(now.values.inflight)).toBe(value('inflightPeak'));
      expect(Number(now.values.latency)).toBe(value('p99'));
      expect(Number(now.values.queue)).toBe(value('queuePeak'));
      expect(Number(now.values.loop)).toBe(value('loopP99'));
      expect(consoleErrors).toEqual([]);
    } finally {
      clearInterval(load);
    }
  });

  it('shows an in-flight surge in the point of the window it happened in, and measures how fast', async () => {
    // Runs in the page: records every render's window, in-flight headline and time drawn.
    await page.evaluate(`
      window.renders = [];
      new MutationObserver(() => {
        const panel = document.querySelector('section[data-panel="inflight"]');
        window.renders.push({ window: Number(document.body.dataset.window), inflight: Number(panel.dataset.value), at: Number(document.body.dataset.renderedAt) });
      }).observe(document.body, { attributes: true, attributeFilter: ['data-rendered-at'] });
    `);
    const allHeld = new Promise<number>((resolve) => {
      onHeld = () => {
        if (held.length === SURGE) resolve(Date.now());
      };
    });
    const surgeStart = Date.now();
    for (let i = 0; i < SURGE; i++) request('/hold');
    const surgeComplete = await allHeld;
    await page.waitForFunction(
      (n) => Number((globalThis as unknown as PageGlobals).document.querySelector('section[data-panel="inflight"]')!.dataset.value) >= n,
      { polling: 'mutation', timeout: 10_000 },
      SURGE,
    );
    const renders = (await page.evaluate('window.renders')) as Array<{ window: number; inflight: number; at: number }>;
    const shown = renders.find((r) => r.inflight >= SURGE)!;
    // The window in which the last held request arrived (5 ms: the handler's clock read follows the gauge's add).
    expect(shown.window * 1000).toBeLessThanOrEqual(surgeComplete);
    expect(surgeComplete).toBeLessThan(shown.window * 1000 + 1000 + 5);
    // Every earlier render was of an earlier window: the surge appeared with the first point that could show it.
    expect(renders.filter((r) => r.at < shown.at).every((r) => r.window < shown.window)).toBe(true);
    expect(await page.$eval('section[data-panel="inflight"]', (s) => (s as unknown as PageElement).classList.contains('over'))).toBe(true);
    const latency = {
      surgeToScreenMs: shown.at - surgeStart,
      allArrivedToScreenMs: shown.at - surgeComplete,
      windowEndToScreenMs: shown.at - (shown.window * 1000 + 1000),
    };
    mkdirSync(results, { recursive: true });
    writeFileSync(
      join(results, 'dashboard.json'),
      `${JSON.stringify({ date: new Date().toISOString(), node: process.version, chromium: await browser.version(), surge: SURGE, intervalMs: 1000, ...latency, method: 'test/dashboard/browser.test.ts: Date.now() when the surge requests are sent / all held by the server, vs Date.now() in the page when the point showing the surge was drawn (same machine clock)' }, null, 2)}\n`,
    );
    console.log(`dashboard surge latency: ${JSON.stringify(latency)}`);
    await new Promise((r) => setTimeout(r, 2500));
    for (const res of held.splice(0)) res.end('ok');
    onHeld = undefined;
  });

  it('renders a scenario worth a screenshot: SSE ramp, slow requests, a queue backlog', async () => {
    const load = setInterval(() => request('/work'), 30);
    try {
      // About 10 s: SSE streams ramp to 24 then half leave; 3 s of slow jobs (P99 over its threshold) hit by a burst
      // of 150 (the queue and in-flight over theirs), drained once the jobs are fast again.
      for (let i = 0; i < 14; i++) {
        if (i < 8) for (let k = 0; k < 3; k++) request('/events');
        if (i === 2) slowMs = 280;
        if (i === 3) for (let k = 0; k < 150; k++) request('/work');
        if (i === 6) slowMs = 0;
        if (i === 11) streams.splice(0, 12).forEach((c) => c.destroy());
        await new Promise((r) => setTimeout(r, 700));
      }
      await sealed(2);
      const data = await pageAt(windows.at(-1)!.timestamp / 1000);
      const maxOf = (f: (typeof FIELDS)[number]) =>
        Math.max(...windows.map((w) => new Indicators().point(w)[1 + FIELDS.indexOf(f)] ?? 0));
      expect(maxOf('ssePeak')).toBe(24);
      expect(Number(data.values.sse)).toBe(12);
      expect(maxOf('p99')).toBeGreaterThan(THRESHOLDS.p99Ms);
      expect(maxOf('queuePeak')).toBeGreaterThan(THRESHOLDS.queueDepth);
      mkdirSync(results, { recursive: true });
      await page.screenshot({ path: join(results, 'dashboard.png') as `${string}.png` });
      expect(existsSync(join(results, 'dashboard.png'))).toBe(true);
      expect(consoleErrors).toEqual([]);
    } finally {
      clearInterval(load);
    }
  });
});
