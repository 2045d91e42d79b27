/**
 * The plumb command line: load, check and serve a `graph.json`.
 *
 * ```sh
 * deno run --allow-net --allow-read main.ts examples/hello.json
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import denoJson from "./deno.json" with { type: "json" };
import { GraphError, PermissionHint, PlumbError } from "./kernel/errors.ts";
import { checkGraph, type Host, serve, type ServeOptions } from "./kernel/host.ts";
import { LOG_LEVELS, type LogLevel } from "./kernel/log.ts";
import { describeError } from "./kernel/scheduler.ts";

const USAGE = `plumb ${denoJson.version}: serve a graph of servlets

Usage:
  deno run --allow-net --allow-read main.ts GRAPH.json [options]

Options:
  --host HOST         listen address of the first listener
  --port PORT         port of the first listener (0 picks a free port)
  --check             load and check the graph, print a summary, exit
  --log-level LEVEL   error, warn, info (default) or debug
  -h, --help          show this help
  -V, --version       print the version

Exit status: 0 served and stopped, 2 bad command line or graph, 1 other failure.
`;

/** A failure of the command line: message and exit status. */
class CliExit extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

function parse(argv: string[]): { graph: string; options: ServeOptions; check: boolean } | string {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        host: { type: "string" },
        port: { type: "string" },
        check: { type: "boolean" },
        "log-level": { type: "string" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "V" },
      },
    });
  } catch (error) {
    throw new CliExit(`${(error as Error).message}; see --help`, 2);
  }
  const { values, positionals } = parsed;
  if (values.help) return USAGE;
  if (values.version) return `plumb ${denoJson.version}\n`;
  if (positionals.length !== 1) {
    throw new CliExit(
      positionals.length === 0
        ? "no graph file given; usage: main.ts GRAPH.json [options], see --help"
        : `one graph file expected, got ${positionals.length}: ${positionals.join(" ")}`,
      2,
    );
  }
  const options: ServeOptions = {};
  if (values.host !== undefined) options.host = values.host;
  if (values.port !== undefined) {
    const port = Number(values.port);
    if (!/^\d+$/.test(values.port) || port > 65535) {
      throw new CliExit(`--port must be a whole number from 0 to 65535, got "${values.port}"`, 2);
    }
    options.port = port;
  }
  const level = values["log-level"];
  if (level !== undefined) {
    if (!LOG_LEVELS.includes(level as LogLevel)) {
      throw new CliExit(`--log-level must be one of ${LOG_LEVELS.join(", ")}, got "${level}"`, 2);
    }
    options.logLevel = level as LogLevel;
  }
  return { graph: positionals[0], options, check: values.check ?? false };
}

function waitForSignal(host: Host): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const stop = (): void => {
      if (stopping) Deno.exit(130);
      stopping = true;
      console.error("plumb: stopping (a second signal exits at once)");
      host.close().then(resolve);
    };
    Deno.addSignalListener("SIGINT", stop);
    if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", stop);
  });
}

async function main(argv: string[]): Promise<number> {
  const command = parse(argv);
  if (typeof command === "string") {
    await Deno.stdout.write(new TextEncoder().encode(command));
    return 0;
  }
  if (command.check) {
    const checked = await checkGraph(command.graph, command.options);
    console.log(
      `${checked.file}: ok: ${checked.nodes.length} node(s), ${checked.edges} edge(s), ` +
        `${checked.listeners.length} listener(s)`,
    );
    return 0;
  }
  const host = await serve(command.graph, command.options);
  const stopped = waitForSignal(host); // listen for signals before telling anyone we listen
  for (const url of host.urls) console.log(`listening on ${url}`);
  await stopped;
  return 0;
}

/**
 * Keeps the host up when a servlet leaves a promise rejected with no handler
 * or throws from a timer: that failure is logged, and every other connection
 * goes on being served.
 */
function survive(): void {
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    console.error(
      `plumb error: unhandled rejection (from a servlet?): ${describeError(event.reason)}`,
    );
  });
  globalThis.addEventListener("error", (event) => {
    event.preventDefault();
    console.error(
      `plumb error: uncaught exception (from a servlet?): ${describeError(event.error)}`,
    );
  });
}

if (import.meta.main) {
  survive();
  let status: number;
  try {
    status = await main(Deno.args);
  } catch (error) {
    if (error instanceof CliExit) {
      console.error(`plumb: ${error.message}`);
      status = error.status;
    } else if (error instanceof GraphError || error instanceof PermissionHint) {
      console.error(`plumb: ${error.message}`);
      status = 2;
    } else if (error instanceof Deno.errors.NotCapable) {
      console.error(`plumb: ${error.message.split("\n")[0]}; run deno with the flag it names`);
      status = 2;
    } else if (error instanceof PlumbError) {
      console.error(`plumb: ${error.message}`);
      status = 1;
    } else {
      console.error(`plumb: unexpected failure:`, error);
      status = 1;
    }
  }
  Deno.exit(status);
}
