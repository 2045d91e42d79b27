/**
 * The `file` module: each line of an input file is one request; the replies
 * are appended to an output file. For batch runs, and for trying a graph
 * without a network. The listener is done at the end of the input file.
 * @module
 */
import { PermissionHint, PlumbError } from "../kernel/errors.ts";
import { filePath } from "../kernel/file_path.ts";
import type { ByteChannel } from "./channel.ts";
import type { DeclaredModule, ListenContext, Listener } from "./module.ts";
import { type OptionsOf, type OptionSpecs, parseOptions } from "./options.ts";
import { singleSessionListener } from "./session_pool.ts";
import { SESSION_OPTIONS } from "./session_options.ts";

/** The options of a `file` listener, declared. */
export const FILE_OPTIONS = {
  input: {
    type: "string",
    required: true,
    what: "input file, one request per line",
    doc: "Input file, relative to the graph file: one request per line.",
  },
  output: {
    type: "string",
    required: true,
    what: "output file the replies are appended to",
    doc: "Output file the replies are appended to.",
  },
  maxMessageSize: SESSION_OPTIONS.maxMessageSize,
  open: SESSION_OPTIONS.open,
} as const satisfies OptionSpecs;

/** Options of a `file` listener, parsed (see {@linkcode FILE_OPTIONS}). */
export type FileOptions = OptionsOf<typeof FILE_OPTIONS>;

/** A channel that reads a file one line per read (each line its own readiness) and appends writes. */
async function fileChannel(input: string, output: string): Promise<ByteChannel> {
  const source = await Deno.open(input, { read: true });
  const sink = await Deno.open(output, { write: true, create: true, append: true });
  const lines = source.readable.getReader();
  let pending = new Uint8Array(0);
  let ended = false;
  return {
    peer: `file:${input}`,
    async read(buffer: Uint8Array): Promise<number | null> {
      for (;;) {
        const nl = pending.indexOf(0x0a);
        const end = nl >= 0 ? nl + 1 : ended ? pending.length : -1;
        if (end > 0 || (ended && pending.length === 0)) {
          if (pending.length === 0) return null;
          const n = Math.min(end, buffer.length);
          buffer.set(pending.subarray(0, n));
          pending = pending.subarray(n);
          return n;
        }
        const { value, done } = await lines.read();
        if (done) ended = true;
        else {
          const next = new Uint8Array(pending.length + value.length);
          next.set(pending);
          next.set(value, pending.length);
          pending = next;
        }
      }
    },
    write: (data) => sink.write(data),
    close(): void {
      lines.cancel().catch(() => {});
      sink.close();
    },
  };
}

/** The `file` module. */
export const file: DeclaredModule<typeof FILE_OPTIONS> = {
  name: "file",
  options: FILE_OPTIONS,
  parseOptions: (options, where) => parseOptions(FILE_OPTIONS, options, where),
  async listen(options: FileOptions, context: ListenContext): Promise<Listener> {
    const input = filePath(new URL(options.input, context.base));
    const output = filePath(new URL(options.output, context.base));
    if (Deno.permissions.querySync({ name: "read", path: input }).state !== "granted") {
      throw new PermissionHint(
        "PLUMB_PERMISSION_FILE_READ",
        `cannot read ${input}`,
        `--allow-read=${input}`,
      );
    }
    if (Deno.permissions.querySync({ name: "write", path: output }).state !== "granted") {
      throw new PermissionHint(
        "PLUMB_PERMISSION_FILE_WRITE",
        `cannot write ${output}`,
        `--allow-write=${output}`,
      );
    }
    let channel: ByteChannel;
    try {
      channel = await fileChannel(input, output);
    } catch (error) {
      throw new PlumbError(
        "PLUMB_FILE_LISTENER_OPEN",
        `file listener: cannot open ${input} or ${output}: ${(error as Error).message}`,
      );
    }
    // A file is no connection to keep or drop: every line is a request, PERSIST or not.
    const session = { maxLineBytes: options.maxMessageSize, open: options.open, keepAlways: true };
    return singleSessionListener(`file://${input}`, channel, context, session, 3600);
  },
};
