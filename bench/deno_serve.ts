/**
 * The baseline of `bench/http.ts`: `Deno.serve` answering what
 * `examples/http.json` answers, with no graph in between.
 *
 * - `GET /api/hello?name=N`: `{"message":"Hello, N!"}` (`N` defaults to
 *   `world`) as `application/json`, built per request as `examples/http_api.ts`
 *   builds it.
 * - Any other `GET` or `HEAD`: the file under `examples/www` (or `--www DIR`; a directory by
 *   its `index.html`), streamed from the file (`Deno.open` and its
 *   `readable`), with the content type `http/static` gives it
 *   (`servlets/http/mime.ts`), `content-length` and `last-modified`; the
 *   path is normalised as `http/parser` does it (`servlets/http/path.ts`),
 *   and a segment that starts with `.` or holds `\` or NUL is answered 404.
 *   Unlike `http/static` it sends no `etag` or `accept-ranges`,
 *   resolves no symbolic links and answers no ranges or conditional requests.
 * - Anything else: 404.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 --allow-read=examples/www bench/deno_serve.ts --port 0
 * ```
 * Run from the repository root. Prints `listening on tcp://127.0.0.1:PORT`
 * once it accepts connections, as plumb does, and exits 0 on SIGTERM or
 * SIGINT.
 * @module
 */
import { parseArgs } from "node:util";
import { contentType } from "../servlets/http/mime.ts";
import { normalizePath } from "../servlets/http/path.ts";
import { segmentsOf } from "../servlets/http/static.ts";

const HOSTNAME = "127.0.0.1";
/** The files served by default (`--www`), relative to the working directory (the repository root). */
const WWW = "examples/www";
/** The file that serves a directory. */
const INDEX = "index.html";

function notFound(): Response {
  return new Response("404 Not Found\n", {
    status: 404,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

/** A file of `www`, streamed from the file (`Deno.open`, its `readable`), or 404. */
async function serveFile(request: Request, pathname: string, www: string): Promise<Response> {
  let normal: string;
  try {
    normal = normalizePath(pathname);
  } catch {
    return notFound();
  }
  const segments = segmentsOf(normal);
  if (segments === undefined) return notFound();
  let path = [www, ...segments].join("/");
  if (pathname.endsWith("/")) path = `${path}/${INDEX}`;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return notFound();
    }
    throw error;
  }
  const info = await file.stat();
  if (info.isDirectory) {
    file.close();
    return new Response(null, { status: 301, headers: { location: `${pathname}/` } });
  }
  const headers = {
    "content-type": contentType(path),
    "content-length": String(info.size),
    "last-modified": (info.mtime ?? new Date(0)).toUTCString(),
  };
  if (request.method === "HEAD") {
    file.close();
    return new Response(null, { headers });
  }
  return new Response(file.readable, { headers });
}

/** Answers one request, with the files of `www`. */
function handle(request: Request, www: string): Response | Promise<Response> {
  const url = new URL(request.url);
  if (request.method === "GET" && url.pathname === "/api/hello") {
    const name = url.searchParams.get("name") ?? "world";
    return new Response(JSON.stringify({ message: `Hello, ${name}!` }), {
      headers: { "content-type": "application/json" },
    });
  }
  if (request.method === "GET" || request.method === "HEAD") {
    return serveFile(request, url.pathname, www);
  }
  return notFound();
}

/** Serves until SIGTERM or SIGINT, then exits 0. */
function main(args: string[]): void {
  const { values } = parseArgs({
    args,
    strict: true,
    options: { port: { type: "string" }, www: { type: "string" } },
  });
  const www = values.www ?? WWW;
  const port = Number(values.port ?? "0");
  if (!/^\d+$/.test(values.port ?? "0") || port > 65535) {
    console.error(
      `deno_serve: --port must be a whole number from 0 to 65535, got "${values.port}"`,
    );
    Deno.exit(2);
  }
  const stop = (): void => Deno.exit(0);
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  Deno.serve({
    hostname: HOSTNAME,
    port,
    onListen: (addr): void => console.log(`listening on tcp://${HOSTNAME}:${addr.port}`),
  }, (request) => handle(request, www));
}

if (import.meta.main) main(Deno.args);
