/**
 * Finding and reading a graph file: a path or URL to its URL, and its JSON to
 * a checked {@linkcode GraphSpec}.
 * @module
 */
import { GraphError, PermissionHint } from "../kernel/errors.ts";
import { type GraphSpec, parseGraph } from "../kernel/graph.ts";

/** A path (relative to the working directory) or URL, as a URL. */
export function fileUrl(path: string | URL): URL {
  if (path instanceof URL) return path;
  if (/^[a-z][a-z0-9+.-]*:/i.test(path) && !/^[a-z]:[\\/]/i.test(path)) return new URL(path);
  const cwd = Deno.cwd().replace(/\\/g, "/");
  return new URL(path.replace(/\\/g, "/"), `file://${cwd.startsWith("/") ? "" : "/"}${cwd}/`);
}

/** Reads and parses a graph file; a missing file or bad JSON is a {@linkcode GraphError}. */
export async function readGraphFile(
  path: string | URL,
): Promise<{ file: string; base: URL; spec: GraphSpec }> {
  const url = fileUrl(path);
  const file = path instanceof URL ? url.href : path;
  if (url.protocol === "file:") {
    const status = Deno.permissions.querySync({ name: "read", path: url });
    if (status.state !== "granted") {
      throw new PermissionHint(
        "PLUMB_PERMISSION_GRAPH",
        `cannot read graph file ${file}`,
        "--allow-read",
      );
    }
  }
  let text: string;
  try {
    text = url.protocol === "file:"
      ? await Deno.readTextFile(url)
      : await (await fetch(url)).text();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new GraphError("PLUMB_FILE_NOT_FOUND", `${file}: no such graph file`);
    }
    throw new GraphError(
      "PLUMB_FILE_UNREADABLE",
      `${file}: cannot read graph file: ${(error as Error).message}`,
    );
  }
  return { file, base: url, spec: parseGraph(file, text) };
}
