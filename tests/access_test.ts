/**
 * Access control per listener over real TCP (xinetd only_from/no_access):
 * `deny` wins, an `allow` list serves only its peers, and a denied client is
 * closed before any servlet runs, with a log line naming the peer and the
 * rule. The client is always 127.0.0.1; tests/address_rules_test.ts covers
 * the other addresses.
 */
import { calls, spy } from "./fixtures/spy.ts";
import { assertEquals } from "./assert.ts";
import { Client, startHost, type TestHost, waitForLog } from "./helpers.ts";

/** A spy graph whose tcp listener has `options`. */
async function spyHost(options: Record<string, unknown>): Promise<TestHost> {
  calls.length = 0;
  return await startHost({
    nodes: { n: spy("guarded") },
    input: "n.in",
    output: "n.out",
    listeners: [{ module: "tcp", options }],
  });
}

/** Sends one line and returns everything until the server closes. */
async function exchange(port: number, line: string): Promise<string> {
  await using c = await Client.connect(port);
  try {
    await c.send(line);
  } catch {
    // Closed before the line went out.
  }
  return await c.readToEnd();
}

const DENIED =
  /^plumb info: PLUMB_CONN_DENIED connection from 127\.0\.0\.1:\d+ to tcp:\/\/127\.0\.0\.1:\d+ denied: (.*)$/;

Deno.test("deny 127.0.0.0/8: the client is closed before any servlet runs; the log names peer and rule", async () => {
  await using h = await spyHost({ deny: ["127.0.0.0/8"] });
  assertEquals(await exchange(h.port, "let me in\n"), "");
  const line = await waitForLog(h, "denied");
  assertEquals(line.match(DENIED)?.[1], 'matches deny rule "127.0.0.0/8"', line);
  assertEquals(calls, [], "no servlet ran");
});

Deno.test("allow 10.0.0.0/8: 127.0.0.1 matches no allow rule and is closed", async () => {
  await using h = await spyHost({ allow: ["10.0.0.0/8"] });
  assertEquals(await exchange(h.port, "let me in\n"), "");
  const line = await waitForLog(h, "denied");
  assertEquals(line.match(DENIED)?.[1], "matches no allow rule (10.0.0.0/8)", line);
  assertEquals(calls, []);
});

Deno.test("allow ::1 only: an IPv4 client is not the IPv6 loopback", async () => {
  await using h = await spyHost({ allow: ["::1", "fe80::/10"] });
  assertEquals(await exchange(h.port, "x\n"), "");
  assertEquals(
    (await waitForLog(h, "denied")).match(DENIED)?.[1],
    "matches no allow rule (::1, fe80::/10)",
  );
  assertEquals(calls, []);
});

Deno.test("allow and deny: a peer in allow and in no deny entry is served", async () => {
  await using h = await spyHost({ allow: ["10.0.0.0/8", "127.0.0.1"], deny: ["10.9.0.0/16"] });
  assertEquals(await exchange(h.port, "hello\n"), "guarded saw hello\n");
  assertEquals(calls, ["guarded: hello\n"]);
  assertEquals(h.logs.some((l) => l.includes("denied")), false);
});

Deno.test("deny wins over allow; a denied peer is told nothing, even with a refuseMessage", async () => {
  await using h = await spyHost({
    allow: ["127.0.0.0/8"],
    deny: ["127.0.0.1"],
    refuseMessage: "busy\n",
    maxConnections: 1,
    overflow: "refuse",
  });
  assertEquals(await exchange(h.port, "x\n"), "");
  assertEquals((await waitForLog(h, "denied")).match(DENIED)?.[1], 'matches deny rule "127.0.0.1"');
  assertEquals(calls, []);
});

Deno.test("deny: 20 clients at once are each closed, and logged once each", async () => {
  await using h = await spyHost({ deny: ["127.0.0.1/32"] });
  const answers = await Promise.all(
    Array.from({ length: 20 }, (_, i) => exchange(h.port, `c${i}\n`)),
  );
  assertEquals(answers, new Array(20).fill(""));
  assertEquals(calls, []);
  for (let waited = 0; waited < 5000; waited += 10) {
    if (h.logs.filter((l) => DENIED.test(l)).length === 20) break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assertEquals(h.logs.filter((l) => DENIED.test(l)).length, 20, "one line each");
});
