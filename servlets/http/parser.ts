/**
 * `http/parser`: reads HTTP/1.x requests from a connection, one request per
 * exec, into {@linkcode HttpRequest} values.
 *
 * - Keep-alive through the shared `PERSIST` flag: its input is declared with
 *   `PERSIST`, cleared for a request whose client asks to close
 *   (`Connection: close`, or HTTP/1.0 without `Connection: keep-alive`) and
 *   after a request it could not read.
 * - Pipelining through `EOM`: the bytes after the request are given back and
 *   start the next request at once.
 * - Partial reads through `PUSH_STATE`/`POP_STATE`: a request not all here yet
 *   is kept with the connection (writing nothing, so nothing else runs) and
 *   the next bytes go on from it.
 * - A request it cannot read is answered through `http/render` with 400
 *   (malformed), 413 (body too large), 414/431 (request line or header too
 *   large), 501 (unknown transfer coding) or 505 (not HTTP/1), and the
 *   connection is closed.
 *
 * Arguments: `--max-header-bytes N` (default 16384), `--max-body-bytes N`
 * (default 1048576).
 *
 * Ports: `in` (input, `PERSIST`, `bytes`: the connection), `out` (output,
 * `http/request`: the request, to a router or handler), `head` (output,
 * `http/head`: what `http/render` needs to answer it).
 *
 * @example
 * ```json
 * { "servlet": "http/parser", "args": ["--max-body-bytes", "65536"] }
 * ```
 * @module
 */
import { defineServlet, EOM, PlumbError } from "../../mod.ts";
import { type ParsedHead, parseRequest, type RequestLimits } from "./request_parser.ts";
import { HTTP_HEAD, HTTP_REQUEST } from "./types.ts";

/** What is kept with the connection while a request is not all here. */
interface Partial {
  bytes: Uint8Array;
  head: ParsedHead | undefined;
}

const USAGE = "args are [--max-header-bytes N] [--max-body-bytes N]";

/** Reads the arguments into limits; throws a usage message for anything else. */
export function parseParserArgs(args: readonly string[]): RequestLimits {
  const limits: RequestLimits = { maxHeaderBytes: 16384, maxBodyBytes: 1048576 };
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split("=", 2);
    const key = flag === "--max-header-bytes"
      ? "maxHeaderBytes"
      : flag === "--max-body-bytes"
      ? "maxBodyBytes"
      : undefined;
    if (key === undefined) {
      throw new PlumbError(
        "PLUMB_HTTP_PARSER_ARG",
        `http/parser: unknown argument "${args[i]}"; ${USAGE}`,
      );
    }
    const text = inline ?? args[++i];
    const n = Number(text);
    if (text === undefined || !Number.isSafeInteger(n) || n < 1) {
      throw new PlumbError(
        "PLUMB_HTTP_PARSER_LIMIT",
        `http/parser: ${flag} needs a whole number of bytes above 0; ${USAGE}`,
      );
    }
    limits[key] = n;
  }
  return limits;
}

export default defineServlet({
  description: "reads HTTP/1.x requests; keep-alive by PERSIST, pipelining by EOM",
  init(args, env) {
    return {
      limits: parseParserArgs(args),
      input: env.input("in", { persist: true, type: "bytes" }), // the connection
      output: env.output("out", { type: HTTP_REQUEST }), // the parsed request
      head: env.output("head", { type: HTTP_HEAD }), // what the renderer needs
    };
  },
  async exec(ctx, task) {
    const partial = task.popState<Partial>(ctx.input);
    let bytes = partial?.bytes;
    // A read loop, not task.chunks: this is on the hot path.
    for (
      let chunk = await task.read(ctx.input);
      chunk !== null;
      chunk = await task.read(ctx.input)
    ) {
      bytes = bytes === undefined ? chunk : joinBytes(bytes, chunk);
    }
    if (bytes === undefined) return;
    const outcome = parseRequest(bytes, ctx.limits, partial?.head);
    if (outcome.kind === "more") {
      // Not all here: kept with the connection, and nothing runs until more comes.
      task.pushState<Partial>(ctx.input, { bytes, head: outcome.head });
      task.keepAlive(ctx.input, true);
      return;
    }
    if (outcome.kind === "error") {
      task.keepAlive(ctx.input, false);
      await task.writeValue(ctx.head, { method: "GET", version: "1.1", error: outcome.response });
      return;
    }
    const { request, end } = outcome;
    if (end < bytes.length) task.cntl(ctx.input, EOM, bytes, end);
    task.keepAlive(ctx.input, request.keepAlive);
    await task.writeValue(ctx.head, { method: request.method, version: request.version });
    await task.writeValue(ctx.output, request);
  },
});

function joinBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
