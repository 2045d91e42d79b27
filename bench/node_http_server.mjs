// deno-lint-ignore-file explicit-function-return-type -- plain JavaScript for Node 20, no types
// A baseline of `bench/http.ts` (`node:http`): Node's HTTP server answering
// what `examples/http.json` answers, as `bench/deno_serve.ts` does, run with
// the `node` on the machine.
//
// - `GET /api/hello?name=N`: `{"message":"Hello, N!"}` as `application/json`.
// - Any other `GET` or `HEAD`: the file under `examples/www` (or `--www DIR`; a directory by
//   its `index.html`), streamed from the file (`fs.createReadStream`) with
//   `content-type`, `content-length` and `last-modified`; a segment that
//   starts with `.` or holds `/`, `\` or NUL once decoded is answered 404.
// - Anything else: 404.
//
//   node bench/node_http_server.mjs --port 0 --types '{"html":"text/html; charset=utf-8"}'
//
// `--types` is the content type of each extension, as JSON (`bench/http.ts`
// passes `http/static`'s table). Run from the repository root. Prints
// `listening on tcp://127.0.0.1:PORT` once it accepts connections and exits 0
// on SIGTERM or SIGINT. Plain JavaScript (no types): Node 20 runs it as it is.
import { Buffer } from "node:buffer";
import fs from "node:fs";
import http from "node:http";
import process from "node:process";
import { parseArgs } from "node:util";

const HOSTNAME = "127.0.0.1";
/** The files served by default (`--www`), relative to the working directory (the repository root). */
const WWW = "examples/www";
/** The file that serves a directory. */
const INDEX = "index.html";

/** The decoded segments of a path, or undefined when one may not be served. */
function segmentsOf(path) {
  const segments = [];
  for (const raw of path.split("/")) {
    if (raw === "") continue;
    let segment;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return undefined;
    }
    if (
      segment.startsWith(".") || segment.includes("/") || segment.includes("\\") ||
      segment.includes("\0")
    ) {
      return undefined;
    }
    segments.push(segment);
  }
  return segments;
}

function notFound(res) {
  const body = "404 Not Found\n";
  res.writeHead(404, {
    "content-type": "text/plain; charset=utf-8",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

/** Streams a file of `www`, or answers 404. */
function serveFile(req, res, pathname, types, www) {
  const segments = segmentsOf(pathname);
  if (segments === undefined) return notFound(res);
  let path = [www, ...segments].join("/");
  if (pathname.endsWith("/")) path = `${path}/${INDEX}`;
  fs.stat(path, (error, stat) => {
    if (error) return notFound(res);
    if (stat.isDirectory()) {
      res.writeHead(301, { location: `${pathname}/`, "content-length": 0 });
      return res.end();
    }
    const dot = path.lastIndexOf(".");
    const type = types[dot < 0 ? "" : path.slice(dot + 1).toLowerCase()] ??
      "application/octet-stream";
    res.writeHead(200, {
      "content-type": type,
      "content-length": stat.size,
      "last-modified": stat.mtime.toUTCString(),
    });
    if (req.method === "HEAD") return res.end();
    fs.createReadStream(path).on("error", () => res.destroy()).pipe(res);
  });
}

function main(args) {
  const { values } = parseArgs({
    args,
    strict: true,
    options: { port: { type: "string" }, types: { type: "string" }, www: { type: "string" } },
  });
  const text = values.port ?? "0";
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) {
    console.error(`node_http_server: --port must be a whole number from 0 to 65535, got "${text}"`);
    process.exit(2);
  }
  let types;
  try {
    types = JSON.parse(values.types ?? "{}");
  } catch (error) {
    console.error(`node_http_server: --types must be JSON: ${error.message}`);
    process.exit(2);
  }
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (req.method === "GET" && url.pathname === "/api/hello") {
      const name = url.searchParams.get("name") ?? "world";
      const body = JSON.stringify({ message: `Hello, ${name}!` });
      res.writeHead(200, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
      });
      res.end(body);
    } else if (req.method === "GET" || req.method === "HEAD") {
      serveFile(req, res, url.pathname, types, values.www ?? WWW);
    } else {
      notFound(res);
    }
  });
  const stop = () => process.exit(0);
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  server.listen(port, HOSTNAME, () => {
    console.log(`listening on tcp://${HOSTNAME}:${server.address().port}`);
  });
}

main(process.argv.slice(2));
