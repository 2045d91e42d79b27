/**
 * Small adapters between plumb's pull-style handles and Web Streams.
 * @module
 */

/**
 * A `ReadableStream` that pulls its chunks from `read` until it returns
 * `null`, one at a time (no read-ahead, so the source's bound holds).
 *
 * @param read the next chunk, or `null` at the end
 * @param cancel called when the stream's consumer cancels it
 */
export function readableFrom(
  read: () => Promise<Uint8Array | null>,
  cancel?: () => void,
): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller): Promise<void> {
      const chunk = await read();
      if (chunk === null) controller.close();
      else controller.enqueue(chunk);
    },
    cancel,
  }, { highWaterMark: 0 });
}

/** A `WritableStream` whose chunks go to `write`, with its backpressure. */
export function writableTo(
  write: (chunk: Uint8Array) => Promise<void>,
): WritableStream<Uint8Array> {
  return new WritableStream<Uint8Array>({ write }, { highWaterMark: 1 });
}
