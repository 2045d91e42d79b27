/**
 * Who a listener serves and how many: `maxConnections` (tcpserver `-c`) with
 * its `overflow` (wait in the backlog, or refuse), and, for TCP, `allow` and
 * `deny` address rules (xinetd `only_from`/`no_access`), `maxPerSource`
 * (xinetd `per_source`) and `maxRatePerSource` (xinetd `cps`). An
 * {@linkcode Admission} decides, for each accepted connection, whether it is
 * served, before any servlet runs.
 * @module
 */
import { GraphError, lineOf } from "../kernel/errors.ts";
import { AccessRules, AddressRuleError, parseRange } from "./address_rules.ts";
import type { JsonSchema, OptionsOf, OptionSpecs } from "./options.ts";
import { SourceTable } from "./source_table.ts";

/** Limits on a listener's connections (`tcp`, `unix`), declared. */
export const CONNECTION_LIMIT_OPTIONS = {
  maxConnections: {
    type: "number",
    integer: true,
    min: 1,
    what: "connections served at once",
    doc: "Connections served at once; absent for no limit. " +
      "What a connection over it gets is overflow's choice.",
  },
  overflow: {
    type: "string",
    values: ["wait", "refuse"],
    default: "wait",
    what: "what a connection over maxConnections gets: wait in the backlog, or refused",
    doc: "When maxConnections are open: wait stops accepting until one closes " +
      "(new connections wait in the backlog), refuse accepts and closes them at once " +
      "(after refuseMessage).",
  },
  evictAfter: {
    type: "number",
    min: 0.001,
    default: 10,
    what: "seconds after which an unanswered connection is closed to make room",
    doc: "While maxConnections are open (overflow wait): a connection that has had no reply " +
      "this many seconds after it opened (a slow or silent client) is closed to make room, " +
      "before any other. Connections that have had a reply are kept, up to ttl.",
  },
  refuseMessage: {
    type: "string",
    default: "",
    what: "written to a connection refused by a limit before it is closed",
    doc: "Written as is to a connection refused by a limit (maxConnections with refuse, " +
      'maxPerSource, maxRatePerSource) before it is closed, for example "busy, try again ' +
      'later\\n". Denied connections are told nothing.',
  },
} as const satisfies OptionSpecs;

/** Limits on a listener's connections, parsed (see {@linkcode CONNECTION_LIMIT_OPTIONS}). */
export type ConnectionLimitOptions = OptionsOf<typeof CONNECTION_LIMIT_OPTIONS>;

/** What happens to a new connection while `maxConnections` are open. */
export type Overflow = ConnectionLimitOptions["overflow"];

/**
 * Checks that each entry of an `allow` or `deny` list is an address or a CIDR
 * range; a bad one is a {@linkcode GraphError} naming `where`, the option and
 * the entry.
 */
export function checkRanges(entries: readonly string[], where: string, name: string): void {
  for (const entry of entries) {
    try {
      parseRange(entry);
    } catch (error) {
      if (!(error instanceof AddressRuleError)) throw error;
      throw new GraphError(
        "PLUMB_OPTION_BAD_ADDRESS",
        `${where}: option "${name}": entry ${JSON.stringify(entry)}: ${lineOf(error)}`,
      );
    }
  }
}

/** What the schema says of an address list beyond "an array of strings". */
export const ADDRESS_LIST: JsonSchema = { items: { type: "string", minLength: 1 } };

/** Access rules and per-source limits of a TCP listener, by peer address, declared. */
export const SOURCE_RULE_OPTIONS = {
  allow: {
    type: "string[]",
    what: "addresses and CIDR ranges that may connect, for example 10.0.0.0/8",
    doc: "Only peers matching one of these addresses or CIDR ranges (127.0.0.1, 10.0.0.0/8, " +
      "::1, fe80::/10) are served; absent for any peer. IPv4 entries also match " +
      "IPv4-mapped IPv6 peers.",
    schema: ADDRESS_LIST,
    check: checkRanges,
  },
  deny: {
    type: "string[]",
    what: "addresses and CIDR ranges that may not connect, for example 10.0.0.0/8",
    doc: "Peers matching one of these addresses or CIDR ranges are closed before any " +
      "servlet runs; deny wins over allow.",
    schema: ADDRESS_LIST,
    check: checkRanges,
  },
  maxPerSource: {
    type: "number",
    integer: true,
    min: 1,
    what: "connections one address may hold open at once",
    doc: "Connections one peer address may hold open at once; more are closed at once. " +
      "Absent for no limit.",
  },
  maxRatePerSource: {
    type: "number",
    min: 0.001,
    what: "new connections one address may open per second",
    doc: "New connections one peer address may open per second (a burst of one second's " +
      "worth, then this rate); more are closed at once. Absent for no limit.",
  },
} as const satisfies OptionSpecs;

/** Access rules and per-source limits, parsed (see {@linkcode SOURCE_RULE_OPTIONS}). */
export type SourceRuleOptions = OptionsOf<typeof SOURCE_RULE_OPTIONS>;

/** Why a connection is not served. */
export interface Refusal {
  /** `denied` by the access rules, or refused by a `limit`. */
  readonly end: "denied" | "limit";
  /** One phrase for the log, naming the rule or the limit. */
  readonly reason: string;
  /** The option that refused it, for the metrics: `allow`, `deny`, or the limit's name. */
  readonly rule: "allow" | "deny" | "maxConnections" | "maxPerSource" | "maxRatePerSource";
}

/**
 * The source address a peer's per-source limits count under: an
 * IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) counts as its IPv4 address.
 */
export function sourceKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped === null ? address : mapped[1];
}

/** Decides, for each connection a listener accepts, whether it is served. */
export class Admission {
  readonly #access: AccessRules | undefined;
  readonly #maxConnections: number | undefined;
  readonly #sources: SourceTable | undefined;
  readonly #maxPerSource: number | undefined;
  readonly #rate: number | undefined;

  /**
   * An admission for the listener's options, or `undefined` when they ask
   * for no check on accept (then the accept loop does no work for it).
   * `maxConnections` is checked here only with `overflow: "refuse"`.
   */
  static create(
    options: Partial<ConnectionLimitOptions & SourceRuleOptions>,
  ): Admission | undefined {
    const refuse = options.overflow === "refuse" && options.maxConnections !== undefined;
    const checks = options.allow !== undefined || options.deny !== undefined ||
      options.maxPerSource !== undefined || options.maxRatePerSource !== undefined || refuse;
    return checks ? new Admission(options) : undefined;
  }

  /** @param options the listener's limits and rules (see {@linkcode Admission.create}) */
  constructor(options: Partial<ConnectionLimitOptions & SourceRuleOptions>) {
    const { allow, deny, maxPerSource, maxRatePerSource } = options;
    this.#access = allow !== undefined || deny !== undefined
      ? new AccessRules(allow, deny)
      : undefined;
    this.#maxConnections = options.overflow === "refuse" ? options.maxConnections : undefined;
    this.#maxPerSource = maxPerSource;
    this.#rate = maxRatePerSource;
    this.#sources = maxPerSource !== undefined || maxRatePerSource !== undefined
      ? new SourceTable({ maxPerSource, maxRatePerSource })
      : undefined;
  }

  /** True when {@linkcode release} must be called as each admitted connection ends. */
  get countsOpen(): boolean {
    return this.#sources?.countsOpen ?? false;
  }

  /**
   * Admits a connection from `address` (`undefined` for a peer with no IP
   * address, a Unix socket's) while `open` connections are served, or says
   * why not. Checked in this order: `deny`/`allow`, `maxConnections`,
   * `maxPerSource`, `maxRatePerSource`.
   */
  admit(address: string | undefined, open: number): Refusal | undefined {
    const denial = this.#access?.check(address);
    if (denial !== undefined) return { end: "denied", reason: denial.reason, rule: denial.list };
    const max = this.#maxConnections;
    if (max !== undefined && open >= max) {
      const connections = open === 1 ? "connection" : "connections";
      return {
        end: "limit",
        reason: `${open} ${connections} open (maxConnections ${max})`,
        rule: "maxConnections",
      };
    }
    if (this.#sources === undefined || address === undefined) return undefined;
    const source = sourceKey(address);
    switch (this.#sources.admit(source)) {
      case undefined:
        return undefined;
      case "maxPerSource":
        return {
          end: "limit",
          rule: "maxPerSource",
          reason:
            `${this.#maxPerSource} ${
              this.#maxPerSource === 1 ? "connection" : "connections"
            } from ${source} open already ` +
            `(maxPerSource ${this.#maxPerSource})`,
        };
      case "maxRatePerSource":
        return {
          end: "limit",
          rule: "maxRatePerSource",
          reason: `over ${this.#rate} new connections a second from ${source} ` +
            `(maxRatePerSource ${this.#rate})`,
        };
    }
  }

  /** A connection that {@linkcode admit} let in from `address` has ended. */
  release(address: string | undefined): void {
    if (address !== undefined) this.#sources?.release(sourceKey(address));
  }
}
