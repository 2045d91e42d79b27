/**
 * WebSocket frames (RFC 6455 section 5): a parser that takes the bytes of a
 * connection as they come and gives whole messages (fragments joined, masks
 * removed, text checked as UTF-8, control frames answered in between), and
 * the encoder of a server's frames (never masked).
 *
 * A protocol error is not thrown: the parser returns a {@linkcode WsClose}
 * with the close code to send (1002 protocol error, 1007 bad UTF-8, 1009 too
 * big), and the caller sends it and closes.
 * @module
 */

/** Opcodes of RFC 6455 section 5.2. */
export const OPCODE = {
  continuation: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xa,
} as const;

/** Close codes of RFC 6455 section 7.4.1 that a server sends. */
export const CLOSE = {
  normal: 1000,
  goingAway: 1001,
  protocolError: 1002,
  unsupported: 1003,
  invalidData: 1007,
  policy: 1008,
  tooBig: 1009,
} as const;

/** A whole message from the client. */
export interface WsMessage {
  readonly kind: "text" | "binary";
  /** The text of a text message; the bytes of a binary one. */
  readonly data: string | Uint8Array;
}

/** A control frame from the client that the server answers: a ping (answer: pong with its data). */
export interface WsPing {
  readonly kind: "ping";
  readonly data: Uint8Array;
}

/** A pong from the client (nothing to answer). */
export interface WsPong {
  readonly kind: "pong";
  readonly data: Uint8Array;
}

/**
 * The end of the conversation: the client closed (`code` is what it sent,
 * 1005 when it sent none), or the parser found a protocol error (`error` is
 * true and `code` is the close code the server sends back).
 */
export interface WsClose {
  readonly kind: "close";
  readonly code: number;
  readonly reason: string;
  /** True when the client broke the protocol (the server's close code is `code`). */
  readonly error: boolean;
}

/** What the parser gives. */
export type WsEvent = WsMessage | WsPing | WsPong | WsClose;

const strict = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/** True for a close code a client may send (RFC 6455 section 7.4). */
function validCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
    (code >= 3000 && code <= 4999);
}

function fail(code: number, reason: string): WsClose {
  return { kind: "close", code, reason, error: true };
}

/**
 * Parses the frames a client sends, across chunk boundaries.
 *
 * @example
 * ```ts
 * import { encodeFrame, FrameParser, OPCODE } from "./frame.ts";
 * import { assertEquals } from "@std/assert";
 *
 * // A client's frame is masked: make one with the encoder's mask option.
 * const frame = encodeFrame(OPCODE.text, "héllo", { mask: new Uint8Array([1, 2, 3, 4]) });
 * const parser = new FrameParser({ maxMessageBytes: 1024 });
 * // Fed in two pieces, it is one message.
 * assertEquals(parser.push(frame.subarray(0, 3)), []);
 * assertEquals(parser.push(frame.subarray(3)), [{ kind: "text", data: "héllo" }]);
 * ```
 */
export class FrameParser {
  readonly #maxMessageBytes: number;
  #buffer: Uint8Array = new Uint8Array(0);
  /** Fragments of the message under way, and its opcode (0 when none). */
  #fragments: Uint8Array[] = [];
  #fragmentBytes = 0;
  #fragmentOpcode = 0;
  #closed = false;

  /** @param options `maxMessageBytes`: the largest message (all fragments) a client may send */
  constructor(options: { maxMessageBytes: number }) {
    this.#maxMessageBytes = options.maxMessageBytes;
  }

  /** True once a close (the client's or an error) has been given: later bytes are ignored. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Takes the next bytes; returns the events they complete, in order. */
  push(bytes: Uint8Array): WsEvent[] {
    if (this.#closed) return [];
    const events: WsEvent[] = [];
    let buffer = this.#buffer.length === 0 ? bytes : concat(this.#buffer, bytes);
    for (;;) {
      const got = this.#frame(buffer);
      if (got === null) break;
      buffer = buffer.subarray(got.used);
      if (got.event !== undefined) events.push(got.event);
      if (this.#closed) {
        buffer = new Uint8Array(0);
        break;
      }
    }
    this.#buffer = buffer.slice();
    return events;
  }

  /** One frame from the start of `b`, or `null` when it is not all there yet. */
  #frame(b: Uint8Array): { used: number; event?: WsEvent } | null {
    if (b.length < 2) return null;
    const fin = (b[0] & 0x80) !== 0;
    const rsv = b[0] & 0x70;
    const opcode = b[0] & 0x0f;
    const masked = (b[1] & 0x80) !== 0;
    let length = b[1] & 0x7f;
    let at = 2;
    const done = (event: WsEvent) => {
      if (event.kind === "close") this.#closed = true;
      return { used: b.length, event };
    };
    if (rsv !== 0) {
      return done(fail(CLOSE.protocolError, "reserved bits set (no extension agreed)"));
    }
    if (!masked) return done(fail(CLOSE.protocolError, "a client frame must be masked"));
    const control = (opcode & 0x8) !== 0;
    if (control) {
      if (opcode !== OPCODE.close && opcode !== OPCODE.ping && opcode !== OPCODE.pong) {
        return done(fail(CLOSE.protocolError, `unknown opcode ${opcode}`));
      }
      if (!fin) return done(fail(CLOSE.protocolError, "a control frame must not be fragmented"));
      if (length > 125) return done(fail(CLOSE.protocolError, "a control frame is over 125 bytes"));
    } else if (opcode > OPCODE.binary) {
      return done(fail(CLOSE.protocolError, `unknown opcode ${opcode}`));
    }
    if (length === 126) {
      if (b.length < 4) return null;
      length = (b[2] << 8) | b[3];
      at = 4;
    } else if (length === 127) {
      if (b.length < 10) return null;
      const high = ((b[2] << 24) >>> 0) + (b[3] << 16) + (b[4] << 8) + b[5];
      if (high !== 0 || (b[6] & 0x80) !== 0) {
        return done(fail(CLOSE.tooBig, `message over ${this.#maxMessageBytes} bytes`));
      }
      length = ((b[6] << 24) >>> 0) + (b[7] << 16) + (b[8] << 8) + b[9];
      at = 10;
    }
    if (!control && this.#fragmentBytes + length > this.#maxMessageBytes) {
      return done(fail(CLOSE.tooBig, `message over ${this.#maxMessageBytes} bytes`));
    }
    if (b.length < at + 4 + length) return null;
    const mask = b.subarray(at, at + 4);
    const payload = b.slice(at + 4, at + 4 + length);
    for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
    const used = at + 4 + length;
    if (control) {
      if (opcode === OPCODE.ping) return { used, event: { kind: "ping", data: payload } };
      if (opcode === OPCODE.pong) return { used, event: { kind: "pong", data: payload } };
      return { used, event: this.#close(payload) };
    }
    if (opcode === OPCODE.continuation) {
      if (this.#fragmentOpcode === 0) {
        return done(fail(CLOSE.protocolError, "a continuation frame with no message under way"));
      }
    } else if (this.#fragmentOpcode !== 0) {
      return done(fail(CLOSE.protocolError, "a new message before the last one ended"));
    } else {
      this.#fragmentOpcode = opcode;
    }
    this.#fragments.push(payload);
    this.#fragmentBytes += payload.length;
    if (!fin) return { used };
    const whole = this.#fragments.length === 1
      ? this.#fragments[0]
      : this.#fragments.reduce(concat);
    const kind = this.#fragmentOpcode === OPCODE.text ? "text" : "binary";
    this.#fragments = [];
    this.#fragmentBytes = 0;
    this.#fragmentOpcode = 0;
    if (kind === "binary") return { used, event: { kind, data: whole } };
    try {
      return { used, event: { kind, data: strict.decode(whole) } };
    } catch {
      this.#closed = true;
      return { used, event: fail(CLOSE.invalidData, "a text message that is not UTF-8") };
    }
  }

  #close(payload: Uint8Array): WsClose {
    this.#closed = true;
    if (payload.length === 0) return { kind: "close", code: 1005, reason: "", error: false };
    if (payload.length === 1) return fail(CLOSE.protocolError, "a close frame of one byte");
    const code = (payload[0] << 8) | payload[1];
    if (!validCloseCode(code)) return fail(CLOSE.protocolError, `close code ${code} is not valid`);
    try {
      return { kind: "close", code, reason: strict.decode(payload.subarray(2)), error: false };
    } catch {
      return fail(CLOSE.invalidData, "a close reason that is not UTF-8");
    }
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * One whole frame (FIN set). A server's frames are not masked; `mask` is for
 * a client's (tests).
 *
 * @example
 * ```ts
 * import { encodeFrame, OPCODE } from "./frame.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals([...encodeFrame(OPCODE.text, "hi")], [0x81, 2, 0x68, 0x69]);
 * ```
 */
export function encodeFrame(
  opcode: number,
  data: Uint8Array | string,
  options: { mask?: Uint8Array; fin?: boolean } = {},
): Uint8Array {
  const payload = typeof data === "string" ? encoder.encode(data) : data;
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const mask = options.mask;
  const out = new Uint8Array(head + (mask ? 4 : 0) + n);
  out[0] = (options.fin === false ? 0 : 0x80) | opcode;
  const maskBit = mask ? 0x80 : 0;
  if (n < 126) out[1] = maskBit | n;
  else if (n < 65536) {
    out[1] = maskBit | 126;
    out[2] = n >> 8;
    out[3] = n & 0xff;
  } else {
    out[1] = maskBit | 127;
    new DataView(out.buffer).setBigUint64(2, BigInt(n));
  }
  if (mask) {
    out.set(mask, head);
    for (let i = 0; i < n; i++) out[head + 4 + i] = payload[i] ^ mask[i & 3];
  } else out.set(payload, head);
  return out;
}

/**
 * A close frame with a code and a reason (cut to fit the 125 bytes of a control frame).
 *
 * @example
 * ```ts
 * import { closeFrame } from "./frame.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals([...closeFrame(1000, "")], [0x88, 2, 0x03, 0xe8]);
 * ```
 */
export function closeFrame(code: number, reason: string): Uint8Array {
  const text = encoder.encode(reason).subarray(0, 123);
  const payload = new Uint8Array(2 + text.length);
  payload[0] = code >> 8;
  payload[1] = code & 0xff;
  payload.set(text, 2);
  return encodeFrame(OPCODE.close, payload);
}
