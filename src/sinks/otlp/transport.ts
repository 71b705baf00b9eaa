/**
 * One OTLP/HTTP request over node:http(s), settled exactly once and classified by what is provably known about
 * its delivery. The OTel exporter's own transport cannot be used for this: it retries by itself (up to 5 times
 * inside its timeout, also after a socket timeout or a reset, i.e. after the collector may already have taken
 * the data), reports a retryable status without the status code, and takes no AbortSignal.
 *
 * Endpoint, headers, compression and the keep-alive agent still come from the exporter's own configuration code
 * (`convertLegacyHttpOptions`), so the OTEL_EXPORTER_OTLP_* variables mean exactly what they mean to OTel.
 *
 * Outcomes: 2xx -> delivered. Retryable (the collector provably did not take it): the connection never opened
 * (refused, unreachable, DNS), or HTTP 429 / 503 (with Retry-After honoured). Everything else -> failed and not
 * resent: other statuses, and a reset, close or timeout after the request may have reached the collector,
 * because a resend of delta data could count it twice.
 */
import type { Agent, ClientRequest, IncomingMessage } from 'node:http';
import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { SinkError } from '../../core/sink.js';
import { parseRetryAfterMs } from './retry-after.js';

const gzipAsync = promisify(gzip);

/** Statuses after which the collector provably did not process the request (OTLP/HTTP "throttled" and "unavailable"). */
const RETRYABLE_STATUS = new Set([429, 503]);
/** Connection errors that mean no byte of the request left this host. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'EADDRNOTAVAIL']);
/** Enough of a response body for an error message; the rest is discarded. */
const MAX_ERROR_BODY = 4096;

export interface TransportConfig {
  readonly url: string;
  readonly headers: () => Promise<Record<string, string>>;
  readonly compression: 'gzip' | 'none' | string;
  readonly agentFactory: (protocol: string) => Agent | Promise<Agent>;
  readonly userAgent?: string;
}

type RequestFn = (url: URL, options: object, callback: (res: IncomingMessage) => void) => ClientRequest;

export class OtlpHttpTransport {
  private readonly url: URL;
  private loaded: Promise<{ agent: Agent; request: RequestFn }> | undefined;

  constructor(private readonly config: TransportConfig) {
    this.url = new URL(config.url);
  }

  /**
   * Posts the body, whole or as its parts in order (see sliced-body.ts for why it is not one Buffer), settling by
   * `deadline` (epoch ms) or when `signal` aborts, whichever is first. Rejects with a SinkError whose `retryable`
   * says whether a resend is safe.
   */
  async send(body: Uint8Array | readonly Uint8Array[], deadline: number, signal?: AbortSignal): Promise<void> {
    const parts = body instanceof Uint8Array ? [body] : body;
    const { agent, request } = await this.load();
    const headers = { ...(await this.config.headers()) };
    headers['User-Agent'] = `${this.config.userAgent ? `${this.config.userAgent} ` : ''}scalesignal`;
    let payload: readonly Uint8Array[] = parts;
    if (this.config.compression === 'gzip') {
      // zlib runs on the libuv pool: the event loop is not held for the compression.
      payload = [await gzipAsync(parts.length === 1 ? parts[0] : Buffer.concat(parts))];
      headers['Content-Encoding'] = 'gzip';
    }
    headers['Content-Length'] = String(payload.reduce((bytes, part) => bytes + part.byteLength, 0));
    if (signal?.aborted) throw unknownOutcome('aborted before sending', signal.reason, false);

    return new Promise<void>((resolve, reject) => {
      let settled = false;
      let connected = false;
      const finish = (error?: SinkError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (error === undefined) resolve();
        else reject(error);
      };
      const req = request(this.url, { method: 'POST', headers, agent }, (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) {
          // Acknowledged: the body (maybe a partial_success) is not needed to know that.
          res.resume();
          finish();
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (size < MAX_ERROR_BODY) chunks.push(chunk);
          size += chunk.length;
        });
        const fail = () => {
          const text = Buffer.concat(chunks).toString('utf8').slice(0, 200).trim();
          const message = `OTLP export failed: HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}${text ? `: ${text}` : ''}`;
          if (RETRYABLE_STATUS.has(status)) {
            finish(new SinkError(message, { retryable: true, retryAfterMs: parseRetryAfterMs(res.headers['retry-after']) }));
          } else {
            finish(new SinkError(message, { retryable: false }));
          }
        };
        res.on('end', fail);
        res.on('error', fail);
        res.on('aborted', fail);
      });
      req.on('socket', (socket) => {
        // A pooled socket is already connected; a new one is once 'connect' fires.
        if (req.reusedSocket || !socket.connecting) connected = true;
        else socket.once('connect', () => (connected = true));
      });
      req.on('error', (error: NodeJS.ErrnoException) => {
        const code = typeof error.code === 'string' ? error.code : '';
        if (!connected && NOT_CONNECTED.has(code)) {
          finish(new SinkError(`OTLP export failed: ${code} ${error.message}`, { retryable: true, cause: error }));
        } else {
          finish(unknownOutcome(`${code || 'error'} ${error.message}`, error, connected));
        }
      });
      const giveUp = (why: string, reason: unknown) => {
        // Before the connection opened nothing was sent: a resend cannot duplicate.
        const error = connected ? unknownOutcome(why, reason, true) : new SinkError(`OTLP export failed: ${why} before connecting`, { retryable: true, cause: reason });
        finish(error);
        req.destroy();
      };
      const waitMs = Math.max(0, deadline - Date.now());
      const timer = setTimeout(() => giveUp(`no answer within ${Math.round(waitMs)} ms`, undefined), waitMs);
      const onAbort = () => giveUp('aborted', signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      for (let i = 0; i < payload.length - 1; i++) req.write(payload[i]);
      req.end(payload[payload.length - 1]);
    });
  }

  async shutdown(): Promise<void> {
    const loaded = this.loaded;
    this.loaded = undefined;
    if (loaded !== undefined) (await loaded.catch(() => undefined))?.agent.destroy();
  }

  private load() {
    this.loaded ??= (async () => {
      const [agent, http] = await Promise.all([
        this.config.agentFactory(this.url.protocol),
        this.url.protocol === 'https:' ? import('node:https') : import('node:http'),
      ]);
      return { agent, request: http.request as unknown as RequestFn };
    })();
    return this.loaded;
  }
}

function unknownOutcome(why: string, cause: unknown, connected: boolean): SinkError {
  const detail = connected ? '; the collector may have received it, so it is not resent' : '';
  return new SinkError(`OTLP export failed: ${why}${detail}`, { retryable: false, cause });
}
