/**
 * `http/render` keeps the bytes of a reply it makes twice in a row and writes
 * them again while the reply stays the same: these tests send runs of equal
 * and unequal requests on one real TCP connection and check every reply's
 * exact bytes, through value steps and through `exec`, and that `date` moves
 * on with the clock.
 * @module
 */
import { simulate } from "../testing/mod.ts";
import { assert, assertEquals } from "./assert.ts";
import { httpGraph, readReply } from "./fixtures/http.ts";
import { path } from "./helpers.ts";

const DATE = /date: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\r\n/g;

function graph(mode: "step" | "exec") {
  return httpGraph([], {
    answer: { servlet: path("tests/fixtures/reply_text.ts"), args: [mode] },
  }, ["answer.in", "answer.out"]);
}

/** A request for `target` of `method`, in HTTP/1.`minor`, with `fields`. */
function request(target: string, method = "GET", minor = 1, fields = ""): string {
  return `${method} ${target} HTTP/1.${minor}\r\nHost: test\r\n${fields}\r\n`;
}

/** The reply the handler gives, as render frames it (without `date`). */
function reply(
  body: string,
  { status = "200 OK", field, head = false, connection }: {
    status?: string;
    field?: string;
    head?: boolean;
    connection?: string;
  } = {},
): string {
  const type = field === undefined ? "content-type: text/plain\r\n" : `x-field: ${field}\r\n`;
  const close = connection === undefined ? "" : `connection: ${connection}\r\n`;
  return `HTTP/1.1 ${status}\r\n${type}content-length: ${body.length}\r\n${close}\r\n` +
    (head ? "" : body);
}

for (const mode of ["step", "exec"] as const) {
  Deno.test(`http/render (${mode}): equal replies in a row, then each way a reply can differ, byte-exact`, async () => {
    await using sim = await simulate(graph(mode), { transport: "tcp" });
    const cases: [string, string][] = [
      [request("/"), reply("same")],
      [request("/"), reply("same")],
      [request("/"), reply("same")],
      // The head alone, then the same resource with its body: not the head's bytes.
      [request("/", "HEAD"), reply("same", { head: true })],
      [request("/", "HEAD"), reply("same", { head: true })],
      [request("/"), reply("same")],
      // Another body of the same length, another field value, another status.
      [request("/?say=diff"), reply("diff")],
      [request("/?say=diff"), reply("diff")],
      [request("/?field=1"), reply("same", { field: "1" })],
      [request("/?field=2"), reply("same", { field: "2" })],
      [request("/?field=2"), reply("same", { field: "2" })],
      [request("/?status=201"), reply("same", { status: "201 Created" })],
      [request("/?status=201"), reply("same", { status: "201 Created" })],
      // HTTP/1.0 asking to keep the connection, then 1.1 again.
      [
        request("/", "GET", 0, "Connection: keep-alive\r\n"),
        reply("same", { connection: "keep-alive" }),
      ],
      [
        request("/", "GET", 0, "Connection: keep-alive\r\n"),
        reply("same", { connection: "keep-alive" }),
      ],
      [request("/"), reply("same")],
      [request("/"), reply("same")],
      // Not ASCII: the length is in bytes.
      [request("/?say=%C3%A9t%C3%A9"), reply("été").replace("length: 3", "length: 5")],
      [request("/?say=%C3%A9t%C3%A9"), reply("été").replace("length: 3", "length: 5")],
      // The last closes: the same reply with connection: close.
      [request("/", "GET", 1, "Connection: close\r\n"), reply("same", { connection: "close" })],
    ];
    // One at a time, then all of them pipelined in one write.
    await using client = await sim.connect();
    for (const [sent, expected] of cases.slice(0, -1)) {
      await client.send(sent);
      const got = await readReply(client, sent.startsWith("HEAD "));
      const type = got.headers["x-field"] === undefined ? "content-type" : "x-field";
      assertEquals(
        `${got.status}\r\n${type}: ${got.headers[type]}\r\n`,
        expected.slice(0, expected.indexOf("content-length")),
        sent,
      );
      assertEquals(got.text, expected.slice(expected.indexOf("\r\n\r\n") + 4), sent);
    }
    const raw = await sim.exchange(cases.map(([sent]) => sent).join(""));
    const dates = raw.match(DATE) ?? [];
    assertEquals(dates.length, cases.length);
    assertEquals(raw.replace(DATE, ""), cases.map(([, expected]) => expected).join(""));
  });
}

Deno.test("http/render: a reply made again a second later carries the new date", async () => {
  await using sim = await simulate(graph("step"), { transport: "tcp" });
  await using client = await sim.connect();
  const dateOf = async (): Promise<string> => {
    await client.send(request("/"));
    const raw = await client.readBytes(
      reply("same").length + "date: Sun, 06 Dec 2026 09:00:00 GMT\r\n".length,
    );
    const text = new TextDecoder().decode(raw);
    assertEquals(text.replace(DATE, ""), reply("same"));
    return text.match(DATE)![0];
  };
  await dateOf();
  await dateOf(); // made twice: kept
  const first = await dateOf(); // from the kept bytes
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const later = await dateOf();
  assert(later !== first, `the date stayed ${first}`);
  const now = Date.parse(later.slice(6, -2));
  assert(Math.abs(Date.now() - now) < 2000, `${later} is not now`);
});
