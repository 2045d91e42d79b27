/**
 * A server under test as a child process: started, its port learned from the
 * `listening on tcp://127.0.0.1:PORT` line it prints, then stopped with
 * SIGTERM and awaited.
 * @module
 */

/** How the child process ended. */
export interface ServerExit {
  /** The exit code (128 + signal number when killed by a signal). */
  code: number;
  /** True when it did not stop within the grace time after SIGTERM and was killed. */
  killed: boolean;
  /** What it wrote to standard error while it ran. */
  stderr: string;
}

/** A running server child process. */
export interface ServerProcess {
  /** The child's process id. */
  readonly pid: number;
  /** The port it listens on. */
  readonly port: number;
  /** Sends SIGTERM, waits up to `graceMs` (then SIGKILL), and reports how it ended. */
  stop(graceMs?: number): Promise<ServerExit>;
}

const LISTENING = /^listening on tcp:\/\/127\.0\.0\.1:(\d+)$/;

/** Keeps reading a stream into text, so the child never blocks on a full pipe. */
async function collect(stream: ReadableStream<Uint8Array>): Promise<string> {
  let text = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) text += chunk;
  return text;
}

/** Reads `stdout` up to its first line; the rest of the stream is drained and dropped. */
async function firstLine(stdout: ReadableStream<Uint8Array>): Promise<string | null> {
  const reader = stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return null;
    text += value;
    const newline = text.indexOf("\n");
    if (newline >= 0) {
      (async (): Promise<void> => {
        while (!(await reader.read()).done) { /* drain */ }
      })().catch(() => {});
      return text.slice(0, newline);
    }
  }
}

function timeout<T>(ms: number, value: T): { promise: Promise<T>; cancel: () => void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<T>((resolve) => timer = setTimeout(() => resolve(value), ms));
  return { promise, cancel: (): void => clearTimeout(timer) };
}

/**
 * Starts `command` with `args` in `cwd` and resolves once it printed
 * its `listening on` line; throws (after killing it) when it does not within
 * `startMs`.
 */
export async function startServer(
  command: string,
  args: string[],
  cwd: string,
  startMs = 15000,
): Promise<ServerProcess> {
  const child = new Deno.Command(command, {
    args,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = collect(child.stderr);
  const limit = timeout(startMs, "timeout" as const);
  const line = await Promise.race([firstLine(child.stdout), limit.promise]);
  limit.cancel();
  const port = typeof line === "string" ? LISTENING.exec(line)?.[1] : undefined;
  if (port === undefined) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await child.status;
    const why = line === "timeout"
      ? `no "listening on" line within ${startMs} ms`
      : line === null
      ? "exited before it printed a line"
      : `printed ${JSON.stringify(line)} instead of "listening on tcp://127.0.0.1:PORT"`;
    throw new Error(`server ${args.join(" ")}: ${why}\n${await stderr}`);
  }

  return {
    pid: child.pid,
    port: Number(port),
    async stop(graceMs = 10000): Promise<ServerExit> {
      try {
        child.kill("SIGTERM");
      } catch {
        // It already exited; its status says how.
      }
      const limit = timeout(graceMs, null);
      let status = await Promise.race([child.status, limit.promise]);
      limit.cancel();
      const killed = status === null;
      if (status === null) {
        child.kill("SIGKILL");
        status = await child.status;
      }
      return { code: status.code, killed, stderr: await stderr };
    },
  };
}
