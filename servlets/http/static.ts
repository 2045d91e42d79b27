/**
 * `http/static`: answers `GET` and `HEAD` with the files under a root
 * directory.
 *
 * - The path is the request's `*` parameter when `http/router` matched a
 *   `/prefix/*` route (so `/static/a.css` under `"GET /static/*"` is
 *   `ROOT/a.css`), else its whole path: the path `http/parser` normalised
 *   (percent-decoded, no `.`, `..` or empty segments), the same the router
 *   matched; it is not decoded again. A segment that is `.` or `..` (a
 *   request made by hand) or holds `\` or NUL, or that starts with `.`
 *   (hidden files), is answered 404, and so is a file whose real path
 *   (symbolic links resolved) is outside the root.
 * - A directory is served by its `index.html`; asked for without its final
 *   `/` it is redirected (301) to it, with a `Location` that is the path
 *   encoded again, so never `//host` (which a browser would take for
 *   another site).
 * - `content-type` by extension, `last-modified`, a strong `etag` (size and
 *   time); `If-None-Match` and `If-Modified-Since` are answered 304.
 * - `Range: bytes=A-B` (one range; `A-`, `-N` too) is answered 206 with
 *   `content-range`, or 416 when it starts past the end; `If-Range` is
 *   honoured. Several ranges are answered with the whole file.
 * - Files up to 64 KiB are read whole; larger ones are streamed to
 *   `http/render` in pieces of up to 1 MiB, with backpressure, and the reads
 *   stop as soon as the client has gone (`task.signal`).
 *
 * Arguments: `ROOT` (relative to the graph file), then `--index NAME`
 * (default `index.html`) and `--max-age S` (adds `cache-control:
 * max-age=S`). Needs `--allow-read` of the root.
 *
 * Ports: `in` (input, `http/request`), `out` (output, `http/response`, then
 * the body's bytes for a large file).
 *
 * @example
 * ```json
 * { "servlet": "http/static", "args": ["./www", "--max-age", "60"] }
 * ```
 * @module
 */
import { defineServlet, PermissionHint, PlumbError } from "../../mod.ts";
import { contentType } from "./mime.ts";
import { encodePath } from "./path.ts";
import {
  HTTP_REQUEST,
  HTTP_RESPONSE,
  type HttpRequest,
  type HttpResponse,
  textResponse,
} from "./types.ts";

/** What a node serves: where, and how. */
interface Site {
  /** The root directory's real path. */
  root: string;
  /** The file that serves a directory. */
  index: string;
  /** `cache-control` value, if any. */
  cacheControl: string | undefined;
}

/** Files up to this size are read whole; larger ones are streamed. */
const WHOLE_FILE_BYTES = 65536;
/**
 * Most bytes of each read of a streamed file: 1 MiB. A read costs an
 * operation and a fresh buffer whatever its size, so a large file is read in
 * few large pieces (the pipe to `http/render` still bounds what waits).
 */
const STREAM_CHUNK = 1048576;
const USAGE = "args are ROOT [--index NAME] [--max-age SECONDS]";

/** Reads the arguments; `ROOT` is resolved against the graph file's URL. */
function parseStaticArgs(
  args: readonly string[],
  path: (relative: string, what: string) => string,
): { root: string; index: string; maxAge: number | undefined } {
  let root: string | undefined;
  let index = "index.html";
  let maxAge: number | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--index" || arg === "--max-age") {
      const value = args[++i];
      if (value === undefined) {
        throw new PlumbError(
          "PLUMB_HTTP_STATIC_NO_VALUE",
          `http/static: ${arg} needs a value; ${USAGE}`,
        );
      }
      if (arg === "--index") {
        if (value.includes("/") || value === "" || value.startsWith(".")) {
          throw new PlumbError(
            "PLUMB_HTTP_STATIC_INDEX",
            `http/static: --index ${value} must be a file name; ${USAGE}`,
          );
        }
        index = value;
      } else {
        maxAge = Number(value);
        if (!Number.isSafeInteger(maxAge) || maxAge < 0) {
          throw new PlumbError(
            "PLUMB_HTTP_STATIC_MAX_AGE",
            `http/static: --max-age needs whole seconds, 0 or more; ${USAGE}`,
          );
        }
      }
    } else if (arg.startsWith("--") || root !== undefined) {
      throw new PlumbError(
        "PLUMB_HTTP_STATIC_ARG",
        `http/static: unknown argument "${arg}"; ${USAGE}`,
      );
    } else root = arg;
  }
  if (root === undefined) {
    throw new PlumbError("PLUMB_HTTP_STATIC_NO_ROOT", `http/static: no root directory; ${USAGE}`);
  }
  return { root: path(root, "http/static: root"), index, maxAge };
}

/**
 * The segments of a normalised path (as `http/parser` makes it; not decoded
 * again), or `undefined` when one may not be served: `.` or `..`, a hidden
 * name (leading `.`), or one holding `\` or NUL.
 *
 * @example
 * ```ts
 * import { segmentsOf } from "./static.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(segmentsOf("/a/b c"), ["a", "b c"]);
 * assertEquals(segmentsOf("/a/%70"), ["a", "%70"]); // a file named %70: decoded once, by the parser
 * assertEquals(segmentsOf("/a/../etc"), undefined);
 * ```
 */
export function segmentsOf(path: string): string[] | undefined {
  const segments: string[] = [];
  for (const segment of path.split("/")) {
    if (segment === "") continue;
    if (segment.startsWith(".") || segment.includes("\\") || segment.includes("\0")) {
      return undefined;
    }
    segments.push(segment);
  }
  return segments;
}

/** True when `real` is the root or under it. */
function inside(root: string, real: string): boolean {
  return real === root || real.startsWith(root.endsWith("/") ? root : `${root}/`);
}

/** The etag of a file: its size and modification time, quoted. */
function etagOf(info: Deno.FileInfo): string {
  return `"${info.size.toString(16)}-${(info.mtime?.getTime() ?? 0).toString(16)}"`;
}

/** True when an `If-None-Match` list holds the etag (weak comparison) or `*`. */
function noneMatch(header: string, etag: string): boolean {
  return header.split(",").some((tag) => {
    const t = tag.trim();
    return t === "*" || t.replace(/^W\//, "") === etag;
  });
}

/** True when the file has not changed since the `If-Modified-Since` date. */
function notModifiedSince(header: string, info: Deno.FileInfo): boolean {
  const since = Date.parse(header);
  const mtime = info.mtime?.getTime();
  return !Number.isNaN(since) && mtime !== undefined && Math.floor(mtime / 1000) * 1000 <= since;
}

/**
 * The byte range a `Range` header asks for: `[start, end]` (inclusive),
 * `"unsatisfiable"`, or `undefined` to send the whole file.
 */
export function parseRange(
  header: string,
  size: number,
): [number, number] | "unsatisfiable" | undefined {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (match === null || (match[1] === "" && match[2] === "")) return undefined;
  if (match[1] === "") {
    const suffix = Number(match[2]);
    if (suffix === 0) return "unsatisfiable";
    return [Math.max(0, size - suffix), size - 1];
  }
  const start = Number(match[1]);
  const end = match[2] === "" ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (match[2] !== "" && Number(match[2]) < start) return undefined;
  if (start >= size) return "unsatisfiable";
  return [start, end];
}

/** Reads `length` bytes of a file from `start`. */
async function readPart(path: string, start: number, length: number): Promise<Uint8Array> {
  using file = Deno.openSync(path);
  await file.seek(start, Deno.SeekMode.Start);
  const bytes = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const n = await file.read(bytes.subarray(got));
    if (n === null) break;
    got += n;
  }
  return got === length ? bytes : bytes.subarray(0, got);
}

/** The response to a request, and the file range to stream after it, if any. */
async function answer(
  site: Site,
  request: HttpRequest,
): Promise<{ response: HttpResponse; stream?: { path: string; start: number; length: number } }> {
  if (request.method !== "GET" && request.method !== "HEAD") {
    return { response: textResponse(405, undefined, { allow: "GET, HEAD" }) };
  }
  const rel = request.params?.["*"] ?? request.path;
  const segments = segmentsOf(rel);
  if (segments === undefined) return { response: textResponse(404) };
  let path = [site.root, ...segments].join("/");
  let real: string;
  let info: Deno.FileInfo;
  try {
    // The metadata calls are synchronous: a local file system answers them from the kernel's
    // caches in a few microseconds, less than an asynchronous call's round trip to a thread.
    // The file's bytes are read asynchronously.
    real = Deno.realPathSync(path);
    if (!inside(site.root, real)) return { response: textResponse(404) };
    info = Deno.statSync(real);
    if (info.isDirectory) {
      if (!request.path.endsWith("/")) {
        const location = `${encodePath(request.path)}/${
          request.query === "" ? "" : `?${request.query}`
        }`;
        return { response: textResponse(301, undefined, { location }) };
      }
      path = `${real}/${site.index}`;
      real = Deno.realPathSync(path);
      if (!inside(site.root, real)) return { response: textResponse(404) };
      info = Deno.statSync(real);
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return { response: textResponse(404) };
    }
    throw error;
  }
  if (!info.isFile) return { response: textResponse(404) };
  const etag = etagOf(info);
  const headers: Record<string, string> = {
    "content-type": contentType(real),
    etag,
    "accept-ranges": "bytes",
  };
  if (info.mtime !== null) headers["last-modified"] = info.mtime.toUTCString();
  if (site.cacheControl !== undefined) headers["cache-control"] = site.cacheControl;
  const h = request.headers;
  const inm = h["if-none-match"];
  if (
    inm !== undefined ? noneMatch(inm, etag) : h["if-modified-since"] !== undefined &&
      notModifiedSince(h["if-modified-since"], info)
  ) {
    return { response: { status: 304, headers } };
  }
  let start = 0;
  let length = info.size;
  let status = 200;
  const ifRange = h["if-range"];
  const rangeApplies = h.range !== undefined &&
    (ifRange === undefined || ifRange === etag || ifRange === headers["last-modified"]);
  if (rangeApplies) {
    const range = parseRange(h.range, info.size);
    if (range === "unsatisfiable") {
      return {
        response: textResponse(416, undefined, { "content-range": `bytes */${info.size}` }),
      };
    }
    if (range !== undefined) {
      [start, length, status] = [range[0], range[1] - range[0] + 1, 206];
      headers["content-range"] = `bytes ${range[0]}-${range[1]}/${info.size}`;
    }
  }
  if (request.method === "HEAD") return { response: { status, headers, length } };
  if (length <= WHOLE_FILE_BYTES) {
    const body = start === 0 && length === info.size
      ? await Deno.readFile(real)
      : await readPart(real, start, length);
    return { response: { status, headers, body } };
  }
  return { response: { status, headers, length }, stream: { path: real, start, length } };
}

export default defineServlet({
  description: "serves the files under a directory: types, etags, ranges, no escapes",
  init(args, env) {
    const { root, index, maxAge } = parseStaticArgs(args, env.path);
    if (Deno.permissions.querySync({ name: "read", path: root }).state !== "granted") {
      throw new PermissionHint(
        "PLUMB_PERMISSION_STATIC",
        `http/static: cannot read ${root}`,
        `--allow-read=${root}`,
      );
    }
    let real: string;
    try {
      real = Deno.realPathSync(root);
      if (!Deno.statSync(real).isDirectory) throw new Deno.errors.NotADirectory();
    } catch {
      throw new PlumbError(
        "PLUMB_HTTP_STATIC_NOT_DIR",
        `http/static: root ${root} is not a directory`,
      );
    }
    return {
      input: env.input("in", { type: HTTP_REQUEST }),
      output: env.output("out", { type: HTTP_RESPONSE }), // a response, then a large file's bytes
      root: real,
      index,
      cacheControl: maxAge === undefined ? undefined : `max-age=${maxAge}`,
    };
  },
  async exec(ctx, task) {
    const request = await task.readValue(ctx.input);
    if (request === null) return;
    const { response, stream } = await answer(ctx, request);
    await task.writeValue(ctx.output, response);
    if (stream === undefined) return;
    using file = Deno.openSync(stream.path);
    if (stream.start > 0) await file.seek(stream.start, Deno.SeekMode.Start);
    let left = stream.length;
    // A client that has gone (it reset, or its reply cannot be written) stops the reads at once.
    const signal = task.signal;
    while (left > 0 && !signal.aborted) {
      const buffer = new Uint8Array(Math.min(STREAM_CHUNK, left));
      const n = await file.read(buffer);
      if (n === null) break;
      await task.write(ctx.output, n === buffer.length ? buffer : buffer.subarray(0, n));
      left -= n;
    }
  },
});
