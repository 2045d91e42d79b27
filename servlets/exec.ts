/**
 * `exec`: runs a program for each request, the inetd way of reusing any
 * program (Plumber's `language/exec`). The request's input is the program's
 * standard input, its standard output is the node's output `out` and its
 * standard error the output `err`. Both ways stream with backpressure: the
 * input is written while the output is read, so a program that writes
 * before it has read all its input does not deadlock, and neither side is
 * held in memory whole.
 *
 * Arguments: options first, then the program and its arguments.
 *
 * - `--timeout S` (or `--timeout=S`): seconds the program may run, decimals
 *   allowed, default 10. Then it gets `SIGTERM`, a second later `SIGKILL`,
 *   and the request fails with `did not finish in S s`.
 * - `--persist`: declare the input `INPUT | PERSIST`, so that as the graph's
 *   first node the connection stays open for the next request. Without it
 *   the connection closes after one reply (inetd's `nowait`).
 * - `--cwd DIR` (or `--cwd=DIR`): the program's working directory, relative
 *   to the graph file.
 * - `--env NAME=VALUE`: give the program the variable `NAME` with this value;
 *   `--env NAME`: give it the host's own `NAME` (read once, at start; the
 *   host needs `--allow-env=NAME`, and an unset one is left out). The
 *   program's environment is only what these name: nothing of the host's
 *   passes otherwise (its secrets included). A bare program name is still
 *   found in the host's `PATH`.
 * - `--max-running N` (default 32): programs this node runs at once. A
 *   request past it waits for a turn, at most `--timeout`, then fails; one
 *   cancelled while it waits (`task.signal`) runs nothing.
 * - `--max-waiting N` (default 128): requests that may wait for a turn at
 *   once; more fail at once (0: none waits).
 * - `--`: ends the options (for a program whose name starts with `-`).
 *
 * A program path with a `/` in it is relative to the graph file; a bare name
 * is looked up in `PATH`. The host needs `--allow-run=PROGRAM`; without it
 * `init` fails and names the flag.
 *
 * A request fails (so the graph's `__error__` output, or the listener's
 * `errorReply`, applies) when the program exits with a status other than 0
 * or dies by a signal: the message names the program, the status and the
 * first line the program wrote on standard error. A program is never left
 * running after its request: it is killed when the time limit passes, when
 * writing its output fails, when its input fails (an upstream node failed),
 * when the request is cancelled (`task.signal`: its client resets the
 * connection, the listener's `requestTimeout` passes, the host stops serving
 * it) and when the node unloads (the host stops or a reload retires the graph).
 * Under `--allow-run` for every program, the program runs in a process group
 * of its own and the whole group is signalled, so what a shell script started
 * goes too; under `--allow-run=PROGRAM` only the program itself can be.
 *
 * As the graph's first node, a request's input is what one read of the
 * connection brought; put `line` before it to run the program once per line.
 * On a listener with `open`, the program also runs when a connection opens,
 * with an empty input (a greeting).
 *
 * Ports: `in` (input, `PERSIST` with `--persist`), `out` (output: standard
 * output), `err` (output: standard error; unconnected, it is discarded).
 *
 * @example
 * ```json
 * { "servlet": "exec", "args": ["--timeout", "5", "tr", "a-z", "A-Z"] }
 * ```
 * @module
 */
import {
  type Code,
  defineServlet,
  PermissionHint,
  PlumbError,
  type Port,
  type Servlet,
  type Task,
} from "../mod.ts";
import { RunSlots } from "./_run_slots.ts";

const USAGE =
  "args are [--timeout S] [--persist] [--cwd DIR] [--env NAME[=VALUE]]... [--max-running N] [--max-waiting N] [--] PROGRAM [ARG...]";
/** Default time limit of a program, in seconds. */
const DEFAULT_TIMEOUT_S = 10;
/** Longest time limit: what `setTimeout` can wait, in whole seconds. */
const MAX_TIMEOUT_S = 2_147_483;
/** How long a program has between `SIGTERM` and `SIGKILL`, in ms. */
const KILL_AFTER_MS = 1000;
/** Bytes of standard error kept for the failure message. */
const STDERR_HEAD_BYTES = 1024;
/** Longest first line of standard error put in a failure message, in characters. */
const STDERR_LINE_CHARS = 200;
/** Default most programs one node runs at once. */
const DEFAULT_MAX_RUNNING = 32;
/** Default most requests waiting for a turn at once. */
const DEFAULT_MAX_WAITING = 128;
/** What an environment variable's name may be. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** What an `exec` node's arguments say. */
export interface ExecOptions {
  /** The program as the graph names it, for messages. */
  readonly name: string;
  /** The program to run: a name looked up in `PATH`, or an absolute path. */
  readonly program: string;
  /** The program's arguments. */
  readonly args: readonly string[];
  /** Seconds the program may run. */
  readonly timeout: number;
  /** The input port is declared `PERSIST`. */
  readonly persist: boolean;
  /** The program's working directory, absolute; `undefined`: the host's. */
  readonly cwd: string | undefined;
  /**
   * The program's environment, by name: a value given, or `undefined` for
   * the host's own value of that name.
   */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Most programs running at once. */
  readonly maxRunning: number;
  /** Most requests waiting for a turn at once. */
  readonly maxWaiting: number;
}

/** A program an `exec` node is running for a request. */
export interface RunningProgram {
  /** The program's process id. */
  readonly pid: number;
  /**
   * Kills the program (`SIGTERM`, then `SIGKILL` a second later) and fails
   * its request with `reason`; resolves once it is gone.
   */
  stop(reason: Error): Promise<void>;
}

/** What an `exec` node keeps, and each of its runs reads. */
interface ExecContext {
  /** What the arguments say. */
  readonly options: ExecOptions;
  /** The command every request spawns. */
  readonly command: Deno.Command;
  /** Signal the program's whole process group (needs `--allow-run` for every program). */
  readonly group: boolean;
  /** The programs running now, one per request in flight. */
  readonly running: Set<RunningProgram>;
  /** Turns to run a program: `--max-running` and `--max-waiting`. */
  readonly slots: RunSlots;
  /** Set once the node unloads: a request that gets its turn after that runs nothing. */
  unloaded: boolean;
  /** The program's standard input. */
  readonly input: Port;
  /** The program's standard output. */
  readonly output: Port;
  /** The program's standard error. */
  readonly errors: Port;
}

function usage(code: Code, what: string): PlumbError {
  return new PlumbError(code, `exec: ${what}; ${USAGE}`);
}

function parseTimeout(text: string): number {
  const seconds = /^\s*$/.test(text) ? NaN : Number(text);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > MAX_TIMEOUT_S) {
    throw usage(
      "PLUMB_EXEC_BAD_TIMEOUT",
      `--timeout ${JSON.stringify(text)} is not a number of seconds above 0 ` +
        `and at most ${MAX_TIMEOUT_S} (for example 5 or 0.5)`,
    );
  }
  return seconds;
}

/** The path `relative` names against the graph file's URL. */

/**
 * Reads an `exec` node's arguments.
 *
 * @param args the node's `args`
 * @param base the graph file's URL, which `--cwd` and a program path are relative to
 * @returns what they say
 * @throws {PlumbError} naming the argument that is wrong, with the usage
 */
export function parseExecArgs(
  args: readonly string[],
  path: (relative: string, what: string) => string,
): ExecOptions {
  let timeout = DEFAULT_TIMEOUT_S;
  let persist = false;
  let cwd: string | undefined;
  const env: Record<string, string | undefined> = Object.create(null);
  let maxRunning = DEFAULT_MAX_RUNNING;
  let maxWaiting = DEFAULT_MAX_WAITING;
  const count = (option: string, text: string, min: number): number => {
    const n = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min) {
      throw usage("PLUMB_EXEC_BAD_COUNT", `${option} needs a whole number, ${min} or more`);
    }
    return n;
  };
  const setEnv = (spec: string): void => {
    const eq = spec.indexOf("=");
    const name = eq < 0 ? spec : spec.slice(0, eq);
    if (!ENV_NAME.test(name)) {
      throw usage("PLUMB_EXEC_BAD_ENV", `--env ${JSON.stringify(spec)} is not NAME or NAME=VALUE`);
    }
    env[name] = eq < 0 ? undefined : spec.slice(eq + 1);
  };
  let i = 0;
  const valueOf = (option: string): string => {
    const value = args[++i];
    if (value === undefined) throw usage("PLUMB_EXEC_NO_VALUE", `${option} needs a value`);
    return value;
  };
  for (; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      i++;
      break;
    }
    if (!arg.startsWith("-") || arg === "-") break;
    if (arg === "--timeout") timeout = parseTimeout(valueOf(arg));
    else if (arg.startsWith("--timeout=")) timeout = parseTimeout(arg.slice("--timeout=".length));
    else if (arg === "--persist") persist = true;
    else if (arg === "--cwd") cwd = valueOf(arg);
    else if (arg.startsWith("--cwd=")) cwd = arg.slice("--cwd=".length);
    else if (arg === "--env") setEnv(valueOf(arg));
    else if (arg.startsWith("--env=")) setEnv(arg.slice("--env=".length));
    else if (arg === "--max-running") maxRunning = count(arg, valueOf(arg), 1);
    else if (arg === "--max-waiting") maxWaiting = count(arg, valueOf(arg), 0);
    else throw usage("PLUMB_EXEC_UNKNOWN_OPTION", `unknown option ${JSON.stringify(arg)}`);
  }
  const name = args[i];
  if (name === undefined || name === "") throw usage("PLUMB_EXEC_NO_PROGRAM", "no program given");
  if (cwd === "") throw usage("PLUMB_EXEC_EMPTY_CWD", "--cwd needs a directory");
  return {
    name,
    program: name.includes("/") ? path(name, "exec: program") : name,
    args: args.slice(i + 1),
    timeout,
    persist,
    cwd: cwd === undefined ? undefined : path(cwd, "exec: --cwd"),
    env,
    maxRunning,
    maxWaiting,
  };
}

/**
 * The program's environment: each value given, and the host's own value of
 * each name given alone (an unset one left out).
 * @throws {PermissionHint} when the host may not read a variable it is to pass on
 */
function environment(options: ExecOptions): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.env)) {
    if (value !== undefined) {
      env[name] = value;
      continue;
    }
    if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") {
      throw new PermissionHint(
        "PLUMB_PERMISSION_ENV",
        `exec: cannot read ${name} for --env ${name}`,
        `--allow-env=${name}`,
      );
    }
    const host = Deno.env.get(name);
    if (host !== undefined) env[name] = host;
  }
  return env;
}

/** Refuses a working directory that is known not to exist (when the host may look). */
function checkDirectory(cwd: string): void {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(cwd);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new PlumbError("PLUMB_EXEC_NO_CWD", `exec: --cwd ${cwd}: no such directory`);
    }
    return; // Not allowed to look (no --allow-read for it): spawning will tell.
  }
  if (!info.isDirectory) {
    throw new PlumbError("PLUMB_EXEC_CWD_NOT_DIR", `exec: --cwd ${cwd}: not a directory`);
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** True when a write to the program's input failed because the program closed it. */
function isClosedByProgram(error: unknown): boolean {
  return error instanceof Deno.errors.BrokenPipe;
}

/** A chunk to keep: one that uses little of a large buffer is copied, so the buffer is not held. */
function compact(chunk: Uint8Array): Uint8Array {
  return chunk.byteLength * 4 < chunk.buffer.byteLength ? chunk.slice() : chunk;
}

/** One run of the program, for one request. */
class Run implements RunningProgram {
  readonly #ctx: ExecContext;
  readonly #task: Task;
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #stdout: ReadableStreamDefaultReader<Uint8Array>;
  readonly #stderr: ReadableStreamDefaultReader<Uint8Array>;
  /** The first bytes of standard error. */
  #head = new Uint8Array(0);
  /** The feeder waits for the request's input (not for the program). */
  #feedWaitsForInput = false;
  /** The program has exited (its status is known). */
  #exited = false;
  /** `run` has returned: the task is over, nothing more is read or written. */
  #ended = false;
  #failure: Error | undefined;
  #stopping: Promise<void> | undefined;
  #stoppedSignal: () => void = () => {};
  /** Resolves once a stop has killed the program and closed its pipes. */
  readonly #stopped: Promise<void> = new Promise((resolve) => this.#stoppedSignal = resolve);

  constructor(ctx: ExecContext, task: Task, child: Deno.ChildProcess) {
    this.#ctx = ctx;
    this.#task = task;
    this.#child = child;
    this.#stdin = child.stdin.getWriter();
    this.#stdout = child.stdout.getReader();
    this.#stderr = child.stderr.getReader();
  }

  get pid(): number {
    return this.#child.pid;
  }

  stop(reason: Error): Promise<void> {
    if (this.#ended) return Promise.resolve();
    this.#failure ??= reason;
    return this.#stopping ??= this.#terminate();
  }

  /** Runs the program to its end; rejects when the request fails. */
  async run(): Promise<void> {
    const { name, timeout } = this.#ctx.options;
    const timer = setTimeout(
      () =>
        this.stop(
          new PlumbError(
            "PLUMB_EXEC_TIMEOUT",
            `exec: ${name} did not finish in ${timeout} s; killed it`,
          ),
        ),
      timeout * 1000,
    );
    // A cancelled request (its client gone, its time limit, the host stopping) kills it at once.
    const signal = this.#task.signal;
    const cancel = (): void => {
      this.stop(
        new PlumbError(
          "PLUMB_EXEC_CANCELLED",
          `exec: ${name}: ${message(signal.reason)}; killed it`,
        ),
      );
    };
    if (signal.aborted) cancel();
    else signal.addEventListener("abort", cancel, { once: true });
    const feeding = this.#feed();
    const pumping = Promise.all([
      this.#pump(this.#stdout, this.#ctx.output, false),
      this.#pump(this.#stderr, this.#ctx.errors, true),
    ]);
    try {
      const status = await this.#child.status;
      this.#exited = true;
      // The output ends when the last process holding it (the program, or
      // one it started) lets go; the time limit bounds that wait.
      await Promise.race([pumping, this.#stopped]);
      // The input is done, or failed on the closed pipe, unless the feeder
      // waits for input the program is no longer there to read.
      if (!this.#feedWaitsForInput) await Promise.race([feeding, this.#stopped]);
      if (this.#stopping !== undefined) await this.#stopping;
      if (this.#failure !== undefined) throw this.#failure;
      if (!status.success) {
        const code = status.signal !== null ? "PLUMB_EXEC_SIGNAL" : "PLUMB_EXEC_STATUS";
        throw new PlumbError(code, `exec: ${this.#describe(status)}`);
      }
    } finally {
      this.#ended = true;
      clearTimeout(timer);
      signal.removeEventListener("abort", cancel);
      this.#closePipes();
    }
  }

  /** Writes the request's input to the program's standard input, then closes it. */
  async #feed(): Promise<void> {
    try {
      for (;;) {
        this.#feedWaitsForInput = true;
        const chunk = await this.#task.read(this.#ctx.input);
        this.#feedWaitsForInput = false;
        // Stopped, or over: the pipe is closed by #closePipes.
        if (this.#ended || this.#stopping !== undefined) return;
        if (chunk === null) break;
        await this.#stdin.write(chunk);
      }
      await this.#stdin.close();
    } catch (error) {
      this.#feedWaitsForInput = false;
      // The program closed its input, or stopped, or the request is over:
      // the program did not want the rest, which is not a failure.
      if (isClosedByProgram(error) || this.#ended || this.#stopping !== undefined) return;
      this.stop(
        error instanceof Error ? error : new PlumbError("PLUMB_EXEC_PASS_ON", message(error)),
      );
    }
  }

  /** Copies one of the program's outputs to a port. */
  async #pump(
    reader: ReadableStreamDefaultReader<Uint8Array>,
    port: Port,
    isStderr: boolean,
  ): Promise<void> {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done || this.#ended) return;
        if (isStderr) this.#keepHead(value);
        await this.#task.write(port, compact(value));
      }
    } catch (error) {
      if (this.#ended) return;
      this.stop(
        new PlumbError(
          "PLUMB_EXEC_PASS_ON",
          `exec: ${this.#ctx.options.name}: cannot pass on its standard ${
            isStderr ? "error" : "output"
          }: ${message(error)}; killed it`,
          { cause: error },
        ),
      );
    }
  }

  #keepHead(chunk: Uint8Array): void {
    const room = STDERR_HEAD_BYTES - this.#head.length;
    if (room <= 0) return;
    const take = chunk.subarray(0, room);
    const head = new Uint8Array(this.#head.length + take.length);
    head.set(this.#head);
    head.set(take, this.#head.length);
    this.#head = head;
  }

  /** `sh exited with status 3: boom`, from the status and the first line of standard error. */
  #describe(status: Deno.CommandStatus): string {
    const what = status.signal !== null
      ? `${this.#ctx.options.name} was killed by ${status.signal}`
      : `${this.#ctx.options.name} exited with status ${status.code}`;
    const first = new TextDecoder().decode(this.#head).split("\n")[0].replace(/\r/g, "").trim();
    if (first === "") return `${what}; it wrote nothing on standard error`;
    const line = first.length > STDERR_LINE_CHARS
      ? `${first.slice(0, STDERR_LINE_CHARS)}...`
      : first;
    return `${what}: ${line}`;
  }

  /** Sends a signal to the program (and its process group, when allowed); a gone one is ignored. */
  #signal(signal: Deno.Signal): void {
    try {
      if (this.#ctx.group) Deno.kill(-this.#child.pid, signal);
      else if (!this.#exited) this.#child.kill(signal);
    } catch {
      // Already gone.
    }
  }

  /** `SIGTERM`, `SIGKILL` a second later if need be; then closes the pipes. */
  async #terminate(): Promise<void> {
    this.#signal("SIGTERM");
    const kill = setTimeout(() => this.#signal("SIGKILL"), KILL_AFTER_MS);
    try {
      await this.#child.status;
    } finally {
      clearTimeout(kill);
    }
    this.#exited = true;
    // What the program started and left in its group goes too.
    if (this.#ctx.group) this.#signal("SIGKILL");
    this.#closePipes();
    this.#stoppedSignal();
  }

  /** Stops reading and writing the program's pipes (processes it started may hold them open). */
  #closePipes(): void {
    this.#stdout.cancel().catch(() => {});
    this.#stderr.cancel().catch(() => {});
    this.#stdin.abort().catch(() => {});
  }
}

/** Why a program is stopped, or not started, as its node unloads. */
function UNLOADING(): PlumbError {
  return new PlumbError(
    "PLUMB_EXEC_UNLOADING",
    "exec: the node is unloading (the host stops); killed it",
  );
}

/** The `exec` servlet: a program per request, its input and output the request's. */
const execServlet: Servlet<ExecContext> = defineServlet({
  description: "runs a program per request: input to its standard input, its output back",
  init(args, env) {
    const options = parseExecArgs(args, env.path);
    const permission = Deno.permissions.querySync({ name: "run", command: options.program });
    if (permission.state !== "granted") {
      throw new PermissionHint(
        "PLUMB_PERMISSION_RUN",
        `exec: cannot run ${options.program}`,
        `--allow-run=${options.program}`,
      );
    }
    if (options.cwd !== undefined) checkDirectory(options.cwd);
    const group = Deno.permissions.querySync({ name: "run" }).state === "granted";
    return {
      options,
      command: new Deno.Command(options.program, {
        args: [...options.args],
        cwd: options.cwd,
        // Only what the arguments name: none of the host's environment otherwise.
        clearEnv: true,
        env: environment(options),
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
        // A process group of its own, to signal it with what it started.
        detached: group,
      }),
      group,
      running: new Set(),
      slots: new RunSlots(options.maxRunning, options.maxWaiting),
      unloaded: false as boolean,
      input: env.input("in", { persist: options.persist }),
      output: env.output("out"),
      errors: env.output("err"),
    };
  },
  async exec(ctx, task): Promise<void> {
    const { name, timeout, maxRunning, maxWaiting } = ctx.options;
    const signal = task.signal;
    const turn = await ctx.slots.take(timeout * 1000, signal);
    // The request went while it waited (its client left, its time limit): nothing to run.
    if (turn === "cancelled") return;
    if (turn === "full") {
      throw new PlumbError(
        "PLUMB_EXEC_FULL",
        `exec: ${name}: ${maxRunning} running and ${maxWaiting} waiting already ` +
          `(--max-running ${maxRunning}, --max-waiting ${maxWaiting}); try again later`,
      );
    }
    if (turn === "timeout") {
      throw new PlumbError(
        "PLUMB_EXEC_NO_TURN",
        `exec: ${name}: no turn to run within ${timeout} s, ${maxRunning} running ` +
          `(--max-running ${maxRunning})`,
      );
    }
    try {
      if (ctx.unloaded) throw UNLOADING();
      if (signal.aborted) return;
      let child: Deno.ChildProcess;
      try {
        child = ctx.command.spawn();
      } catch (error) {
        throw new PlumbError(
          "PLUMB_EXEC_SPAWN",
          `exec: cannot run ${ctx.options.program}: ${message(error)}`,
          { cause: error },
        );
      }
      const run = new Run(ctx, task, child);
      ctx.running.add(run);
      try {
        await run.run();
      } finally {
        ctx.running.delete(run);
      }
    } finally {
      turn();
    }
  },
  async unload(ctx): Promise<void> {
    ctx.unloaded = true;
    const reason = UNLOADING();
    await Promise.all([...ctx.running].map((run) => run.stop(reason)));
  },
});

export default execServlet;
