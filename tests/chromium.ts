/**
 * Headless Chromium (Debian package `chromium`) for the browser tests: the
 * one place its command and flags are written, the processes it leaves, and a
 * page driven over the DevTools protocol (evaluate an expression, take a
 * screenshot, close the page).
 * @module
 */

/** The browser's command. */
export const CHROMIUM = "chromium";
/** How long Chromium's helper processes may outlive it before they are killed (and the test fails). */
const LEFTOVER_GUARD_MS = 30_000;
/** How long Chromium may take to open its DevTools port: a guard against a hang, not a measure. */
const START_GUARD_MS = 60_000;

/**
 * Pids of the live processes whose command line mentions `text`, from Linux
 * `/proc` (read by `grep`: Deno asks `--allow-all` for `/proc`). The text goes
 * by the environment, so that neither `sh` nor `grep` mentions it.
 */
export async function processesMentioning(text: string): Promise<number[]> {
  if (Deno.build.os !== "linux") return [];
  const out = await new Deno.Command("/bin/sh", {
    args: ["-c", 'printf %s "$NEEDLE" | grep -lsF -f - /proc/[0-9]*/cmdline'],
    env: { NEEDLE: text },
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).output();
  const pids = new TextDecoder().decode(out.stdout).match(/(?<=^\/proc\/)\d+(?=\/cmdline$)/gm);
  return (pids ?? []).map(Number);
}

/**
 * Waits until no process mentions `dir` (Chromium's helpers, its crash
 * handler, which end after it); kills what is left after `LEFTOVER_GUARD_MS`
 * and returns their pids.
 */
export async function noProcessLeft(dir: string): Promise<number[]> {
  const deadline = Date.now() + LEFTOVER_GUARD_MS;
  let left = await processesMentioning(dir);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    left = await processesMentioning(dir);
  }
  for (const pid of left) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  return left;
}

/** The environment that keeps everything Chromium writes outside its profile under `dir`. */
function chromiumEnv(dir: string): Record<string, string> {
  return {
    HOME: dir,
    XDG_CONFIG_HOME: `${dir}/config`,
    XDG_CACHE_HOME: `${dir}/cache`,
    XDG_DATA_HOME: `${dir}/data`,
  };
}

/** The message when Chromium is missing: the browser tests need it. */
function chromiumMissing(): Error {
  return new Error(
    `${CHROMIUM} is not installed: this test needs headless Chromium; ` +
      `install it with \`apt-get install -y chromium\` (.ci/run does)`,
  );
}

/**
 * Starts headless Chromium with `args` after the flags every browser test
 * wants: headless, no sandbox (the tests may run as root), nothing fetched or
 * written outside `dir` (its profile is `dir/profile`). Its output is
 * `output` ("piped" to read it, as `--dump-dom` wants).
 */
export function spawnChromium(
  dir: string,
  args: readonly string[],
  output: "piped" | "null",
): Deno.ChildProcess {
  try {
    return new Deno.Command(CHROMIUM, {
      args: [
        "--headless=new",
        "--no-sandbox", // required as root
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-breakpad",
        `--user-data-dir=${dir}/profile`,
        ...args,
      ],
      env: chromiumEnv(dir),
      stdin: "null",
      stdout: output,
      stderr: output,
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw chromiumMissing();
    throw error;
  }
}

/** A page of a headless Chromium, driven over the DevTools protocol. */
export class BrowserPage implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  readonly #socket: WebSocket;
  readonly #dir: string;
  readonly #waiting = new Map<number, (message: CdpMessage) => void>();
  #next = 1;
  /** Pids of Chromium's processes that outlived it (and were killed), once closed. */
  left: number[] = [];

  private constructor(child: Deno.ChildProcess, socket: WebSocket, dir: string) {
    this.#child = child;
    this.#socket = socket;
    this.#dir = dir;
    socket.onmessage = (event: MessageEvent<string>): void => {
      const message = JSON.parse(event.data) as CdpMessage;
      if (message.id !== undefined) {
        this.#waiting.get(message.id)?.(message);
        this.#waiting.delete(message.id);
      }
    };
  }

  /**
   * Opens `url` in a headless Chromium whose profile and files are under
   * `dir` (a fresh directory the caller removes after {@linkcode close}).
   */
  static async open(url: string, dir: string, size = "1400,1000"): Promise<BrowserPage> {
    const child = spawnChromium(dir, [
      `--window-size=${size}`,
      "--remote-debugging-port=0",
      url,
    ], "null");
    try {
      const deadline = Date.now() + START_GUARD_MS;
      let page: string | undefined;
      while (page === undefined) {
        if (Date.now() > deadline) throw new Error(`${CHROMIUM} opened no DevTools page`);
        await new Promise((resolve) => setTimeout(resolve, 100));
        page = await BrowserPage.#pageSocket(dir, url);
      }
      const socket = new WebSocket(page);
      await new Promise((resolve, reject) => {
        socket.onopen = resolve;
        socket.onerror = () => reject(new Error(`cannot connect to ${page}`));
      });
      return new BrowserPage(child, socket, dir);
    } catch (error) {
      child.kill("SIGKILL");
      await child.status;
      throw error;
    }
  }

  /** The DevTools socket of the page showing `url`, once Chromium has one. */
  static async #pageSocket(dir: string, url: string): Promise<string | undefined> {
    let port: string;
    try {
      port = (await Deno.readTextFile(`${dir}/profile/DevToolsActivePort`)).split("\n")[0];
    } catch {
      return undefined;
    }
    try {
      const targets: { type: string; url: string; webSocketDebuggerUrl: string }[] =
        await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
      return targets.find((t) => t.type === "page" && t.url.startsWith(url))
        ?.webSocketDebuggerUrl;
    } catch {
      return undefined;
    }
  }

  /** Sends a DevTools command and returns its result. */
  async send(method: string, params: Record<string, unknown> = {}): Promise<CdpResult> {
    const id = this.#next++;
    const answer = new Promise<CdpMessage>((resolve) => this.#waiting.set(id, resolve));
    this.#socket.send(JSON.stringify({ id, method, params }));
    const message = await answer;
    if (message.error !== undefined) throw new Error(`${method}: ${message.error.message}`);
    return message.result ?? {};
  }

  /** The value of a JavaScript expression in the page (awaited when a promise). */
  async evaluate<T>(expression: string): Promise<T> {
    const result = await this.send("Runtime.evaluate", {
      expression,
      returnByValue: true,
      awaitPromise: true,
    });
    if (result.exceptionDetails !== undefined) {
      throw new Error(`${expression}: ${JSON.stringify(result.exceptionDetails)}`);
    }
    return result.result?.value as T;
  }

  /**
   * Waits until `expression` is true in the page, evaluating it every 100 ms;
   * throws with `describe`'s value after `guardMs` (a guard against a hang).
   */
  async waitFor(expression: string, describe: string, guardMs = 30_000): Promise<void> {
    const deadline = Date.now() + guardMs;
    while (!(await this.evaluate<boolean>(expression))) {
      if (Date.now() > deadline) {
        throw new Error(
          `not true in ${guardMs} ms: ${expression}; ${await this.evaluate(describe)}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** A PNG of the page as it is shown now, written to `file`. */
  async screenshot(file: string): Promise<void> {
    const { data } = await this.send("Page.captureScreenshot", { format: "png" });
    const binary = atob(data as string);
    await Deno.writeFile(file, Uint8Array.from(binary, (c) => c.charCodeAt(0)));
  }

  /**
   * Closes the page as a person closing its tab would (its scripts' sockets
   * are closed by the browser); only {@linkcode close} is left to call.
   */
  async closePage(): Promise<void> {
    const gone = new Promise((resolve) => {
      if (this.#socket.readyState === WebSocket.CLOSED) resolve(undefined);
      else this.#socket.addEventListener("close", resolve);
    });
    await Promise.race([this.send("Page.close"), gone]);
  }

  /** Closes the browser, and kills what it leaves behind (into {@linkcode left}). */
  async close(): Promise<void> {
    this.#socket.close();
    await new Promise((resolve) => {
      if (this.#socket.readyState === WebSocket.CLOSED) resolve(undefined);
      else this.#socket.onclose = resolve;
    });
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    await this.#child.status;
    this.left = await noProcessLeft(this.#dir);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** A DevTools protocol message: an answer to a command, or an event. */
interface CdpMessage {
  id?: number;
  result?: CdpResult;
  error?: { message: string };
}

/** The result of a DevTools command. */
type CdpResult = {
  result?: { value?: unknown };
  exceptionDetails?: unknown;
  data?: unknown;
};
