/**
 * The `tls` module, with a throwaway certificate authority made by the
 * `openssl` command line (`tests/tls_fixture.ts`): ELIZA through
 * `openssl s_client`, the HTTP example through `curl --cacert` (keep-alive,
 * two requests on one connection, ALPN), a client that does not trust the
 * authority and a plain-TCP client refused while the host serves on, the
 * certificate problems that stop a start (one line naming the file, exit 2),
 * SIGHUP reading a renewed certificate and keeping the old one when the new
 * one is bad, the module's `cntl` answers, the PROXY protocol before the
 * handshake, the access rules and limits, and `--workers`. Without `openssl`
 * (or `curl`) the tests that need it are ignored, never passed.
 */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import {
  Client,
  path,
  runCli,
  spawnCli,
  startHost,
  waitForLog,
  WORKERS_PERMISSIONS,
} from "./helpers.ts";
import { joined, proxyV2 } from "./proxy_headers.ts";
import { has, issue, makePki, type Pki, presentedSubject, run, TlsClient } from "./tls_fixture.ts";
import type { GraphSpec } from "../host/mod.ts";
import { TCP_OPTIONS } from "../modules/tcp.ts";
import { TLS_OPTIONS } from "../modules/tls.ts";
import { readGraphFile } from "../host/graph_file.ts";

const OPENSSL = await has("openssl");
const CURL = await has("curl");
const pki: Pki | undefined = OPENSSL ? await makePki("tls") : undefined;
const WHOAMI = "./tests/fixtures/whoami.ts";
const GREETING = "How do you do. Please tell me your problem.\n";

/** The test PKI (the tests that call this are ignored without openssl). */
function keys(): Pki {
  assert(pki !== undefined, "openssl is missing");
  return pki;
}

/** A graph of one `servlet` node served by a `tls` listener with the test certificate and `options`. */
function tlsGraph(servlet: string, options: Record<string, unknown> = {}): GraphSpec {
  return {
    nodes: { n: { servlet } },
    input: "n.in",
    output: "n.out",
    listeners: [{
      module: "tls",
      options: { cert: keys().server.cert, key: keys().server.key, log: "info", ...options },
    }],
  };
}

/** Writes a graph file into the PKI's directory, its certificate paths relative to it. */
async function graphFile(name: string, graph: Record<string, unknown>): Promise<string> {
  const file = `${keys().dir}/${name}`;
  await Deno.writeTextFile(file, JSON.stringify(graph, null, 2));
  return file;
}

/** ELIZA over TLS: the graph of `examples/eliza_tls.json` with the given certificate files. */
function elizaGraph(cert: string, key: string): Record<string, unknown> {
  return {
    nodes: { doctor: { servlet: "eliza" } },
    input: "doctor.in",
    output: "doctor.out",
    listeners: [{ module: "tls", options: { port: 0, cert, key, open: true } }],
  };
}

Deno.test("tls takes every option of tcp, checked the same way (reusePort's text aside), and cert, key and alpn", () => {
  const { reusePort: _tlsReuse, cert, key, alpn, ...shared } = TLS_OPTIONS;
  const { reusePort: _tcpReuse, ...tcpShared } = TCP_OPTIONS;
  assertEquals(shared, tcpShared);
  assertEquals([cert.type, key.type, alpn.type], ["string", "string", "string[]"]);
  assertEquals({ ...TLS_OPTIONS.reusePort, doc: "" }, { ...TCP_OPTIONS.reusePort, doc: "" });
});

Deno.test({
  name: "tls: ELIZA through openssl s_client: the greeting, a reply, and bye closes",
  ignore: !OPENSSL,
  async fn(): Promise<void> {
    const file = await graphFile("eliza.json", elizaGraph("server.crt", "server.key"));
    await using cli = await spawnCli([file]);
    const talk = await run("openssl", [
      "s_client",
      "-connect",
      `127.0.0.1:${cli.port}`,
      "-servername",
      "localhost",
      "-CAfile",
      keys().ca.cert,
      "-verify_return_error",
      "-quiet",
    ], "I am sad\nbye\n");
    assertEquals(
      talk.stdout,
      `${GREETING}I am sorry to hear that you are sad.\nGoodbye. It was nice talking to you.\n`,
      talk.stderr,
    );
    // The host ended the session with close_notify: openssl saw no cut.
    assert(!/unexpected eof/i.test(talk.stderr), talk.stderr);
    assertEquals(talk.code, 0, talk.stderr);
  },
});

Deno.test({
  name: "tls: the HTTP example over HTTPS with curl --cacert: two requests on one connection, ALPN",
  ignore: !OPENSSL || !CURL,
  async fn(): Promise<void> {
    const { spec, base } = await readGraphFile(path("examples/https.json"));
    const listener = spec.listeners![0];
    assertEquals(listener.module, "tls");
    // Only the certificate is changed: the test CA's, not the example's demo one.
    listener.options = { ...listener.options, cert: keys().server.cert, key: keys().server.key };
    await using h = await startHost(spec, { base });
    const url = `https://localhost:${h.port}/api/hello`;
    const curl = await run("curl", ["-sS", "-v", "--cacert", keys().ca.cert, url, url]);
    assertEquals(curl.code, 0, curl.stderr);
    assertEquals(curl.stdout, '{"message":"Hello, world!"}{"message":"Hello, world!"}');
    assertMatch(curl.stderr, /ALPN: server accepted http\/1\.1/);
    assertMatch(curl.stderr, /Re-using existing connection/);
    assertEquals(curl.stderr.match(/< HTTP\/1\.1 200 OK/g)?.length, 2, curl.stderr);
    const line = await waitForLog(h, "ended:");
    assertMatch(line, / ended: closed by peer after [\d.]+ s, 2 requests, /);
  },
});

Deno.test({
  name:
    "tls: a client that does not trust the CA is refused, a plain-TCP client is closed, and the host serves on",
  ignore: !OPENSSL,
  async fn(): Promise<void> {
    await using h = await startHost(tlsGraph(WHOAMI));
    const untrusting = await run("openssl", [
      "s_client",
      "-connect",
      `127.0.0.1:${h.port}`,
      "-CAfile",
      keys().otherCa.cert,
      "-verify_return_error",
    ]);
    assert(untrusting.code !== 0, "openssl accepted a certificate from a CA it does not trust");
    assertMatch(untrusting.stdout + untrusting.stderr, /verify error|certificate verify failed/);
    if (CURL) {
      const curl = await run("curl", [
        "-sS",
        "--cacert",
        keys().otherCa.cert,
        `https://localhost:${h.port}/`,
      ]);
      assertEquals(curl.code, 60, curl.stderr); // curl's "peer certificate cannot be authenticated"
    }
    // A client speaking plain text to the TLS port: a TLS alert and the end, nothing else.
    await using plain = await Client.connect(h.port);
    await plain.send("tcp/peer\n");
    // readBytes returns fewer bytes than asked for only once the host has closed.
    const answer = await plain.readBytes(1024);
    assert(answer.length < 1024 && (answer.length === 0 || answer[0] === 0x15), `${answer}`);
    await waitForLog(h, `${plain.peer}: TLS handshake failed:`);
    await using good = await TlsClient.connect(h.port, keys().ca.cert);
    await good.send("tcp/peer\n");
    assertEquals(await good.readLine(), `tcp/peer=${good.peer}\n`);
  },
});

Deno.test({
  name:
    "tls: a certificate or key that cannot be used stops the start: one line naming the file, exit 2",
  ignore: !OPENSSL,
  async fn(): Promise<void> {
    const { dir, server } = keys();
    const other = await issue(keys().otherCa, dir, "other");
    await Deno.writeTextFile(`${dir}/garbage.crt`, "this is not a certificate\n");
    const encrypted = `${dir}/encrypted.key`;
    const sealed = await run("openssl", [
      "pkey",
      "-in",
      server.key,
      "-aes256",
      "-passout",
      "pass:secret",
      "-out",
      encrypted,
    ]);
    assertEquals(sealed.code, 0, sealed.stderr);
    const cases: [string, string, string][] = [
      [
        "missing.crt",
        "server.key",
        `PLUMB_TLS_FILE_MISSING certificate ${dir}/missing.crt: no such file`,
      ],
      [
        "garbage.crt",
        "server.key",
        `PLUMB_TLS_CERT_NOT_PEM certificate ${dir}/garbage.crt: no PEM certificate in it (-----BEGIN CERTIFICATE-----)`,
      ],
      ["server.crt", "missing.key", `PLUMB_TLS_FILE_MISSING key ${dir}/missing.key: no such file`],
      [
        "server.crt",
        "other.key",
        `PLUMB_TLS_KEY_MISMATCH key ${dir}/other.key is not the key of certificate ${dir}/server.crt ` +
        `(O=plumb tests, CN=localhost)`,
      ],
      [
        "server.crt",
        "encrypted.key",
        `PLUMB_TLS_KEY_ENCRYPTED key ${dir}/encrypted.key: the key is encrypted; give the key without a passphrase ` +
        `(openssl pkey -in KEY -out PLAIN)`,
      ],
    ];
    assert(other.key.endsWith("/other.key"));
    for (const [cert, key, message] of cases) {
      const file = await graphFile("bad.json", elizaGraph(cert, key));
      const result = await runCli([file]);
      assertEquals(result.code, 2, result.stderr);
      const [code, ...words] = message.split(" ");
      assertEquals(
        result.stderr,
        `plumb: ${code} cannot listen on tls://127.0.0.1: ${words.join(" ")}\n`,
      );
    }
    // A certificate the host may not read: the flag to add.
    const file = await graphFile("eliza.json", elizaGraph("server.crt", "server.key"));
    const denied = await runCli([file], ["--allow-net=127.0.0.1", `--allow-read=${file}`]);
    assertEquals(denied.code, 2, denied.stderr);
    assertEquals(
      denied.stderr,
      `plumb: PLUMB_PERMISSION_TLS_FILE cannot read the certificate ${dir}/server.crt: permission denied; run deno with ` +
        `--allow-read=${dir}/server.crt\n`,
    );
  },
});

Deno.test({
  name:
    "tls: SIGHUP reads a renewed certificate for new connections; a bad one is logged and the old kept",
  ignore: !OPENSSL,
  async fn(): Promise<void> {
    const { dir, ca } = keys();
    const first = await issue(ca, dir, "first", "first");
    const renewed = await issue(ca, dir, "renewed", "renewed");
    await Deno.copyFile(first.cert, `${dir}/live.crt`);
    await Deno.copyFile(first.key, `${dir}/live.key`);
    const file = await graphFile("live.json", elizaGraph("live.crt", "live.key"));
    await using cli = await spawnCli([file]);
    assertEquals(await presentedSubject(cli.port, ca.cert), "O = first, CN = localhost");
    // A conversation open across both reloads goes on, on the session it started with.
    await using open = await TlsClient.connect(cli.port, ca.cert);
    assertEquals(await open.readLine(), GREETING);

    await Deno.copyFile(renewed.cert, `${dir}/live.crt`);
    await Deno.copyFile(renewed.key, `${dir}/live.key`);
    cli.process.kill("SIGHUP");
    await cli.waitForStderr(
      `read the certificate ${dir}/live.crt (O=renewed, CN=localhost, valid until `,
    );
    assertEquals(await presentedSubject(cli.port, ca.cert), "O = renewed, CN = localhost");

    await Deno.writeTextFile(`${dir}/live.key`, "-----BEGIN PRIVATE KEY-----\nAAAA\n");
    cli.process.kill("SIGHUP");
    const stderr = await cli.waitForStderr("kept the certificate it had");
    assertMatch(
      stderr,
      new RegExp(
        `plumb error: PLUMB_TLS_RELOAD_KEPT tls://127\\.0\\.0\\.1:${cli.port}: kept the ` +
          `certificate it had: reading it again failed: PLUMB_TLS_KEY_INVALID key ${dir}/live\\.key: not a valid private key: .+\\n`,
      ),
    );
    assertEquals(await presentedSubject(cli.port, ca.cert), "O = renewed, CN = localhost");

    await open.send("I am sad\n");
    assertEquals(await open.readLine(), "I am sorry to hear that you are sad.\n");
    open.close();
    const { code } = await cli.stop();
    assertEquals(code, 0);
  },
});

Deno.test({
  name: "tls: an expired certificate is served, with a warning naming it",
  ignore: !OPENSSL,
  async fn(): Promise<void> {
    const expired = await issue(keys().ca, keys().dir, "expired", "expired", -1);
    await using h = await startHost(tlsGraph(WHOAMI, { cert: expired.cert, key: expired.key }));
    assertMatch(
      await waitForLog(h, "expired on"),
      new RegExp(
        `^plumb warn: PLUMB_TLS_EXPIRED tls://127\\.0\\.0\\.1:\\d+: certificate ${expired.cert} expired on \\w+ +\\d+ [\\d:]+ \\d{4} GMT$`,
      ),
    );
  },
});

Deno.test({
  name: "tls: a servlet asks for the negotiated ALPN protocol, TLS version, server name and peer",
  ignore: !OPENSSL,
  async fn(): Promise<void> {
    await using h = await startHost(tlsGraph(WHOAMI, { alpn: ["x-plumb", "http/1.1"] }));
    await using client = await TlsClient.connect(h.port, keys().ca.cert, ["http/1.1"]);
    await client.send("tls/alpn tls/version tls/servername tcp/peer\n");
    assertEquals(
      await client.readLine(),
      `tls/alpn=http/1.1 tls/version=TLSv1.3 tls/servername=localhost tcp/peer=${client.peer}\n`,
    );
  },
});

/** A TCP connection to `port` that sends a v2 PROXY header for `source`, then TLS over it. */
async function proxiedTls(port: number, source: string): Promise<TlsClient> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(proxyV2({ source: { address: source, port: 4000 } }));
  return await TlsClient.over(conn, keys().ca.cert);
}

/**
 * A relay on a free port that forwards to `port` with a PROXY header for
 * `source` sent in the same write as the client's first bytes (its TLS
 * ClientHello), as a balancer may.
 */
function coalescingRelay(port: number, source: string): { port: number; close(): Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const piping: Promise<unknown>[] = [];
  const accepting = (async () => {
    for await (const client of listener) {
      piping.push((async () => {
        const server = await Deno.connect({ hostname: "127.0.0.1", port });
        const buffer = new Uint8Array(65536);
        const n = await client.read(buffer);
        if (n === null) return;
        await server.write(
          joined(proxyV2({ source: { address: source, port: 4000 } }), buffer.subarray(0, n)),
        );
        await Promise.allSettled([
          client.readable.pipeTo(server.writable),
          server.readable.pipeTo(client.writable),
        ]);
      })());
    }
  })();
  return {
    port: listener.addr.port,
    async close(): Promise<void> {
      listener.close();
      await accepting;
      await Promise.allSettled(piping);
    },
  };
}

Deno.test({
  name:
    "tls with proxyProtocol: the header before the handshake names the client, alone or with the ClientHello",
  ignore: !OPENSSL,
  async fn(): Promise<void> {
    await using h = await startHost(tlsGraph(WHOAMI, { proxyProtocol: ["127.0.0.1"] }));
    const alone = await proxiedTls(h.port, "203.0.113.7");
    await alone.send("tcp/peer tcp/proxy\n");
    assertMatch(
      (await alone.readLine())!,
      /^tcp\/peer=203\.0\.113\.7:4000 tcp\/proxy=127\.0\.0\.1:\d+\n$/,
    );
    alone.close();
    const relay = coalescingRelay(h.port, "198.51.100.2");
    try {
      const together = await TlsClient.connect(relay.port, keys().ca.cert);
      await together.send("tcp/peer\n");
      assertEquals(await together.readLine(), "tcp/peer=198.51.100.2:4000\n");
      together.close();
    } finally {
      await relay.close();
    }
    await waitForLog(h, /connection from 198\.51\.100\.2:4000 via 127\.0\.0\.1:\d+ to tls:/);
    // TLS without the header: rejected before the handshake, the first bytes named.
    await handshakeFails(await Deno.connect({ hostname: "127.0.0.1", port: h.port }));
    await waitForLog(h, /rejected: no PROXY header: the connection starts "\\x16\\x03/);
  },
});

/** Starts TLS over `conn` and fails unless the handshake fails; closes the connection. */
async function handshakeFails(conn: Deno.TcpConn): Promise<void> {
  const tls = await Deno.startTls(conn, {
    hostname: "localhost",
    caCerts: [await Deno.readTextFile(keys().ca.cert)],
  });
  let failed = false;
  try {
    await tls.handshake();
  } catch {
    failed = true;
  } finally {
    tls.close();
  }
  assert(failed, "the TLS handshake succeeded");
}

Deno.test({
  name:
    "tls: deny closes a connection before the handshake; a limit's refuseMessage is told over TLS",
  ignore: !OPENSSL,
  async fn(): Promise<void> {
    {
      await using h = await startHost(tlsGraph(WHOAMI, { deny: ["127.0.0.0/8"] }));
      await handshakeFails(await Deno.connect({ hostname: "127.0.0.1", port: h.port }));
      await waitForLog(h, 'denied: matches deny rule "127.0.0.0/8"');
      assert(!h.logs.some((l) => l.includes("TLS handshake failed")), h.logs.join("\n"));
    }
    await using h = await startHost(
      tlsGraph(WHOAMI, { maxConnections: 1, overflow: "refuse", refuseMessage: "busy\n" }),
    );
    await using first = await TlsClient.connect(h.port, keys().ca.cert);
    await first.send("tcp/peer\n");
    assertEquals(await first.readLine(), `tcp/peer=${first.peer}\n`);
    await using second = await TlsClient.connect(h.port, keys().ca.cert);
    assertEquals(await second.readToEnd(), "busy\n");
  },
});

Deno.test({
  name: "tls: --workers 2 share a TLS port; each connection keeps its worker",
  ignore: !OPENSSL,
  async fn(): Promise<void> {
    const file = await graphFile("workers.json", {
      nodes: { n: { servlet: path("tests/fixtures/worker_name.ts") } },
      input: "n.in",
      output: "n.out",
      listeners: [{ module: "tls", options: { port: 0, cert: "server.crt", key: "server.key" } }],
    });
    const cli = await spawnCli([file, "--workers", "2"], WORKERS_PERMISSIONS);
    const seen = new Set<string>();
    try {
      for (let i = 0; i < 24; i++) {
        await using c = await TlsClient.connect(cli.port, keys().ca.cert);
        await c.send("a\nb\n");
        const [one, two] = await c.readLines(2);
        const worker = one.match(/^(plumb worker \d) 1\n$/)?.[1];
        assert(worker !== undefined, `unexpected reply ${JSON.stringify(one)}`);
        assertEquals(two, `${worker} 2\n`);
        seen.add(worker);
      }
    } finally {
      const { code, stderr } = await cli.stop();
      assertEquals(code, 0, stderr);
    }
    // 24 connections all on one worker would happen once in 2^23 runs.
    assertEquals([...seen].sort(), ["plumb worker 1", "plumb worker 2"]);
  },
});
