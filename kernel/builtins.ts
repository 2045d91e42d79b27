/**
 * Built-in servlet names and how a node's `servlet` specifier resolves to a
 * module URL.
 * @module
 */
import { GraphError } from "./errors.ts";
import { didYouMean } from "./suggest.ts";

/** The servlets shipped with plumb, by the name a graph uses for them. */
export const BUILTIN_SERVLETS: Readonly<Record<string, string>> = {
  hello: "../servlets/hello.ts",
  echo: "../servlets/echo.ts",
  line: "../servlets/line.ts",
  transform: "../servlets/transform.ts",
  eliza: "../servlets/eliza.ts",
  "dataflow/dup": "../servlets/dataflow/dup.ts",
  "dataflow/firstnonempty": "../servlets/dataflow/firstnonempty.ts",
  "dataflow/demux": "../servlets/dataflow/demux.ts",
  exec: "../servlets/exec.ts",
  "json/parse": "../servlets/json/parse.ts",
  "json/stringify": "../servlets/json/stringify.ts",
  "http/parser": "../servlets/http/parser.ts",
  "http/render": "../servlets/http/render.ts",
  "http/router": "../servlets/http/router.ts",
  "http/static": "../servlets/http/static.ts",
};

const SCHEME = /^[a-z][a-z0-9+.-]*:/i;

/**
 * Resolves a node's `servlet` specifier: a relative or absolute path against
 * the graph file, a URL or `jsr:`/`npm:` specifier as is, else a built-in name.
 *
 * @param specifier what the graph's node says
 * @param base the graph file's URL
 * @param where for messages: `FILE: node "x"`
 */
export function resolveServlet(specifier: string, base: URL, where: string): string {
  if (specifier.startsWith("./") || specifier.startsWith("../") || specifier.startsWith("/")) {
    return new URL(specifier, base).href;
  }
  if (SCHEME.test(specifier)) return specifier;
  const builtin = BUILTIN_SERVLETS[specifier];
  if (builtin === undefined) {
    throw new GraphError(
      `${where}: unknown servlet "${specifier}"${
        didYouMean(specifier, Object.keys(BUILTIN_SERVLETS))
      }; built-ins are ${
        Object.keys(BUILTIN_SERVLETS).join(", ")
      }, a file is written "./name.ts" relative to the graph file`,
    );
  }
  return new URL(builtin, import.meta.url).href;
}
