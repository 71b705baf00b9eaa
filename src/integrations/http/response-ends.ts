/**
 * How a begun response ends, without a listener per response on the hot path:
 * - finished: Node publishes `http.server.response.finish` once per response of every node:http(s) server when the
 *   response has been handed to its socket (just before the response's own 'close');
 * - not finished: the response's socket closed first (client gone, response destroyed, timeout). One 'close'
 *   listener per connection, added on its first tracked request, ends the response the socket was carrying; a
 *   pipelined response still waiting for the socket gets a listener of its own (rare, see the tracker).
 * Responses outside node:http's server path (Fastify's inject(), http2's compatibility API) are not published:
 * they get a 'close' listener, as every response did before (Node emits 'close' exactly once per response).
 *
 * One ResponseEnds object owns the channel subscription: held while a tracker lives or a response begun on the
 * channel path is still pending, so a response in flight when the last integration stops still ends and counts.
 */
import diagnostics from 'node:diagnostics_channel';
import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

const CHANNEL = 'http.server.response.finish';

/** How an end was observed. */
export const FINISHED = 0;
export const CLOSED = 1;
export const SOCKET_CLOSED = 2;
export type Ending = typeof FINISHED | typeof CLOSED | typeof SOCKET_CLOSED;

/** Ends the response's state if it has one (and it has not ended). */
type EndResponse = (res: ServerResponse, ending: Ending) => void;

type WatchedSocket = Socket & { _httpMessage?: ServerResponse | null };

/**
 * Connections whose 'close' is listened to (per module copy: each copy listens once). A WeakSet, not a property:
 * a property added to every socket gives sockets a second hidden class, and node:http's own code reading them
 * (IncomingMessage, streams) then ran measurably slower (bench:http:instructions, Fastify hello world).
 */
const watchedSockets = new WeakSet<Socket>();

export class ResponseEnds {
  private users = 0;
  private pending = 0;
  private subscribed = false;
  private readonly onFinish: (message: unknown) => void;
  private readonly onConnectionClose: (this: WatchedSocket) => void;

  constructor(endResponse: EndResponse) {
    this.onFinish = (message) => endResponse((message as { response: ServerResponse }).response, FINISHED);
    this.onConnectionClose = function (this: WatchedSocket) {
      const res = this._httpMessage;
      if (res !== undefined && res !== null) endResponse(res, SOCKET_CLOSED);
    };
  }

  /** A tracker is born: the channel stays subscribed until every release (and every pending response). */
  acquire(): () => void {
    this.users++;
    this.update();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.users--;
      this.update();
    };
  }

  /**
   * Arranges for the response to be ended from here; true if it is on the channel path (then `ended()` must be
   * called once when it ends), false if it got a 'close' listener instead.
   */
  watch(res: ServerResponse, req: IncomingMessage | undefined, onClose: () => void): boolean {
    if (!(res instanceof ServerResponse) || (res as { _lightMyRequest?: unknown })._lightMyRequest !== undefined) {
      res.on('close', onClose);
      return false;
    }
    this.pending++;
    const socket = (res.socket ?? req?.socket) as WatchedSocket | null | undefined;
    if (socket !== null && socket !== undefined && !watchedSockets.has(socket)) {
      watchedSockets.add(socket);
      socket.once('close', this.onConnectionClose);
    }
    return true;
  }

  /** A response watched on the channel path ended. */
  ended(): void {
    this.pending--;
    if (this.users === 0) this.update();
  }

  /** Whether the finish channel is subscribed (for tests: released once nothing uses it). */
  get active(): boolean {
    return this.subscribed;
  }

  private update(): void {
    const wanted = this.users > 0 || this.pending > 0;
    if (wanted === this.subscribed) return;
    this.subscribed = wanted;
    if (wanted) diagnostics.subscribe(CHANNEL, this.onFinish);
    else diagnostics.unsubscribe(CHANNEL, this.onFinish);
  }
}
