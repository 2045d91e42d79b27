/**
 * Test helpers: start a host in-process or as the CLI, and talk to it over
 * real TCP with a small line client.
 * @module
 */
import { createLogger, type GraphSpec, type Host, serve, type ServeOptions } from "../host/mod.ts";

const decoder = new TextDecoder();

/** The repository root, as a file URL. */
export const ROOT: URL = new URL("../", import.meta.url);
/** Path of a file under the repository root. */
export function path(relative: string): string {
  return new URL(relative, ROOT).pathname;
}

/**
 * A graph of one node `n` whose `in` and `out` are the graph's input and
 * output, served by one `tcp` listener with `tcpOptions`.
 */
export function oneNode(
  servlet: string,
  args: string[] = [],
  tcpOptions: Record<string, unknown> = {},
): GraphSpec {
  return {
    nodes: { n: { servlet, args } },
    input: "n.in",
    output: "n.out",
    listeners: [{ module: "tcp", options: tcpOptions }],
  };
}

/** A host started in-process, with the log lines it wrote. */
export interface TestHost extends AsyncDisposable {
  host: Host;
  /** `host:port` of the first listener. */
  port: number;
  /** Log lines written so far. */
  logs: string[];
}

/** Serves a graph file (path under the repository) or object on 127.0.0.1, port 0. */
export async function startHost(
  graph: string | GraphSpec,
  options: ServeOptions = {},
): Promise<TestHost> {
  const logs: string[] = [];
  const host = await serve(typeof graph === "string" ? path(graph) : graph, {
    host: "127.0.0.1",
    port: 0,
    logger: createLogger("debug", (line) => logs.push(line)),
    base: ROOT,
    ...options,
  });
  const port = Number(new URL(host.urls[0].replace(/^(tcp|tls):/, "http:")).port);
  return { host, port, logs, [Symbol.asyncDispose]: () => host.close(1000) };
}

/**
 * Waits until the host logged a line containing `text` (or matching it) and
 * returns that line; fails with every log line after 5 s.
 */
export async function waitForLog(h: TestHost, text: string | RegExp): Promise<string> {
  const has = (l: string): boolean => typeof text === "string" ? l.includes(text) : text.test(l);
  for (let waited = 0; waited < 5000; waited += 10) {
    const line = h.logs.find(has);
    if (line !== undefined) return line;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`no log line with ${text} in:\n${h.logs.join("\n")}`);
}

/** A real TCP client reading replies line by line: the testing kit's. */
export { TcpClient as Client } from "../testing/mod.ts";

/** The byte arrays one after the other, in one new array. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** What a finished CLI run printed. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The permission flags the CLI is run with unless a test says otherwise. */
export const CLI_PERMISSIONS = ["--allow-net=127.0.0.1", "--allow-read"];

/** The permission flags of a CLI run with `--workers`: it starts `deno` processes. */
export const WORKERS_PERMISSIONS = [...CLI_PERMISSIONS, `--allow-run=${Deno.execPath()}`];

/** Runs `main.ts` with `args` to its end; `input`, if given, on its standard input. */
export async function runCli(
  args: string[],
  permissions = CLI_PERMISSIONS,
  input?: string,
): Promise<CliResult> {
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissions, path("main.ts"), ...args],
    cwd: path("."),
    stdin: input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  });
  let out: Deno.CommandOutput;
  if (input === undefined) out = await command.output();
  else {
    const child = command.spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(input));
    await writer.close();
    out = await child.output();
  }
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** A CLI host process that printed its `listening on` line. */
export interface CliHost extends AsyncDisposable {
  process: Deno.ChildProcess;
  port: number;
  /** The URL of the `listening on` line: `tcp://127.0.0.1:PORT` or `tls://127.0.0.1:PORT`. */
  url: string;
  /**
   * Waits until the process has printed `expected` on standard error (a
   * string, or a pattern), and returns everything it printed there so far.
   * @throws after `timeoutMs` (default 5000) without it, with what was printed
   */
  waitForStderr(expected: string | RegExp, timeoutMs?: number): Promise<string>;
  /** What the process has printed on standard error so far. */
  stderrSoFar(): string;
  /** Sends a signal (unless it has exited) and returns what the process printed and its exit code. */
  stop(signal?: Deno.Signal): Promise<CliResult>;
}

/** Starts `main.ts` serving `args` and waits for its `listening on` line. */
export async function spawnCli(args: string[], permissions = CLI_PERMISSIONS): Promise<CliHost> {
  const process = new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissions, path("main.ts"), ...args],
    cwd: path("."),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const reader = process.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let stdout = "";
  while (!stdout.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    stdout += value;
  }
  const match = stdout.match(/^listening on ((?:tcp|tls):\/\/127\.0\.0\.1:(\d+))\n/);
  let stderrSoFar = "";
  const stderrText = (async (): Promise<string> => {
    for await (const text of process.stderr.pipeThrough(new TextDecoderStream())) {
      stderrSoFar += text;
    }
    return stderrSoFar;
  })();
  const waitForStderr = async (expected: string | RegExp, timeoutMs = 5000): Promise<string> => {
    const deadline = performance.now() + timeoutMs;
    const seen = (): boolean =>
      typeof expected === "string" ? stderrSoFar.includes(expected) : expected.test(stderrSoFar);
    while (!seen()) {
      if (performance.now() > deadline) {
        throw new Error(`no ${expected} on standard error in ${timeoutMs} ms: ${stderrSoFar}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return stderrSoFar;
  };
  if (!match) {
    process.kill("SIGKILL");
    await process.status;
    reader.releaseLock();
    throw new Error(`the host did not start: ${stdout}${await stderrText}`);
  }
  let stopped: Promise<CliResult> | undefined;
  const stop = (signal: Deno.Signal = "SIGTERM"): Promise<CliResult> =>
    stopped ??= (async () => {
      try {
        process.kill(signal);
      } catch {
        // It has exited by itself: what it printed and its status are still to be read.
      }
      const rest = (async () => {
        let text = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return text;
          text += value;
        }
      })();
      const status = await process.status;
      return { code: status.code, stdout: stdout + await rest, stderr: await stderrText };
    })();
  return {
    process,
    port: Number(match[2]),
    url: match[1],
    waitForStderr,
    stderrSoFar: () => stderrSoFar,
    stop,
    async [Symbol.asyncDispose](): Promise<void> {
      await stop();
    },
  };
}
