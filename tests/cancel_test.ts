/**
 * Cancellation (SPEC S3): `task.signal` aborts when the request's connection
 * is reset, its `requestTimeout` passes, or the host stops serving it; `exec`
 * kills its program at once on it, and a servlet's `fetch` with it is
 * cancelled. A client that only half-closes is still answered.
 */
import net from "node:net";
import { assert, assertEquals } from "./assert.ts";
import { Client, path, startHost, waitForLog } from "./helpers.ts";
import type { GraphSpec } from "../host/mod.ts";
import { outcomes, resume } from "./fixtures/cancel.ts";

const TMP = "tests/.tmp";

/** `line` -> `exec ARGS`: the program runs once per line. */
function perLine(args: string[]): GraphSpec {
  return {
    nodes: { split: { servlet: "line" }, run: { servlet: "exec", args } },
    edges: [{ from: "split.out", to: "run.in" }],
    input: "split.in",
    output: "run.out",
    listeners: [{ module: "tcp" }],
  };
}

/** The `cancel.ts` fixture alone, with `tcp` options. */
function canceller(tcp: Record<string, unknown> = {}): GraphSpec {
  return {
    nodes: { c: { servlet: "./tests/fixtures/cancel.ts" } },
    input: "c.in",
    output: "c.out",
    listeners: [{ module: "tcp", options: tcp }],
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until `outcomes` holds `entry` (a string, or a line matching a pattern); returns it. */
async function outcome(entry: string | RegExp): Promise<string> {
  const has = (o: string): boolean => typeof entry === "string" ? o === entry : entry.test(o);
  for (let waited = 0; waited < 5000; waited += 10) {
    const found = outcomes.find(has);
    if (found !== undefined) return found;
    await sleep(10);
  }
  throw new Error(`no outcome ${entry} in ${JSON.stringify(outcomes)}`);
}

/** True while process `pid` runs (a zombie does not count). */
async function alive(pid: number): Promise<boolean> {
  const out = await new Deno.Command("ps", { args: ["-o", "stat=", "-p", String(pid)] }).output();
  const stats = new TextDecoder().decode(out.stdout).split("\n").map((s) => s.trim());
  return stats.some((stat) => stat !== "" && !stat.startsWith("Z"));
}

/** The pid a program wrote to `file`, once it has. */
async function readPid(file: string): Promise<number> {
  for (let waited = 0; waited < 5000; waited += 10) {
    const text = await Deno.readTextFile(file).catch(() => "");
    if (text.endsWith("\n")) return Number(text);
    await sleep(10);
  }
  throw new Error(`no pid in ${file}`);
}

/** A client that sends `text` and then resets the connection (an abortive close, RST). */
class ResettingClient {
  readonly #socket: net.Socket;
  private constructor(socket: net.Socket) {
    this.#socket = socket;
  }
  static async connect(port: number): Promise<ResettingClient> {
    const socket = net.connect(port, "127.0.0.1");
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", () => resolve());
      socket.once("error", reject);
    });
    socket.on("error", () => {}); // the reset is ours
    return new ResettingClient(socket);
  }
  send(text: string): Promise<void> {
    return new Promise((resolve, reject) =>
      this.#socket.write(text, (error) => error ? reject(error) : resolve())
    );
  }
  /** Resets the connection and waits until the socket is closed. */
  async reset(): Promise<void> {
    const closed = new Promise((resolve) => this.#socket.once("close", resolve));
    this.#socket.resetAndDestroy();
    await closed;
  }
}

Deno.test("exec: a client that resets the connection mid-request: its program is killed at once", async () => {
  await Deno.mkdir(path(TMP), { recursive: true });
  const file = path(`${TMP}/cancel-reset.pid`);
  await Deno.remove(file).catch(() => {});
  // A time limit of a minute: only the cancellation can end the program during the test.
  await using h = await startHost(
    perLine(["--timeout", "60", "sh", "-c", `echo $$ > '${file}'; exec sleep 30`]),
  );
  const client = await ResettingClient.connect(h.port);
  await client.send("go\n");
  const pid = await readPid(file);
  assertEquals(await alive(pid), true);
  await client.reset();
  const line = await waitForLog(h, `node "run" (exec) failed`);
  assert(/exec: sh: the client has gone \(.*\); killed it$/.test(line), line);
  // exec resolves only once its program has exited and been reaped.
  assertEquals(await alive(pid), false, `process ${pid} still runs`);
});

Deno.test("exec: a client that half-closes after its line still gets the reply (no cancellation)", async () => {
  await using h = await startHost(perLine(["sh", "-c", 'read line; sleep 0.2; echo "done $line"']));
  await using c = await Client.connect(h.port);
  await c.send("go\n");
  await c.closeWrite();
  assertEquals(await c.readToEnd(), "done go\n");
});

Deno.test("fetch with task.signal is cancelled when the client resets the connection", async () => {
  outcomes.length = 0;
  // A server that accepts and never answers.
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = silent.accept();
  await using h = await startHost(canceller());
  const client = await ResettingClient.connect(h.port);
  await client.send(`fetch http://127.0.0.1:${silent.addr.port}/never\n`);
  const conn = await accepted;
  await outcome("fetch: started");
  await client.reset();
  const result = await outcome(/^fetch: (?!started)/);
  assert(/^fetch: AbortError: the client has gone \(.+\)$/.test(result), result);
  // The fetch's own connection was closed: the silent server reads its end.
  const buffer = new Uint8Array(4096);
  let end: number | null = 0;
  while (end !== null) end = await conn.read(buffer).catch(() => null);
  conn.close();
  silent.close();
});

Deno.test("while a request watches its connection (task.signal), bytes that arrive wait for the next request", async () => {
  outcomes.length = 0;
  await using h = await startHost(canceller());
  await using c = await Client.connect(h.port);
  await c.send("pause\n");
  await outcome("pause: started");
  await c.send("later\n");
  await sleep(100); // time for the session's watch to read them, mid-request
  resume();
  assertEquals(await c.readLine(), "pause: eof=true next=null\n", "not this request's bytes");
  assertEquals(await c.readLine(), "later (signal live)\n", "the next request's");
});

Deno.test("task.signal aborts when the request's requestTimeout passes", async () => {
  outcomes.length = 0;
  await using h = await startHost(canceller({ requestTimeout: 0.2 }));
  await using c = await Client.connect(h.port);
  await c.send("live\n");
  assertEquals(await c.readLine(), "live (signal live)\n");
  await c.send("wait\n");
  assertEquals(await c.readToEnd(), "error: request took longer than 0.2 s\n");
  assertEquals(outcomes, ["wait: started", "wait: TimeoutError: request took longer than 0.2 s"]);
});

Deno.test("task.signal aborts when the host stops serving the request (host.close)", async () => {
  outcomes.length = 0;
  const h = await startHost(canceller());
  await using c = await Client.connect(h.port);
  await c.send("wait\n");
  await outcome("wait: started");
  await h.host.close(50);
  assertEquals(outcomes, [
    "wait: started",
    "wait: AbortError: the connection closed (the host stops serving it)",
  ]);
  assertEquals(await c.readToEnd(), "");
});
