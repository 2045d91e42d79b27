/**
 * `kv`: a key-value server with a line protocol, over the host's shared
 * store (`env.store`). Every connection sees the same keys: those of every
 * node of the host that opens the bucket, of every `--workers` worker, and
 * of every host sharing a `--store`.
 *
 * Each line is one command, its name in any case, and gets one line back:
 *
 * | command           | reply                                                           |
 * | ----------------- | --------------------------------------------------------------- |
 * | `SET key value`   | `OK`                                                            |
 * | `SETNX key value` | `1` when the key had no value and now has this one, else `0`    |
 * | `GET key`         | the value as a JSON string (`"a value"`), or `(nil)` for none   |
 * | `DEL key`         | `1` when the key had a value, else `0`                          |
 * | anything else     | `ERR ` and what is wrong, and the connection stays open          |
 *
 * A key longer than the store takes (2048 bytes) is answered `ERR` and the
 * store's `PLUMB_STORE_KEY` message.
 *
 * A key is one word (no spaces); a value is the rest of the line after one
 * space, spaces and all, and may be empty. `SETNX` is a claim: of many
 * clients racing for one key, on any worker or host, exactly one gets `1`.
 *
 * Argument: `--bucket NAME`, the bucket it keeps its keys in (default `kv`).
 *
 * Ports: `in` (input, `PERSIST`), `out` (output).
 *
 * @example
 * ```json
 * { "servlet": "kv", "args": ["--bucket", "sessions"] }
 * ```
 * @module
 */
import { defineServlet, type KeyValueStore, PlumbError } from "../mod.ts";

/** The commands, as the error replies list them. */
const COMMANDS = "SET key value, SETNX key value, GET key, DEL key";

/** The bucket the arguments name. */
function parseArgs(args: readonly string[]): string {
  if (args.length === 0) return "kv";
  if (args.length === 2 && args[0] === "--bucket") return args[1];
  throw new PlumbError(
    "PLUMB_KV_ARGS",
    `kv: the argument is --bucket NAME, got ${JSON.stringify(args)}`,
  );
}

/** The reply to one command line, without its `\n`. */
async function run(store: KeyValueStore, line: string): Promise<string> {
  const space = line.indexOf(" ");
  const name = (space < 0 ? line : line.slice(0, space)).toUpperCase();
  const rest = space < 0 ? undefined : line.slice(space + 1);
  if (name === "GET" || name === "DEL") {
    if (rest === undefined || rest === "" || rest.includes(" ")) {
      return `ERR ${name} takes one key: ${name} key`;
    }
    if (name === "GET") {
      const value = await store.get(rest);
      return value === undefined ? "(nil)" : JSON.stringify(value);
    }
    return await store.delete(rest) ? "1" : "0";
  }
  if (name === "SET" || name === "SETNX") {
    const gap = rest?.indexOf(" ") ?? -1;
    if (rest === undefined || gap < 1) {
      return `ERR ${name} takes a key and a value: ${name} key value`;
    }
    const [key, value] = [rest.slice(0, gap), rest.slice(gap + 1)];
    if (name === "SET") {
      await store.set(key, value);
      return "OK";
    }
    return await store.create(key, value) ? "1" : "0";
  }
  return line === ""
    ? `ERR empty line; commands are ${COMMANDS}`
    : `ERR unknown command ${
      JSON.stringify(line.slice(0, space < 0 ? 40 : Math.min(space, 40)))
    }; ` +
      `commands are ${COMMANDS}`;
}

/** The reply to `line`; a key the store refuses is the client's mistake, answered `ERR`. */
async function answer(store: KeyValueStore, line: string): Promise<string> {
  try {
    return await run(store, line);
  } catch (error) {
    if (error instanceof PlumbError && error.code === "PLUMB_STORE_KEY") {
      return `ERR ${error.code} ${error.message}`;
    }
    throw error;
  }
}

export default defineServlet({
  description: "a key-value server: SET, SETNX, GET and DEL lines over the host's shared store",
  init(args, env) {
    return {
      store: env.store(parseArgs(args)),
      input: env.input("in", { persist: true, type: "text/line" }), // one command a line
      output: env.output("out", { type: "text/line" }), // one reply a line
    };
  },
  async exec(ctx, task) {
    const line = await task.readLine(ctx.input);
    if (line !== null) await task.write(ctx.output, `${await answer(ctx.store, line)}\n`);
  },
});
