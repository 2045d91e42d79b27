/**
 * One readiness, one request (SPEC S3, S4): a read of a connection never
 * waits for bytes the client has not sent yet, except to finish a line cut
 * in two, and `eof` agrees with the reads. So a servlet that reads every line
 * of its input (the built-in `transform`) answers each line as it comes, to a
 * client that waits for the reply without half-closing: over TCP and a Unix
 * socket (with `socat` as the client, and Deno's), and on standard input and
 * output.
 */
import { assertEquals } from "./assert.ts";
import { Client, path, startHost } from "./helpers.ts";
import type { GraphSpec } from "../host/mod.ts";

const SOCKET = "/tmp/plumb-test.sock";

/** `transform upper` alone, on one listener. */
function upper(listener: { module: string; options?: Record<string, unknown> }): GraphSpec {
  return {
    nodes: { shout: { servlet: "transform", args: ["upper"] } },
    input: "shout.in",
    output: "shout.out",
    listeners: [listener],
  };
}

async function has(command: string): Promise<boolean> {
  try {
    return (await new Deno.Command("sh", { args: ["-c", `command -v ${command}`] }).output())
      .success;
  } catch {
    return false;
  }
}

const SOCAT = await has("socat");

/** A child process talked to line by line: write a line, read a line, as a person at a terminal. */
class LineProcess implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";

  constructor(command: string, args: string[]) {
    this.child = new Deno.Command(command, {
      args,
      cwd: path("."),
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    this.#writer = this.child.stdin.getWriter();
    this.#reader = this.child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  }

  /** Sends a line and waits for the one-line reply, without ending the input. */
  async ask(line: string): Promise<string | null> {
    await this.#writer.write(new TextEncoder().encode(`${line}\n`));
    for (;;) {
      const nl = this.#buffer.indexOf("\n");
      if (nl >= 0) {
        const reply = this.#buffer.slice(0, nl + 1);
        this.#buffer = this.#buffer.slice(nl + 1);
        return reply;
      }
      const { value, done } = await this.#reader.read();
      if (done) return null;
      this.#buffer += value;
    }
  }

  /** Ends the input, and returns the rest of the output and the exit code. */
  async finish(): Promise<{ rest: string; code: number }> {
    await this.#writer.close();
    let rest = this.#buffer;
    for (;;) {
      const { value, done } = await this.#reader.read();
      if (done) break;
      rest += value;
    }
    const status = await this.child.status;
    await this.child.stderr.cancel();
    return { rest, code: status.code };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await this.child.status;
    await this.#writer.close().catch(() => {});
    await this.#reader.cancel().catch(() => {});
    await this.child.stderr.cancel().catch(() => {});
  }
}

Deno.test("a request is one readiness: eof and the reads agree, and only a cut line is waited for", async () => {
  await using h = await startHost({
    nodes: { r: { servlet: "./tests/fixtures/readiness.ts" } },
    input: "r.in",
    output: "r.out",
    listeners: [{ module: "tcp" }],
  });
  await using c = await Client.connect(h.port);
  await c.send("a\nb\n");
  assertEquals(await c.readLine(), "a,b | eof=true read=null\n", "answered without more input");
  await c.send("c");
  await c.send("d\ne\n");
  assertEquals(await c.readLine(), "cd,e | eof=true read=null\n", "the cut line was finished");
  await c.send("last");
  await c.closeWrite();
  assertEquals(await c.readToEnd(), "last | eof=true read=null\n");
});

Deno.test("transform on tcp answers each line to a client that waits without half-closing", async () => {
  await using h = await startHost(upper({ module: "tcp" }));
  await using c = await Client.connect(h.port);
  await c.send("hello\n");
  assertEquals(await c.readLine(), "HELLO\n");
  await c.send("two\nlines\n");
  assertEquals(await c.readLines(2), ["TWO\n", "LINES\n"]);
  await c.send("still open\n");
  assertEquals(await c.readLine(), "STILL OPEN\n");
});

Deno.test("json/stringify as the first node answers each line too, and keeps the connection", async () => {
  await using h = await startHost({
    nodes: { show: { servlet: "json/stringify", args: ["--field", "name"] } },
    input: "show.in",
    output: "show.out",
    listeners: [{ module: "tcp" }],
  });
  await using c = await Client.connect(h.port);
  await c.send('{"name": "Plumber"}\n');
  assertEquals(await c.readLine(), '"Plumber"\n');
  await c.send('{"name": ["a", 1]}\n');
  assertEquals(await c.readLine(), '["a",1]\n');
});

Deno.test({
  name: "transform on tcp, with socat as the client: line by line",
  ignore: !SOCAT,
  async fn(): Promise<void> {
    await using h = await startHost(upper({ module: "tcp" }));
    await using socat = new LineProcess("socat", ["-", `TCP:127.0.0.1:${h.port}`]);
    assertEquals(await socat.ask("hello"), "HELLO\n");
    assertEquals(await socat.ask("plumb world"), "PLUMB WORLD\n");
    assertEquals(await socat.finish(), { rest: "", code: 0 });
  },
});

Deno.test({
  name: "transform on a unix socket, with socat and with Deno as the client: line by line",
  ignore: !SOCAT,
  async fn(): Promise<void> {
    await Deno.remove(SOCKET).catch(() => {});
    await using h = await startHost(upper({ module: "unix", options: { path: SOCKET } }), {
      host: undefined,
      port: undefined,
    });
    assertEquals(h.host.urls, [`unix://${SOCKET}`]);
    {
      await using socat = new LineProcess("socat", ["-", `UNIX-CONNECT:${SOCKET}`]);
      assertEquals(await socat.ask("over unix"), "OVER UNIX\n");
      assertEquals(await socat.ask("again"), "AGAIN\n");
      assertEquals(await socat.finish(), { rest: "", code: 0 });
    }
    const conn = await Deno.connect({ transport: "unix", path: SOCKET });
    try {
      const reply = new Uint8Array(64);
      for (const word of ["one", "two"]) {
        await conn.write(new TextEncoder().encode(`${word}\n`));
        const n = await conn.read(reply);
        assertEquals(
          new TextDecoder().decode(reply.subarray(0, n ?? 0)),
          `${word.toUpperCase()}\n`,
        );
      }
    } finally {
      conn.close();
    }
  },
});

Deno.test("transform on standard input and output (--stdio): line by line, then the end of input", async () => {
  const graph = path("tests/.tmp/transform-stdio.json");
  await Deno.mkdir(path("tests/.tmp"), { recursive: true });
  await Deno.writeTextFile(graph, JSON.stringify(upper({ module: "tcp" })));
  await using cli = new LineProcess(Deno.execPath(), [
    "run",
    "--allow-read",
    "main.ts",
    graph,
    "--stdio",
  ]);
  assertEquals(await cli.ask("typed at a terminal"), "TYPED AT A TERMINAL\n");
  assertEquals(await cli.ask("and another"), "AND ANOTHER\n");
  assertEquals(await cli.finish(), { rest: "", code: 0 });
});
