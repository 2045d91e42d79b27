/**
 * The permission flags of a `--workers` worker process: those the supervisor
 * holds, as far as Deno lets a program tell. Deno does not list what it was
 * granted, it only answers whether a given thing is, so a permission granted
 * in full (`--allow-net`) is passed as it is, and one granted in part
 * (`--allow-read=/opt/plumb`) is passed for each thing the graph names that
 * the supervisor may use: plumb's directory, the graph file, each string of
 * the graph that is a path (a servlet file, a certificate), each listener's
 * host and port, each `HOST:PORT`, program and environment variable the graph
 * names.
 * @module
 */
import { fileUrl } from "./graph_file.ts";

/** The permissions passed on, by the name of their flag (`--allow-NAME`). */
const NAMES = ["read", "write", "net", "env", "sys", "run", "ffi", "import"] as const;
/** The host a listener takes without a `host` option. */
const DEFAULT_HOST = "127.0.0.1";

/** The path of a `file:` URL, without a trailing slash; "" for another URL. */
function pathOf(url: URL): string {
  return url.protocol === "file:" ? decodeURIComponent(url.pathname).replace(/(.)\/$/, "$1") : "";
}

/** True when `path` is there (a string of the graph that is a file, not a node name). */
function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** True when the supervisor holds `descriptor`; false for what it cannot tell. */
function granted(descriptor: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(descriptor).state === "granted";
  } catch {
    return false;
  }
}

/** Every string and every `port` number in a parsed graph file, and the `host` strings. */
function named(spec: unknown): { strings: Set<string>; hosts: Set<string>; ports: Set<number> } {
  const found = { strings: new Set<string>(), hosts: new Set<string>(), ports: new Set<number>() };
  const walk = (value: unknown, key: string): void => {
    if (typeof value === "string") {
      if (value.length < 4096 && !value.includes("\n")) found.strings.add(value);
      if (key === "host") found.hosts.add(value);
    } else if (typeof value === "number" && key === "port") found.ports.add(value);
    else if (Array.isArray(value)) { for (const item of value) walk(item, key); }
    else if (typeof value === "object" && value !== null) {
      for (const [k, v] of Object.entries(value)) walk(v, k);
    }
  };
  walk(spec, "");
  return found;
}

/** Reads and parses the graph file for what it names; nothing when it cannot. */
function graphNames(graph: URL): ReturnType<typeof named> {
  try {
    return named(JSON.parse(Deno.readTextFileSync(graph)));
  } catch {
    return named(null);
  }
}

/**
 * The `--allow-…` flags of a worker process serving `graph`.
 * @param graph the graph file, as given
 * @param root plumb's directory (a `file:` URL), whose modules the worker loads
 * @param host the `--host` given, if any
 * @param port the `--port` given, if any
 */
export function workerPermissionFlags(
  graph: string,
  root: URL,
  host?: string,
  port?: number,
): string[] {
  const flags: string[] = [];
  let names: ReturnType<typeof named> | undefined;
  const file = fileUrl(graph);
  const graphNamed = (): ReturnType<typeof named> =>
    names ??= file.protocol === "file:" ? graphNames(file) : named(null);
  for (const name of NAMES) {
    if (granted({ name } as Deno.PermissionDescriptor)) {
      flags.push(`--allow-${name}`);
      continue;
    }
    const parts = new Set<string>();
    if (name === "read" || name === "write") {
      const paths = new Set([pathOf(root), pathOf(file)]);
      for (const text of graphNamed().strings) {
        if (!/^[a-z][a-z0-9+.-]*:/i.test(text)) paths.add(pathOf(new URL(text, file)));
      }
      // Shortest first, so that a directory passed covers the files in it.
      for (const path of [...paths].sort((a, b) => a.length - b.length)) {
        if (path === "" || [...parts].some((p) => path.startsWith(`${p}/`))) continue;
        if (granted({ name, path }) && exists(path)) parts.add(path);
      }
    } else if (name === "net") {
      const { hosts, ports, strings } = graphNamed();
      const allHosts = new Set([DEFAULT_HOST, ...hosts, ...(host === undefined ? [] : [host])]);
      const allPorts = new Set([...ports, ...(port === undefined ? [] : [port])]);
      const candidates = new Set<string>();
      for (const h of allHosts) {
        candidates.add(h);
        for (const p of allPorts) candidates.add(`${h}:${p}`);
      }
      for (const text of strings) {
        const match = text.match(/^(?:[a-z][a-z0-9+.-]*:\/\/)?([\w.-]+|\[[0-9a-f:]+\]):(\d+)\b/i);
        if (match) candidates.add(`${match[1]}:${match[2]}`);
      }
      for (const candidate of candidates) {
        const bare = candidate.replace(/:\d+$/, "");
        if (candidate !== bare && parts.has(bare)) continue;
        if (granted({ name, host: candidate })) parts.add(candidate);
      }
    } else if (name === "run" || name === "env") {
      for (const text of graphNamed().strings) {
        const descriptor: Deno.PermissionDescriptor = name === "run"
          ? { name, command: text }
          : { name, variable: text };
        if (text !== "" && (name === "run" || /^\w+$/.test(text)) && granted(descriptor)) {
          parts.add(text);
        }
      }
    }
    if (parts.size > 0) flags.push(`--allow-${name}=${[...parts].join(",")}`);
  }
  return flags;
}
