/**
 * Aborted downloads (issue 20), bounded and on 127.0.0.1: five clients each
 * ask a CLI host for a 1 GiB file (sparse, so cheap to make and to read),
 * read 1 KiB and reset. The host's file reads stop with them: what it reads
 * in all, from `/proc/<pid>/io`, stays near what it sent, far from 5 GiB.
 * A probe is served meanwhile, and nothing is logged as an error. Linux only.
 */
import { assert, assertEquals } from "./assert.ts";
import { path, spawnCli } from "./helpers.ts";

const DIR = path("tests/.tmp/download");
const SIZE = 1 << 30;
const CLIENTS = 5;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Bytes process `pid` has read (`rchar`: files and sockets alike). */
async function bytesRead(pid: number): Promise<number> {
  const out = await new Deno.Command("cat", { args: [`/proc/${pid}/io`], stdout: "piped" })
    .output();
  const match = decoder.decode(out.stdout).match(/^rchar: (\d+)$/m);
  assert(match !== null, `no rchar in /proc/${pid}/io`);
  return Number(match[1]);
}

/** Asks for `target`, reads `take` bytes of the reply, then resets (closes with bytes unread). */
async function readAndReset(port: number, target: string, take: number): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(encoder.encode(`GET ${target} HTTP/1.1\r\nHost: a\r\n\r\n`));
  const buffer = new Uint8Array(take);
  let got = 0;
  while (got < take) {
    const n = await conn.read(buffer.subarray(got));
    if (n === null) break;
    got += n;
  }
  conn.close();
  return got;
}

Deno.test({
  name:
    "aborted downloads: five clients that reset after 1 KiB of a 1 GiB file stop its reads; a probe is served",
  ignore: Deno.build.os !== "linux",
  async fn(): Promise<void> {
    await Deno.remove(DIR, { recursive: true }).catch(() => {});
    await Deno.mkdir(`${DIR}/www`, { recursive: true });
    {
      using file = await Deno.open(`${DIR}/www/big.bin`, { write: true, create: true });
      await file.truncate(SIZE); // sparse: no disk written
    }
    await Deno.writeTextFile(`${DIR}/www/small.txt`, "small\n");
    await Deno.writeTextFile(
      `${DIR}/graph.json`,
      JSON.stringify({
        nodes: {
          parse: { servlet: "http/parser" },
          files: { servlet: "http/static", args: ["./www"] },
          render: { servlet: "http/render" },
        },
        edges: [
          { from: "parse.out", to: "files.in" },
          { from: "parse.head", to: "render.head" },
          { from: "files.out", to: "render.in" },
        ],
        input: "parse.in",
        output: "render.out",
        listeners: [{ module: "tcp", options: { host: "127.0.0.1", port: 0 } }],
      }),
    );
    await using cli = await spawnCli([`${DIR}/graph.json`, "--log-level", "error"]);
    const pid = cli.process.pid;
    const before = await bytesRead(pid);
    const got = await Promise.all(
      Array.from({ length: CLIENTS }, () => readAndReset(cli.port, "/big.bin", 1024)),
    );
    assertEquals(got, Array(CLIENTS).fill(1024));
    // A probe on a new connection.
    const probe = await Deno.connect({ hostname: "127.0.0.1", port: cli.port });
    await probe.write(
      encoder.encode("GET /small.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"),
    );
    let reply = "";
    const buffer = new Uint8Array(4096);
    for (let n = await probe.read(buffer); n !== null; n = await probe.read(buffer)) {
      reply += decoder.decode(buffer.subarray(0, n));
    }
    probe.close();
    assert(reply.startsWith("HTTP/1.1 200 OK\r\n") && reply.endsWith("small\n"), reply);
    // The reads settle: no growth over half a second (or ten seconds pass).
    let last = await bytesRead(pid);
    for (let waited = 0; waited < 10_000; waited += 500) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      const now = await bytesRead(pid);
      if (now === last) break;
      last = now;
    }
    const read = last - before;
    console.log(
      `aborted downloads: ${CLIENTS} clients x 1 KiB of a ${SIZE >> 20} MiB file: the host read ` +
        `${(read / 1048576).toFixed(1)} MiB in all`,
    );
    // Each download may have read ahead what the pipes and the socket hold, a few MiB; a
    // download that went on reading would have read its whole GiB.
    assert(read < CLIENTS * 32 * 1048576, `the host read ${read} bytes`);
    // A client that left is no error of the host's: nothing was logged at error.
    assertEquals(cli.stderrSoFar(), "");
  },
});
