/**
 * The PROXY protocol (`proxyProtocol`) on a real `tcp` listener: the client
 * a version 1 or 2 header names is the peer servlets see, the one the
 * connection log writes, the one `allow`/`deny` and `maxPerSource` judge; a
 * connection from a proxy not trusted, or whose header is missing,
 * malformed or cut short, is closed with a log line and runs no servlet.
 * (Over TLS: `tests/tls_test.ts`; behind a real HAProxy:
 * `tests/haproxy_test.ts`.)
 */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { Client, oneNode, startHost, type TestHost, waitForLog } from "./helpers.ts";
import { joined, proxyV1, proxyV2 } from "./proxy_headers.ts";
import { calls, spy } from "./fixtures/spy.ts";
import { connChannel } from "../modules/channel.ts";
import { ProxiedChannel, readProxyHeader } from "../modules/proxy_protocol.ts";

const WHOAMI = "./tests/fixtures/whoami.ts";
const ASK = "tcp/peer tcp/local tcp/proxy\n";

/** A whoami host whose tcp listener takes PROXY headers from 127.0.0.1, with `options` added. */
function whoami(options: Record<string, unknown> = {}): Promise<TestHost> {
  return startHost(oneNode(WHOAMI, [], { proxyProtocol: ["127.0.0.1"], log: "info", ...options }));
}

/** What whoami answers to ASK for a client seen as `peer`, through `client` (the proxy). */
function answer(peer: string, local: string, client: Client): string {
  return `tcp/peer=${peer} tcp/local=${local} tcp/proxy=${client.peer}\n`;
}

Deno.test("proxyProtocol: a v1 header names the client, for every request of the connection", async () => {
  await using h = await whoami();
  const proxy = await Client.connect(h.port);
  await proxy.send(proxyV1({ source: { address: "203.0.113.7", port: 5000 } }));
  await proxy.send(ASK);
  assertEquals(await proxy.readLine(), answer("203.0.113.7:5000", "192.0.2.1:12000", proxy));
  await proxy.send(ASK);
  assertEquals(await proxy.readLine(), answer("203.0.113.7:5000", "192.0.2.1:12000", proxy));
  proxy.close();
  const line = await waitForLog(h, "ended:");
  assertEquals(
    line,
    `plumb info: PLUMB_CONN_ENDED connection from 203.0.113.7:5000 via ${proxy.peer} to ` +
      `${h.host.urls[0]} ended: ` +
      line.split(" ended: ")[1],
  );
  assertMatch(
    line,
    / ended: closed by peer after [\d.]+ s, 2 requests, 58 bytes in, \d+ bytes out$/,
  );
});

Deno.test("proxyProtocol: a v2 IPv6 header with TLVs, sent a byte at a time with the request", async () => {
  await using h = await whoami();
  await using proxy = await Client.connect(h.port);
  const header = proxyV2({
    source: { address: "2001:db8::7", port: 40000 },
    destination: { address: "2001:db8::1", port: 443 },
    tlvs: [{ type: 0x04, value: new Uint8Array(0) }, { type: 0xe0, value: new Uint8Array(30) }],
  });
  for (const byte of joined(header, ASK)) await proxy.send(new Uint8Array([byte]));
  assertEquals(await proxy.readLine(), answer("[2001:db8::7]:40000", "[2001:db8::1]:443", proxy));
});

Deno.test("proxyProtocol: header and first request in one write; a v2 IPv4 header", async () => {
  await using h = await whoami();
  await using proxy = await Client.connect(h.port);
  await proxy.send(joined(proxyV2({ source: { address: "198.51.100.9", port: 1 } }), ASK, ASK));
  assertEquals(await proxy.readLines(2), [
    answer("198.51.100.9:1", "192.0.2.1:12000", proxy),
    answer("198.51.100.9:1", "192.0.2.1:12000", proxy),
  ]);
});

Deno.test("proxyProtocol: a LOCAL (v2) or UNKNOWN (v1) header leaves the connection's own addresses", async () => {
  await using h = await whoami();
  for (const header of [proxyV2({ command: "LOCAL" }), proxyV1({ command: "LOCAL" })]) {
    await using proxy = await Client.connect(h.port);
    await proxy.send(joined(header, "tcp/peer tcp/proxy\n"));
    assertMatch(
      (await proxy.readLine())!,
      new RegExp(`^tcp/peer=${proxy.peer} error: .*no "tcp/proxy" operation`),
    );
  }
});

/** Sends `bytes` on a fresh connection; the host must close it without a reply or a servlet run. */
async function rejected(h: TestHost, bytes: Uint8Array | string): Promise<Client> {
  const before = calls.length;
  const proxy = await Client.connect(h.port);
  await proxy.send(bytes);
  assertEquals(await proxy.readToEnd(), "", "a rejected connection gets no reply");
  assertEquals(calls.length, before, "no servlet ran");
  proxy.close();
  return proxy;
}

Deno.test("proxyProtocol: a missing, malformed or truncated header closes the connection, no servlet runs", async () => {
  await using h = await startHost({
    nodes: { n: spy("proxied") },
    input: "n.in",
    output: "n.out",
    listeners: [{ module: "tcp", options: { proxyProtocol: ["127.0.0.1"], log: "info" } }],
  });
  const url = h.host.urls[0];
  let proxy = await rejected(h, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  assertEquals(
    await waitForLog(h, "rejected: no PROXY header"),
    `plumb info: PLUMB_PROXY_NO_HEADER connection from ${proxy.peer} to ${url} rejected: no ` +
      `PROXY header: ` +
      `the connection starts "GET / HTTP/1.1\\x0d\\x0a"...`,
  );
  proxy = await rejected(h, "PROXY TCP4 300.0.0.1 192.0.2.1 5000 80\r\nhello\n");
  assertEquals(
    await waitForLog(h, "300.0.0.1"),
    `plumb info: PLUMB_PROXY_MALFORMED connection from ${proxy.peer} to ${url} rejected: ` +
      `malformed PROXY v1 header: ` +
      `"300.0.0.1" is not an IPv4 address`,
  );
  const v2 = proxyV2();
  v2[12] = 0x31; // version 3
  proxy = await rejected(h, v2);
  await waitForLog(h, "malformed PROXY v2 header: version 3, not 2");
  // The header starts well and then the proxy hangs up: cut short, and said so.
  const closed = await Client.connect(h.port);
  await closed.send(proxyV2().subarray(0, 20));
  await closed.closeWrite();
  assertEquals(await closed.readToEnd(), "");
  closed.close();
  await waitForLog(h, `connection from ${closed.peer} to ${url} rejected: closed after 20 bytes`);
  // A bare connect and close (a health check without send-proxy) is a debug line only.
  const bare = await Client.connect(h.port);
  bare.close();
  assertEquals(
    await waitForLog(h, `connection from ${bare.peer} `),
    `plumb debug: PLUMB_PROXY_CLOSED connection from ${bare.peer} to ${url} rejected: closed ` +
      `before sending its ` +
      `PROXY header`,
  );
  // And the listener goes on serving a good connection.
  await using good = await Client.connect(h.port);
  await good.send(joined(proxyV1(), "hi"));
  await good.closeWrite();
  assertEquals(await good.readToEnd(), "proxied saw hi\n");
});

Deno.test("proxyProtocol: a connection from a proxy that is not trusted is closed before its header is read", async () => {
  await using h = await whoami({ proxyProtocol: ["10.0.0.0/8", "::1"] });
  const proxy = await rejected(h, joined(proxyV1(), ASK));
  assertEquals(
    await waitForLog(h, "rejected"),
    `plumb info: PLUMB_PROXY_UNTRUSTED connection from ${proxy.peer} to ${h.host.urls[0]} ` +
      `rejected: not a trusted ` +
      `proxy (proxyProtocol 10.0.0.0/8, ::1)`,
  );
});

Deno.test("proxyProtocol: allow and deny judge the client the header names, not the proxy", async () => {
  await using h = await whoami({ deny: ["203.0.113.0/24"], allow: ["198.51.100.0/24"] });
  const denied = await rejected(
    h,
    joined(proxyV1({ source: { address: "203.0.113.7", port: 9 } })),
  );
  assertEquals(
    await waitForLog(h, "denied"),
    `plumb info: PLUMB_CONN_DENIED connection from 203.0.113.7:9 via ${denied.peer} to ` +
      `${h.host.urls[0]} denied: ` +
      `matches deny rule "203.0.113.0/24"`,
  );
  await using allowed = await Client.connect(h.port);
  await allowed.send(joined(proxyV1({ source: { address: "198.51.100.4", port: 9 } }), ASK));
  assertEquals(await allowed.readLine(), answer("198.51.100.4:9", "192.0.2.1:12000", allowed));
});

Deno.test("proxyProtocol: maxPerSource counts the clients the headers name", async () => {
  await using h = await whoami({ maxPerSource: 1, refuseMessage: "busy\n" });
  const from = (address: string): Uint8Array => proxyV2({ source: { address, port: 7 } });
  await using first = await Client.connect(h.port);
  await first.send(joined(from("198.51.100.4"), ASK));
  assertEquals(await first.readLine(), answer("198.51.100.4:7", "192.0.2.1:12000", first));
  // The same client again, while its first connection is open: refused, though the proxy's address
  // is the same for all three.
  await using second = await Client.connect(h.port);
  await second.send(from("198.51.100.4"));
  assertEquals(await second.readToEnd(), "busy\n");
  await waitForLog(h, "1 connection from 198.51.100.4 open already (maxPerSource 1)");
  await using third = await Client.connect(h.port);
  await third.send(joined(from("198.51.100.5"), ASK));
  assertEquals(await third.readLine(), answer("198.51.100.5:7", "192.0.2.1:12000", third));
});

Deno.test("proxyProtocol: a header that does not come in time ends the wait, and says so", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const accepted = await listener.accept();
  await client.write(new TextEncoder().encode("PROXY TCP4 "));
  const result = await readProxyHeader(connChannel(accepted), 50);
  assert(!(result instanceof ProxiedChannel));
  assertEquals(result, {
    code: "PLUMB_PROXY_LATE",
    reason: "no whole PROXY header within 0.05 s",
    quiet: false,
  });
  client.close();
  listener.close();
});

Deno.test("proxyProtocol: a host stops at once while a connection is still sending its header", async () => {
  const h = await whoami();
  const proxy = await Client.connect(h.port);
  await proxy.send("PROXY TCP4 203.0.113.7");
  await h.host.close(1000);
  assertEquals(await proxy.readToEnd(), "");
  proxy.close();
});
