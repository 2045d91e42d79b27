/**
 * Every built-in servlet, imported statically. The CLI (and each `--workers`
 * worker) imports this module, so the built-ins are part of its module graph
 * from the start: the loader's `import()` of a built-in then finds it loaded
 * and reads no file, and a graph of built-ins needs `--allow-read` for its
 * graph file only. A library user who wants the same imports this module too.
 *
 * @example
 * ```ts ignore
 * import "@plumb/plumb/servlets/all.ts"; // built-ins without read permission
 * ```
 * @module
 */
import "./hello.ts";
import "./echo.ts";
import "./line.ts";
import "./transform.ts";
import "./eliza.ts";
import "./dataflow/dup.ts";
import "./dataflow/firstnonempty.ts";
import "./dataflow/demux.ts";
import "./exec.ts";
import "./json/parse.ts";
import "./json/stringify.ts";
import "./http/parser.ts";
import "./http/render.ts";
import "./http/router.ts";
import "./http/static.ts";
