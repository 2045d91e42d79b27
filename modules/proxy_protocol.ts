/**
 * The PROXY protocol on a listener (`proxyProtocol`): every connection comes
 * from a trusted proxy (a load balancer such as HAProxy) and starts with a
 * PROXY header, version 1 or 2, naming the client it stands for. The client
 * is then the connection's peer: what servlets see (`tcp/peer`), what the
 * connection log writes, what `allow`/`deny` and the per-source limits
 * check. A connection from an address that is not trusted, or whose header
 * is malformed, missing or late, is closed with a log line, before any
 * servlet runs.
 *
 * @example
 * ```ts
 * import { TrustedProxies } from "./proxy_protocol.ts";
 * import { assertEquals } from "@std/assert";
 * const proxies = new TrustedProxies(["10.0.0.0/8", "::1"]);
 * assertEquals(proxies.untrusted("10.1.2.3"), undefined);
 * assertEquals(proxies.untrusted("::ffff:10.1.2.3"), undefined);
 * assertEquals(proxies.untrusted("192.0.2.1"), "not a trusted proxy (proxyProtocol 10.0.0.0/8, ::1)");
 * ```
 * @module
 */
import {
  type Address128,
  type AddressRange,
  inRange,
  parseAddress,
  parseRange,
} from "./address_rules.ts";
import type { Code } from "../kernel/codes.ts";
import { type ByteChannel, isGone, lingerOrClose } from "./channel.ts";
import { ADDRESS_LIST, checkRanges } from "./listener_limits.ts";
import type { OptionsOf, OptionSpecs } from "./options.ts";
import { MAX_V2_LENGTH, parseProxyHeader, type ProxyHeader } from "./proxy_header.ts";

/** The PROXY protocol option of a TCP (or TLS) listener, declared. */
export const PROXY_PROTOCOL_OPTIONS = {
  proxyProtocol: {
    type: "string[]",
    what:
      "addresses and CIDR ranges of the proxies that send a PROXY header, for example 10.0.0.0/8",
    doc: "Every connection comes from one of these proxies (addresses and CIDR ranges) and " +
      "starts with a PROXY protocol header (version 1 or 2) naming the client, who is then the " +
      "peer that servlets, the connection log, allow/deny and the per-source limits see. A " +
      "connection from another address, or with a malformed or missing header, is closed. " +
      "Absent: no header is read.",
    schema: ADDRESS_LIST,
    check: checkRanges,
  },
} as const satisfies OptionSpecs;

/** The PROXY protocol option, parsed (see {@linkcode PROXY_PROTOCOL_OPTIONS}). */
export type ProxyProtocolOptions = OptionsOf<typeof PROXY_PROTOCOL_OPTIONS>;

/** How long a connection may take to send its whole PROXY header, in milliseconds. */
export const PROXY_HEADER_TIMEOUT_MS = 5000;

/** Bytes read at a time while looking for the header (more than the longest header). */
const READ_SIZE = 16384;

function hostPort(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * A connection whose PROXY header has been read: its peer is the client the
 * header names (or, for a `LOCAL` or `UNKNOWN` header, the connection's own),
 * and its first reads give the bytes that came after the header.
 */
export class ProxiedChannel implements ByteChannel {
  /** The connection from the proxy. */
  readonly inner: ByteChannel;
  /** What the header said. */
  readonly header: ProxyHeader;
  readonly peer: string;
  readonly address: string | undefined;
  readonly via: string | undefined;
  readonly proxyLocal: boolean;
  #rest: Uint8Array;
  #module: Readonly<Record<string, unknown>> | undefined;

  /**
   * @param inner the connection from the proxy
   * @param header its PROXY header
   * @param rest the bytes read after the header
   */
  constructor(inner: ByteChannel, header: ProxyHeader, rest: Uint8Array) {
    this.inner = inner;
    this.header = header;
    this.#rest = rest;
    const source = header.source;
    this.peer = source === undefined ? inner.peer : hostPort(source.address, source.port);
    this.address = source === undefined ? inner.address : source.address;
    this.via = source === undefined ? undefined : inner.peer;
    this.proxyLocal = source === undefined;
  }

  /**
   * The module's `cntl` answers: `tcp/peer` is the client, `tcp/local` the
   * address it connected to (the proxy's), `tcp/proxy` the proxy's own.
   */
  get module(): Readonly<Record<string, unknown>> | undefined {
    const { source, destination } = this.header;
    if (source === undefined || destination === undefined) return this.inner.module;
    return this.#module ??= Object.freeze({
      ...this.inner.module,
      "tcp/peer": this.peer,
      "tcp/local": hostPort(destination.address, destination.port),
      "tcp/proxy": this.inner.peer,
    });
  }

  /** Takes the bytes that came after the header and are not read yet (a TLS layer reads them). */
  takeRest(): Uint8Array {
    const rest = this.#rest;
    this.#rest = new Uint8Array(0);
    return rest;
  }

  read(buffer: Uint8Array): Promise<number | null> {
    const rest = this.#rest;
    if (rest.length === 0) return this.inner.read(buffer);
    const n = Math.min(buffer.length, rest.length);
    buffer.set(rest.subarray(0, n));
    this.#rest = rest.subarray(n);
    return Promise.resolve(n);
  }

  write(data: Uint8Array): Promise<number> {
    return this.inner.write(data);
  }

  close(): void {
    this.inner.close();
  }

  linger(): Promise<void> {
    return lingerOrClose(this.inner);
  }
}

/** The proxies a listener trusts to send PROXY headers. */
export class TrustedProxies {
  readonly #ranges: readonly AddressRange[];

  /** @param entries addresses and CIDR ranges, checked already (`proxyProtocol`) */
  constructor(entries: readonly string[]) {
    this.#ranges = entries.map(parseRange);
  }

  /** Why a connection from `address` may not send a header; `undefined` when it may. */
  untrusted(address: string | undefined): string | undefined {
    const bits: Address128 | undefined = address === undefined ? undefined : parseAddress(address);
    if (bits !== undefined && this.#ranges.some((range) => inRange(bits, range))) return undefined;
    return `not a trusted proxy (proxyProtocol ${this.#ranges.map((r) => r.text).join(", ")})`;
  }
}

/** A connection whose header could not be read, and why. */
export interface ProxyFailure {
  /** The code of the log line. */
  readonly code: Code;
  /** Why, in a few words for the log. */
  readonly reason: string;
  /** The connection closed before sending a byte (a balancer's bare health check): worth a debug line only. */
  readonly quiet: boolean;
}

/**
 * Reads the PROXY header a connection starts with, within
 * {@linkcode PROXY_HEADER_TIMEOUT_MS}: the connection with the client as its
 * peer, or why not (then the caller closes it). Never throws.
 */
export async function readProxyHeader(
  channel: ByteChannel,
  timeoutMs: number = PROXY_HEADER_TIMEOUT_MS,
): Promise<ProxiedChannel | ProxyFailure> {
  const buffer = new Uint8Array(READ_SIZE);
  let size = 0;
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    try {
      channel.close();
    } catch {
      // Already closed.
    }
  }, timeoutMs);
  try {
    for (;;) {
      let n: number | null;
      try {
        n = await channel.read(buffer.subarray(size));
      } catch (error) {
        if (!isGone(error) && !late) {
          return {
            code: "PLUMB_PROXY_CLOSED",
            reason: `reading its PROXY header failed: ${(error as Error).message}`,
            quiet: false,
          };
        }
        n = null;
      }
      if (late) {
        return {
          code: "PLUMB_PROXY_LATE",
          reason: `no whole PROXY header within ${timeoutMs / 1000} s`,
          quiet: false,
        };
      }
      if (n === null) {
        return size === 0
          ? {
            code: "PLUMB_PROXY_CLOSED",
            reason: "closed before sending its PROXY header",
            quiet: true,
          }
          : {
            code: "PLUMB_PROXY_CLOSED",
            reason: `closed after ${size} bytes of its PROXY header`,
            quiet: false,
          };
      }
      size += n;
      const parsed = parseProxyHeader(buffer.subarray(0, size));
      if (parsed.status === "invalid") {
        return {
          code: parsed.missing ? "PLUMB_PROXY_NO_HEADER" : "PLUMB_PROXY_MALFORMED",
          reason: parsed.reason,
          quiet: false,
        };
      }
      if (parsed.status === "done") {
        return new ProxiedChannel(channel, parsed.header, buffer.slice(parsed.length, size));
      }
      // Incomplete: a header is at most MAX_V2_LENGTH bytes, less than the buffer holds.
      if (size >= MAX_V2_LENGTH + 16) {
        return { code: "PLUMB_PROXY_MALFORMED", reason: "PROXY header too long", quiet: false };
      }
    }
  } finally {
    clearTimeout(timer);
  }
}
