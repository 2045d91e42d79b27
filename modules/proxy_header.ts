/**
 * The PROXY protocol header (HAProxy's, versions 1 and 2) that a load
 * balancer sends first on each connection it opens to a server, naming the
 * client it stands for. {@linkcode parseProxyHeader} reads one from the bytes
 * a connection has sent so far: it says whether more bytes are needed, what
 * the header says and how long it is, or why the bytes are no such header.
 *
 * @example
 * ```ts
 * import { parseProxyHeader } from "./proxy_header.ts";
 * import { assertEquals } from "@std/assert";
 * const bytes = new TextEncoder().encode("PROXY TCP4 203.0.113.7 10.0.0.1 5000 12000\r\nhello\n");
 * const parsed = parseProxyHeader(bytes);
 * assertEquals(parsed.status, "done");
 * if (parsed.status === "done") {
 *   assertEquals(parsed.header.source, { address: "203.0.113.7", port: 5000 });
 *   assertEquals(parsed.length, 44); // "hello\n" is the connection's first request
 * }
 * assertEquals(parseProxyHeader(bytes.subarray(0, 10)).status, "incomplete");
 * assertEquals(parseProxyHeader(new TextEncoder().encode("GET / HTTP/1.1\r\n")).status, "invalid");
 * ```
 * @module
 */
import { parseAddress } from "./address_rules.ts";

/** An address and port a header names. */
export interface ProxyEndpoint {
  /** `203.0.113.7`, `2001:db8::1`. */
  readonly address: string;
  /** 0 to 65535. */
  readonly port: number;
}

/** What a PROXY header says. */
export interface ProxyHeader {
  /** 1 (the text form) or 2 (the binary form). */
  readonly version: 1 | 2;
  /**
   * The client and the address it connected to, or `undefined` when the header
   * names none: version 2's `LOCAL` command (the balancer's own health check),
   * version 1's `UNKNOWN`, or an address family that is not IP. Then the
   * connection's own addresses stand.
   */
  readonly source?: ProxyEndpoint;
  /** The address the client connected to (the balancer's), with `source`. */
  readonly destination?: ProxyEndpoint;
}

/** The result of {@linkcode parseProxyHeader}. */
export type ProxyParse =
  /** The bytes so far begin a header that is not complete yet. */
  | { readonly status: "incomplete" }
  /** A whole header: the first `length` bytes; what follows is the client's. */
  | { readonly status: "done"; readonly header: ProxyHeader; readonly length: number }
  /**
   * Not a header: why, in a few words for the log; `missing` when the bytes
   * do not even begin like one (rather than a header that is malformed).
   */
  | { readonly status: "invalid"; readonly reason: string; readonly missing: boolean };

/** Longest version 1 header, with its `\r\n` (the specification's bound). */
export const MAX_V1_LENGTH = 107;
/** Longest version 2 header accepted, in bytes (16 bytes and the addresses and TLVs that follow). */
export const MAX_V2_LENGTH = 4096;

/**
 * The 12 bytes a version 2 header starts with: `\r\n\r\n\0\r\nQUIT\n`.
 *
 * @example
 * ```ts
 * import { V2_SIGNATURE } from "./proxy_header.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(V2_SIGNATURE.length, 12);
 * ```
 */
export const V2_SIGNATURE: Uint8Array = new TextEncoder().encode("\r\n\r\n\0\r\nQUIT\n");
/** The 6 bytes a version 1 header starts with: `PROXY `. */
const V1_SIGNATURE = new TextEncoder().encode("PROXY ");

const INCOMPLETE: ProxyParse = { status: "incomplete" };

/** True when the first bytes of `bytes` (as many as there are, up to its length) are `signature`'s. */
function startsLike(bytes: Uint8Array, signature: Uint8Array): boolean {
  const n = Math.min(bytes.length, signature.length);
  for (let i = 0; i < n; i++) if (bytes[i] !== signature[i]) return false;
  return true;
}

/** The first bytes of a connection that is not a PROXY header, printable, for the log. */
function shown(bytes: Uint8Array): string {
  const text = [...bytes.subarray(0, 16)].map((b) =>
    b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c
      ? String.fromCharCode(b)
      : `\\x${b.toString(16).padStart(2, "0")}`
  ).join("");
  return `"${text}"${bytes.length > 16 ? "..." : ""}`;
}

/**
 * Reads a PROXY header (version 1 or 2) from the start of `bytes`, the bytes a
 * connection has sent so far. Never throws; bytes that cannot begin a header
 * are `invalid` at once, without waiting for more.
 */
export function parseProxyHeader(bytes: Uint8Array): ProxyParse {
  if (bytes.length === 0) return INCOMPLETE;
  if (startsLike(bytes, V2_SIGNATURE)) {
    return bytes.length < 16 ? INCOMPLETE : parseV2(bytes);
  }
  if (startsLike(bytes, V1_SIGNATURE)) {
    return bytes.length < V1_SIGNATURE.length ? INCOMPLETE : parseV1(bytes);
  }
  return {
    status: "invalid",
    reason: `no PROXY header: the connection starts ${shown(bytes)}`,
    missing: true,
  };
}

function invalid(reason: string): ProxyParse {
  return { status: "invalid", reason, missing: false };
}

const PORT_TEXT = /^(0|[1-9][0-9]{0,4})$/;

/** A version 1 address of `family` (`TCP4`, `TCP6`), or undefined when it is not one. */
function v1Address(text: string, family: string): string | undefined {
  if (family === "TCP4" ? !/^[0-9.]+$/.test(text) : !/^[0-9a-fA-F:.]+$/.test(text)) {
    return undefined;
  }
  if (family === "TCP6" && !text.includes(":")) return undefined;
  return parseAddress(text) === undefined ? undefined : text;
}

function v1Port(text: string): number | undefined {
  return PORT_TEXT.test(text) && Number(text) <= 65535 ? Number(text) : undefined;
}

/** `PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n` or `PROXY UNKNOWN ...\r\n`. */
function parseV1(bytes: Uint8Array): ProxyParse {
  const limit = Math.min(bytes.length, MAX_V1_LENGTH);
  let end = -1;
  for (let i = V1_SIGNATURE.length; i < limit; i++) {
    if (bytes[i] === 0x0a) {
      end = i;
      break;
    }
  }
  if (end < 0) {
    return bytes.length >= MAX_V1_LENGTH
      ? invalid(`malformed PROXY v1 header: no \\r\\n in its first ${MAX_V1_LENGTH} bytes`)
      : INCOMPLETE;
  }
  if (bytes[end - 1] !== 0x0d) return invalid("malformed PROXY v1 header: it ends without \\r\\n");
  const line = bytes.subarray(V1_SIGNATURE.length, end - 1);
  if (line.some((b) => b < 0x20 || b > 0x7e)) {
    return invalid("malformed PROXY v1 header: a byte that is not printable ASCII");
  }
  const fields = new TextDecoder().decode(line).split(" ");
  const length = end + 1;
  if (fields[0] === "UNKNOWN") return { status: "done", header: { version: 1 }, length };
  if (fields[0] !== "TCP4" && fields[0] !== "TCP6") {
    return invalid(
      `malformed PROXY v1 header: protocol ${
        JSON.stringify(fields[0])
      } is not TCP4, TCP6 or UNKNOWN`,
    );
  }
  if (fields.length !== 5) {
    return invalid(
      `malformed PROXY v1 header: ${fields.length - 1} fields after ${
        fields[0]
      }, not 4 (source, destination, their ports)`,
    );
  }
  const [family, sourceText, destinationText, sourcePort, destinationPort] = fields;
  const source = v1Address(sourceText, family);
  const destination = v1Address(destinationText, family);
  if (source === undefined || destination === undefined) {
    const bad = source === undefined ? sourceText : destinationText;
    return invalid(
      `malformed PROXY v1 header: ${JSON.stringify(bad)} is not an ${
        family === "TCP4" ? "IPv4" : "IPv6"
      } address`,
    );
  }
  const from = v1Port(sourcePort);
  const to = v1Port(destinationPort);
  if (from === undefined || to === undefined) {
    const bad = from === undefined ? sourcePort : destinationPort;
    return invalid(`malformed PROXY v1 header: ${JSON.stringify(bad)} is not a port`);
  }
  return {
    status: "done",
    header: {
      version: 1,
      source: { address: source, port: from },
      destination: { address: destination, port: to },
    },
    length,
  };
}

/** An IPv6 address as text, shortened as RFC 5952 says (`2001:db8::1`, `::ffff:192.0.2.1`). */
function ipv6Text(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes[i] * 256 + bytes[i + 1]);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${bytes.subarray(12, 16).join(".")}`;
  }
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [best, bestLength] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLength).join(":")}`;
}

/** The 16-byte header, then the addresses (and TLVs, skipped) it announces. */
function parseV2(bytes: Uint8Array): ProxyParse {
  const version = bytes[12] >> 4;
  const command = bytes[12] & 0x0f;
  if (version !== 2) return invalid(`malformed PROXY v2 header: version ${version}, not 2`);
  if (command > 1) {
    return invalid(`malformed PROXY v2 header: command ${command} is not LOCAL or PROXY`);
  }
  const family = bytes[13] >> 4;
  const transport = bytes[13] & 0x0f;
  const announced = bytes[14] * 256 + bytes[15];
  const length = 16 + announced;
  if (length > MAX_V2_LENGTH) {
    return invalid(`PROXY v2 header of ${length} bytes, more than the ${MAX_V2_LENGTH} accepted`);
  }
  if (family > 3) return invalid(`malformed PROXY v2 header: address family ${family} is unknown`);
  if (transport > 2) return invalid(`malformed PROXY v2 header: transport ${transport} is unknown`);
  const needed = family === 1 ? 12 : family === 2 ? 36 : family === 3 ? 216 : 0;
  if (announced < needed) {
    return invalid(
      `malformed PROXY v2 header: ${announced} bytes of addresses, ` +
        `fewer than the ${needed} its address family takes`,
    );
  }
  if (bytes.length < length) return INCOMPLETE;
  // LOCAL (a health check of the balancer's own), or addresses that are not IP: the
  // connection's own addresses stand. The bytes announced are skipped all the same.
  if (command === 0 || family === 0 || family === 3) {
    return { status: "done", header: { version: 2 }, length };
  }
  if (transport !== 1) {
    return invalid(
      `malformed PROXY v2 header: transport ${
        transport === 2 ? "DGRAM" : "UNSPEC"
      } on a stream connection`,
    );
  }
  const at = 16;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const [source, destination, ports] = family === 1
    ? [
      bytes.subarray(at, at + 4).join("."),
      bytes.subarray(at + 4, at + 8).join("."),
      at + 8,
    ]
    : [ipv6Text(bytes.subarray(at, at + 16)), ipv6Text(bytes.subarray(at + 16, at + 32)), at + 32];
  return {
    status: "done",
    header: {
      version: 2,
      source: { address: source, port: view.getUint16(ports) },
      destination: { address: destination, port: view.getUint16(ports + 2) },
    },
    length,
  };
}
