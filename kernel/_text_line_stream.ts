/**
 * A `TransformStream` that splits text into lines: the stand-in for
 * `@std/streams`' `TextLineStream` while JSR cannot be reached. Same name,
 * same options, so the import can be swapped.
 * @module
 */

/** Options of {@linkcode TextLineStream}. */
export interface TextLineStreamOptions {
  /** Also end a line at a lone `\r`. Default false: only `\n` and `\r\n` end lines. */
  allowCR?: boolean;
}

/**
 * Splits a stream of strings into lines without their `\n` or `\r\n`.
 *
 * @example
 * ```ts
 * import { TextLineStream } from "./_text_line_stream.ts";
 * const lines = ReadableStream.from(["a\r\nb", "\nc"]).pipeThrough(new TextLineStream());
 * await Array.fromAsync(lines); // ["a", "b", "c"]
 * ```
 */
export class TextLineStream extends TransformStream<string, string> {
  /**
   * Makes the stream.
   * @param options which characters end a line
   */
  constructor(options: TextLineStreamOptions = {}) {
    const allowCR = options.allowCR ?? false;
    let rest = "";
    super({
      transform(chunk, controller): void {
        const text = rest + chunk;
        let start = 0;
        for (let i = 0; i < text.length; i++) {
          const c = text.charCodeAt(i);
          if (c === 10) {
            const end = i > start && text.charCodeAt(i - 1) === 13 ? i - 1 : i;
            controller.enqueue(text.slice(start, end));
            start = i + 1;
          } else if (c === 13 && allowCR) {
            if (i + 1 === text.length) break;
            if (text.charCodeAt(i + 1) === 10) continue;
            controller.enqueue(text.slice(start, i));
            start = i + 1;
          }
        }
        rest = text.slice(start);
      },
      flush(controller): void {
        // A lone \r left at the end still ends a line (an empty one, when it is all that is left).
        if (rest === "") return;
        controller.enqueue(allowCR && rest.endsWith("\r") ? rest.slice(0, -1) : rest);
      },
    });
  }
}
