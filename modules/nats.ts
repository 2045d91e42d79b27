/**
 * The `nats` module: each message on a NATS subject is one request to the
 * graph, its bytes the request's input, and the reply the graph writes goes
 * back to the message's reply subject (a NATS request answered by the
 * graph: a servlet served to other hosts). Hosts that subscribe in one
 * `queue` group share the messages, each going to one of them.
 *
 * A message is served like a connection that sends those bytes and closes
 * its side: the same session code as `tcp` (the time limit, the longest
 * line, the error reply), with no socket. A message with no reply subject is
 * run, and its reply dropped.
 * @module
 */
import { concatBytes } from "../kernel/byte_reader.ts";
import { GraphError } from "../kernel/errors.ts";
import type { ByteChannel } from "./channel.ts";
import type { DeclaredModule, ListenContext, Listener, ListenerStats } from "./module.ts";
import { NATS_SERVERS, natsAddresses, natsConnect } from "./nats_connection.ts";
import { type OptionsOf, type OptionSpecs, parseOptions } from "./options.ts";
import { SessionPool } from "./session_pool.ts";
import { SESSION_OPTIONS } from "./session_options.ts";
import type { Msg, Subscription } from "@nats-io/transport-node";

/** The longest subject a listener may name, in bytes of UTF-8: well inside the server's 4 KiB line. */
const MAX_SUBJECT_BYTES = 1024;
/**
 * What a NATS subject may be: dot-separated tokens of printable characters,
 * `*` for one token and `>` for the rest (subscriptions only).
 */
const SUBJECT = /^([^\s.*>]+|\*)(\.([^\s.*>]+|\*))*(\.>)?$|^>$/;

/**
 * Checks a subject to subscribe to; throws a one-line `GraphError` naming `where`.
 *
 * @example
 * ```ts
 * import { checkSubject } from "./nats.ts";
 * import { assertThrows } from "@std/assert";
 * checkSubject("plumb.upper.*", "listener 1 (nats)", "subject");
 * assertThrows(() => checkSubject("plumb..upper", "listener 1 (nats)", "subject"));
 * ```
 */
export function checkSubject(subject: string, where: string, name: string): void {
  const bytes = new TextEncoder().encode(subject).length;
  if (bytes > MAX_SUBJECT_BYTES) {
    throw new GraphError(
      "PLUMB_NATS_SUBJECT_LONG",
      `${where}: option "${name}": a subject of ${bytes} bytes is longer than ` +
        `${MAX_SUBJECT_BYTES} (the server drops a client whose command line is over 4 KiB)`,
    );
  }
  if (!SUBJECT.test(subject)) {
    throw new GraphError(
      "PLUMB_NATS_SUBJECT",
      `${where}: option "${name}": ${JSON.stringify(subject)} is not a NATS subject ` +
        `(tokens separated by ".", no spaces; "*" for a token, ">" at the end)`,
    );
  }
}

/** What a queue group may be: one word (the server splits a subscription's line at spaces). */
const QUEUE = /^\S+$/;

/** The options of a `nats` listener, declared. */
export const NATS_OPTIONS = {
  servers: {
    type: "string",
    default: "nats://127.0.0.1:4222",
    what: "NATS server URL, or several separated by commas",
    doc: "NATS server URL (nats://HOST:PORT), or several separated by commas. It must be " +
      "reachable when the host starts; later outages are logged and retried.",
    schema: { pattern: NATS_SERVERS.source },
    check: (value: string, where: string, name: string): void =>
      void natsAddresses(value, `${where}: option "${name}"`),
  },
  subject: {
    type: "string",
    required: true,
    what: "subject whose messages are requests",
    doc: 'Subject whose messages are requests, for example "plumb.upper"; "*" matches a ' +
      'token and ">" the rest.',
    schema: { pattern: SUBJECT.source },
    check: checkSubject,
  },
  queue: {
    type: "string",
    // The server reads a subscription's line by its spaces: one in the name drops the connection.
    check: (value: string, where: string, name: string): void => {
      if (!QUEUE.test(value)) {
        throw new GraphError(
          "PLUMB_NATS_QUEUE",
          `${where}: option "${name}": ${JSON.stringify(value)} is not a NATS queue group ` +
            `(one word, no spaces)`,
        );
      }
    },
    what: "queue group that shares the messages",
    schema: { pattern: QUEUE.source },
    doc: "Queue group: hosts subscribed in the same group share the messages, each going " +
      "to one of them. Absent: every host gets every message.",
  },
  maxInFlight: {
    type: "number",
    integer: true,
    min: 1,
    default: 256,
    what: "messages served at once",
    doc: "Messages served at once; the next ones wait in the NATS client until one is done, " +
      "so a host takes on no more than this.",
  },
  maxMessageSize: SESSION_OPTIONS.maxMessageSize,
  requestTimeout: SESSION_OPTIONS.requestTimeout,
  errorReply: SESSION_OPTIONS.errorReply,
} as const satisfies OptionSpecs;

/** Options of a `nats` listener, parsed (see {@linkcode NATS_OPTIONS}). */
export type NatsOptions = OptionsOf<typeof NATS_OPTIONS>;

/** What a message's channel needs of its listener. */
interface ReplyLimit {
  /** The longest message the server takes now (its `max_payload`). */
  maxPayload(): number;
  /** Tells of a reply that was too long to send; the requester gets `text` instead. */
  tooLong(subject: string, bytes: number, limit: number): string;
}

const encoder = new TextEncoder();

/**
 * One message as a channel: reads give its bytes, then the end; writes are
 * kept, and sent to the reply subject when the session closes the channel.
 * A reply longer than the server takes is not kept: the requester is told
 * so at once (the server would refuse it, and the requester wait out its
 * timeout), and the listener logs it.
 */
function messageChannel(msg: Msg, limit: ReplyLimit): ByteChannel {
  let data: Uint8Array | null = msg.data.length > 0 ? msg.data : null;
  const reply: Uint8Array[] = [];
  let size = 0;
  let closed = false;
  return {
    peer: `nats:${msg.subject}`,
    module: Object.freeze({ "nats/subject": msg.subject, "nats/reply": msg.reply ?? null }),
    read(buffer: Uint8Array): Promise<number | null> {
      if (data === null || closed) return Promise.resolve(null);
      const n = Math.min(buffer.length, data.length);
      buffer.set(data.subarray(0, n));
      data = n === data.length ? null : data.subarray(n);
      return Promise.resolve(n);
    },
    write(bytes: Uint8Array): Promise<number> {
      if (closed) return Promise.reject(new Deno.errors.BrokenPipe("the reply was sent"));
      size += bytes.length;
      // Past the limit nothing more is kept: what was is given back.
      if (size > limit.maxPayload()) reply.length = 0;
      else reply.push(bytes.slice());
      return Promise.resolve(bytes.length);
    },
    close(): void {
      if (closed) return;
      closed = true;
      if (msg.reply === undefined || msg.reply === "") return;
      const max = limit.maxPayload();
      try {
        msg.respond(
          size > max
            ? encoder.encode(limit.tooLong(msg.subject, size, max))
            : reply.length === 1
            ? reply[0]
            : reply.reduce(concatBytes, new Uint8Array(0)),
        );
      } catch {
        // The connection closed under the reply: the requester's own timeout tells it.
      }
    },
  };
}

/** A running `nats` listener: one subscription, each message a session of its pool. */
class NatsListener implements Listener {
  readonly url: string;
  readonly done: Promise<void>;
  readonly #pool: SessionPool;
  readonly #subscription: Subscription;
  readonly #close: () => Promise<void>;
  #closing: Promise<void> | undefined;

  /** Messages being served. */
  #inFlight = 0;
  /** True once closing: no message is served any more. */
  #stopped = false;
  /** Wakes the subscription's loop, waiting for room under `maxInFlight`. */
  #room: (() => void) | undefined;

  constructor(
    url: string,
    options: NatsOptions,
    context: ListenContext,
    subscription: Subscription,
    maxPayload: () => number,
    close: () => Promise<void>,
  ) {
    this.url = url;
    // The pool tells the host of each message served and done: counted here as well.
    const counting: ListenContext = {
      ...context,
      connections: (change) => {
        context.connections(change);
        this.#inFlight += change;
        const room = this.#room;
        this.#room = undefined;
        room?.();
      },
    };
    const pool = this.#pool = new SessionPool(counting, {
      maxLineBytes: options.maxMessageSize,
      open: false,
      requestTimeout: options.requestTimeout,
      errorReply: options.errorReply,
    }, options.requestTimeout);
    this.#subscription = subscription;
    this.#close = close;
    const max = options.maxInFlight;
    const limit: ReplyLimit = {
      maxPayload,
      tooLong(subject, bytes, most): string {
        context.log.log(
          "warn",
          "PLUMB_NATS_REPLY_TOO_LONG",
          `nats listener on ${options.subject}: the reply to a message on ${subject} is ` +
            `${bytes} bytes, more than the NATS server's max_payload of ${most}; ` +
            `the requester is told so`,
        );
        return `error: reply longer than ${most} bytes\n`;
      },
    };
    this.done = (async () => {
      for await (const msg of subscription) {
        while (this.#inFlight >= max && !this.#stopped) {
          await new Promise<void>((wake) => this.#room = wake);
        }
        if (this.#stopped) break;
        pool.serve(messageChannel(msg, limit));
      }
    })();
  }

  get connections(): number {
    return this.#pool.size;
  }

  stats(): ListenerStats {
    return { ...this.#pool.stats(), refused: {} };
  }

  close(graceMs = 5000): Promise<void> {
    return this.#closing ??= (async () => {
      this.#stopped = true;
      this.#subscription.unsubscribe();
      await this.#pool.close(graceMs);
      this.#room?.();
      await this.done;
      await this.#close();
    })();
  }
}

/** The `nats` module. */
export const nats: DeclaredModule<typeof NATS_OPTIONS> = {
  name: "nats",
  options: NATS_OPTIONS,
  parseOptions: (options, where) => parseOptions(NATS_OPTIONS, options, where),
  async listen(options: NatsOptions, context: ListenContext): Promise<Listener> {
    const queue = options.queue === undefined ? "" : ` (queue ${options.queue})`;
    const who = `nats listener on ${options.subject}${queue}`;
    const link = await natsConnect(options.servers, who, context.log);
    const subscription = link.nc.subscribe(
      options.subject,
      options.queue === undefined ? {} : { queue: options.queue },
    );
    // The subscription is known to the server once it answers a round trip.
    await link.nc.flush();
    const server = options.servers.split(",")[0].trim().replace(/^(?!\w+:\/\/)/, "nats://");
    const url = `${server}/${options.subject}${
      options.queue === undefined ? "" : `?queue=${options.queue}`
    }`;
    // The server says, as it connects, the longest message it takes (1 MiB unless set).
    const maxPayload = (): number => link.nc.info?.max_payload ?? Infinity;
    return new NatsListener(url, options, context, subscription, maxPayload, () => link.close());
  },
};
