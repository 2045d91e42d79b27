/**
 * The `kv` servlet (`examples/kv.json`) against clients that misbehave, over
 * real TCP: keys past the store's limit (`PLUMB_STORE_KEY`, in bytes of
 * UTF-8), bytes that are not UTF-8, a last line with no newline, a line past
 * `maxMessageSize`, many keys in one write; and against a NATS KV store
 * (`--store nats://`, a real `nats-server`): a long key refused before it
 * reaches the server (whose 4 KiB limit on a command line would drop the
 * connection every node shares), no server at all, and the server going
 * away under the servlet. Each time the host serves the other clients.
 */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { Client, runCli, spawnCli, startHost, waitForLog } from "./helpers.ts";
import { HAVE_NATS_SERVER, startNatsServer } from "./nats_server.ts";
import type { GraphSpec } from "../host/mod.ts";

const KV = "examples/kv.json";

/** Sends `line` on `client` and returns the one-line reply. */
async function ask(client: Client, line: string | Uint8Array): Promise<string | null> {
  await client.send(typeof line === "string" ? `${line}\n` : line);
  return await client.readLine();
}

/** The reply to a key of `bytes` bytes past the limit, from the back end named `store`. */
function tooLong(store: string, bytes: number, bucket = "kv"): string {
  return `ERR PLUMB_STORE_KEY store ${store}: bucket "${bucket}": a key of ${bytes} bytes; ` +
    `keys are 1 to 2048 bytes (store a long one by its hash)\n`;
}

Deno.test("kv hostile: a key past 2048 bytes of UTF-8 is answered ERR PLUMB_STORE_KEY; 2048 are taken; the connection goes on", async () => {
  await using h = await startHost(KV);
  await using c = await Client.connect(h.port);
  const fits = "é".repeat(1024); // 1024 characters, 2048 bytes
  const over = "é".repeat(1025); // 1025 characters, 2050 bytes
  assertEquals(await ask(c, `SET ${fits} v`), "OK\n");
  assertEquals(await ask(c, `GET ${fits}`), '"v"\n');
  for (const command of [`SET ${over} v`, `SETNX ${over} v`, `GET ${over}`, `DEL ${over}`]) {
    assertEquals(await ask(c, command), tooLong("memory", 2050), command.slice(0, 5));
  }
  assertEquals(await ask(c, `GET ${"k".repeat(60000)}`), tooLong("memory", 60000));
  assertEquals(await ask(c, `DEL ${fits}`), "1\n");
  // Nothing was logged for it: a client's mistake, answered to the client.
  assertEquals(h.logs.filter((l) => l.includes("PLUMB_STORE_KEY")), []);
});

Deno.test("kv hostile: bytes that are not UTF-8 are taken as U+FFFD; NUL and control bytes are kept", async () => {
  await using h = await startHost(KV);
  await using c = await Client.connect(h.port);
  const garbage = new Uint8Array([...new TextEncoder().encode("SET bin "), 0xff, 0xfe, 0, 1, 0x0a]);
  assertEquals(await ask(c, garbage), "OK\n");
  assertEquals(await ask(c, "GET bin"), '"\ufffd\ufffd\\u0000\\u0001"\n');
  const key = new Uint8Array([...new TextEncoder().encode("SET "), 0xc3, 0x28, 0x20, 0x78, 0x0a]);
  assertEquals(await ask(c, key), "OK\n");
  assertEquals(await ask(c, "GET \ufffd("), '"x"\n');
});

Deno.test("kv hostile: a last command with no newline, then the end of input, is run and answered", async () => {
  await using h = await startHost(KV);
  {
    await using half = await Client.connect(h.port);
    await half.send("SET first 1\nSET last 2");
    await half.closeWrite();
    assertEquals(await half.readToEnd(), "OK\nOK\n");
  }
  await using other = await Client.connect(h.port);
  assertEquals(await ask(other, "GET last"), '"2"\n');
});

Deno.test("kv hostile: a line past maxMessageSize gets the error reply and a close; other clients are served", async () => {
  await using h = await startHost(KV);
  await using other = await Client.connect(h.port);
  assertEquals(await ask(other, "SET k before"), "OK\n");
  {
    await using flood = await Client.connect(h.port);
    await flood.send(`SET big ${"x".repeat(70000)}\n`);
    const reply = await flood.readToEnd();
    assertMatch(reply, /^error: /);
    assert(!reply.includes("OK"), reply);
  }
  const line = await waitForLog(h, " PLUMB_LINE_TOO_LONG ");
  assertMatch(line, /line longer than 65536 bytes/);
  assertEquals(await ask(other, "GET big"), "(nil)\n");
  assertEquals(await ask(other, "GET k"), '"before"\n');
});

Deno.test("kv hostile: 20000 SETs in one write are each answered, in order; every key reads back", async () => {
  await using h = await startHost(KV);
  await using c = await Client.connect(h.port);
  const count = 20000;
  const lines = Array.from({ length: count }, (_, i) => `SET key${i} value ${i}\n`).join("");
  await c.send(lines);
  const replies = await c.readLines(count);
  assertEquals(replies.length, count);
  assertEquals(replies.filter((r) => r === "OK\n").length, count);
  await c.send(Array.from({ length: count }, (_, i) => `GET key${i}\n`).join(""));
  const values = await c.readLines(count);
  for (let i = 0; i < count; i += 997) assertEquals(values[i], `"value ${i}"\n`);
  assertEquals(values.filter((v, i) => v === `"value ${i}"\n`).length, count);
});

// --- --store nats://: a real nats-server ------------------------------------------------

/** `examples/kv.json`'s graph with a bucket of 64 characters: the longest subject a key makes. */
async function longBucketGraph(): Promise<{ file: string; bucket: string }> {
  const bucket = "b".repeat(64);
  const spec: GraphSpec = JSON.parse(await Deno.readTextFile(KV));
  spec.nodes.kv.args = ["--bucket", bucket];
  spec.listeners = [{ module: "tcp", options: { host: "127.0.0.1", port: 0 } }];
  await Deno.mkdir("tests/.tmp", { recursive: true });
  const file = await Deno.makeTempFile({
    dir: "tests/.tmp",
    prefix: "kv_hostile_",
    suffix: ".json",
  });
  await Deno.writeTextFile(file, JSON.stringify(spec));
  return { file, bucket };
}

Deno.test({
  name:
    "kv hostile, nats: a key past 2048 bytes never reaches the server (whose 4 KiB line limit would drop the host's connection); 2048 do",
  ignore: !HAVE_NATS_SERVER,
  fn: async () => {
    await using nats = await startNatsServer();
    const { file, bucket } = await longBucketGraph();
    const cli = await spawnCli([file, "--port", "0", "--store", nats.url]);
    try {
      await using a = await Client.connect(cli.port);
      await using b = await Client.connect(cli.port);
      const fits = "é".repeat(1024);
      assertEquals(await ask(a, `SET ${fits} fits`), "OK\n");
      assertEquals(await ask(b, `GET ${fits}`), '"fits"\n');
      assertEquals(await ask(b, `SETNX ${fits} again`), "0\n");
      for (const command of ["SET", "SETNX", "GET", "DEL"]) {
        const line = `${command} ${"k".repeat(3000)}${command.startsWith("SET") ? " v" : ""}`;
        assertEquals(await ask(a, line), tooLong(nats.url, 3000, bucket), command);
      }
      assertEquals(await ask(b, `DEL ${fits}`), "1\n");
      assertEquals(await ask(a, `GET ${fits}`), "(nil)\n");
      const stderr = cli.stderrSoFar();
      assert(!stderr.includes("PLUMB_NATS_DISCONNECTED"), stderr);
    } finally {
      const { code, stderr } = await cli.stop();
      await Deno.remove(file);
      assertEquals(code, 0, stderr);
      assert(!stderr.includes("PLUMB_NATS_DISCONNECTED"), stderr);
    }
  },
});

Deno.test({
  name: "kv hostile, nats: --store naming a port where no NATS server listens is one line, exit 1",
  ignore: !HAVE_NATS_SERVER,
  fn: async () => {
    const free = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (free.addr as Deno.NetAddr).port;
    free.close();
    const url = `nats://127.0.0.1:${port}`;
    const { code, stdout, stderr } = await runCli([KV, "--port", "0", "--store", url]);
    assertEquals(stdout, "");
    assertMatch(
      stderr,
      new RegExp(
        `^plumb: PLUMB_NATS_CONNECT store ${url}: cannot connect to NATS at ${url}: [^\\n]+\\n$`,
      ),
    );
    assertEquals(code, 1);
  },
});

Deno.test({
  name:
    "kv hostile, nats: with the server gone a command gets the error reply and the connection stays; once it is back, the keys are there",
  ignore: !HAVE_NATS_SERVER,
  fn: async () => {
    await using nats = await startNatsServer();
    const cli = await spawnCli([KV, "--port", "0", "--store", nats.url]);
    try {
      await using c = await Client.connect(cli.port);
      assertEquals(await ask(c, "SET k kept"), "OK\n");
      await nats.stop();
      await cli.waitForStderr(" PLUMB_NATS_DISCONNECTED ");
      assertEquals(await ask(c, "GET k"), "error: request failed\n");
      await cli.waitForStderr(
        /PLUMB_REQUEST_FAILED [^\n]*PLUMB_STORE_NATS_FAILED store nats:\/\/127\.0\.0\.1:\d+: bucket "kv": get failed: /,
      );
      await nats.start();
      await cli.waitForStderr(" PLUMB_NATS_RECONNECTED ");
      assertEquals(await ask(c, "GET k"), '"kept"\n');
      await using later = await Client.connect(cli.port);
      assertEquals(await ask(later, "DEL k"), "1\n");
    } finally {
      const { code, stderr } = await cli.stop();
      assertEquals(code, 0, stderr);
    }
  },
});
