/**
 * Fuzzing and property tests, bounded to a few seconds: random bytes in
 * random chunks through the line framing (`ByteReader`, `TextLineStream`)
 * against a plain reference splitter; random bytes through a real TCP host,
 * which must go on serving; PROXY protocol headers, written by a generator
 * and mutated, in random chunks through the header reader (what the
 * generator wrote must come back, the rest of the bytes untouched; any input
 * is read or refused, never thrown on, and consistently for its prefixes)
 * and through a real `proxyProtocol` host; random and mutated graph files
 * through the loader, whose every refusal must be a one-line `GraphError`
 * naming the file; HTTP requests, generated and mutated, through the
 * parser's reader whole and in random pieces (the same outcome either way).
 *
 * Each run draws a fresh base seed, and each case its own seed from it; every
 * assertion message names both. To replay a whole run:
 * `PLUMB_FUZZ_SEED=<base seed> deno task test tests/fuzz_test.ts`; to replay
 * one case of one test alone: `PLUMB_FUZZ_CASE=<case seed> deno task test
 * tests/fuzz_test.ts --filter "<test name>"`.
 */
import { assert, assertEquals } from "./assert.ts";
import { Client, oneNode, path, ROOT, startHost } from "./helpers.ts";
import { ByteReader } from "../kernel/byte_reader.ts";
import { MessageTooLongError } from "../kernel/errors.ts";
import { TextLineStream } from "../kernel/_text_line_stream.ts";
import { parseGraph } from "../kernel/graph.ts";
import { checkGraph, type GraphSpec } from "../host/mod.ts";
import { GraphError } from "../mod.ts";
import type { ByteChannel } from "../modules/channel.ts";
import { parseAddress } from "../modules/address_rules.ts";
import { parseProxyHeader, type ProxyEndpoint } from "../modules/proxy_header.ts";
import { ProxiedChannel, readProxyHeader } from "../modules/proxy_protocol.ts";
import { type HeaderSpec, joined, proxyV1, proxyV2 } from "./proxy_headers.ts";
import { type ParseOutcome, RequestReader, wholeRequest } from "../servlets/http/request_parser.ts";

const BASE_SEED = Number(Deno.env.get("PLUMB_FUZZ_SEED") ?? Math.floor(Math.random() * 2 ** 32));
const decoder = new TextDecoder();

/** A small seeded PRNG (mulberry32): the same seed gives the same sequence. */
class Random {
  #state: number;
  constructor(readonly seed: number) {
    this.#state = seed >>> 0;
  }
  /** A float in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }
  /** One of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
}

const ONE_CASE = Deno.env.get("PLUMB_FUZZ_CASE");

/** How to replay a case (or, without a seed, the run) in an assertion message. */
function tag(seed?: number): string {
  const run = `base seed ${BASE_SEED}: PLUMB_FUZZ_SEED=${BASE_SEED} replays the run`;
  return seed === undefined ? run : `case seed ${seed} (PLUMB_FUZZ_CASE=${seed}; ${run})`;
}

/**
 * The seeds of a test's cases: one per case, drawn from the base seed and the
 * test's name; only the one of `PLUMB_FUZZ_CASE` when it is set.
 */
function caseSeeds(name: string, count: number): number[] {
  if (ONE_CASE !== undefined) return [Number(ONE_CASE)];
  let hash = BASE_SEED >>> 0;
  for (const c of name) hash = Math.imul(hash ^ c.charCodeAt(0), 0x01000193) >>> 0;
  const seeds = new Random(hash);
  return Array.from({ length: count }, () => seeds.int(2 ** 32));
}

/** Byte pieces that line framing finds interesting. */
const PIECES: readonly number[][] = [
  [0x0a], // \n
  [0x0d], // \r
  [0x0d, 0x0a], // \r\n
  [0x61],
  [0x20],
  [0xc3, 0xa9], // é
  [0xe4, 0xb8, 0x96], // 世
  [0xf0, 0x9f, 0x98, 0x80], // an emoji, 4 bytes
  [0xc3], // a lead byte alone
  [0xe4, 0xb8], // a 3-byte character cut short
  [0x80], // a continuation byte alone
  [0xff],
  [0xc0, 0xaf], // an overlong "/"
  [0xed, 0xa0, 0x80], // a UTF-16 surrogate, encoded
  [0x00],
];

/** Random bytes, mostly short lines of text and broken UTF-8, sometimes one long run. */
function randomBytes(random: Random, max: number): Uint8Array {
  const out: number[] = [];
  const length = random.int(max + 1);
  while (out.length < length) {
    if (random.chance(0.02)) {
      for (let n = random.int(200); n > 0; n--) out.push(0x41 + random.int(26));
    } else if (random.chance(0.1)) out.push(random.int(256));
    else out.push(...random.pick(PIECES));
  }
  return new Uint8Array(out);
}

/**
 * `bytes` cut at random places: into single bytes, small pieces or a few big
 * ones. Over a socket (`small` 64) pieces are up to 64 bytes, so that a run
 * takes no more writes than needed.
 */
function randomChunks(random: Random, bytes: Uint8Array, small = 8): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  const mode = random.int(small > 8 ? 2 : 3) + (small > 8 ? 1 : 0);
  let at = 0;
  while (at < bytes.length) {
    const size = mode === 0 ? 1 : mode === 1 ? 1 + random.int(small) : 1 + random.int(bytes.length);
    chunks.push(bytes.slice(at, at + size));
    at += size;
  }
  return chunks;
}

/**
 * The reference splitter: lines end at `\n` (a `\r` before it is dropped);
 * the last line may lack one; each is decoded on its own, invalid UTF-8
 * becoming U+FFFD. `tooLong` is the index of the first line longer than
 * `maxBytes` (without its end of line), where reading must fail.
 */
function referenceLines(bytes: Uint8Array, maxBytes: number): { lines: string[]; tooLong: number } {
  const lines: string[] = [];
  let start = 0;
  for (;;) {
    const nl = bytes.indexOf(0x0a, start);
    const end = nl < 0 ? bytes.length : nl > start && bytes[nl - 1] === 0x0d ? nl - 1 : nl;
    if (nl < 0 && start === bytes.length) break;
    if (end - start > maxBytes) return { lines, tooLong: lines.length };
    lines.push(decoder.decode(bytes.subarray(start, end)));
    if (nl < 0) break;
    start = nl + 1;
  }
  return { lines, tooLong: -1 };
}

/** A pull source over `chunks`; `volatile` reuses one buffer, as a socket read does. */
function source(chunks: Uint8Array[], volatile: boolean): () => Promise<Uint8Array | null> {
  const buffer = new Uint8Array(65536);
  let i = 0;
  return () => {
    if (i === chunks.length) return Promise.resolve(null);
    const chunk = chunks[i++];
    if (!volatile) return Promise.resolve(chunk);
    buffer.fill(0x58); // what a reader kept of the last chunk without copying becomes X
    buffer.set(chunk);
    return Promise.resolve(buffer.subarray(0, chunk.length));
  };
}

Deno.test("fuzz: ByteReader.readLine splits random bytes in random chunks as the reference does", async () => {
  for (const seed of caseSeeds("byte_reader", 2000)) {
    const random = new Random(seed);
    const bytes = randomBytes(random, 400);
    const chunks = randomChunks(random, bytes);
    const maxLineBytes = random.chance(0.5) ? 1 + random.int(60) : 65536;
    const volatile = random.chance(0.5);
    const reader = new ByteReader(source(chunks, volatile), { maxLineBytes, volatile });
    const expected = referenceLines(bytes, maxLineBytes);
    const got: string[] = [];
    let failure: unknown;
    try {
      for (let line = await reader.readLine(); line !== null; line = await reader.readLine()) {
        got.push(line);
      }
    } catch (error) {
      failure = error;
    }
    const where = `${tag(seed)} (maxLineBytes ${maxLineBytes}, volatile ${volatile}, ` +
      `${chunks.length} chunk(s), bytes ${JSON.stringify([...bytes])})`;
    if (expected.tooLong < 0) {
      assertEquals(failure, undefined, `${where}: failed: ${failure}`);
    } else {
      assert(
        failure instanceof MessageTooLongError && failure.limit === maxLineBytes,
        `${where}: expected MessageTooLongError at line ${expected.tooLong}, got ${failure}`,
      );
    }
    assertEquals(got, expected.lines, where);
  }
});

Deno.test("fuzz: ByteReader.read hands out every byte once, in order, whatever the chunks", async () => {
  for (const seed of caseSeeds("byte_reader_read", 1000)) {
    const random = new Random(seed);
    const bytes = randomBytes(random, 300);
    const volatile = random.chance(0.5);
    const reader = new ByteReader(source(randomChunks(random, bytes), volatile), { volatile });
    const got: number[] = [];
    for (;;) {
      const chunk = await reader.read();
      if (chunk === null) break;
      // Now and then some bytes are put back (as EOM does): they must come again, first.
      const keep = random.chance(0.2) ? random.int(chunk.length + 1) : chunk.length;
      got.push(...chunk.subarray(0, keep));
      reader.unread(chunk.slice(keep));
    }
    assertEquals(got, [...bytes], `${tag(seed)}: bytes ${JSON.stringify([...bytes])}`);
  }
});

/** The reference of `TextLineStream`: what `@std/streams`' own gives for the whole text. */
function referenceTextLines(text: string, allowCR: boolean): string[] {
  const pieces = text.split(allowCR ? /\r\n|\r|\n/ : "\n");
  const last = pieces.pop()!;
  const lines = allowCR ? pieces : pieces.map((l) => l.endsWith("\r") ? l.slice(0, -1) : l);
  if (last !== "") lines.push(last);
  return lines;
}

Deno.test("TextLineStream: a lone \\r at the very end ends an empty line, as in @std/streams", async () => {
  const split = (chunks: string[], allowCR: boolean): Promise<string[]> =>
    Array.fromAsync(ReadableStream.from(chunks).pipeThrough(new TextLineStream({ allowCR })));
  assertEquals(await split(["a\r", "\r"], true), ["a", ""]);
  assertEquals(await split(["\r"], true), [""]);
  assertEquals(await split(["a\n\r"], true), ["a", ""]);
  assertEquals(await split(["a\r"], true), ["a"]);
  assertEquals(await split(["a\n\r"], false), ["a", "\r"]);
});

Deno.test("fuzz: TextLineStream splits random text in random chunks as the reference does", async () => {
  for (const seed of caseSeeds("text_line_stream", 1500)) {
    const random = new Random(seed);
    const text = decoder.decode(randomBytes(random, 200));
    const chunks: string[] = [];
    for (let at = 0; at < text.length;) {
      const size = 1 + random.int(random.chance(0.5) ? 4 : text.length);
      chunks.push(text.slice(at, at + size));
      at += size;
    }
    const allowCR = random.chance(0.5);
    const lines = await Array.fromAsync(
      ReadableStream.from(chunks).pipeThrough(new TextLineStream({ allowCR })),
    );
    assertEquals(
      lines,
      referenceTextLines(text, allowCR),
      `${tag(seed)} (allowCR ${allowCR}): chunks ${JSON.stringify(chunks)}`,
    );
  }
});

/** Sends `chunks` one write each, with a pause now and then so some arrive apart. */
async function sendChunks(client: Client, random: Random, chunks: Uint8Array[]): Promise<void> {
  for (const chunk of chunks) {
    await client.send(chunk);
    if (random.chance(0.1)) await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

Deno.test("fuzz: random bytes over TCP: echo returns them exactly, and the host keeps serving", async () => {
  await using served = await startHost(oneNode("echo"));
  const seeds = caseSeeds("tcp_echo", 48);
  // Three at a time; every fourth client hangs up without reading.
  for (let i = 0; i < seeds.length; i += 3) {
    await Promise.all(
      seeds.slice(i, i + 3).map(async (seed) => {
        const random = new Random(seed);
        const bytes = randomBytes(random, 3000);
        await using client = await Client.connect(served.port);
        if (random.chance(0.25)) {
          await sendChunks(client, random, randomChunks(random, bytes, 64)).catch(() => {});
          return;
        }
        const [, echoed] = await Promise.all([
          sendChunks(client, random, randomChunks(random, bytes, 64)).then(() =>
            client.closeWrite()
          ),
          readAll(client.conn),
        ]);
        assertEquals(echoed, [...bytes], `${tag(seed)}: ${bytes.length} byte(s) sent`);
      }),
    );
  }
  await using after = await Client.connect(served.port);
  await after.send("still here\n");
  assertEquals(await after.readLine(), "still here\n");
  const crashes = served.logs.filter((l) => /unexpected|uncaught|unhandled|TypeError/.test(l));
  assertEquals(crashes, [], tag());
});

/** Every byte a connection reads until the peer closes. */
async function readAll(conn: Deno.Conn): Promise<number[]> {
  const got: number[] = [];
  const buffer = new Uint8Array(65536);
  for (;;) {
    const n = await conn.read(buffer).catch(() => null);
    if (n === null) return got;
    for (let i = 0; i < n; i++) got.push(buffer[i]);
  }
}

Deno.test("fuzz: random lines over TCP to hello: one greeting per line, decoded as the reference does", async () => {
  await using served = await startHost(oneNode("hello", [], { maxMessageSize: 256 }));
  const seeds = caseSeeds("tcp_hello", 36);
  for (let i = 0; i < seeds.length; i += 3) {
    await Promise.all(
      seeds.slice(i, i + 3).map(async (seed) => {
        const random = new Random(seed);
        await using client = await Client.connect(served.port);
        if (random.chance(0.3)) {
          // Garbage, long lines included, then a hang-up: the host must only survive it.
          const garbage = randomBytes(random, 2000);
          await sendChunks(client, random, randomChunks(random, garbage, 64)).catch(() => {});
          return;
        }
        // Lines under the limit, each ended by \n (or \r\n), in random chunks.
        const lines: Uint8Array[] = [];
        for (let n = random.int(12); n > 0; n--) {
          const line = randomBytes(random, 60).filter((b) => b !== 0x0a);
          lines.push(new Uint8Array([...line, ...(random.chance(0.5) ? [0x0d] : []), 0x0a]));
        }
        const bytes = new Uint8Array(lines.flatMap((l) => [...l]));
        const expected = referenceLines(bytes, 256).lines.map((l) => `Hello, ${l}\n`).join("");
        const [, replies] = await Promise.all([
          sendChunks(client, random, randomChunks(random, bytes, 64)).then(() =>
            client.closeWrite()
          ),
          client.readToEnd(),
        ]);
        assertEquals(replies, expected, `${tag(seed)}: bytes ${JSON.stringify([...bytes])}`);
      }),
    );
  }
  await using after = await Client.connect(served.port);
  await after.send("Plumber\r\n");
  assertEquals(await after.readLine(), "Hello, Plumber\n");
  const crashes = served.logs.filter((l) => /unexpected|uncaught|unhandled|TypeError/.test(l));
  assertEquals(crashes, [], tag());
});

// --- PROXY protocol headers ---------------------------------------------------

/** A random IPv4 address, or an IPv6 one in full or with "::" (some IPv4-mapped). */
function randomAddress(random: Random, six: boolean): string {
  if (!six) return Array.from({ length: 4 }, () => random.int(256)).join(".");
  const groups = Array.from({ length: 8 }, () => random.chance(0.3) ? 0 : random.int(65536));
  if (random.chance(0.1)) return `::ffff:${randomAddress(random, false)}`;
  const text = groups.map((g) => g.toString(16)).join(":");
  return random.chance(0.5) ? text : text.replace(/(^|:)0(:0)+(:|$)/, "::");
}

/** A random header as a balancer may write it: its bytes, and what it says. */
function randomHeader(random: Random): { bytes: Uint8Array; spec: HeaderSpec } {
  const six = random.chance(0.4);
  const endpoint = (): ProxyEndpoint => ({
    address: randomAddress(random, six),
    port: random.int(65536),
  });
  const spec: HeaderSpec = {
    command: random.chance(0.1) ? "LOCAL" : "PROXY",
    source: endpoint(),
    destination: endpoint(),
    tlvs: Array.from(
      { length: random.chance(0.5) ? random.int(4) : 0 },
      () => ({ type: random.int(256), value: randomBytes(random, 40) }),
    ),
  };
  const bytes = random.chance(0.5) ? proxyV1(spec) : proxyV2(spec);
  return { bytes, spec };
}

/** True when two endpoints are the same address (however written) and port. */
function sameEndpoint(a: ProxyEndpoint | undefined, b: ProxyEndpoint | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  const [x, y] = [parseAddress(a.address), parseAddress(b.address)];
  return x !== undefined && JSON.stringify(x) === JSON.stringify(y) && a.port === b.port;
}

/** A channel that reads `chunks`, one per read (split further when the buffer is smaller). */
function chunkChannel(chunks: Uint8Array[]): ByteChannel {
  let i = 0;
  let pending: Uint8Array = new Uint8Array(0);
  return {
    peer: "127.0.0.1:1",
    address: "127.0.0.1",
    read(buffer: Uint8Array): Promise<number | null> {
      if (pending.length === 0) {
        if (i === chunks.length) return Promise.resolve(null);
        pending = chunks[i++];
      }
      const n = Math.min(buffer.length, pending.length);
      buffer.set(pending.subarray(0, n));
      pending = pending.subarray(n);
      return Promise.resolve(n);
    },
    write: (data) => Promise.resolve(data.length),
    close(): void {},
  };
}

Deno.test("fuzz: PROXY headers in random chunks are read as written, and the bytes after them are the client's", async () => {
  for (const seed of caseSeeds("proxy_header_read", 1500)) {
    const random = new Random(seed);
    const { bytes: header, spec } = randomHeader(random);
    const payload = randomBytes(random, 300);
    const chunks = randomChunks(random, joined(header, payload));
    const where = `${tag(seed)}: header ${JSON.stringify([...header])}, ${chunks.length} chunk(s)`;
    const result = await readProxyHeader(chunkChannel(chunks));
    assert(result instanceof ProxiedChannel, `${where}: refused: ${JSON.stringify(result)}`);
    const local = spec.command === "LOCAL";
    assert(sameEndpoint(result.header.source, local ? undefined : spec.source), where);
    assert(sameEndpoint(result.header.destination, local ? undefined : spec.destination), where);
    const rest: number[] = [];
    const buffer = new Uint8Array(1 + random.int(64));
    for (let n = await result.read(buffer); n !== null; n = await result.read(buffer)) {
      rest.push(...buffer.subarray(0, n));
    }
    assertEquals(rest, [...payload], where);
  }
});

/** A valid header with a few random changes: bytes changed, cut, inserted or repeated. */
function mutatedHeader(random: Random): Uint8Array {
  const bytes = [...randomHeader(random).bytes, ...randomBytes(random, 20)];
  for (let n = 1 + random.int(3); n > 0; n--) {
    const at = random.int(bytes.length + 1);
    switch (random.int(4)) {
      case 0:
        bytes[at] = random.chance(0.5) ? random.int(256) : random.pick([0x20, 0x0d, 0x0a, 0x3a]);
        break;
      case 1:
        bytes.splice(at, 1 + random.int(8));
        break;
      case 2:
        bytes.splice(at, 0, ...randomBytes(random, 8));
        break;
      default:
        bytes.splice(at, 0, ...bytes.slice(at, at + random.int(40)));
    }
  }
  return new Uint8Array(bytes.slice(0, 4200));
}

Deno.test("fuzz: mutated and random bytes: parseProxyHeader never throws, and agrees with itself on every prefix", () => {
  for (const seed of caseSeeds("proxy_header_parse", 3000)) {
    const random = new Random(seed);
    const bytes = random.chance(0.8) ? mutatedHeader(random) : randomBytes(random, 200);
    const where = `${tag(seed)}: bytes ${JSON.stringify([...bytes])}`;
    const whole = parseProxyHeader(bytes);
    const at = (k: number): string => parseProxyHeader(bytes.subarray(0, k)).status;
    if (whole.status === "done") {
      // Done only once whole: every shorter prefix waits for more; the header alone says the same.
      assert(whole.length <= bytes.length, where);
      for (let k = 0; k < whole.length; k++) assertEquals(at(k), "incomplete", `${where} (${k})`);
      assertEquals(parseProxyHeader(bytes.subarray(0, whole.length)), whole, where);
    } else if (whole.status === "incomplete") {
      for (let k = 0; k < bytes.length; k++) assertEquals(at(k), "incomplete", `${where} (${k})`);
    } else {
      // Refused: one line, and no byte added after can mend it.
      assert(whole.reason.length > 0 && !whole.reason.includes("\n"), where);
      const more = parseProxyHeader(joined(bytes, randomBytes(random, 200)));
      assertEquals(more.status, "invalid", where);
    }
  }
});

Deno.test("fuzz: random bytes, with and without PROXY headers, to a proxyProtocol echo host: echoed or closed, and it keeps serving", async () => {
  await using served = await startHost(oneNode("echo", [], { proxyProtocol: ["127.0.0.1"] }));
  const seeds = caseSeeds("proxy_tcp_echo", 36);
  for (let i = 0; i < seeds.length; i += 3) {
    await Promise.all(
      seeds.slice(i, i + 3).map(async (seed) => {
        const random = new Random(seed);
        const payload = randomBytes(random, 2000);
        const good = random.chance(0.5);
        const header = good ? randomHeader(random).bytes : mutatedHeader(random);
        const bytes = joined(header, payload);
        await using client = await Client.connect(served.port);
        const [, echoed] = await Promise.all([
          sendChunks(client, random, randomChunks(random, bytes, 64)).then(() =>
            client.closeWrite()
          ).catch(() => {}),
          readAll(client.conn),
        ]);
        const parsed = parseProxyHeader(bytes);
        if (parsed.status === "done") {
          assertEquals(echoed, [...bytes.subarray(parsed.length)], `${tag(seed)}: echoed`);
        } else assertEquals(echoed, [], `${tag(seed)}: a refused header gets nothing back`);
      }),
    );
  }
  await using after = await Client.connect(served.port);
  await after.send(joined(proxyV1(), "still here\n"));
  assertEquals(await after.readLine(), "still here\n");
  const crashes = served.logs.filter((l) => /unexpected|uncaught|unhandled|TypeError/.test(l));
  assertEquals(crashes, [], tag());
});

/** Names that reach into an object's prototype when used as keys without care. */
const TRICKY_NAMES = ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf"];

/** A random JSON value: scalars, tricky strings, small arrays and objects. */
function randomValue(random: Random, depth = 0): unknown {
  switch (random.int(depth > 2 ? 6 : 8)) {
    case 0:
      return null;
    case 1:
      return random.pick([0, -1, 1.5, 65536, 1e308, -0]);
    case 2:
      return random.chance(0.5);
    case 3:
      return random.pick(["", "a", "a.b", ".b", "a.", "a..b", "x.in", "n.out", "tcp", "hello"]);
    case 4:
      return random.pick(TRICKY_NAMES);
    case 5:
      return random.pick(["text/line", "json", "$T", "bytes", "nope/type", "a".repeat(300)]);
    case 6:
      return Array.from({ length: random.int(4) }, () => randomValue(random, depth + 1));
    default: {
      const object: Record<string, unknown> = {};
      for (let n = random.int(4); n > 0; n--) {
        object[random.pick([...TRICKY_NAMES, "servlet", "args", "from", "to", "x"])] = randomValue(
          random,
          depth + 1,
        );
      }
      return object;
    }
  }
}

/** Servlets a mutated graph may name: built-ins, near misses, and files that are or are not servlets. */
const SERVLETS = [
  "hello",
  "echo",
  "line",
  "transform",
  "dataflow/dup",
  "dataflow/demux",
  "dataflow/firstnonempty",
  "helo",
  "./tests/fixtures/not_servlet.ts",
  "./tests/fixtures/no_such_file.ts",
  "",
  ...TRICKY_NAMES,
];

/** Every place in a JSON value, as a list of keys. */
function places(value: unknown, at: (string | number)[] = []): (string | number)[][] {
  const found = [at];
  if (Array.isArray(value)) value.forEach((v, i) => found.push(...places(v, [...at, i])));
  else if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) found.push(...places(v, [...at, k]));
  }
  return found;
}

/** One random change to a graph object: a value replaced, a key removed, added or renamed. */
function mutate(random: Random, graph: Record<string, unknown>): void {
  const at = random.pick(places(graph).filter((p) => p.length > 0));
  let parent = graph as Record<string | number, unknown>;
  for (const key of at.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  const key = at[at.length - 1];
  const last = typeof key === "string" ? key : "";
  const choice = random.int(6);
  if (choice === 0 && !Array.isArray(parent)) delete parent[key];
  else if (choice === 1 && last === "servlet") parent[key] = random.pick(SERVLETS);
  else if (choice === 2 && !Array.isArray(parent)) {
    // Rename the key, keeping its value: a node or type renamed, or a known key misspelt.
    const value = parent[key];
    delete parent[key];
    parent[random.pick([...TRICKY_NAMES, `${last}x`, last.slice(1), "a-b", "1a"])] = value;
  } else if (choice === 3 && typeof parent[key] === "string") {
    const text = parent[key] as string;
    const cut = random.int(text.length + 1);
    parent[key] = text.slice(0, cut) + random.pick(["", ".", "x", "_", "__proto__"]) +
      text.slice(cut + random.int(2));
  } else parent[key] = randomValue(random);
}

/** The example graphs, as the seeds of mutation. */
async function exampleGraphs(): Promise<{ name: string; text: string }[]> {
  const graphs = [];
  for (const name of ["hello", "echo", "pipeline", "router", "typed", "eliza"]) {
    graphs.push({ name, text: await Deno.readTextFile(path(`examples/${name}.json`)) });
  }
  return graphs;
}

/** Asserts that `error` is a one-line GraphError starting with `file: `. */
function assertGraphError(error: unknown, file: string, where: string): void {
  assert(
    error instanceof GraphError,
    `${where}: expected a GraphError, got ${error instanceof Error ? error.stack : error}`,
  );
  assert(error.message.startsWith(`${file}: `), `${where}: no file name: ${error.message}`);
  assert(!error.message.includes("\n"), `${where}: more than one line: ${error.message}`);
}

Deno.test("fuzz: mutated graph file text is parsed or refused with a one-line GraphError naming the file", async () => {
  const examples = await exampleGraphs();
  for (const seed of caseSeeds("graph_text", 2000)) {
    const random = new Random(seed);
    const example = random.pick(examples);
    let text = example.text;
    for (let n = 1 + random.int(4); n > 0; n--) {
      const at = random.int(text.length + 1);
      const edit = random.int(4);
      if (edit === 0) text = text.slice(0, at) + text.slice(at + 1 + random.int(20));
      else if (edit === 1) {
        text = text.slice(0, at) +
          random.pick(['"', "{", "}", "[", "]", ",", ":", "\\", "\u0000"]) +
          text.slice(at);
      } else if (edit === 2) text = text.slice(0, at) + decoder.decode(randomBytes(random, 8));
      else text = text.slice(0, at) + text.slice(random.int(text.length));
    }
    const file = `fuzz/${example.name}-${seed}.json`;
    try {
      parseGraph(file, text);
    } catch (error) {
      assertGraphError(error, file, `${tag(seed)}, text ${JSON.stringify(text)}`);
    }
  }
});

Deno.test("fuzz: mutated and random graphs are loaded and checked, or refused with a one-line GraphError", async () => {
  const examples = await exampleGraphs();
  const deadline = performance.now() + 2500;
  let cases = 0;
  const seeds = caseSeeds("graph_check", 1000);
  for (const seed of seeds) {
    if (performance.now() > deadline) break; // bounded in time on a slow machine
    cases++;
    const random = new Random(seed);
    let graph: Record<string, unknown>;
    if (random.chance(0.1)) {
      graph = {
        nodes: randomValue(random),
        input: randomValue(random),
        output: randomValue(random),
      };
    } else {
      graph = JSON.parse(random.pick(examples).text);
      delete graph.$schema;
      for (let n = 1 + random.int(3); n > 0; n--) mutate(random, graph);
    }
    // Servlets stay among the known ones, so no mutation reaches for the network.
    const nodes = graph.nodes;
    if (typeof nodes === "object" && nodes !== null) {
      for (const node of Object.values(nodes)) {
        if (typeof node === "object" && node !== null && "servlet" in node) {
          const servlet = (node as { servlet: unknown }).servlet;
          if (typeof servlet === "string" && !SERVLETS.includes(servlet)) {
            (node as { servlet: unknown }).servlet = random.pick(SERVLETS);
          }
        }
      }
    }
    try {
      await checkGraph(graph as unknown as GraphSpec, { base: ROOT });
    } catch (error) {
      assertGraphError(error, "graph", `${tag(seed)}, graph ${JSON.stringify(graph)}`);
    }
  }
  assert(cases >= Math.min(50, seeds.length), `only ${cases} graph(s) checked in time (${tag()})`);
});

// --- HTTP requests through the parser's reader ---------------------------------------------

const encoder = new TextEncoder();
/** Limits under which no generated body is streamed. */
const HTTP_LIMITS = { maxHeaderBytes: 4096, maxBodyBytes: 65536 };

/** One generated piece of a request head or body: text (as UTF-8) or raw bytes. */
type HttpPart = string | number[];

/** A field value: ASCII, UTF-8, bytes that are not UTF-8, a byte order mark, odd whitespace. */
function fieldValue(random: Random): HttpPart {
  return random.pick<HttpPart>([
    "v",
    "127.0.0.1:8080",
    "caf\u00e9",
    "\u4e16\u754c",
    [0xff, 0xfe],
    [0x80],
    [0xc3],
    "\ufeffx",
    " \tpadded\t ",
    "a\x0bb",
    "",
  ]);
}

/**
 * A request as a client might send it, or get it wrong: empty lines before
 * it, a common or odd method and target, CRLF or bare LF line ends, fields
 * with all sorts of values, a body by `content-length` or chunks (which may
 * hold an empty line), and perhaps a second request or stray bytes behind.
 */
function httpRequest(random: Random): HttpPart[] {
  const eol = (): string => (random.chance(0.9) ? "\r\n" : "\n");
  const parts: HttpPart[] = [];
  if (random.chance(0.1)) parts.push(eol());
  const method = random.pick(["GET", "POST", "HEAD", "PUT", "X-CUSTOM"]);
  const target = random.pick([
    "/",
    "/a",
    "/a/b?q=1",
    "/%41/./b",
    "//x#f",
    "*",
    "http://h/p",
    "/\u00e9",
  ]);
  parts.push(`${method} ${target} ${random.chance(0.9) ? "HTTP/1.1" : "HTTP/1.0"}${eol()}`);
  if (random.chance(0.95)) parts.push(`Host: h${eol()}`);
  for (let n = random.int(4); n > 0; n--) {
    parts.push(
      `${random.pick(["X-A", "Accept", "Connection", "x-b"])}: `,
      fieldValue(random),
      eol(),
    );
  }
  const body = random.pick(["", "ab", "a\r\n\r\n", "x".repeat(300), "\u00e9\r\n"]);
  const chunked = body !== "" && random.chance(0.3);
  if (chunked) parts.push(`Transfer-Encoding: chunked${eol()}`);
  else if (body !== "" || random.chance(0.2)) {
    parts.push(`Content-Length: ${new TextEncoder().encode(body).length}${eol()}`);
  }
  parts.push(eol());
  if (chunked) {
    const bytes = new TextEncoder().encode(body).length;
    parts.push(`${bytes.toString(16)}\r\n`, body, "\r\n0\r\n\r\n");
  } else parts.push(body);
  if (random.chance(0.3)) parts.push("GET /next HTTP/1.1\r\nHost: h\r\n\r\n");
  else if (random.chance(0.1)) parts.push([0x00, 0xff, 0x0a]);
  return parts;
}

/** The parts as bytes, perhaps mutated: a byte changed, dropped or added. */
function requestBytes(random: Random, parts: HttpPart[]): Uint8Array {
  const bytes: number[] = [];
  for (const part of parts) bytes.push(...(typeof part === "string" ? encoder.encode(part) : part));
  for (let n = random.chance(0.3) ? 1 + random.int(3) : 0; n > 0 && bytes.length > 0; n--) {
    const at = random.int(bytes.length);
    const byte = random.chance(0.5) ? random.pick([0x0a, 0x0d, 0x20, 0x3a]) : random.int(256);
    const how = random.int(3);
    if (how === 0) bytes[at] = byte;
    else if (how === 1) bytes.splice(at, 1);
    else bytes.splice(at, 0, byte);
  }
  return new Uint8Array(bytes);
}

/** What a reader's outcome says, comparable across readers: the request's parts and where it ends. */
function outcomeOf(outcome: ParseOutcome, offset: number): unknown {
  if (outcome.kind === "more") return "more";
  if (outcome.kind === "error") return [outcome.response.status, outcome.response.body];
  const { method, target, path, query, version, headers, body, keepAlive } = outcome.request;
  return {
    method,
    target,
    path,
    query,
    version,
    headers,
    body: [...body],
    keepAlive,
    end: outcome.end + offset,
  };
}

/** Feeds `pieces` to a new reader until it answers; the outcome, with `end` counted from the first piece. */
function feedPieces(pieces: Uint8Array[]): unknown {
  const reader = new RequestReader(HTTP_LIMITS);
  let offset = 0;
  let outcome: ParseOutcome = { kind: "more" };
  for (const piece of pieces) {
    outcome = reader.feed(piece);
    if (outcome.kind !== "more") break;
    offset += piece.length;
  }
  return outcomeOf(outcome, offset);
}

Deno.test("fuzz: HTTP requests, generated and mutated, parse alike whole and in any pieces; wholeRequest agrees", () => {
  for (const seed of caseSeeds("http requests", 3000)) {
    const random = new Random(seed);
    const bytes = requestBytes(random, httpRequest(random));
    const whole = feedPieces([bytes]);
    assertEquals(feedPieces(randomChunks(random, bytes)), whole, tag(seed));
    const cut = 1 + random.int(Math.max(1, bytes.length - 1));
    assertEquals(feedPieces([bytes.subarray(0, cut), bytes.subarray(cut)]), whole, tag(seed));
    // One whole request and nothing more: wholeRequest gives it; anything else is a reader's.
    const one = wholeRequest(bytes, HTTP_LIMITS);
    const isOne = typeof whole === "object" && whole !== null && !Array.isArray(whole) &&
      (whole as { end: number }).end === bytes.length;
    assertEquals(
      one === undefined
        ? undefined
        : outcomeOf({ kind: "request", request: one, end: bytes.length }, 0),
      isOne ? whole : undefined,
      tag(seed),
    );
  }
});
