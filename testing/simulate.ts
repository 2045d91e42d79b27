/**
 * Serving a whole graph (or one servlet) under test: connections in memory
 * (the host's own socket-free entry, `Host.load` and `Host.connect`, so the
 * same session code a TCP connection gets), or over a real socket on
 * 127.0.0.1, with the host's log lines kept for assertions.
 * @module
 */
import { readGraphFile } from "../host/graph_file.ts";
import { Host } from "../host/host.ts";
import { firstSessionOptions } from "../host/overrides.ts";
import type { GraphSpec } from "../kernel/graph.ts";
import { createLogger, type LogLevel } from "../kernel/log.ts";
import { isServlet, type Servlet } from "../kernel/servlet.ts";
import type { SessionListenerOptions } from "../modules/session_options.ts";
import { MemoryClient, TcpClient, type TestClient } from "./client.ts";

/** Options of {@linkcode simulate}. */
export interface SimulateOptions {
  /**
   * `"memory"` (the default): connections are in memory and no socket is
   * opened; each is served by the same session code as a TCP connection
   * (keep-alive by `PERSIST`, pipelining, `EOM`, per-connection state, time
   * limits, error replies). `"tcp"`: the graph listens on 127.0.0.1, port 0,
   * and clients connect over real TCP (needs `--allow-net=127.0.0.1`).
   */
  transport?: "memory" | "tcp";
  /**
   * Session options of the connections (`open`, `ttl`, `maxMessageSize`,
   * `requestTimeout`, `writeTimeout`, `errorReply`, `onError`), over those of the graph's
   * first listener.
   */
  session?: Partial<SessionListenerOptions>;
  /** For a servlet given alone: its arguments. Default none. */
  args?: readonly string[];
  /** For a servlet given alone: its node's name, as messages and `env.node` say it. Default `servlet`. */
  node?: string;
  /** For a servlet given alone: the input port that receives each request. Default `in`. */
  input?: string;
  /** For a servlet given alone: the output port that carries the reply. Default `out`. */
  output?: string;
  /** The URL relative servlet paths of a graph object resolve against. Default: the current directory. */
  base?: URL;
  /**
   * For memory connections: answers to the module `cntl` operations
   * (`{"tcp/peer": "192.0.2.1:5000"}`), for servlets that ask.
   */
  module?: Readonly<Record<string, unknown>>;
  /** The most verbose log level kept in {@linkcode Simulation.logs}. Default `debug`. */
  logLevel?: LogLevel;
  /** Also print the log lines to standard error. Default false. */
  printLogs?: boolean;
}

/** A graph served for a test, as {@linkcode simulate} returns it. */
export interface Simulation extends AsyncDisposable {
  /** The running host. */
  readonly host: Host;
  /** `memory:` or `tcp://127.0.0.1:PORT`. */
  readonly url: string;
  /** The port, for the `tcp` transport (0 in memory). */
  readonly port: number;
  /** The host's log lines so far, `plumb LEVEL: message`. */
  readonly logs: readonly string[];
  /** Opens a connection. */
  connect(): Promise<TestClient>;
  /**
   * Opens a connection, sends `input`, half-closes, and returns every reply
   * byte as text until the host closes (the way `printf ... | nc` talks).
   */
  exchange(input: string | Uint8Array): Promise<string>;
  /**
   * Waits until the host logged a line containing `text` (or matching it)
   * and returns it; rejects with every log line after `timeoutMs` (default 5000).
   */
  waitForLog(text: string | RegExp, timeoutMs?: number): Promise<string>;
  /** Stops the host: requests in flight finish (up to `graceMs`, default 1000), then `unload`. */
  close(graceMs?: number): Promise<void>;
}

async function graphOf(
  graph: string | URL | GraphSpec | Servlet<unknown>,
  options: SimulateOptions,
): Promise<{ spec: GraphSpec; base: URL | undefined }> {
  if (isServlet(graph)) {
    const node = options.node ?? "servlet";
    return {
      spec: {
        nodes: { [node]: { servlet: graph, args: [...(options.args ?? [])] } },
        input: `${node}.${options.input ?? "in"}`,
        output: `${node}.${options.output ?? "out"}`,
      },
      base: options.base,
    };
  }
  if (typeof graph === "string" || graph instanceof URL) {
    const { spec, base } = await readGraphFile(graph);
    return { spec, base };
  }
  return { spec: graph, base: options.base };
}

/**
 * Serves a graph for a test: a `graph.json` path or URL, a graph object (see
 * `graph()`), or one servlet made with `defineServlet` as a graph of one
 * node, whose `in` and `out` ports (or `input` and `output`) carry each
 * request. The graph's listeners are replaced by one of the chosen
 * transport, which keeps the first listener's session options (so a graph
 * with `"open": true` greets each connection). In memory, the graph is run
 * by `Host.load`, and each connection is one of `Host.connect`.
 *
 * @example
 * ```ts
 * import { simulate } from "@plumb/plumb/testing";
 * import { assertEquals } from "@std/assert";
 *
 * await using sim = await simulate("examples/hello.json");
 * await using client = await sim.connect();
 * await client.send("Plumber\nworld\n");
 * assertEquals(await client.readLines(2), ["Hello, Plumber\n", "Hello, world\n"]);
 * ```
 */
export async function simulate<C>(
  graph: string | URL | GraphSpec | Servlet<C>,
  options: SimulateOptions = {},
): Promise<Simulation> {
  const { spec, base } = await graphOf(
    graph as string | URL | GraphSpec | Servlet<unknown>,
    options,
  );
  const logs: string[] = [];
  const logger = createLogger(options.logLevel ?? "debug", (line) => {
    logs.push(line);
    if (options.printLogs) console.error(line);
  });
  const memory = (options.transport ?? "memory") === "memory";
  let host: Host;
  let connect: () => Promise<TestClient>;
  let port = 0;
  if (memory) {
    host = await Host.load(spec, { base, logger, session: options.session });
    const answers = options.module ?? {};
    connect = () => Promise.resolve(new MemoryClient(host.connect({ module: answers })));
  } else {
    const first = spec.listeners?.[0];
    const own = first?.module === "tcp" ? first.options : {};
    const session = { ...firstSessionOptions(spec), ...options.session };
    host = await Host.start({
      ...spec,
      listeners: [{ module: "tcp", options: { ...own, ...session, host: "127.0.0.1", port: 0 } }],
    }, { base, logger });
    port = Number(new URL(host.urls[0].replace("tcp:", "http:")).port);
    connect = () => TcpClient.connect(port);
  }
  const url = memory ? "memory:" : host.urls[0];
  let closing: Promise<void> | undefined;
  const close = (graceMs = 1000): Promise<void> => closing ??= host.close(graceMs);
  return {
    host,
    url,
    port,
    logs,
    connect,
    async exchange(input: string | Uint8Array): Promise<string> {
      await using client = await connect();
      await client.send(input);
      await client.closeWrite();
      return await client.readToEnd();
    },
    async waitForLog(text: string | RegExp, timeoutMs = 5000): Promise<string> {
      const has = (l: string): boolean =>
        typeof text === "string" ? l.includes(text) : text.test(l);
      for (let waited = 0;; waited += 10) {
        const line = logs.find(has);
        if (line !== undefined) return line;
        if (waited >= timeoutMs) {
          throw new Error(`no log line with ${text} in ${timeoutMs} ms:\n${logs.join("\n")}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    close,
    [Symbol.asyncDispose]: () => close(),
  };
}
