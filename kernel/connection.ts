/**
 * The connection a request came from, as every node of its graph sees it:
 * per-node state kept with the connection, a word on keeping it open, and
 * the peer. A module that serves connections gives the kernel a
 * {@linkcode ConnectionLink} with each request; a servlet reaches it as
 * `task.connection`, a {@linkcode Connection}.
 * @module
 */
import { type ConnectionHandle, handleOf, type PushLink } from "./connection_handle.ts";
import { PipeError } from "./errors.ts";
import type { KeptState } from "./kept_state.ts";
import type { Deadline } from "./servlet.ts";

/**
 * What a module tells the kernel about the connection a request came from
 * (the module's side of {@linkcode Connection}).
 */
export interface ConnectionLink {
  /** Who is at the other end: `127.0.0.1:5000`, `unix:/run/x.sock`, `stdio`. */
  readonly peer: string;
  /** True once the connection has closed. */
  readonly closed: boolean;
  /**
   * The state slot of one node on this connection, made when first asked
   * for; disposed when the connection closes. Two nodes never share one.
   * @param node the node's name
   */
  stateOf(node: string): KeptState;
  /**
   * True when any node keeps a value in its state slot now. Optional: without
   * it the kernel asks {@linkcode ConnectionLink.stateOf} for each node, which
   * makes the slots.
   */
  keepsState?(): boolean;
  /**
   * A node's word on keeping the connection after the current request: its
   * last word counts; one node saying `false` closes it, else one saying
   * `true` keeps it, else the flags decide (`PERSIST` on the output companion).
   * @param node the node's name
   * @param keep true to keep the connection open, false to close it after the reply
   */
  keepAlive(node: string, keep: boolean): void;
  /**
   * Sets (or, with `null`, clears) the connection's deadline: what
   * `DEADLINE` does. Optional: a connection without it has no deadlines.
   * @param deadline when, why, and what to write before closing; `null` to clear
   */
  deadline?(deadline: Deadline | null): void;
  /**
   * Writes outside a request (server push), when the module can make them:
   * every listener's session can; the testing harness, which replays
   * requests with no client behind them, cannot.
   */
  readonly push?: PushLink;
}

/**
 * The connection a request came from, as one node sees it: `task.connection`.
 * Any node of the graph reaches it, not only the node bound to the
 * connection. It stays valid after the request (state lives as long as the
 * connection), except for {@linkcode Connection.keepAlive}, which speaks
 * for one request.
 *
 * @example
 * ```ts
 * import { defineServlet, INPUT, OUTPUT } from "../mod.ts";
 * import { assertEquals } from "@std/assert";
 *
 * // Numbers the lines of each connection, wherever it sits in the graph.
 * const counter = defineServlet({
 *   init(_args, env) {
 *     return { input: env.define("in", INPUT), output: env.define("out", OUTPUT) };
 *   },
 *   async exec(ctx, task) {
 *     const line = await task.readLine(ctx.input);
 *     if (line === null) return;
 *     const connection = task.connection; // null when the request has no connection
 *     const before: number | undefined = connection?.state();
 *     const count = (before ?? 0) + 1;
 *     connection?.setState(count);
 *     if (line === "bye") connection?.keepAlive(false);
 *     await task.write(ctx.output, `${count} ${line}\n`);
 *   },
 * });
 * assertEquals(typeof counter.exec, "function");
 * ```
 */
export interface Connection {
  /** Who is at the other end: `127.0.0.1:5000`, `unix:/run/x.sock`, `stdio`, `file:in.txt`. */
  readonly peer: string;
  /** True once the connection has closed (the client left, a time limit, the host stopped). */
  readonly closed: boolean;
  /**
   * This node's state on this connection, as {@linkcode Connection.setState}
   * left it (`undefined` when none). It stays in place. The caller names the
   * type it set; it is not checked.
   */
  state<S>(): S | undefined;
  /**
   * Keeps `state` as this node's state on this connection, replacing (and
   * disposing) a different one kept before; `undefined` drops it. `dispose`
   * is called with the state when it is replaced or dropped, or when the
   * connection closes. Each node has its own: two nodes never clobber each
   * other's state. The same slot as `PUSH_STATE`/`POP_STATE` on any port of
   * the node.
   */
  setState<S>(state: S | undefined, dispose?: (state: S) => void): void;
  /**
   * Keeps the connection open after this request (`true`) or closes it once
   * the reply is written (`false`), whatever the flags of the graph's input
   * say. Setting or clearing `PERSIST` at exec time on any port says the
   * same. When nodes disagree, closing wins.
   * @throws {PipeError} after this node's task has ended
   */
  keepAlive(keep: boolean): void;
  /**
   * A handle to write to this connection later, outside any request (server
   * push: a chat line, a notification, a clock tick), queued in order with the
   * replies of the connection's own requests and never inside one. It stays
   * valid after the request; its `closed` resolves when the connection
   * closes, so that the servlet can forget it.
   * @throws {PipeError} when the connection cannot be written to outside a
   * request (`PLUMB_PIPE_NO_PUSH`: the testing harness's replayed requests)
   */
  handle(): ConnectionHandle;
}

/** An `AbortSignal` that never aborts: `task.signal` of a request that nothing can cancel. */
export const NEVER_ABORTED: AbortSignal = new AbortController().signal;

/**
 * The kernel's {@linkcode Connection}: a node's view of a {@linkcode ConnectionLink}.
 *
 * @example
 * ```ts
 * import { NodeConnection, type ConnectionLink } from "./connection.ts";
 * import { KeptState } from "./kept_state.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const slots = new Map<string, KeptState>();
 * const votes: string[] = [];
 * const link: ConnectionLink = {
 *   peer: "192.0.2.1:5000",
 *   closed: false,
 *   stateOf: (node) => slots.get(node) ?? slots.set(node, new KeptState()).get(node)!,
 *   keepAlive: (node, keep) => votes.push(`${node} ${keep}`),
 * };
 * const a = new NodeConnection("a", link, () => false);
 * const b = new NodeConnection("b", link, () => false);
 * a.setState("mine");
 * assertEquals([a.state<string>(), b.state<string>()], ["mine", undefined]);
 * b.keepAlive(false);
 * assertEquals(votes, ["b false"]);
 * ```
 */
export class NodeConnection implements Connection {
  readonly #node: string;
  readonly #link: ConnectionLink;
  readonly #ended: () => boolean;

  /**
   * @param node the node's name: its state slot, and for messages
   * @param link the connection
   * @param ended true once the node's task has ended
   */
  constructor(node: string, link: ConnectionLink, ended: () => boolean) {
    this.#node = node;
    this.#link = link;
    this.#ended = ended;
  }

  get peer(): string {
    return this.#link.peer;
  }

  get closed(): boolean {
    return this.#link.closed;
  }

  state<S>(): S | undefined {
    return this.#link.stateOf(this.#node).value as S | undefined;
  }

  setState<S>(state: S | undefined, dispose?: (state: S) => void): void {
    this.#link.stateOf(this.#node).push(state, dispose as ((state: unknown) => void) | undefined);
  }

  keepAlive(keep: boolean): void {
    if (this.#ended()) {
      throw new PipeError(
        "PLUMB_PIPE_KEEPALIVE_AFTER_END",
        `node "${this.#node}": connection.keepAlive after its task ended; ` +
          `call it before exec returns, it speaks for that request`,
      );
    }
    this.#link.keepAlive(this.#node, keep);
  }

  handle(): ConnectionHandle {
    const push = this.#link.push;
    if (push === undefined) {
      throw new PipeError(
        "PLUMB_PIPE_NO_PUSH",
        `node "${this.#node}": connection.handle() on a connection with no client behind it ` +
          `(${this.#link.peer}: requests replayed by the servlet harness); test server push ` +
          `with simulate or Host.connect`,
      );
    }
    return handleOf(push);
  }
}
