/**
 * IPv4 and IPv6 addresses and CIDR ranges, and the `allow`/`deny` access rules
 * of a listener built on them (xinetd's `only_from`/`no_access`). Every
 * address is held as 128 bits, an IPv4 one as its IPv4-mapped IPv6 form
 * (`::ffff:a.b.c.d`), so `127.0.0.0/8` also matches a peer seen as
 * `::ffff:127.0.0.1` on a dual-stack socket, and the other way round.
 *
 * @example
 * ```ts
 * import { AccessRules } from "./address_rules.ts";
 * const rules = new AccessRules(["10.0.0.0/8", "::1"], ["10.9.0.0/16"]);
 * rules.check("10.1.2.3"); // undefined: allowed
 * rules.check("10.9.0.1")?.reason; // 'matches deny rule "10.9.0.0/16"'
 * rules.check("127.0.0.1")?.reason; // 'matches no allow rule (10.0.0.0/8, ::1)'
 * ```
 * @module
 */
import type { Code } from "../kernel/codes.ts";
import { PlumbError } from "../kernel/errors.ts";

/** An address as four 32-bit words, most significant first. */
export type Address128 = readonly [number, number, number, number];

/** A CIDR range: the network's address (host bits zero) and the prefix length, both in 128 bits. */
export interface AddressRange {
  /** The entry as written, for messages. */
  readonly text: string;
  /** The network address, as 128 bits. */
  readonly network: Address128;
  /** The prefix length in bits, over 128 (an IPv4 `/8` is 104). */
  readonly prefix: number;
}

/** An entry that is not an address or a CIDR range; the message says why. */
export class AddressRuleError extends PlumbError {
  /**
   * Makes the error.
   * @param code the code of the message
   * @param message why the entry is not an address or range
   */
  constructor(code: Code, message: string) {
    super(code, message);
    this.name = "AddressRuleError";
  }
}

const IPV4_PART = /^(0|[1-9][0-9]{0,2})$/;

/** The 32 bits of a dotted IPv4 address, or a reason it is not one. */
function ipv4Bits(text: string): number | string {
  const parts = text.split(".");
  if (parts.length !== 4) return `"${text}" is not an IPv4 address (it needs four parts)`;
  let bits = 0;
  for (const part of parts) {
    if (!IPV4_PART.test(part) || Number(part) > 255) {
      return `"${part}" in "${text}" is not a number from 0 to 255 (without leading zeros)`;
    }
    bits = bits * 256 + Number(part);
  }
  return bits;
}

/** The eight 16-bit groups of an IPv6 address, or a reason it is not one. */
function ipv6Groups(text: string): number[] | string {
  const bad = `"${text}" is not an IPv6 address`;
  const halves = text.split("::");
  if (halves.length > 2) return `${bad} ("::" may appear once)`;
  const groups = (half: string, last: boolean): number[] | string => {
    if (half === "") return [];
    const out: number[] = [];
    const parts = half.split(":");
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i];
      if (last && i === parts.length - 1 && part.includes(".")) {
        const v4 = ipv4Bits(part);
        if (typeof v4 === "string") return v4;
        out.push(Math.floor(v4 / 65536), v4 % 65536);
      } else if (/^[0-9a-f]{1,4}$/i.test(part)) {
        out.push(parseInt(part, 16));
      } else {
        return `${bad} ("${part}" is not 1 to 4 hexadecimal digits)`;
      }
    }
    return out;
  };
  const head = groups(halves[0], halves.length === 1);
  if (typeof head === "string") return head;
  if (halves.length === 1) return head.length === 8 ? head : `${bad} (it needs 8 groups)`;
  const tail = groups(halves[1], true);
  if (typeof tail === "string") return tail;
  if (head.length + tail.length > 7) return `${bad} (too many groups around "::")`;
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

function fromGroups(g: readonly number[]): Address128 {
  return [
    (g[0] * 65536 + g[1]) >>> 0,
    (g[2] * 65536 + g[3]) >>> 0,
    (g[4] * 65536 + g[5]) >>> 0,
    (g[6] * 65536 + g[7]) >>> 0,
  ];
}

/** An IPv4 (as IPv4-mapped IPv6) or IPv6 address in 128 bits, or a reason it is not one. */
function parse128(text: string): { bits: Address128; v4: boolean } | string {
  if (text.includes(":")) {
    const groups = ipv6Groups(text);
    return typeof groups === "string" ? groups : { bits: fromGroups(groups), v4: false };
  }
  if (/^[0-9.]+$/.test(text)) {
    const v4 = ipv4Bits(text);
    return typeof v4 === "string" ? v4 : { bits: [0, 0, 0xffff, v4], v4: true };
  }
  return `"${text}" is not an IPv4 or IPv6 address (host names are not looked up)`;
}

/**
 * Parses a peer's address as Deno or `node:net` reports it (`127.0.0.1`,
 * `::1`, `::ffff:127.0.0.1`, `[::1]`, `fe80::1%eth0`) into 128 bits;
 * `undefined` when it is not an IP address (a Unix socket's peer).
 */
export function parseAddress(text: string): Address128 | undefined {
  let t = text;
  if (t.startsWith("[") && t.endsWith("]")) t = t.slice(1, -1);
  const zone = t.indexOf("%");
  if (zone >= 0) t = t.slice(0, zone);
  const parsed = parse128(t);
  return typeof parsed === "string" ? undefined : parsed.bits;
}

/** The mask of the `bits` high bits of a 32-bit word. */
function wordMask(bits: number): number {
  return bits <= 0 ? 0 : bits >= 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
}

/**
 * Parses one rule entry: an address (`127.0.0.1`, `::1`) or a CIDR range
 * (`10.0.0.0/8`, `fe80::/10`). Throws an {@linkcode AddressRuleError} saying
 * what is wrong, naming a near correct entry when host bits are set.
 */
export function parseRange(text: string): AddressRange {
  if (text.trim() === "") {
    throw new AddressRuleError("PLUMB_ADDRESS_EMPTY", "an empty entry is not an address");
  }
  const slash = text.indexOf("/");
  const addressText = slash < 0 ? text : text.slice(0, slash);
  if (addressText.includes("%")) {
    throw new AddressRuleError(
      "PLUMB_ADDRESS_ZONE",
      `"${addressText}" has a zone index (%...); rules take none`,
    );
  }
  const parsed = parse128(addressText);
  if (typeof parsed === "string") throw new AddressRuleError("PLUMB_ADDRESS_INVALID", parsed);
  const width = parsed.v4 ? 32 : 128;
  let length = width;
  if (slash >= 0) {
    const prefixText = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText)) {
      throw new AddressRuleError(
        "PLUMB_ADDRESS_PREFIX_NOT_NUMBER",
        `prefix length "${prefixText}" is not a whole number`,
      );
    }
    length = Number(prefixText);
    if (length > width) {
      throw new AddressRuleError(
        "PLUMB_ADDRESS_PREFIX_TOO_LONG",
        `prefix length ${length} is more than the ${width} bits of an ${
          parsed.v4 ? "IPv4" : "IPv6"
        } address`,
      );
    }
  }
  const prefix = length + (128 - width);
  const bits = parsed.bits;
  const masked = (i: number): number => (bits[i] & wordMask(prefix - 32 * i)) >>> 0;
  const network: Address128 = [masked(0), masked(1), masked(2), masked(3)];
  if (network.some((word, i) => word !== bits[i])) {
    const near = formatNetwork(network, parsed.v4);
    throw new AddressRuleError(
      "PLUMB_ADDRESS_HOST_BITS",
      `host bits are set after the first ${length} bits; did you mean "${near}/${length}"?`,
    );
  }
  return { text, network, prefix };
}

function formatNetwork(bits: Address128, v4: boolean): string {
  if (v4) {
    const w = bits[3];
    return [w >>> 24, (w >>> 16) & 255, (w >>> 8) & 255, w & 255].join(".");
  }
  const groups = bits.flatMap((w) => [(w >>> 16).toString(16), (w & 0xffff).toString(16)]);
  // The longest run of two or more zero groups becomes "::".
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLength) [best, bestLength] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  if (best < 0) return groups.join(":");
  return `${groups.slice(0, best).join(":")}::${groups.slice(best + bestLength).join(":")}`;
}

/** True when `address` is inside `range`. */
export function inRange(address: Address128, range: AddressRange): boolean {
  for (let i = 0; i < 4; i++) {
    const bits = range.prefix - 32 * i;
    if (bits <= 0) return true;
    if (((address[i] & wordMask(bits)) >>> 0) !== range.network[i]) return false;
  }
  return true;
}

/** Why a peer was denied: the rule, in words for the log. */
export interface Denial {
  /** Which list decided: a `deny` entry matched, or no `allow` entry did. */
  readonly list: "deny" | "allow";
  /** The matching deny entry, or the allow list, as written. */
  readonly rule: string;
  /** One phrase for the log: `matches deny rule "127.0.0.0/8"`. */
  readonly reason: string;
}

/**
 * A listener's access rules: a peer matching any `deny` entry is refused; if
 * `allow` is given, only a peer matching one of its entries is served (deny
 * wins over allow). A peer with no IP address (a Unix socket's) matches no
 * entry: an `allow` list refuses it.
 */
export class AccessRules {
  readonly #allow: readonly AddressRange[] | undefined;
  readonly #deny: readonly AddressRange[];

  /**
   * @param allow entries a peer must match one of, or `undefined` for any peer
   * @param deny entries no peer may match
   * @throws {AddressRuleError} for an entry that is not an address or range
   */
  constructor(allow: readonly string[] | undefined, deny: readonly string[] = []) {
    this.#allow = allow?.map(parseRange);
    this.#deny = deny.map(parseRange);
  }

  /**
   * Checks a peer's address (as {@linkcode parseAddress} takes it, or
   * `undefined` for none): `undefined` when it may be served, else why not.
   */
  check(peerAddress: string | undefined): Denial | undefined {
    const address = peerAddress === undefined ? undefined : parseAddress(peerAddress);
    if (address !== undefined) {
      for (const range of this.#deny) {
        if (inRange(address, range)) {
          return { list: "deny", rule: range.text, reason: `matches deny rule "${range.text}"` };
        }
      }
    }
    const allow = this.#allow;
    if (allow === undefined) return undefined;
    if (address !== undefined && allow.some((range) => inRange(address, range))) return undefined;
    const list = allow.map((range) => range.text).join(", ");
    return {
      list: "allow",
      rule: list,
      reason: address === undefined
        ? `has no IP address, and the listener has an allow list (${list})`
        : `matches no allow rule (${list})`,
    };
  }
}
