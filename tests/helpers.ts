/**
 * Test helpers: start a host in-process or as the CLI, and talk to it over
 * real TCP with a small line client.
 * @module
 */
import { createLogger, type GraphSpec, type Host, serve, type ServeOptions } from "../mod.ts";

const encoder = new TextEncoder();
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

/** A node running `tests/fixtures/spy.ts`, which records each exec under `label`. */
export function spy(label: string): { servlet: string; args: string[] } {
  return { servlet: "./tests/fixtures/spy.ts", args: [label] };
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
  const port = Number(new URL(host.urls[0].replace("tcp:", "http:")).port);
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

/** A real TCP client reading replies line by line. */
export class Client implements AsyncDisposable {
  readonly conn: Deno.TcpConn;
  #pending = new Uint8Array(0);
  #closed = false;

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
  }

  /** Connects to 127.0.0.1:`port`. */
  static async connect(port: number): Promise<Client> {
    return new Client(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /** Sends bytes or a string, all of it. */
  async send(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    let offset = 0;
    while (offset < bytes.length) offset += await this.conn.write(bytes.subarray(offset));
  }

  async #fill(): Promise<boolean> {
    const buf = new Uint8Array(65536);
    let n: number | null;
    try {
      n = await this.conn.read(buf);
    } catch (error) {
      if (error instanceof Deno.errors.ConnectionReset) n = null;
      else throw error;
    }
    if (n === null) return false;
    const next = new Uint8Array(this.#pending.length + n);
    next.set(this.#pending);
    next.set(buf.subarray(0, n), this.#pending.length);
    this.#pending = next;
    return true;
  }

  /** The next reply line with its `\n`, or `null` when the server closed first. */
  async readLine(): Promise<string | null> {
    for (;;) {
      const nl = this.#pending.indexOf(10);
      if (nl >= 0) {
        const line = decoder.decode(this.#pending.subarray(0, nl + 1));
        this.#pending = this.#pending.slice(nl + 1);
        return line;
      }
      if (!(await this.#fill())) return null;
    }
  }

  /** Everything until the server closes the connection. */
  async readToEnd(): Promise<string> {
    while (await this.#fill());
    const text = decoder.decode(this.#pending);
    this.#pending = new Uint8Array(0);
    return text;
  }

  /** True when the server closed the connection (reads EOF) with nothing more to read. */
  async closedByServer(): Promise<boolean> {
    return this.#pending.length === 0 && !(await this.#fill());
  }

  /** Half-closes: the server reads EOF, the client can still read. */
  closeWrite(): Promise<void> {
    return this.conn.closeWrite();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

/** What a finished CLI run printed. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The permission flags the CLI is run with unless a test says otherwise. */
export const CLI_PERMISSIONS = ["--allow-net=127.0.0.1", "--allow-read"];

/** Runs `main.ts` with `args` to its end. */
export async function runCli(args: string[], permissions = CLI_PERMISSIONS): Promise<CliResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissions, path("main.ts"), ...args],
    cwd: path("."),
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** A CLI host process that printed its `listening on` line. */
export interface CliHost extends AsyncDisposable {
  process: Deno.ChildProcess;
  port: number;
  /**
   * Waits until the process has printed `expected` on standard error (a
   * string, or a pattern), and returns everything it printed there so far.
   * @throws after `timeoutMs` (default 5000) without it, with what was printed
   */
  waitForStderr(expected: string | RegExp, timeoutMs?: number): Promise<string>;
  /** Sends a signal and returns what the process printed and its exit code. */
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
  const match = stdout.match(/^listening on tcp:\/\/127\.0\.0\.1:(\d+)\n/);
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
      process.kill(signal);
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
    port: Number(match[1]),
    waitForStderr,
    stop,
    async [Symbol.asyncDispose](): Promise<void> {
      await stop();
    },
  };
}
