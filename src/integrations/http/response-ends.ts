/**
 * Where a begun response's state lives and how it ends, with nothing added to the response and no listener per
 * response on the hot path:
 * - state: responses of node:http(s) servers are kept in a slot of their connection (one WeakMap entry per
 *   socket), found from the request's socket; a connection carries one response at a time, more only when
 *   requests are pipelined. A property on every ServerResponse gave responses a second hidden class and node:http's
 *   own code reading them ran measurably slower (bench:http:instructions, Fastify hello world); so did a property
 *   on every socket;
 * - finished: Node publishes `http.server.response.finish` (request, response, socket) once per response of every
 *   node:http(s) server when the response has been handed to its socket (just before the response's own 'close');
 * - not finished: the connection closed first (client gone, response destroyed, timeout). One 'close' listener per
 *   connection, added with its slot, ends every response still in the slot: the one the socket was carrying and
 *   pipelined ones waiting for it (Node neither finishes nor closes those).
 * Responses outside node:http's server path (Fastify's inject(), http2's compatibility API, a response without a
 * socket) are not published: they are kept in a WeakMap by response and get a 'close' listener (Node emits 'close'
 * exactly once per response).
 *
 * One ResponseEnds per process, shared by every copy of this module (the ESM and the CJS build in one process)
 * under a registered symbol, so each response is begun and counted once whichever copy sees it. It owns the
 * channel subscription: held while a tracker lives or a response begun on the channel path is still pending, so
 * a response in flight when the last integration stops still ends and counts.
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

/** A begun response's state, as this module needs it. */
export interface Begun {
  readonly res: ServerResponse;
  /** Ends the state (exactly once: ResponseEnds forgets it first). */
  end(ending: Ending): void;
}

/** Makes the state of a response nobody began yet. */
export interface Beginner<B extends Begun> {
  create(res: ServerResponse, req: IncomingMessage | undefined): B;
}

interface FinishMessage {
  readonly response: ServerResponse;
  readonly socket: Socket;
}

/** The begun responses one connection carries: usually one, more only when requests are pipelined. */
class Connection {
  first: Begun | undefined;
  rest: Begun[] | undefined;

  constructor() {
    this.first = undefined;
    this.rest = undefined;
  }

  find(res: ServerResponse): Begun | undefined {
    const first = this.first;
    if (first !== undefined && first.res === res) return first;
    const rest = this.rest;
    if (rest !== undefined) for (let i = 0; i < rest.length; i++) if (rest[i].res === res) return rest[i];
    return undefined;
  }

  add(begun: Begun): void {
    if (this.first === undefined) this.first = begun;
    else (this.rest ??= []).push(begun);
  }

  /** Removes and returns the state of `res`. */
  take(res: ServerResponse): Begun | undefined {
    const first = this.first;
    if (first !== undefined && first.res === res) {
      this.first = undefined;
      return first;
    }
    const rest = this.rest;
    if (rest !== undefined) {
      for (let i = 0; i < rest.length; i++) {
        if (rest[i].res === res) return rest.splice(i, 1)[0];
      }
    }
    return undefined;
  }

  /** Removes and returns every state. */
  takeAll(): Begun[] {
    const all = this.rest ?? [];
    if (this.first !== undefined) all.unshift(this.first);
    this.first = undefined;
    this.rest = undefined;
    return all;
  }
}

type WithSocket = { readonly socket?: Socket | null; readonly req?: IncomingMessage };

export class ResponseEnds {
  private users = 0;
  private pending = 0;
  private subscribed = false;
  private readonly connections = new WeakMap<Socket, Connection>();
  /** Responses off node:http's server path. */
  private readonly offPath = new WeakMap<ServerResponse, Begun>();
  private readonly onFinish: (message: unknown) => void;
  private readonly onConnectionClose: (this: Socket) => void;
  private readonly onResponseClose: (this: ServerResponse) => void;

  constructor() {
    const connections = this.connections;
    const offPath = this.offPath;
    this.onFinish = (message) => {
      const { response, socket } = message as FinishMessage;
      const begun = connections.get(socket)?.take(response);
      if (begun !== undefined) this.ended(begun, FINISHED);
    };
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const ends = this;
    this.onConnectionClose = function (this: Socket) {
      const connection = connections.get(this);
      if (connection === undefined) return;
      connections.delete(this);
      for (const begun of connection.takeAll()) ends.ended(begun, SOCKET_CLOSED);
    };
    this.onResponseClose = function (this: ServerResponse) {
      const begun = offPath.get(this);
      if (begun === undefined) return;
      offPath.delete(this);
      begun.end(CLOSED);
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

  /** The state of `res`: the one begun already, else a new one from `beginner`, watched until it ends. */
  begin<B extends Begun>(res: ServerResponse, req: IncomingMessage | undefined, beginner: Beginner<B>): B {
    const socket = this.socketOf(res, req);
    if (socket === undefined) {
      let begun = this.offPath.get(res);
      if (begun === undefined) {
        begun = beginner.create(res, req);
        this.offPath.set(res, begun);
        res.once('close', this.onResponseClose);
      }
      return begun as B;
    }
    let connection = this.connections.get(socket);
    if (connection === undefined) {
      connection = new Connection();
      this.connections.set(socket, connection);
      socket.once('close', this.onConnectionClose);
    } else {
      const begun = connection.find(res);
      if (begun !== undefined) return begun as B;
    }
    const begun = beginner.create(res, req);
    connection.add(begun);
    this.pending++;
    return begun;
  }

  /** The state of `res` if it was begun and has not ended. */
  find(res: ServerResponse): Begun | undefined {
    const socket = this.socketOf(res, undefined);
    if (socket === undefined) return this.offPath.get(res);
    return this.connections.get(socket)?.find(res);
  }

  /** Whether the finish channel is subscribed (for tests: released once nothing uses it). */
  get active(): boolean {
    return this.subscribed;
  }

  /**
   * The connection of a response on node:http's server path (the request's socket: set before the response gets
   * it, kept after it is detached); undefined off that path.
   */
  private socketOf(res: ServerResponse, req: IncomingMessage | undefined): Socket | undefined {
    if (!(res instanceof ServerResponse) || (res as { _lightMyRequest?: unknown })._lightMyRequest !== undefined) return undefined;
    const socket = (req ?? (res as WithSocket).req)?.socket ?? res.socket;
    return socket === null || socket === undefined ? undefined : socket;
  }

  private ended(begun: Begun, ending: Ending): void {
    this.pending--;
    begun.end(ending);
    if (this.users === 0) this.update();
  }

  private update(): void {
    const wanted = this.users > 0 || this.pending > 0;
    if (wanted === this.subscribed) return;
    this.subscribed = wanted;
    if (wanted) diagnostics.subscribe(CHANNEL, this.onFinish);
    else diagnostics.unsubscribe(CHANNEL, this.onFinish);
  }
}

/** Registered: every copy of this module in the process shares one (see the header). Versioned by shape. */
const SHARED = Symbol.for('scalesignal.http.response-ends.v1');

/** The process's ResponseEnds. */
export function sharedResponseEnds(): ResponseEnds {
  const holder = globalThis as { [SHARED]?: ResponseEnds };
  return (holder[SHARED] ??= new ResponseEnds());
}
