/**
 * The one registry of built-in servlets: each imported statically, so a graph
 * of built-ins needs no read permission beyond its graph file, and the CLI,
 * `serve()` and every `--workers` worker resolve names from the same table.
 * @module
 */
import { GraphError } from "../kernel/errors.ts";
import { resolvePath } from "../kernel/loader.ts";
import type { Servlet } from "../kernel/servlet.ts";
import { didYouMean } from "../kernel/suggest.ts";
import hello from "../servlets/hello.ts";
import echo from "../servlets/echo.ts";
import line from "../servlets/line.ts";
import transform from "../servlets/transform.ts";
import eliza from "../servlets/eliza.ts";
import dup from "../servlets/dataflow/dup.ts";
import firstnonempty from "../servlets/dataflow/firstnonempty.ts";
import demux from "../servlets/dataflow/demux.ts";
import exec from "../servlets/exec.ts";
import jsonParse from "../servlets/json/parse.ts";
import jsonStringify from "../servlets/json/stringify.ts";
import httpParser from "../servlets/http/parser.ts";
import httpRender from "../servlets/http/render.ts";
import httpRouter from "../servlets/http/router.ts";
import httpStatic from "../servlets/http/static.ts";
import chat from "../servlets/chat.ts";
import kv from "../servlets/kv.ts";
import natsPublish from "../servlets/nats/publish.ts";

/**
 * The servlets shipped with plumb, by the name a graph uses for them.
 *
 * @example
 * ```ts
 * import { BUILTIN_SERVLETS } from "@plumb/plumb/host";
 * import { assert } from "@std/assert";
 * assert("eliza" in BUILTIN_SERVLETS);
 * ```
 */
export const BUILTIN_SERVLETS: Readonly<Record<string, Servlet<unknown>>> = Object.freeze({
  hello,
  echo,
  line,
  transform,
  eliza,
  "dataflow/dup": dup,
  "dataflow/firstnonempty": firstnonempty,
  "dataflow/demux": demux,
  exec,
  "json/parse": jsonParse,
  "json/stringify": jsonStringify,
  "http/parser": httpParser,
  "http/render": httpRender,
  "http/router": httpRouter,
  "http/static": httpStatic,
  chat,
  kv,
  "nats/publish": natsPublish,
} as Record<string, Servlet<unknown>>);

const SCHEME = /^[a-z][a-z0-9+.-]*:/i;

/**
 * Resolves a node's `servlet` specifier: a relative or absolute path against
 * the graph file, a URL or `jsr:`/`npm:` specifier as is (both to be
 * imported), else a built-in name (the servlet itself).
 *
 * @param specifier what the graph's node says
 * @param base the graph file's URL
 * @param where for messages: `FILE: node "x"`
 *
 * @example
 * ```ts
 * import { resolveServlet } from "./servlet_registry.ts";
 * import { assertEquals } from "@std/assert";
 * const base = new URL("file:///srv/graph.json");
 * assertEquals(resolveServlet("./mine.ts", base, "graph.json"), "file:///srv/mine.ts");
 * ```
 */
export function resolveServlet(
  specifier: string,
  base: URL,
  where: string,
): string | Servlet<unknown> {
  if (
    specifier.startsWith("./") || specifier.startsWith("../") || specifier.startsWith("/") ||
    SCHEME.test(specifier)
  ) {
    return resolvePath(specifier, base, where);
  }
  const builtin = Object.hasOwn(BUILTIN_SERVLETS, specifier)
    ? BUILTIN_SERVLETS[specifier]
    : undefined;
  if (builtin === undefined) {
    throw new GraphError(
      "PLUMB_SERVLET_UNKNOWN",
      `${where}: unknown servlet "${specifier}"${
        didYouMean(specifier, Object.keys(BUILTIN_SERVLETS))
      }; built-ins are ${
        Object.keys(BUILTIN_SERVLETS).join(", ")
      }, a file is written "./name.ts" relative to the graph file`,
    );
  }
  return builtin;
}
