/**
 * The type check of `--check`: `deno run` does not type-check the servlet
 * modules a graph names (they are imported dynamically), so `--check` runs
 * `deno check` on each servlet file of the graph, from the working directory
 * and so with the configuration `deno run` found there. Built-in servlets
 * are plumb's own and checked already; servlets by URL (`jsr:`, `https:`)
 * are their publishers' to check.
 * @module
 */
import { GraphError } from "../kernel/errors.ts";
import { filePath } from "../kernel/file_path.ts";
import { createLogger, type Logger } from "../kernel/log.ts";
import { readGraphFile } from "./graph_file.ts";
import { resolveServlet } from "./servlet_registry.ts";

/** One servlet file of a graph, with the first node that names it. */
interface ServletFile {
  readonly node: string;
  readonly specifier: string;
  readonly path: string;
}

/** The servlet files a graph names, each once, in the order of its nodes. */
function servletFiles(
  file: string,
  base: URL,
  nodes: Record<string, { servlet: unknown }>,
): ServletFile[] {
  const files: ServletFile[] = [];
  for (const [node, spec] of Object.entries(nodes)) {
    if (typeof spec.servlet !== "string") continue;
    const resolved = resolveServlet(spec.servlet, base, `${file}: node "${node}"`);
    if (typeof resolved !== "string" || !resolved.startsWith("file:")) continue;
    const path = filePath(new URL(resolved));
    if (!files.some((f) => f.path === path)) files.push({ node, specifier: spec.servlet, path });
  }
  return files;
}

/** The first error of `deno check`'s output, with its place: one line. */
function firstError(output: string): string {
  const lines = output.split("\n");
  const at = lines.findIndex((l) => /^TS\d+ \[ERROR\]: /.test(l));
  if (at < 0) return lines.find((l) => l.startsWith("error: "))?.trim() ?? "deno check failed";
  const place = lines.slice(at + 1).find((l) => /^\s+at \S+:\d+:\d+$/.test(l))?.trim();
  return place === undefined ? lines[at] : `${lines[at]} (${place})`;
}

/**
 * Runs `deno check` on each servlet file of a graph file, and resolves to
 * the paths it checked. When deno may not be run (`--allow-run` of deno is
 * not granted) or the configuration excludes a file, it warns on `logger`
 * and goes on without.
 *
 * @param graph the graph file, as the command line gave it
 * @param logger where the warnings go
 * @throws {GraphError} naming the graph file, the node and the first error
 *   (with its place) when a servlet file does not type-check
 *
 * @example
 * ```ts ignore
 * const checked = await typeCheckServlets("examples/upper.json");
 * ```
 */
export async function typeCheckServlets(
  graph: string,
  logger: Logger = createLogger(),
): Promise<string[]> {
  const { file, base, spec } = await readGraphFile(graph);
  const files = servletFiles(file, base, spec.nodes);
  if (files.length === 0) return [];
  const deno = Deno.execPath();
  if (Deno.permissions.querySync({ name: "run", command: deno }).state !== "granted") {
    logger.log(
      "warn",
      "PLUMB_SERVLET_NOT_TYPE_CHECKED",
      `${file}: its servlet files were not type-checked: --check runs deno check on them ` +
        `when it may run deno (--allow-run=${deno})`,
    );
    return [];
  }
  const excluded: ServletFile[] = [];
  for (const servlet of files) {
    const out = await new Deno.Command(deno, {
      args: ["check", servlet.path],
      env: { NO_COLOR: "1" },
      stdin: "null",
    }).output();
    const output = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    if (out.success) {
      if (output.includes("No matching files found")) excluded.push(servlet);
      continue;
    }
    const count = /^Found (\d+) errors?\./m.exec(output)?.[1] ?? "1";
    throw new GraphError(
      "PLUMB_SERVLET_TYPE_ERROR",
      `${file}: node "${servlet.node}": servlet "${servlet.specifier}" does not type-check: ` +
        `${firstError(output)}; ${count} error(s) in all, listed by: deno check ${servlet.path}`,
    );
  }
  for (const servlet of excluded) {
    logger.log(
      "warn",
      "PLUMB_SERVLET_CHECK_EXCLUDED",
      `${file}: servlet "${servlet.specifier}" not type-checked: the deno configuration ` +
        `of the working directory excludes it`,
    );
  }
  return files.filter((f) => !excluded.includes(f)).map((f) => f.path);
}
