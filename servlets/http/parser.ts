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
 *   is kept with the connection (writing nothing, so nothing else runs), and
 *   the next bytes go on from where parsing stopped: each byte is parsed
 *   once, however the request is cut.
 * - A step (see `ServletDefinition.step`) for the usual request: all of it in
 *   one read, and nothing after it.
 * - Deadlines through `DEADLINE`: the head must be all here within
 *   `--head-timeout` of its first byte, the body within `--body-timeout` of
 *   the head; else the client gets a 408, the host logs why, and the
 *   connection is closed. What requests not all here hold in memory, all
 *   connections together, is bounded by `--max-buffered-bytes` (then 503).
 * - The path is normalised once, here: percent-decoded, dot segments and
 *   empty segments resolved; `http/router` and `http/static` see that path.
 * - `Expect: 100-continue`: once the head is read and its body is not here
 *   yet, the client is told `100 Continue` (through `http/render`, told on
 *   `head`), unless the request is refused first: then it gets that status.
 * - A body longer than `--max-body-bytes` and no longer than
 *   `--max-stream-bytes` is streamed: the request is written at once, its
 *   `stream` giving the body's pieces as they arrive (the connection is read
 *   only as the stream is read), within `--body-timeout`.
 * - A request it cannot read is answered through `http/render` with 400
 *   (malformed, or framing it will not guess at), 413 (body too large),
 *   414/431 (request line or header too large), 501 (unknown transfer
 *   coding), 503 (`--max-buffered-bytes` reached) or 505 (not HTTP/1), and
 *   the connection is closed.
 *
 * Arguments: `--max-header-bytes N` (default 16384), `--max-body-bytes N`
 * (default 1048576), `--max-stream-bytes N` (default 0: none),
 * `--head-timeout S` (default 10), `--body-timeout S` (default 60),
 * `--max-buffered-bytes N` (default 67108864).
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
import {
  DEADLINE,
  type Deadline,
  defineServlet,
  EOM,
  PlumbError,
  type Port,
  type Task,
} from "../../mod.ts";
import { BufferBudget } from "./_buffer_budget.ts";
import { closingReply } from "./render.ts";
import {
  expectsContinue,
  type ParseOutcome,
  type RequestLimits,
  RequestReader,
  wholeRequest,
} from "./request_parser.ts";
import {
  HTTP_HEAD,
  HTTP_REQUEST,
  type HttpHead,
  type HttpRequest,
  type HttpResponse,
  textResponse,
} from "./types.ts";

/** What an `http/parser` node's arguments say. */
export interface ParserSettings {
  /** Size limits of one request. */
  limits: RequestLimits;
  /** Seconds the head may take to arrive, from its first byte. */
  headTimeout: number;
  /** Seconds the body may take to arrive, from the end of the head. */
  bodyTimeout: number;
  /** Bytes that requests not all here may hold, all connections together. */
  maxBufferedBytes: number;
}

/** What is kept with the connection while a request is not all here. */
interface Partial {
  reader: RequestReader;
  /** The part of the request whose deadline is set on the connection, if any. */
  timed: "head" | "body" | undefined;
  /** True once the client was told `100 Continue`. */
  continued: boolean;
}

/** What the parser has before its first piece: nothing yet. */
const MORE: ParseOutcome = Object.freeze({ kind: "more" });

const USAGE =
  "args are [--max-header-bytes N] [--max-body-bytes N] [--max-stream-bytes N] [--head-timeout S] [--body-timeout S] [--max-buffered-bytes N]";

/** The options, by flag: the setting each sets, and whether it takes seconds (else bytes). */
const OPTIONS: Readonly<Record<string, readonly [string, "bytes" | "seconds"]>> = {
  "--max-header-bytes": ["maxHeaderBytes", "bytes"],
  "--max-body-bytes": ["maxBodyBytes", "bytes"],
  "--max-stream-bytes": ["maxStreamBytes", "bytes"],
  "--head-timeout": ["headTimeout", "seconds"],
  "--body-timeout": ["bodyTimeout", "seconds"],
  "--max-buffered-bytes": ["maxBufferedBytes", "bytes"],
};

/** Reads the arguments into settings; throws a usage message for anything else. */
export function parseParserArgs(args: readonly string[]): ParserSettings {
  const values: Record<string, number> = {
    maxHeaderBytes: 16384,
    maxBodyBytes: 1048576,
    maxStreamBytes: 0,
    headTimeout: 10,
    bodyTimeout: 60,
    maxBufferedBytes: 64 * 1048576,
  };
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split("=", 2);
    const option = Object.hasOwn(OPTIONS, flag) ? OPTIONS[flag] : undefined;
    if (option === undefined) {
      throw new PlumbError(
        "PLUMB_HTTP_PARSER_ARG",
        `http/parser: unknown argument "${args[i]}"; ${USAGE}`,
      );
    }
    const [key, unit] = option;
    const text = inline ?? args[++i];
    const n = Number(text);
    const least = key === "maxStreamBytes" ? 0 : 1;
    if (unit === "bytes" && (text === undefined || !Number.isSafeInteger(n) || n < least)) {
      throw new PlumbError(
        "PLUMB_HTTP_PARSER_LIMIT",
        `http/parser: ${flag} needs a whole number of bytes ${
          least === 0 ? "(0 or more)" : "above 0"
        }; ${USAGE}`,
      );
    }
    if (unit === "seconds" && (text === undefined || !(n > 0) || n > 2_147_483)) {
      throw new PlumbError(
        "PLUMB_HTTP_PARSER_TIMEOUT",
        `http/parser: ${flag} needs a number of seconds above 0 (for example 10 or 0.5); ${USAGE}`,
      );
    }
    values[key] = n;
  }
  return {
    limits: {
      maxHeaderBytes: values.maxHeaderBytes,
      maxBodyBytes: values.maxBodyBytes,
      maxStreamBytes: values.maxStreamBytes,
    },
    headTimeout: values.headTimeout,
    bodyTimeout: values.bodyTimeout,
    maxBufferedBytes: values.maxBufferedBytes,
  };
}

/** The deadline of a part of the request: the 408 its client gets, and the log's reason. */
function deadlineOf(part: "head" | "body", seconds: number, flag: string): () => Deadline {
  const what = `request ${part} took longer than ${seconds} s`;
  return () => ({
    seconds,
    reason: `${what} (http/parser ${flag}), 408`,
    reply: closingReply(textResponse(408, what)),
  });
}

/** What the parser's exec works with (its node's context). */
interface ParserContext {
  limits: RequestLimits;
  bodyTimeout: number;
  deadline: Record<"head" | "body", () => Deadline>;
  input: Port;
  output: Port<HttpRequest>;
  head: Port<HttpHead>;
}

/** Keeps a request not all here with the connection, under the deadline of the part it is in. */
function keep(ctx: ParserContext, task: Task, partial: Partial): void {
  task.pushState<Partial>(ctx.input, partial, (kept) => kept.reader.release());
  task.keepAlive(ctx.input, true);
  const part = partial.reader.phase;
  if (partial.timed !== part) {
    partial.timed = part;
    task.cntl(ctx.input, DEADLINE, ctx.deadline[part]());
  }
}

/** Why a streamed body could not be read to its end: the stream's error, and the client's reply. */
function bodyFailure(request: HttpRequest, response: HttpResponse, why: string): PlumbError {
  return new PlumbError(
    "PLUMB_HTTP_BODY_STREAM",
    `http/parser: the body of ${request.method} ${request.path} could not be read to its end: ${why} (${response.status})`,
  );
}

/**
 * Streams a body longer than `--max-body-bytes`: writes the request with its
 * `stream` at once, then reads the connection only as the stream is read
 * (its backpressure is the connection's), within `--body-timeout`. The exec
 * ends when the body has been read to its end, or cannot be: then the
 * connection is not kept, and render is told the reply to send instead.
 */
async function streamBody(
  ctx: ParserContext,
  task: Task,
  reader: RequestReader,
  first: ParseOutcome,
  firstPiece: Uint8Array | undefined,
): Promise<void> {
  const request = reader.request as HttpRequest;
  const head: HttpHead = { method: request.method, version: request.version };
  let outcome = first;
  let piece = firstPiece;
  let ended = false;
  let late: HttpResponse | undefined;
  let finished!: () => void;
  const done = new Promise<void>((resolve) => finished = resolve);
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  /** Ends the stream's reads: kept or not, and failed with a reply, or not. */
  const finish = (keepIt: boolean, failure?: HttpResponse, why?: string): void => {
    if (ended) return;
    ended = true;
    clearTimeout(timer);
    if (!keepIt) task.keepAlive(ctx.input, false);
    if (failure !== undefined) {
      late = failure;
      controller.error(bodyFailure(request, failure, why ?? ""));
    }
    finished();
  };
  const seconds = ctx.bodyTimeout;
  // The body's deadline (finish, called only later, clears it).
  const timer = setTimeout(() => {
    const what = `request body took longer than ${seconds} s`;
    finish(false, textResponse(408, what), `${what} (http/parser --body-timeout)`);
  }, seconds * 1000);
  request.stream = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    async pull(c) {
      try {
        await pullBody(c);
      } catch (error) {
        // The connection failed under the read: the body cannot be read to its end.
        const why = error instanceof Error ? error.message : String(error);
        finish(false, textResponse(400, "the body could not be read"), why);
      }
    },
    cancel() {
      // Its reader wants no more: what is left of it is not read, so the connection is not kept.
      finish(false);
    },
  }, { highWaterMark: 0 });
  /** Reads until it can hand `c` a piece of the body, or the body's end. */
  async function pullBody(c: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    for (;;) {
      if (ended) return;
      const pieces = reader.takePieces();
      for (const p of pieces) c.enqueue(p);
      if (outcome.kind === "request") {
        // Its end: the bytes after it start the next request.
        if (piece !== undefined && outcome.end < piece.length) {
          task.cntl(ctx.input, EOM, piece, outcome.end);
        }
        c.close();
        finish(true);
        return;
      }
      if (outcome.kind === "error") {
        const reply = outcome.response;
        finish(false, reply, typeof reply.body === "string" ? reply.body.trim() : "");
        return;
      }
      if (pieces.length > 0) return;
      let chunk = await task.read(ctx.input);
      if (chunk === null && !ended && await task.more(ctx.input) && !ended) {
        chunk = await task.read(ctx.input);
      }
      if (ended) return;
      if (chunk === null) {
        finish(false, textResponse(400, "the body ended early"), "the client ended it early");
        return;
      }
      piece = chunk;
      outcome = reader.feed(chunk);
    }
  }
  task.keepAlive(ctx.input, request.keepAlive);
  await task.writeValue(ctx.head, { ...head, stream: request.stream });
  await task.writeValue(ctx.output, request);
  await done;
  if (late !== undefined) await task.writeValue(ctx.head, { ...head, error: late });
}

export default defineServlet({
  description: "reads HTTP/1.x requests; keep-alive by PERSIST, pipelining by EOM",
  init(args, env) {
    const settings = parseParserArgs(args);
    return {
      limits: settings.limits,
      bodyTimeout: settings.bodyTimeout,
      // What requests not all here hold, all connections together.
      budget: new BufferBudget(settings.maxBufferedBytes),
      // The deadline of each part of a request, made when it is set.
      deadline: {
        head: deadlineOf("head", settings.headTimeout, "--head-timeout"),
        body: deadlineOf("body", settings.bodyTimeout, "--body-timeout"),
      },
      input: env.input("in", { persist: true, type: "bytes" }), // the connection
      output: env.output("out", { type: HTTP_REQUEST }), // the parsed request
      head: env.output("head", { type: HTTP_HEAD }), // what the renderer needs
    };
  },
  async exec(ctx, task) {
    // What a request not all here left with the connection, if anything (the usual request
    // comes whole: no Partial is made for it).
    const kept = task.popState<Partial>(ctx.input);
    const reader = kept?.reader ?? new RequestReader(ctx.limits, ctx.budget);
    let outcome: ParseOutcome = MORE;
    let piece: Uint8Array | undefined;
    try {
      // A read loop, not task.chunks: this is on the hot path.
      for (
        let chunk = await task.read(ctx.input);
        chunk !== null;
        chunk = await task.read(ctx.input)
      ) {
        piece = chunk;
        outcome = reader.feed(chunk);
        if (outcome.kind !== "more" || reader.streaming) break;
      }
    } catch (error) {
      reader.release();
      throw error;
    }
    if (outcome.kind === "more" && !reader.started) return;
    const parsed = reader.request;
    if (
      outcome.kind === "more" && parsed !== undefined && kept?.continued !== true &&
      reader.bodyBytes === 0 && expectsContinue(parsed)
    ) {
      // The head is here and its client waits to be told to send the body: this exchange is
      // the interim 100 alone (render writes it, and it is sent as this request ends).
      const partial = kept ?? { reader, timed: undefined, continued: false };
      partial.continued = true;
      keep(ctx, task, partial);
      await task.writeValue(ctx.head, { method: parsed.method, version: "1.1", continue: true });
      return;
    }
    if (outcome.kind === "more" && !reader.streaming) {
      // Not all here: kept with the connection, and nothing runs until more comes
      // (or the deadline of the part it is in passes).
      keep(ctx, task, kept ?? { reader, timed: undefined, continued: false });
      return;
    }
    if (kept?.timed !== undefined) task.cntl(ctx.input, DEADLINE, null);
    if (outcome.kind === "error") {
      task.keepAlive(ctx.input, false);
      await task.writeValue(ctx.head, { method: "GET", version: "1.1", error: outcome.response });
      return;
    }
    if (reader.streaming) {
      await streamBody(ctx, task, reader, outcome, piece);
      return;
    }
    if (outcome.kind !== "request") return; // not so: one not all here was kept above
    const { request, end } = outcome;
    if (piece !== undefined && end < piece.length) task.cntl(ctx.input, EOM, piece, end);
    // PERSIST is on as the input declares it: only a client that asks to close changes it.
    if (!request.keepAlive || !task.keepAlive(ctx.input)) {
      task.keepAlive(ctx.input, request.keepAlive);
    }
    await task.writeValue(ctx.head, { method: request.method, version: request.version });
    await task.writeValue(ctx.output, request);
  },
  // The usual request as a step: whole, alone in its bytes, its body (if any) whole. Anything
  // else (a request cut, pipelined, refused, streamed, or waiting on 100-continue) runs exec.
  step(ctx, task) {
    const bytes = task.value(ctx.input);
    if (!(bytes instanceof Uint8Array)) return false;
    const request = wholeRequest(bytes, ctx.limits, ctx.budget);
    if (request === undefined) return false;
    // A body that is a view of the connection's buffer: the request keeps a copy.
    if (request.body.buffer === bytes.buffer) request.body = request.body.slice();
    if (!request.keepAlive || !task.keepAlive(ctx.input)) {
      task.keepAlive(ctx.input, request.keepAlive);
    }
    task.write(ctx.head, { method: request.method, version: request.version });
    task.write(ctx.output, request);
  },
});
