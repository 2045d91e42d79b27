// deno-lint-ignore-file explicit-function-return-type -- plain JavaScript for Node 20, no types
// A baseline of `bench/run.ts`: Node's `net` module answering each line `X\n`
// (or `X\r\n`) with `Hello, X\n`, run with the `node` on the machine (`node
// net`) and by Deno (`deno node net`: Deno's `node:net` reads and writes its
// sockets natively, without an async op per read). Lines are split on bytes;
// all the replies to the lines of one `data` event go out in one
// `socket.write`; no delay. Node reads into buffers of its own pool, so an
// idle connection holds no read buffer (about 3.5 KiB per idle connection
// under either runtime).
//
//   node bench/node_net_server.mjs --port 0
//   deno run --allow-net=127.0.0.1 --allow-read bench/node_net_server.mjs --port 0
//
// Prints `listening on tcp://127.0.0.1:PORT` once it accepts connections and
// exits 0 on SIGTERM or SIGINT. Plain JavaScript (no types): Node 20 runs it
// as it is.
import net from "node:net";
import { Buffer } from "node:buffer";
import process from "node:process";

const HOSTNAME = "127.0.0.1";
/** Longest line accepted, in bytes, as plumb's default `maxMessageSize`. */
const MAX_LINE_BYTES = 65536;
const LF = 0x0a;
const CR = 0x0d;
const HELLO = Buffer.from("Hello, ");
const EMPTY = Buffer.alloc(0);

/** The replies to the whole lines of `bytes` in one buffer (or null), and where the rest starts. */
function replies(bytes) {
  let size = 0;
  let start = 0;
  for (let nl = bytes.indexOf(LF); nl >= 0; nl = bytes.indexOf(LF, start)) {
    const end = nl > start && bytes[nl - 1] === CR ? nl - 1 : nl;
    size += HELLO.length + end - start + 1;
    start = nl + 1;
  }
  const rest = start;
  if (rest === 0) return { reply: null, rest };
  const reply = Buffer.allocUnsafe(size);
  let at = 0;
  start = 0;
  while (start < rest) {
    const nl = bytes.indexOf(LF, start);
    const end = nl > start && bytes[nl - 1] === CR ? nl - 1 : nl;
    at += HELLO.copy(reply, at);
    at += bytes.copy(reply, at, start, end);
    reply[at++] = LF;
    start = nl + 1;
  }
  return { reply, rest };
}

function main(args) {
  const at = args.indexOf("--port");
  const text = at >= 0 ? args[at + 1] ?? "" : "0";
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) {
    console.error(`node_net_server: --port must be a whole number from 0 to 65535, got "${text}"`);
    process.exit(2);
  }
  const server = net.createServer({ noDelay: true }, (socket) => {
    let partial = EMPTY;
    socket.on("data", (data) => {
      const bytes = partial.length === 0 ? data : Buffer.concat([partial, data]);
      const { reply, rest } = replies(bytes);
      if (reply !== null) socket.write(reply);
      if (bytes.length - rest > MAX_LINE_BYTES) socket.destroy();
      partial = rest === bytes.length ? EMPTY : Buffer.from(bytes.subarray(rest));
    });
    socket.on("error", () => socket.destroy());
  });
  const stop = () => process.exit(0);
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  server.listen(port, HOSTNAME, () => {
    console.log(`listening on tcp://${HOSTNAME}:${server.address().port}`);
  });
}

main(process.argv.slice(2));
