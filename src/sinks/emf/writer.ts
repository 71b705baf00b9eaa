/**
 * Where EMF documents go, one line each: the CloudWatch agent over TCP or UDP, a stream (stdout), or a user
 * function. A writer reports what it knows about each document, and never throws:
 * - `sent`: delivered as far as the destination can tell (stream callback, UDP send, the user's promise);
 * - `written`: handed to a TCP connection; sent unless the peer closes within the grace period (`confirm`);
 * - `retry`: certainly not delivered whole (connection refused, reset before the write completed): safe to
 *   write again, at worst the agent saw a truncated line, which it cannot parse;
 * - `failed`: refused, or it may have arrived: never written again (a duplicate inflates what CloudWatch sums).
 */
export type WriteResult = 'sent' | 'written' | 'retry' | 'failed';

export interface Written {
  readonly result: WriteResult;
  /** TCP: the connection the document went out on, and when its write completed (performance.now()). */
  readonly connection?: number;
  readonly at?: number;
  readonly reason?: string;
}

export interface DocumentWriter {
  /** Writes one document (without newline) as one line; resolves with what became of it, never rejects. */
  write(document: string): Promise<Written>;
  /**
   * Gives up the write in progress when the destination allows it (TCP: the connection is closed, and the
   * write resolves `retry`). Returns false when it cannot (a stream or a user function): that write stays in
   * flight and nothing else is written until it settles.
   */
  abandon(): boolean;
  /**
   * For `written` documents: `sent`, `failed` (the peer closed on it) or `wait`. `observedThrough`
   * (performance.now() time): every close that reached this host before it has been read from the socket.
   */
  confirm?(written: Written, observedThrough: number): 'sent' | 'failed' | 'wait';
  /** How long after its write a `written` document can be confirmed, ms. */
  readonly graceMs?: number;
  close(): void;
}
