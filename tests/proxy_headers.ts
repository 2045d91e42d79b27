/**
 * PROXY protocol headers as a balancer writes them, for the tests: version 1
 * text lines and version 2 binary headers, from a plain description.
 * @module
 */
import { V2_SIGNATURE } from "../modules/proxy_header.ts";

/** What a test header says. */
export interface HeaderSpec {
  /** `PROXY` (default) or `LOCAL` (version 2; version 1 writes `UNKNOWN`). */
  command?: "PROXY" | "LOCAL";
  /** The client's address and port. */
  source?: { address: string; port: number };
  /** The address and port the client connected to. */
  destination?: { address: string; port: number };
  /** Version 2 TLVs after the addresses: type and value. */
  tlvs?: { type: number; value: Uint8Array }[];
}

const SOURCE = { address: "203.0.113.7", port: 5000 };
const DESTINATION = { address: "192.0.2.1", port: 12000 };

/** A version 1 header: `PROXY TCP4 ...\r\n` (`TCP6` for IPv6 addresses), or `PROXY UNKNOWN\r\n`. */
export function proxyV1(spec: HeaderSpec = {}): Uint8Array {
  if (spec.command === "LOCAL") return new TextEncoder().encode("PROXY UNKNOWN\r\n");
  const { source = SOURCE, destination = DESTINATION } = spec;
  const family = source.address.includes(":") ? "TCP6" : "TCP4";
  return new TextEncoder().encode(
    `PROXY ${family} ${source.address} ${destination.address} ${source.port} ${destination.port}\r\n`,
  );
}

/** The 4 bytes of an IPv4 address, or the 16 of an IPv6 one (`::` and a dotted tail allowed). */
export function addressBytes(address: string): number[] {
  if (!address.includes(":")) return address.split(".").map(Number);
  const [head, tail] = address.includes("::") ? address.split("::") : [address, undefined];
  // An IPv4 address at the end (`::ffff:192.0.2.1`) is two groups.
  const groups = (text: string | undefined): number[] =>
    text === undefined || text === "" ? [] : text.split(":").flatMap((g) => {
      if (!g.includes(".")) return [parseInt(g, 16)];
      const [a, b, c, d] = g.split(".").map(Number);
      return [a * 256 + b, c * 256 + d];
    });
  const front = groups(head);
  const back = groups(tail);
  const all = [...front, ...new Array(8 - front.length - back.length).fill(0), ...back];
  return all.flatMap((g) => [g >> 8, g & 0xff]);
}

/** A version 2 header: INET or INET6 over STREAM, with `tlvs` after the addresses. */
export function proxyV2(spec: HeaderSpec = {}): Uint8Array {
  const { source = SOURCE, destination = DESTINATION, tlvs = [] } = spec;
  const six = source.address.includes(":");
  const body = spec.command === "LOCAL" ? [] : [
    ...addressBytes(source.address),
    ...addressBytes(destination.address),
    source.port >> 8,
    source.port & 0xff,
    destination.port >> 8,
    destination.port & 0xff,
  ];
  for (const tlv of tlvs) {
    body.push(tlv.type, tlv.value.length >> 8, tlv.value.length & 0xff, ...tlv.value);
  }
  const command = spec.command === "LOCAL" ? 0x20 : 0x21;
  const family = spec.command === "LOCAL" ? 0x00 : six ? 0x21 : 0x11;
  return new Uint8Array([
    ...V2_SIGNATURE,
    command,
    family,
    body.length >> 8,
    body.length & 0xff,
    ...body,
  ]);
}

/** `a` then `b`, in one array. */
export function joined(...parts: (Uint8Array | string)[]): Uint8Array {
  const bytes = parts.map((p) => typeof p === "string" ? new TextEncoder().encode(p) : p);
  const out = new Uint8Array(bytes.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of bytes) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}
