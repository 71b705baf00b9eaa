/**
 * The Prometheus sink's own endpoint against hostile or careless clients: scrape authentication (Bearer and
 * Basic, the two forms Prometheus' scrape config sends), slow clients that never finish their headers, and the
 * URL of a `port: 0` server. Requests go over real loopback sockets.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { prometheusSink, type PrometheusSink } from '../../src/sinks/prometheus.js';
import { series, window } from '../helpers/windows.js';

const sinks: PrometheusSink[] = [];
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.shutdown?.()));
});

async function start(options: Parameters<typeof prometheusSink>[0]): Promise<PrometheusSink> {
  const sink = prometheusSink({ port: 0, host: '127.0.0.1', onError: () => {}, ...options });
  sinks.push(sink);
  await sink.ready;
  sink.export([window(Math.floor(Date.now() / 1000) * 1000, [series({ name: 'jobs.done', kind: 'counter', count: 3, sum: 3, total: 3 })])]);
  return sink;
}

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('prometheus endpoint', () => {
  it('port 0: url names the bound port once ready', async () => {
    const sink = await start({});
    expect(sink.port).toBeGreaterThan(0);
    expect(sink.url).toBe(`http://127.0.0.1:${sink.port}/metrics`);
    const res = await get(sink.url!);
    expect(res.status).toBe(200);
    expect(res.body).toMatch(/jobs_done_total 3/);
  });

  it('bearer auth: 401 with a challenge without or with a wrong token, 200 with the right one', async () => {
    const sink = await start({ auth: { bearer: 's3cret-token' } });
    const none = await get(sink.url!);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="metrics"');
    expect(none.body).not.toMatch(/jobs_done/);
    expect((await get(sink.url!, { authorization: 'Bearer s3cret-tokeN' })).status).toBe(401);
    expect((await get(sink.url!, { authorization: 'Bearer s3cret-token-and-more' })).status).toBe(401);
    expect((await get(sink.url!, { authorization: basic('s3cret-token', '') })).status).toBe(401);
    const ok = await get(sink.url!, { authorization: 'Bearer s3cret-token' });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatch(/jobs_done_total 3/);
    // The scheme is case-insensitive (RFC 9110).
    expect((await get(sink.url!, { authorization: 'bearer s3cret-token' })).status).toBe(200);
    expect(sink.stats?.().rejected_requests).toBe(4);
  });

  it('basic auth: the right user and password pass, anything else is 401', async () => {
    const sink = await start({ auth: { username: 'prometheus', password: 'pä:ss' } });
    expect((await get(sink.url!, { authorization: basic('prometheus', 'pä:ss') })).status).toBe(200);
    expect((await get(sink.url!, { authorization: basic('prometheus', 'pä:sS') })).status).toBe(401);
    expect((await get(sink.url!, { authorization: basic('other', 'pä:ss') })).status).toBe(401);
    expect((await get(sink.url!, { authorization: 'Bearer pä:ss' })).status).toBe(401);
    const none = await get(sink.url!);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Basic realm="metrics", charset="UTF-8"');
  });

  it('a mounted handler enforces the same auth', async () => {
    const sink = prometheusSink({ server: false, auth: { bearer: 't' }, onError: () => {} });
    sinks.push(sink);
    const { createServer } = await import('node:http');
    const server = createServer((req, res) => sink.handler(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/metrics`;
    expect((await get(url)).status).toBe(401);
    expect((await get(url, { authorization: 'Bearer t' })).status).toBe(200);
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('a client that never finishes its headers is cut off by headersTimeoutMs', async () => {
    const sink = await start({ headersTimeoutMs: 300, requestTimeoutMs: 600 });
    const socket = connect(sink.port!, '127.0.0.1');
    socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    let response = '';
    socket.on('data', (c: Buffer) => (response += c.toString()));
    // Without the timeout the socket would stay open for Node's 60 s: the test would time out.
    await new Promise<void>((resolve) => socket.on('close', () => resolve()));
    expect(response).toMatch(/^HTTP\/1\.1 408/);
  });

  it('bad auth and timeout options are configuration errors', () => {
    expect(() => prometheusSink({ server: false, auth: { bearer: '' } })).toThrow(/auth\.bearer/);
    expect(() => prometheusSink({ server: false, auth: { bearer: 'a b' } })).toThrow(/auth\.bearer/);
    expect(() => prometheusSink({ server: false, auth: { username: 'a:b', password: 'x' } })).toThrow(/auth\.username/);
    expect(() => prometheusSink({ server: false, auth: { username: 'a', password: '' } })).toThrow(/auth\.password/);
    expect(() => prometheusSink({ server: false, auth: {} as never })).toThrow(/auth/);
    expect(() => prometheusSink({ server: false, headersTimeoutMs: 0 })).toThrow(/headersTimeoutMs/);
    expect(() => prometheusSink({ server: false, headersTimeoutMs: 5000, requestTimeoutMs: 1000 })).toThrow(/must not exceed/);
  });
});
