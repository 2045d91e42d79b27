/**
 * Several plumb hosts behind a real HAProxy, as `docs/deploying.md` sets
 * them up ("Several hosts behind HAProxy" and "TLS"): every `haproxy` block
 * of the page is run with only the paths and ports changed, and the `deny`
 * range made the loopback address 127.0.0.5 (a client can bind it; no
 * client can bind the page's documentation range). Two hosts (the CLI, with
 * the page's flags) and HAProxy in TCP mode with `send-proxy-v2` and health
 * checks show that:
 *
 * - (a) ELIZA conversations are spread over both hosts, each keeping its own
 *   memory;
 * - (b) the connection log and a `deny` rule see each client's own address
 *   (socat binds 127.0.0.4 and 127.0.0.5), and a connection to a host that
 *   skips HAProxy is rejected;
 * - (c) a client loop that keeps talking while one host is reloaded (SIGHUP)
 *   and the other drained, restarted and made ready again with the page's
 *   commands loses no exchange (the number of conversations is printed);
 * - (d) a host that stops is taken out by the health check, and the other
 *   serves every conversation;
 * - TLS ended by HAProxy (the page's `ssl` frontend) and by plumb (the
 *   page's `tls` listener, behind the same TCP-mode configuration).
 *
 * Without `haproxy`, `socat` or `openssl` these tests are ignored, never
 * passed.
 * @module
 */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { Client, type CliHost, path, spawnCli } from "./helpers.ts";
import { allBlocks, where } from "./docs/markdown.ts";
import { has, makePki, type Pki, run } from "./tls_fixture.ts";

const HAPROXY = await has("haproxy");
const SOCAT = await has("socat");
const OPENSSL = await has("openssl");
const READY = HAPROXY && SOCAT && OPENSSL;

const DIR = path("tests/.tmp/haproxy");
const GREETING = "How do you do. Please tell me your problem.\n";
const SAD = "I am sorry to hear that you are sad.\n";
const GOODBYE = "Goodbye. It was nice talking to you.\n";

/** The page's `haproxy` blocks, by part (`graph`, `hosts`, `haproxy.cfg`, ...). */
const PARTS = new Map(allBlocks("haproxy").map((b) => [b.args, b]));

function part(name: string): string {
  const block = PARTS.get(name);
  assert(block !== undefined, `docs/deploying.md has no <!-- example: haproxy ${name} --> block`);
  return block.body;
}

Deno.test("docs/deploying.md: the haproxy blocks are the parts tests/haproxy_test.ts runs", () => {
  assertEquals(
    [...PARTS.keys()].sort(),
    ["graph", "haproxy-tls.cfg", "haproxy.cfg", "hosts", "restart", "tls-graph", "tls-hosts"],
    [...PARTS.values()].map(where).join(", "),
  );
});

/** A port free on 127.0.0.1 now. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

/** The page's ports, each made a free one. */
interface Ports {
  frontend: number;
  first: number;
  second: number;
  tls: number;
}

/** The page's text with this machine's paths and free ports. */
function localize(text: string, ports: Ports): string {
  return text
    .replace(/\b12000\b/g, String(ports.frontend))
    .replace(/\b12001\b/g, String(ports.first))
    .replace(/\b12002\b/g, String(ports.second))
    .replace(/\b12443\b/g, String(ports.tls))
    .replaceAll("/opt/plumb", path(".").replace(/\/$/, ""))
    .replaceAll("/etc/plumb", DIR)
    .replaceAll("/run/haproxy/admin.sock", `${DIR}/admin.sock`)
    .replaceAll("/etc/haproxy/certs/eliza.pem", `${DIR}/eliza.pem`)
    .replaceAll("198.51.100.0/24", "127.0.0.5");
}

/** A process whose output is collected as it comes. */
class Proc {
  readonly child: Deno.ChildProcess;
  stdout = "";
  stderr = "";
  readonly #done: Promise<unknown>;

  constructor(command: string, args: string[]) {
    this.child = new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).spawn();
    const collect = async (stream: ReadableStream<Uint8Array>, into: "stdout" | "stderr") => {
      for await (const text of stream.pipeThrough(new TextDecoderStream())) this[into] += text;
    };
    this.#done = Promise.all([
      collect(this.child.stdout, "stdout"),
      collect(this.child.stderr, "stderr"),
    ]);
  }

  /** Stops the process; its exit code. */
  async stop(): Promise<number> {
    try {
      this.child.kill("SIGTERM");
    } catch {
      // Gone already.
    }
    const status = await this.child.status;
    await this.#done;
    return status.code;
  }
}

/** Waits until `ready()` (polled every 50 ms), failing with `what` and `detail()` after 30 s. */
async function waitUntil(
  ready: () => boolean | Promise<boolean>,
  what: string,
  detail: () => string = () => "",
): Promise<void> {
  const deadline = performance.now() + 30_000;
  while (!(await ready())) {
    if (performance.now() > deadline) throw new Error(`${what}: not within 30 s\n${detail()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Sends a runtime API command to HAProxy as the page does (`echo CMD | socat stdio SOCKET`). */
async function admin(command: string): Promise<string> {
  const result = await run("socat", ["stdio", `${DIR}/admin.sock`], `${command}\n`);
  assertEquals(result.code, 0, result.stderr);
  return result.stdout;
}

/** The `scur` (open connections) and `status` of a server, from HAProxy's `show stat`. */
async function server(name: string): Promise<{ scur: number; status: string }> {
  const [header, ...rows] = (await admin("show stat")).trim().split("\n");
  const columns = header.replace(/^# /, "").split(",");
  const row = rows.map((r) => r.split(",")).find((r) => r[0] === "plumb" && r[1] === name);
  assert(row !== undefined, `no server ${name} in show stat`);
  return { scur: Number(row[columns.indexOf("scur")]), status: row[columns.indexOf("status")] };
}

/** The page's admin commands (`echo "..." | socat stdio ...`), in order. */
function adminCommands(): string[] {
  return [...part("restart").matchAll(/^echo "([^"]+)" \| socat stdio \S+/gm)].map((m) => m[1]);
}

/** Starts the hosts of a `hosts` block (its `deno run` lines, as written but for paths and ports). */
async function startHosts(block: string, ports: Ports): Promise<CliHost[]> {
  const lines = localize(part(block), ports).split("\n").filter((l) => l.startsWith("deno run "));
  assertEquals(lines.length, 2, `two hosts in the ${block} block`);
  return await Promise.all(lines.map((line) => startHost(line)));
}

/** Starts one host from its `deno run FLAGS MAIN ARGS` line. */
function startHost(line: string): Promise<CliHost> {
  const words = line.split(" ");
  const main = words.indexOf(path("main.ts"));
  assert(main > 2, `no main.ts in ${line}`);
  return spawnCli(words.slice(main + 1), words.slice(2, main));
}

/** Checks and starts HAProxy with `config`; resolves once both servers are UP. */
async function startHaproxy(config: string): Promise<Proc> {
  const file = `${DIR}/haproxy.cfg`;
  await Deno.writeTextFile(file, config);
  const check = await run("haproxy", ["-c", "-f", file]);
  assertEquals(check.code, 0, `haproxy -c: ${check.stdout}${check.stderr}`);
  const proxy = new Proc("haproxy", ["-db", "-f", file]);
  try {
    await waitUntil(
      async () => {
        try {
          return (await server("plumb1")).status === "UP" &&
            (await server("plumb2")).status === "UP";
        } catch {
          return false; // not listening on its admin socket yet
        }
      },
      "both hosts UP in HAProxy",
      () => proxy.stderr,
    );
  } catch (error) {
    await proxy.stop();
    throw error;
  }
  return proxy;
}

/** One ELIZA conversation through `port`: greeting, a line and its reply, bye. Its client's address. */
async function conversation(port: number): Promise<string> {
  await using client = await Client.connect(port);
  assertEquals(await client.readLine(), GREETING);
  await client.send("I am sad\n");
  assertEquals(await client.readLine(), SAD);
  await client.send("bye\n");
  assertEquals(await client.readLine(), GOODBYE);
  assertEquals(await client.readToEnd(), "");
  return client.peer;
}

/** Which of `hosts` logged the end of the conversation of `peer` (as a client of HAProxy). */
async function servedBy(peer: string, hosts: CliHost[]): Promise<number> {
  const line = new RegExp(
    `connection from ${peer.replaceAll(".", "\\.")} via 127\\.0\\.0\\.1:\\d+ `,
  );
  let found = -1;
  await waitUntil(
    () => (found = hosts.findIndex((h) => line.test(h.stderrSoFar()))) >= 0,
    `a host's log line for ${peer}`,
  );
  return found;
}

/** A conversation through socat bound to `address` (a client with its own address); what it got. */
async function fromAddress(address: string, port: number): Promise<string> {
  const result = await run(
    "socat",
    ["-t", "5", "-", `TCP:127.0.0.1:${port},bind=${address}`],
    "I am sad\nbye\n",
  );
  return result.stdout;
}

/** Writes the page's graph (`graph` or `tls-graph` block) where its hosts read it. */
async function writeGraph(block: string, file: string, ports: Ports): Promise<void> {
  await Deno.writeTextFile(`${DIR}/${file}`, localize(part(block), ports));
}

/** The PKI of these tests, and `eliza.pem` (certificate then key) for HAProxy. */
async function certificates(): Promise<Pki> {
  const pki = await makePki("haproxy-pki");
  const [cert, key] = await Promise.all([
    Deno.readTextFile(pki.server.cert),
    Deno.readTextFile(pki.server.key),
  ]);
  await Deno.writeTextFile(`${DIR}/eliza.pem`, cert + key);
  await Deno.mkdir(`${DIR}/tls`, { recursive: true });
  await Deno.copyFile(pki.server.cert, `${DIR}/tls/eliza.crt`);
  await Deno.copyFile(pki.server.key, `${DIR}/tls/eliza.key`);
  return pki;
}

/** An ELIZA conversation over TLS through `port` (openssl s_client trusting `ca`): what it got. */
async function tlsConversation(port: number, ca: string): Promise<string> {
  const result = await run("openssl", [
    "s_client",
    "-connect",
    `127.0.0.1:${port}`,
    "-servername",
    "localhost",
    "-CAfile",
    ca,
    "-verify_return_error",
    "-quiet",
  ], "I am sad\nbye\n");
  return result.stdout;
}

async function fresh(): Promise<void> {
  await Deno.remove(DIR, { recursive: true }).catch(() => {});
  await Deno.mkdir(DIR, { recursive: true });
}

Deno.test({
  name: "HAProxy with send-proxy-v2 in front of two plumb hosts: spread, real client addresses, " +
    "a reload and a drained restart that lose no exchange, a stopped host taken out",
  ignore: !READY,
  async fn(t): Promise<void> {
    await fresh();
    const pki = await certificates();
    const ports = { frontend: freePort(), first: freePort(), second: freePort(), tls: freePort() };
    await writeGraph("graph", "eliza-haproxy.json", ports);
    const hosts = await startHosts("hosts", ports);
    let proxy: Proc | undefined;
    try {
      proxy = await startHaproxy(
        localize(`${part("haproxy.cfg")}\n${part("haproxy-tls.cfg")}`, ports),
      );
      const haproxyLog = (): string => proxy?.stderr ?? "";

      await t.step(
        "(a) conversations spread over both hosts, each with its own memory",
        async () => {
          const clients = await Promise.all(
            Array.from({ length: 6 }, () => Client.connect(ports.frontend)),
          );
          try {
            await Promise.all(clients.map(async (c, i) => {
              assertEquals(await c.readLine(), GREETING);
              await c.send(`My cat${i} is lost\n`);
              assertEquals(await c.readLine(), `Your cat${i} is lost?\n`);
            }));
            await Promise.all(clients.map(async (c, i) => {
              await c.send("hmm\n");
              assertEquals(await c.readLine(), `Let's discuss further why your cat${i} is lost.\n`);
              await c.send("bye\n");
              assertEquals(await c.readLine(), GOODBYE);
            }));
          } finally {
            for (const c of clients) c.close();
          }
          const served = await Promise.all(clients.map((c) => servedBy(c.peer, hosts)));
          assertEquals(
            [served.filter((h) => h === 0).length > 0, served.filter((h) => h === 1).length > 0],
            [true, true],
            `hosts of the six conversations: ${served}`,
          );
        },
      );

      await t.step("(b) the log and deny see each client's own address", async () => {
        assertEquals(await fromAddress("127.0.0.4", ports.frontend), GREETING + SAD + GOODBYE);
        await waitUntil(
          () =>
            hosts.some((h) =>
              /connection from 127\.0\.0\.4:\d+ via 127\.0\.0\.1:\d+ to tcp:\/\/127\.0\.0\.1:\d+ ended: closed by server/
                .test(h.stderrSoFar())
            ),
          "a log line naming 127.0.0.4",
        );
        assertEquals(await fromAddress("127.0.0.5", ports.frontend), "");
        await waitUntil(
          () =>
            hosts.some((h) =>
              /connection from 127\.0\.0\.5:\d+ via 127\.0\.0\.1:\d+ to tcp:\/\/127\.0\.0\.1:\d+ denied: matches deny rule "127\.0\.0\.5"/
                .test(h.stderrSoFar())
            ),
          "a deny line naming 127.0.0.5",
        );
        // A client that goes round HAProxy to a host is rejected: it sends no PROXY header.
        await using direct = await Client.connect(ports.first);
        await direct.send("I am sad\n");
        assertEquals(await direct.readToEnd(), "");
        await hosts[0].waitForStderr(
          `connection from ${direct.peer} to tcp://127.0.0.1:${ports.first} rejected: no PROXY ` +
            `header: the connection starts "I am sad\\x0a"`,
        );
      });

      await t.step("TLS ended by HAProxy: the plain hosts see the client", async () => {
        assertEquals(await tlsConversation(ports.tls, pki.ca.cert), GREETING + SAD + GOODBYE);
      });

      await t.step(
        "(c) a client loop loses no exchange while one host reloads and the other is drained and restarted",
        async () => {
          const [drain, , ready] = adminCommands();
          assertEquals(
            adminCommands().map((c) => c.split(" ").slice(0, 3).join(" ")),
            ["set server plumb/plumb2", "show stat", "set server plumb/plumb2"],
          );
          let stop = false;
          let completed = 0;
          const failures: string[] = [];
          const loop = async (): Promise<void> => {
            while (!stop) {
              try {
                await conversation(ports.frontend);
                completed++;
              } catch (error) {
                failures.push(String(error));
              }
            }
          };
          const loops = [loop(), loop()];
          const more = async (n: number, what: string): Promise<void> => {
            const from = completed;
            await waitUntil(() => completed >= from + n || failures.length > 0, what);
          };
          try {
            await more(20, "20 conversations before the reload");
            hosts[0].process.kill("SIGHUP");
            await hosts[0].waitForStderr("reloaded ", 30_000);
            await more(20, "20 conversations after the reload");

            await admin(drain);
            await waitUntil(async () => (await server("plumb2")).scur === 0, "plumb2 drained");
            const stopped = await hosts[1].stop();
            assertEquals(stopped.code, 0, stopped.stderr);
            const before = completed;
            await more(10, "10 conversations while plumb2 is stopped");
            const lines = localize(part("hosts"), ports).split("\n").filter((l) =>
              l.startsWith("deno")
            );
            hosts[1] = await startHost(lines[1]);
            await admin(ready);
            await waitUntil(
              async () => (await server("plumb2")).status === "UP",
              "plumb2 UP again",
            );
            await waitUntil(
              () => hosts[1].stderrSoFar().includes(" via 127.0.0.1:"),
              "a conversation on the restarted plumb2",
              haproxyLog,
            );
            await more(20, "20 conversations after the restart");
            assert(completed > before);
          } finally {
            stop = true;
            await Promise.all(loops);
          }
          assertEquals(failures, [], `${failures.length} of ${completed + failures.length} failed`);
          console.log(
            `haproxy_test: ${completed} conversations (${
              completed * 2
            } exchanges) through HAProxy ` +
              "across a reload and a drained restart, none lost",
          );
        },
      );

      await t.step("(d) a stopped host is taken out by the health check", async () => {
        const stopped = await hosts[0].stop();
        assertEquals(stopped.code, 0, stopped.stderr);
        await waitUntil(
          async () => (await server("plumb1")).status.startsWith("DOWN"),
          "plumb1 DOWN in HAProxy",
          haproxyLog,
        );
        assertMatch(haproxyLog(), /Server plumb\/plumb1 is DOWN/);
        for (let i = 0; i < 6; i++) {
          const peer = await conversation(ports.frontend);
          assertEquals(await servedBy(peer, [hosts[1]]), 0);
        }
      });

      await t.step("health checks cost the hosts no error line", () => {
        // A check connects and resets: the connection is gone before plumb accepts it, which is
        // not an accept failure (and a LOCAL header's connection line is a debug one).
        for (const h of hosts) {
          assertEquals(
            h.stderrSoFar().split("\n").filter((l) => /accept failed|error:/.test(l)),
            [],
          );
        }
      });
    } finally {
      await proxy?.stop();
      await Promise.all(hosts.map((h) => h.stop()));
    }
  },
});

Deno.test({
  name: "plumb ends TLS behind HAProxy in TCP mode: the PROXY header comes before the handshake",
  ignore: !READY,
  async fn(): Promise<void> {
    await fresh();
    const pki = await certificates();
    const ports = { frontend: freePort(), first: freePort(), second: freePort(), tls: freePort() };
    await writeGraph("tls-graph", "eliza-tls.json", ports);
    const hosts = await startHosts("tls-hosts", ports);
    let proxy: Proc | undefined;
    try {
      proxy = await startHaproxy(localize(part("haproxy.cfg"), ports));
      for (let i = 0; i < 2; i++) {
        assertEquals(await tlsConversation(ports.frontend, pki.ca.cert), GREETING + SAD + GOODBYE);
      }
      for (const [i, h] of hosts.entries()) {
        const port = i === 0 ? ports.first : ports.second;
        await h.waitForStderr(
          new RegExp(
            `connection from 127\\.0\\.0\\.1:\\d+ via 127\\.0\\.0\\.1:\\d+ to tls://127\\.0\\.0\\.1:${port} ended: closed by server`,
          ),
        );
      }
    } finally {
      await proxy?.stop();
      await Promise.all(hosts.map((h) => h.stop()));
    }
  },
});
