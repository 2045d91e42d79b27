/**
 * A connection's read buffers, small while it waits and large while it is
 * busy: each session reads into a small buffer of its own (a line, an HTTP
 * request head), which is all an idle connection holds while its read waits;
 * after a read that filled it (more bytes are likely waiting), the next reads
 * go to a large buffer borrowed from a pool that every session shares, until a
 * read leaves room again and the large buffer goes back. Ended sessions give
 * their buffers back too, so a connection served and closed allocates none.
 * @module
 */

/** Size of a session's own read buffer, in bytes: what an idle connection holds. */
export const SMALL_READ_BUFFER = 1024;
/** Size of the shared buffers of busy sessions, in bytes. */
export const LARGE_READ_BUFFER = 16384;
/** Most buffers kept for reuse: 1 MiB of each size. */
const MAX_FREE_SMALL = 1024;
const MAX_FREE_LARGE = 64;

const freeSmall: Uint8Array[] = [];
const freeLarge: Uint8Array[] = [];

/**
 * The read buffers of one session. A read goes into {@linkcode next}'s buffer
 * and its bytes are {@linkcode view}`(n)`, valid until the next `next()`:
 * the reader copies what it keeps (a volatile source).
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { LARGE_READ_BUFFER, ReadBuffers, SMALL_READ_BUFFER } from "./read_buffers.ts";
 *
 * const buffers = new ReadBuffers();
 * assertEquals(buffers.next().length, SMALL_READ_BUFFER);
 * buffers.view(SMALL_READ_BUFFER); // the read filled it: more is likely waiting
 * assertEquals(buffers.next().length, LARGE_READ_BUFFER);
 * buffers.view(10); // room left: back to the small buffer
 * assertEquals(buffers.next().length, SMALL_READ_BUFFER);
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
      if (freeLarge.length < MAX_FREE_LARGE) freeLarge.push(large);
    }
    return this.#current = this.#small ??= freeSmall.pop() ?? new Uint8Array(SMALL_READ_BUFFER);
  }

  /** The `n` bytes the read into `next()`'s buffer gave. */
  view(n: number): Uint8Array {
    const buffer = this.#current!;
    this.#full = n === buffer.length;
    return buffer.subarray(0, n);
  }

  /**
   * Gives the buffers back for other sessions; only once no read into them is
   * under way and no byte in them is still wanted.
   */
  release(): void {
    if (this.#small !== undefined && freeSmall.length < MAX_FREE_SMALL) freeSmall.push(this.#small);
    if (this.#large !== undefined && freeLarge.length < MAX_FREE_LARGE) freeLarge.push(this.#large);
    this.#small = this.#large = this.#current = undefined;
    this.#full = false;
  }
}
