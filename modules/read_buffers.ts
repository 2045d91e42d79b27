/**
 * A connection's read buffers, small while it waits and large while it is
 * busy: each session reads into a small buffer of its own (a line, an HTTP
 * request head), which is all an idle connection holds while its read waits;
 * after a read that filled it (more bytes are likely waiting), the next reads
 * go to a large buffer borrowed from a pool that every session shares, until a
 * read leaves room again and the large buffer goes back. A session whose
 * own buffer was once filled keeps a grown one of its own from then on, so
 * that messages a little larger (an HTTP request with cookies) still come in
 * one read. Ended sessions give their buffers back too, so a connection
 * served and closed allocates none.
 * @module
 */

/** Size of a session's own read buffer, in bytes: what an idle connection holds. */
export const SMALL_READ_BUFFER = 1024;
/** Size of a session's own read buffer once a read filled the small one, in bytes. */
export const GROWN_READ_BUFFER = 4096;
/** Size of the shared buffers of busy sessions, in bytes. */
export const LARGE_READ_BUFFER = 16384;
/** Most buffers kept for reuse: 1 MiB of each size. */
const MAX_FREE_SMALL = 1024;
const MAX_FREE_GROWN = 256;
const MAX_FREE_LARGE = 64;

const freeSmall: Uint8Array[] = [];
const freeGrown: Uint8Array[] = [];
const freeLarge: Uint8Array[] = [];

/** Keeps `buffer` for another session, in the pool of its size, unless that pool is full. */
function giveBack(buffer: Uint8Array): void {
  const [pool, most] = buffer.length === SMALL_READ_BUFFER
    ? [freeSmall, MAX_FREE_SMALL]
    : buffer.length === GROWN_READ_BUFFER
    ? [freeGrown, MAX_FREE_GROWN]
    : [freeLarge, MAX_FREE_LARGE];
  if (pool.length < most) pool.push(buffer);
}

/**
 * The read buffers of one session. A read goes into {@linkcode next}'s buffer
 * and its bytes are {@linkcode view}`(n)`, valid until the next `next()`:
 * the reader copies what it keeps (a volatile source).
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import {
 *   GROWN_READ_BUFFER,
 *   LARGE_READ_BUFFER,
 *   ReadBuffers,
 *   SMALL_READ_BUFFER,
 * } from "./read_buffers.ts";
 *
 * const buffers = new ReadBuffers();
 * assertEquals(buffers.next().length, SMALL_READ_BUFFER);
 * buffers.view(10); // room left: the small buffer again
 * assertEquals(buffers.next().length, SMALL_READ_BUFFER);
 * buffers.view(SMALL_READ_BUFFER); // the read filled it: more is likely waiting
 * assertEquals(buffers.next().length, LARGE_READ_BUFFER);
 * buffers.view(10); // room left: back to a buffer of its own, grown
 * assertEquals(buffers.next().length, GROWN_READ_BUFFER);
 * buffers.release();
 * ```
 */
export class ReadBuffers {
  #small: Uint8Array | undefined;
  #large: Uint8Array | undefined;
  /** The buffer of the read under way or last made. */
  #current: Uint8Array | undefined;
  /** The last read filled its buffer. */
  #full = false;
  /** A read filled the small buffer: the session's own buffer grows at the next return to it. */
  #grow = false;

  /**
   * The buffer for the next read: the small one, or after a read that filled
   * its buffer a large one. The bytes of the previous read may be reused.
   */
  next(): Uint8Array {
    if (this.#full) {
      return this.#current = this.#large ??= freeLarge.pop() ?? new Uint8Array(LARGE_READ_BUFFER);
    }
    const large = this.#large;
    if (large !== undefined) {
      this.#large = undefined;
      giveBack(large);
    }
    if (this.#grow) {
      // The small buffer's last bytes were handed out before this call: it may go.
      this.#grow = false;
      if (this.#small !== undefined) giveBack(this.#small);
      this.#small = freeGrown.pop() ?? new Uint8Array(GROWN_READ_BUFFER);
    }
    return this.#current = this.#small ??= freeSmall.pop() ?? new Uint8Array(SMALL_READ_BUFFER);
  }

  /** The `n` bytes the read into `next()`'s buffer gave. */
  view(n: number): Uint8Array {
    const buffer = this.#current!;
    this.#full = n === buffer.length;
    if (this.#full && buffer.length === SMALL_READ_BUFFER && buffer === this.#small) {
      this.#grow = true;
    }
    return buffer.subarray(0, n);
  }

  /**
   * Gives the buffers back for other sessions; only once no read into them is
   * under way and no byte in them is still wanted.
   */
  release(): void {
    if (this.#small !== undefined) giveBack(this.#small);
    if (this.#large !== undefined) giveBack(this.#large);
    this.#small = this.#large = this.#current = undefined;
    this.#full = this.#grow = false;
  }
}
