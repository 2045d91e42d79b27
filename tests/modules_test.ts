/**
 * ELIZA every way the article serves it, end to end: on standard input and
 * output (a terminal, and under a real tcpserver in "nowait" mode), socket
 * activation (systemd's fd 3 and inetd "wait" mode's fd 0) with an idle
 * exit, a Unix domain socket, and a batch file.
 */
import { assert, assertEquals } from "./assert.ts";
import { Client, path, startHost } from "./helpers.ts";

const GREETING = "How do you do. Please tell me your problem.\n";
const decoder = new TextDecoder();

/** Reads lines from a process's piped output. */
class LineReader {
  readonly #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";
  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  }
  async line(): Promise<string | null> {
    for (;;) {
      const nl = this.#buffer.indexOf("\n");
      if (nl >= 0) {
        const line = this.#buffer.slice(0, nl + 1);
        this.#buffer = this.#buffer.slice(nl + 1);
        return line;
      }
      const { value, done } = await this.#reader.read();
      if (done) return null;
      this.#buffer += value;
    }
  }
  async rest(): Promise<string> {
    let text = this.#buffer;
    this.#buffer = "";
    for (;;) {
      const { value, done } = await this.#reader.read();
      if (done) return text;
      text += value;
    }
  }
}

function deno(args: string[], stdin: "piped" | "null" = "null"): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args,
    cwd: path("."),
    stdin,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
}

async function has(command: string): Promise<boolean> {
  try {
    return (await new Deno.Command("sh", { args: ["-c", `command -v ${command}`] }).output())
      .success;
  } catch {
    return false;
  }
}

Deno.test("stdio: the command-line ELIZA, and it exits when its input ends", async () => {
  const child = deno(["run", "--allow-read", "main.ts", "examples/eliza.json", "--stdio"], "piped");
  const out = new LineReader(child.stdout);
  const writer = child.stdin.getWriter();
  assertEquals(await out.line(), GREETING);
  await writer.write(new TextEncoder().encode("I am a human being.\n"));
  assertEquals(await out.line(), "How long have you been a human being?\n");
  await writer.close(); // the client goes
  assertEquals(await out.rest(), "");
  const status = await child.status;
  assertEquals(status.code, 0);
  assertEquals(decoder.decode(await new Response(child.stderr).arrayBuffer()), "");
});

Deno.test("stdio: bye ends the session and the process", async () => {
  const child = deno(["run", "--allow-read", "main.ts", "examples/eliza.json", "--stdio"], "piped");
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode("bye\n"));
  const [stdout, status] = await Promise.all([new Response(child.stdout).text(), child.status]);
  await writer.close().catch(() => {});
  await child.stderr.cancel();
  assertEquals(stdout, `${GREETING}Goodbye. It was nice talking to you.\n`);
  assertEquals(status.code, 0);
});

Deno.test({
  name: "stdio under a real tcpserver (ucspi-tcp) in nowait mode: one process per connection",
  ignore: !(await has("tcpserver")),
  fn: async () => {
    const server = new Deno.Command("tcpserver", {
      args: [
        "-1",
        "127.0.0.1",
        "0",
        Deno.execPath(),
        "run",
        "--allow-read",
        "main.ts",
        "examples/eliza.json",
        "--stdio",
      ],
      cwd: path("."),
      stdout: "piped",
      stderr: "null",
      env: { NO_COLOR: "1" },
    }).spawn();
    const out = new LineReader(server.stdout);
    const port = Number(await out.line());
    try {
      await using a = await Client.connect(port);
      await using b = await Client.connect(port);
      assertEquals(await a.readLine(), GREETING);
      assertEquals(await b.readLine(), GREETING);
      await a.send("My cat is lost\r\n");
      assertEquals(await a.readLine(), "Your cat is lost?\n");
      await b.send("hmm\r\n");
      assertEquals(
        await b.readLine(),
        "I'm not sure I understand you fully.\n",
        "b never hears a's cat",
      );
      await a.send("bye\r\n");
      assertEquals(await a.readToEnd(), "Goodbye. It was nice talking to you.\n");
      await b.send("quit\r\n");
      assertEquals(await b.readToEnd(), "Goodbye. It was nice talking to you.\n");
    } finally {
      server.kill("SIGTERM");
      await server.status;
      await out.rest();
    }
  },
});

/** Starts plumb under the test activator; resolves with the port and the process. */
async function activated(
  mode: "systemd" | "inetd",
  extra: string[],
): Promise<{ port: number; child: Deno.ChildProcess; out: LineReader }> {
  const permissions = mode === "systemd" ? ["--allow-env=LISTEN_FDS,LISTEN_PID"] : [];
  const child = new Deno.Command("python3", {
    args: [
      "tests/tools/activate.py",
      mode,
      Deno.execPath(),
      "run",
      "--allow-read",
      ...permissions,
      "main.ts",
      "examples/eliza.json",
      ...extra,
    ],
    cwd: path("."),
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const out = new LineReader(child.stdout);
  const port = Number(await out.line());
  return { port, child, out };
}

Deno.test("socket activation, systemd style: LISTEN_FDS and fd 3 are adopted", async () => {
  const { port, child, out } = await activated("systemd", ["--idle-exit", "30s"]);
  assertEquals(
    await out.line(),
    `listening on tcp://127.0.0.1:${port}\n`,
    "the inherited port, not a new one",
  );
  await using c = await Client.connect(port);
  assertEquals(await c.readLine(), GREETING);
  await c.send("I am a human being.\n");
  assertEquals(await c.readLine(), "How long have you been a human being?\n");
  child.kill("SIGTERM");
  const status = await child.status;
  assertEquals(status.code, 0);
  await out.rest();
  await child.stderr.cancel();
});

Deno.test("socket activation, inetd wait style: --listen-fd 0, then --idle-exit lets the open session finish", async () => {
  const { port, child, out } = await activated("inetd", [
    "--listen-fd",
    "0",
    "--idle-exit",
    "300ms",
  ]);
  assertEquals(await out.line(), `listening on tcp://127.0.0.1:${port}\n`);
  await using c = await Client.connect(port);
  assertEquals(await c.readLine(), GREETING);
  // Stay connected well past the idle time: an open session is never cut.
  await new Promise((r) => setTimeout(r, 900));
  await c.send("My cat is lost\n");
  assertEquals(await c.readLine(), "Your cat is lost?\n");
  await c.send("bye\n");
  assertEquals(await c.readToEnd(), "Goodbye. It was nice talking to you.\n");
  // With no connection left, the host stops by itself after the idle time.
  const status = await child.status;
  assertEquals(status.code, 0);
  assertEquals(await out.rest(), "");
  const stderr = await new Response(child.stderr).text();
  assert(stderr.includes("no connection for 300 ms: stopping (--idle-exit)"), stderr);
});

Deno.test("unix: ELIZA on a Unix domain socket, same semantics as tcp", async () => {
  const socket = "/tmp/plumb-test.sock";
  await using h = await startHost({
    nodes: { doctor: { servlet: "eliza" } },
    input: "doctor.in",
    output: "doctor.out",
    listeners: [{ module: "unix", options: { path: socket, open: true } }],
  }, { host: undefined, port: undefined });
  assertEquals(h.host.urls, [`unix://${socket}`]);
  const conn = await Deno.connect({ transport: "unix", path: socket });
  const out = new LineReader(conn.readable);
  const send = (text: string): Promise<number> => conn.write(new TextEncoder().encode(text));
  assertEquals(await out.line(), GREETING);
  await send("My cat is lost\n");
  assertEquals(await out.line(), "Your cat is lost?\n");
  await send("bye\n");
  assertEquals(await out.rest(), "Goodbye. It was nice talking to you.\n");
});

Deno.test("file: each input line is a request; replies are appended to the output file", async () => {
  const output = path("tests/.tmp/eliza-out.txt");
  await Deno.remove(output).catch(() => {});
  await Deno.mkdir(path("tests/.tmp"), { recursive: true });
  await Deno.writeTextFile(output, "(kept)\n");
  const host = await startHost({
    nodes: { doctor: { servlet: "eliza" } },
    input: "doctor.in",
    output: "doctor.out",
    listeners: [{
      module: "file",
      options: { input: "tests/fixtures/lines.txt", output: "tests/.tmp/eliza-out.txt" },
    }],
  }, { host: undefined, port: undefined });
  await host.host.finished;
  assertEquals(
    await Deno.readTextFile(output),
    "(kept)\nHow long have you been a human being?\nYour cat is lost?\n" +
      "Let's discuss further why your cat is lost.\nGoodbye. It was nice talking to you.\n" +
      "I'm not sure I understand you fully.\n",
  );
});

Deno.test("socket activation: a client that half-closes after its line still gets the reply", async () => {
  const { port, child, out } = await activated("inetd", ["--listen-fd", "0"]);
  assertEquals(await out.line(), `listening on tcp://127.0.0.1:${port}\n`);
  await using c = await Client.connect(port);
  await c.send("I am sad");
  await c.closeWrite();
  assertEquals(
    await c.readToEnd(),
    `${GREETING}I am sorry to hear that you are sad.\n`,
  );
  child.kill("SIGTERM");
  assertEquals((await child.status).code, 0);
  await out.rest();
  await child.stderr.cancel();
});

Deno.test("stdio: the ttl ends a silent session and the process", async () => {
  const graph = path("tests/.tmp/eliza-ttl.json");
  await Deno.mkdir(path("tests/.tmp"), { recursive: true });
  await Deno.writeTextFile(
    graph,
    JSON.stringify({
      nodes: { doctor: { servlet: "eliza" } },
      input: "doctor.in",
      output: "doctor.out",
      listeners: [{ module: "tcp", options: { open: true, ttl: 0.3 } }],
    }),
  );
  const child = deno(["run", "--allow-read", "main.ts", graph, "--stdio"], "piped");
  const out = new LineReader(child.stdout);
  assertEquals(await out.line(), GREETING);
  // Say nothing: the session ends after its ttl even though standard input stays open.
  const status = await child.status;
  assertEquals(status.code, 0);
  assertEquals(await out.rest(), "");
  await child.stdin.close();
  await child.stderr.cancel();
});

Deno.test("file: a line whose request fails is logged and the batch goes on", async () => {
  const output = path("tests/.tmp/fail-out.txt");
  await Deno.mkdir(path("tests/.tmp"), { recursive: true });
  await Deno.remove(output).catch(() => {});
  await Deno.writeTextFile(path("tests/.tmp/fail-in.txt"), "one\nboom\nthree\n");
  const h = await startHost({
    nodes: { f: { servlet: "./tests/fixtures/fail.ts" } },
    input: "f.in",
    output: "f.out",
    listeners: [{
      module: "file",
      options: { input: "tests/.tmp/fail-in.txt", output: "tests/.tmp/fail-out.txt" },
    }],
  }, { host: undefined, port: undefined });
  await h.host.finished;
  assertEquals(await Deno.readTextFile(output), "ok: one\nok: three\n");
  assert(h.logs.some((l) => l.includes("Error: boom requested")));
});

Deno.test("stdio: --stdio carries the first listener's session options over, errorReply too", async () => {
  const child = deno(
    ["run", "--allow-read", "main.ts", "tests/fixtures/graphs/stdio_session.json", "--stdio"],
    "piped",
  );
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode("abc\nabcdefgh\n"));
  const [stdout, status] = await Promise.all([new Response(child.stdout).text(), child.status]);
  await writer.close().catch(() => {});
  await child.stderr.cancel();
  assertEquals(stdout, "Hello, abc\ntoo long: line longer than 4 bytes\n");
  assertEquals(status.code, 0);
});
