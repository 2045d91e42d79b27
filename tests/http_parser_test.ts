/**
 * `RequestReader`, the parser's incremental core, without a socket: the work
 * it does is linear in the bytes it is given however they are cut (counted,
 * not timed), and what it refuses.
 * @module
 */
import { BufferBudget } from "../servlets/http/_buffer_budget.ts";
import { type ParseOutcome, RequestReader, wholeRequest } from "../servlets/http/request_parser.ts";
import { assert, assertEquals } from "./assert.ts";

const encoder = new TextEncoder();
const LIMITS = { maxHeaderBytes: 16384, maxBodyBytes: 4 * 1048576 };

/** Feeds `bytes` one byte at a time; the outcome and the bytes examined per byte fed. */
function onePiece(bytes: Uint8Array, reader = new RequestReader(LIMITS)): {
  outcome: ParseOutcome;
  perByte: number;
} {
  let outcome: ParseOutcome = { kind: "more" };
  for (let i = 0; i < bytes.length && outcome.kind === "more"; i++) {
    outcome = reader.feed(bytes.subarray(i, i + 1));
  }
  return { outcome, perByte: reader.examined / bytes.length };
}

/** A chunked request whose body is `n` one-byte chunks, with `fields` header fields. */
function chunkedRequest(n: number, fields: number): Uint8Array {
  const head = "POST /upload HTTP/1.1\r\nHost: a\r\n" +
    Array.from({ length: fields }, (_, i) => `X-Field-${i}: ${"v".repeat(20)}\r\n`).join("") +
    "Transfer-Encoding: chunked\r\n\r\n";
  return encoder.encode(head + "1\r\nx\r\n".repeat(n) + "0\r\n\r\n");
}

Deno.test("http/parser: work is linear in the input for one-byte pieces (bytes examined, counted)", () => {
  // The attack: a chunked body sent one byte per read. The reader is fed as the
  // servlet feeds it, one piece at a time, and counts every byte it looks at.
  const ratios: number[] = [];
  for (const n of [1000, 10000, 100000]) {
    const bytes = chunkedRequest(n, 100);
    const { outcome, perByte } = onePiece(bytes);
    assertEquals(outcome.kind, "request");
    assertEquals(outcome.kind === "request" && outcome.request.body.length, n);
    ratios.push(perByte);
  }
  // Each byte is looked at a bounded number of times: the same few at every size (the
  // re-parsing parser looked at each byte about n/2 times: 50000 at the last size).
  for (const ratio of ratios) assert(ratio < 4, `examined ${ratio} times per byte`);
  assert(ratios[2] <= ratios[0] + 0.5, `per-byte work grew with size: ${ratios.join(", ")}`);
});

Deno.test("http/parser: a head and a content-length body in one-byte pieces, and empty lines before a request, are linear too", () => {
  for (const n of [2000, 20000]) {
    const body = "b".repeat(n);
    const request = encoder.encode(
      `\r\n\r\nPUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: ${n}\r\n\r\n${body}`,
    );
    const { outcome, perByte } = onePiece(request);
    assertEquals(outcome.kind === "request" && outcome.request.body.length, n);
    assert(perByte < 4, `examined ${perByte} times per byte`);
  }
  // 8193 empty lines: over the head limit however they are cut.
  const empties = encoder.encode("\r\n".repeat(8193));
  const { outcome, perByte } = onePiece(empties);
  assertEquals(outcome.kind, "error");
  assertEquals(
    outcome.kind === "error" && outcome.response.body,
    "431 Request Header Fields Too Large: header longer than 16384 bytes " +
      "(empty lines before the request count)\n",
  );
  assert(perByte < 4, `examined ${perByte} times per byte`);
});

Deno.test("http/parser: a request cut anywhere parses the same as whole, and the bytes after it are left", () => {
  const text = "POST /a/./b//c%20d?q=1 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" +
    "3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\nGET /next";
  const bytes = encoder.encode(text);
  for (let cut = 1; cut < bytes.length - 9; cut++) {
    const reader = new RequestReader(LIMITS);
    const first = reader.feed(bytes.subarray(0, cut));
    const outcome = first.kind === "more" ? reader.feed(bytes.subarray(cut)) : first;
    assertEquals(outcome.kind, "request", `cut at ${cut}`);
    if (outcome.kind !== "request") continue;
    assertEquals(new TextDecoder().decode(outcome.request.body), "abcde");
    assertEquals(outcome.request.path, "/a/b/c d");
    assertEquals(outcome.request.query, "q=1");
    const rest = first.kind === "more" ? bytes.subarray(cut) : bytes;
    assertEquals(new TextDecoder().decode(rest.subarray(outcome.end)), "GET /next", `cut ${cut}`);
  }
});

/** What a reader fed `bytes` whole gives, and the same fed one byte then the rest (the line by line scan). */
function wholeAndSplit(bytes: Uint8Array): [ParseOutcome, ParseOutcome] {
  const whole = new RequestReader(LIMITS).feed(bytes);
  const reader = new RequestReader(LIMITS);
  const first = reader.feed(bytes.subarray(0, 1));
  let split = first.kind === "more" ? reader.feed(bytes.subarray(1)) : first;
  // The split reader's end is in the second piece.
  if (split.kind === "request") split = { ...split, end: split.end + 1 };
  return [whole, split];
}

Deno.test("http/parser: a piece that starts with a whole head parses as its lines scanned one by one would", () => {
  const cases: [string, (number | string)[], string | undefined][] = [
    // [request bytes (as latin1 codes where a byte is not ASCII), what follows it, wholeRequest's path]
    ["GET /a HTTP/1.1\r\nHost: h\r\n\r\n", ["GET /b HTTP/1.1\r\nHost: h\r\n\r\n"], undefined],
    ["POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\n\r\nab\r\n\r\n", [], "/p"],
    [
      "GET /a HTTP/1.1\r\nHost: h\r\nX-N: caf\u00e9\r\n\r\n",
      ["GET /b HTTP/1.1\r\nHost: h\r\n\r\n"],
      undefined,
    ],
    ["POST /p HTTP/1.1\r\nHost: h\r\nX-N: \u00e9\r\nContent-Length: 5\r\n\r\na\r\n\r\n", [], "/p"],
    ["GET /a HTTP/1.1\r\nHost: h\r\nX-N: \u4e16\u754c\r\n\r\n", [], "/a"],
    ["GET /a HTTP/1.1\r\nHost: h\r\nX-B: ", [
      0xff,
      0xfe,
      "\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n",
    ], undefined],
    ["GET /a HTTP/1.1\r\nHost: h\r\n\n", ["GET /b HTTP/1.1\r\nHost: h\r\n\r\n"], undefined],
  ];
  for (const [request, after, path] of cases) {
    const parts = [encoder.encode(request)];
    for (const part of after) {
      parts.push(typeof part === "number" ? new Uint8Array([part]) : encoder.encode(part));
    }
    const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    parts.reduce((at, p) => (bytes.set(p, at), at + p.length), 0);
    const [whole, split] = wholeAndSplit(bytes);
    assertEquals(whole, split, JSON.stringify(request));
    assertEquals(whole.kind, "request", JSON.stringify(request));
    if (whole.kind !== "request") continue;
    assertEquals(whole.request.path, request.startsWith("GET") ? "/a" : "/p");
    // What follows the request starts where the reader says it ends (a byte offset).
    const rest = new TextDecoder().decode(bytes.subarray(whole.end));
    assertEquals(
      rest,
      after.length === 0 ? "" : "GET /b HTTP/1.1\r\nHost: h\r\n\r\n",
      JSON.stringify(request),
    );
    assertEquals(wholeRequest(bytes, LIMITS)?.path, path, JSON.stringify(request));
  }
  // A head that starts with a byte order mark is no request line: refused, either way.
  const bom = encoder.encode("\ufeffGET / HTTP/1.1\r\nHost: h\r\n\r\n");
  const [whole, split] = wholeAndSplit(bom);
  assertEquals(whole, split);
  assertEquals(whole.kind === "error" && whole.response.status, 400);
  assertEquals(wholeRequest(bom, LIMITS), undefined);
});

Deno.test("http/parser: a field value is its bytes decoded as TextDecoder decodes them, whatever else the piece holds", () => {
  const reference = new TextDecoder("utf-8", { ignoreBOM: true });
  // Values as bytes: UTF-8, bytes that are not UTF-8, a sequence cut at the value's end, a
  // byte order mark inside, and ASCII.
  const values: number[][] = [
    [...encoder.encode("caf\u00e9 \u4e16\u754c")],
    [0x61, 0xff, 0xfe, 0x62],
    [0x61, 0xe2, 0x82],
    [0xc3],
    [...encoder.encode("a\ufeffb")],
    [...encoder.encode("plain")],
  ];
  // What follows the head in the same piece: nothing, a body in UTF-8, a body not UTF-8.
  const bodies: number[][] = [[], [...encoder.encode("\u00e9t\u00e9")], [0xff, 0x80, 0x41]];
  for (const value of values) {
    for (const body of bodies) {
      const bytes = new Uint8Array([
        ...encoder.encode("POST /p?q= HTTP/1.1\r\nHost: h\r\nX-V: "),
        ...value,
        ...encoder.encode(`\r\nContent-Length: ${body.length}\r\n\r\n`),
        ...body,
      ]);
      const label = JSON.stringify([value, body]);
      const expected = reference.decode(new Uint8Array(value));
      for (const outcome of wholeAndSplit(bytes)) {
        assertEquals(outcome.kind, "request", label);
        if (outcome.kind !== "request") continue;
        assertEquals(outcome.request.headers["x-v"], expected, label);
        assertEquals(outcome.request.headers.host, "h", label);
        assertEquals(outcome.request.target, "/p?q=", label);
        assertEquals(outcome.request.query, "q=", label);
        assertEquals([...outcome.request.body], body, label);
        assertEquals(outcome.end, bytes.length, label);
      }
      assertEquals(wholeRequest(bytes, LIMITS)?.headers["x-v"], expected, label);
    }
  }
});

Deno.test("http/parser: what a request holds between pieces comes from the budget, and goes back", () => {
  const budget = new BufferBudget(30000);
  const head = "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 30000\r\n\r\n";
  const first = new RequestReader(LIMITS, budget);
  assertEquals(first.feed(encoder.encode(head + "a".repeat(20000))).kind, "more");
  assertEquals(budget.used, first.held);
  assert(budget.used >= 20000 && budget.used <= 30000, `${budget.used} bytes held`);
  const second = new RequestReader(LIMITS, budget);
  const refused = second.feed(encoder.encode(head + "b".repeat(20000)));
  assertEquals(refused.kind === "error" && refused.response.status, 503);
  assertEquals(budget.used, first.held);
  const done = first.feed(encoder.encode("a".repeat(10000)));
  assertEquals(done.kind === "request" && done.request.body.length, 30000);
  assertEquals(budget.used, 0);
  // A connection that closes mid-request gives its bytes back.
  const third = new RequestReader(LIMITS, budget);
  third.feed(encoder.encode(head + "c".repeat(100)));
  assert(budget.used > 0);
  third.release();
  assertEquals(budget.used, 0);
});

Deno.test("http/parser: header fields named like Object's own properties are fields like any other", () => {
  const reader = new RequestReader(LIMITS);
  const outcome = reader.feed(
    encoder.encode(
      "GET / HTTP/1.1\r\nHost: a\r\nConstructor: c\r\n__proto__: p\r\ntoString: t\r\n\r\n",
    ),
  );
  assertEquals(outcome.kind, "request");
  if (outcome.kind !== "request") return;
  assertEquals(outcome.request.headers, {
    host: "a",
    constructor: "c",
    ["__proto__"]: "p",
    tostring: "t",
  });
});

/** Feeds a `content-length` request of `n` body bytes in 64 KiB pieces; the reader and its outcome. */
function bodyIn64k(n: number, limits: typeof LIMITS & { maxStreamBytes?: number }): {
  reader: RequestReader;
  outcome: ParseOutcome;
  pieces: Uint8Array[];
  fed: Uint8Array[];
} {
  const reader = new RequestReader(limits);
  const fed: Uint8Array[] = [
    encoder.encode(`PUT /u HTTP/1.1\r\nHost: a\r\nContent-Length: ${n}\r\n\r\n`),
  ];
  let outcome = reader.feed(fed[0]);
  const pieces = [...reader.takePieces()];
  for (let left = n; left > 0 && outcome.kind === "more";) {
    const piece = new Uint8Array(Math.min(65536, left)).fill(left & 0xff);
    fed.push(piece);
    outcome = reader.feed(piece);
    pieces.push(...reader.takePieces());
    left -= piece.length;
  }
  return { reader, outcome, pieces, fed };
}

Deno.test("http/parser: a 100 MB body kept whole costs per byte what a 10 MB one does (no quadratic copying, counted)", () => {
  const perByte: number[] = [];
  for (const mb of [10, 100]) {
    const n = mb * 1048576;
    const { reader, outcome } = bodyIn64k(n, { ...LIMITS, maxBodyBytes: 128 * 1048576 });
    assertEquals(outcome.kind === "request" && outcome.request.body.length, n);
    perByte.push(reader.examined / n);
  }
  // Each byte is copied into the body once, and the body's buffer doubles as it grows, so
  // each byte moves at most once more: below 3 per byte at both sizes, and no more at 100 MB.
  // (A body grown by concatenation per piece copies about n / 131072 times per byte: 400 at 100 MB.)
  for (const ratio of perByte) assert(ratio < 3, `examined ${ratio} times per byte`);
  assert(perByte[1] <= perByte[0] + 0.05, `per-byte work grew with size: ${perByte.join(", ")}`);
});

Deno.test("http/parser: a streamed body is handed out as views of the pieces fed, copied by nobody", () => {
  const n = 10 * 1048576;
  const { reader, outcome, pieces, fed } = bodyIn64k(n, {
    ...LIMITS,
    maxBodyBytes: 1024,
    maxStreamBytes: 1 << 30,
  });
  assert(reader.streaming);
  assertEquals(outcome.kind === "request" && outcome.request.body.length, 0);
  assertEquals(pieces.reduce((total, p) => total + p.length, 0), n);
  // Each piece is the memory that was fed, not a copy; only the head was looked at.
  const buffers = new Set(fed.map((f) => f.buffer));
  assert(pieces.every((p) => buffers.has(p.buffer)), "a piece was copied");
  assert(reader.examined < 200, `examined ${reader.examined} bytes`);
  // Over --max-stream-bytes: refused before the body, as over --max-body-bytes without streaming.
  const refused = new RequestReader({ ...LIMITS, maxBodyBytes: 1024, maxStreamBytes: 4096 }).feed(
    encoder.encode("PUT /u HTTP/1.1\r\nHost: a\r\nContent-Length: 4097\r\n\r\n"),
  );
  assertEquals(
    refused.kind === "error" && refused.response.body,
    "413 Content Too Large: body of 4097 bytes, more than 4096\n",
  );
});
