/**
 * Small adapters between plumb's pull-style handles and Web Streams.
 * @module
 */

/**
 * A byte `ReadableStream` (`type: "bytes"`) that pulls its chunks from `read`
 * until it returns `null`, one at a time, only when its reader asks (no
 * read-ahead: the source's bound holds). A default reader gets each chunk (a
 * copy, since a byte stream takes its chunks' memory over); a BYOB reader
 * (`getReader({ mode: "byob" })`) gets as much as fits in its buffer, and the
 * rest is given back to the source with `unread`, to be read first.
 *
 * @param read the next chunk, or `null` at the end
 * @param unread gives bytes back to the source, to be read first
 * @param cancel called when the stream's consumer cancels it
 */
export function readableFrom(
  read: () => Promise<Uint8Array | null>,
  unread: (bytes: Uint8Array) => void,
  cancel?: () => void,
): ReadableStream<Uint8Array<ArrayBuffer>> {
  return new ReadableStream({
    type: "bytes",
    async pull(controller): Promise<void> {
      let chunk: Uint8Array | null;
      do chunk = await read(); while (chunk !== null && chunk.length === 0);
      const request = controller.byobRequest;
      if (chunk === null) {
        controller.close();
        request?.respond(0);
      } else if (request?.view) {
        const view = request.view;
        const n = Math.min(view.byteLength, chunk.length);
        new Uint8Array(view.buffer, view.byteOffset, n).set(chunk.subarray(0, n));
        if (n < chunk.length) unread(chunk.subarray(n));
        request.respond(n);
      } else controller.enqueue(chunk.slice());
    },
    cancel,
  }, { highWaterMark: 0 }) as ReadableStream<Uint8Array<ArrayBuffer>>;
}

/** A `WritableStream` whose chunks go to `write`, with its backpressure. */
export function writableTo(
  write: (chunk: Uint8Array) => Promise<void>,
): WritableStream<Uint8Array> {
  return new WritableStream<Uint8Array>({ write }, { highWaterMark: 1 });
}
