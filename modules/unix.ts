/**
 * The `unix` module: Unix domain socket connections as requests, with the same
 * semantics as `tcp` (the article's `IO::Socket::UNIX`). A stale socket file
 * left by a process that is gone is replaced; one that still answers is not.
 * @module
 */
import { PermissionHint, PlumbError } from "../kernel/errors.ts";
import { AcceptingListener, denoAcceptor } from "./accept_loop.ts";
import { filePath } from "../kernel/file_path.ts";
import { connChannel } from "./channel.ts";
import { CONNECTION_LOG_OPTIONS } from "./connection_log.ts";
import { CONNECTION_LIMIT_OPTIONS } from "./listener_limits.ts";
import type { DeclaredModule, ListenContext, Listener } from "./module.ts";
import { type OptionsOf, type OptionSpecs, parseOptions } from "./options.ts";
import { SESSION_OPTIONS, sessionSettings } from "./session_options.ts";

/** The options of a `unix` listener, declared. */
export const UNIX_OPTIONS = {
  path: {
    type: "string",
    required: 'the socket file, for example "eliza.sock"',
    what: "path of the socket file",
    doc: "Path of the socket file, relative to the graph file.",
  },
  ...SESSION_OPTIONS,
  ...CONNECTION_LIMIT_OPTIONS,
  ...CONNECTION_LOG_OPTIONS,
} as const satisfies OptionSpecs;

/** Options of a `unix` listener, parsed (see {@linkcode UNIX_OPTIONS}). */
export type UnixOptions = OptionsOf<typeof UNIX_OPTIONS>;

async function removeStale(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch {
    return; // nothing there
  }
  if (!info.isSocket) {
    throw new PlumbError(
      "PLUMB_UNIX_NOT_SOCKET",
      `cannot listen on unix://${path}: a file that is not a socket is there; remove it or pick another path`,
    );
  }
  try {
    (await Deno.connect({ transport: "unix", path })).close();
  } catch (error) {
    if (error instanceof Deno.errors.ConnectionRefused) {
      await Deno.remove(path); // a socket nobody listens on: left by a process that is gone
      return;
    }
    throw new PlumbError(
      "PLUMB_UNIX_UNSURE",
      `cannot listen on unix://${path}: a socket is there and did not refuse a connection ` +
        `(${(error as Error).message}); is another server using it?`,
    );
  }
  throw new PlumbError(
    "PLUMB_UNIX_IN_USE",
    `cannot listen on unix://${path}: another server is listening there`,
  );
}

/** The `unix` module. */
export const unix: DeclaredModule<typeof UNIX_OPTIONS> = {
  name: "unix",
  options: UNIX_OPTIONS,
  parseOptions: (options, where) => parseOptions(UNIX_OPTIONS, options, where),
  async listen(options: UnixOptions, context: ListenContext): Promise<Listener> {
    const path = filePath(new URL(options.path, context.base));
    for (const name of ["read", "write"] as const) {
      if (Deno.permissions.querySync({ name, path }).state !== "granted") {
        throw new PermissionHint(
          "PLUMB_PERMISSION_UNIX",
          `cannot listen on unix://${path}`,
          `--allow-${name}=${path}`,
        );
      }
    }
    if (Deno.permissions.querySync({ name: "net", host: `unix:${path}` }).state !== "granted") {
      throw new PermissionHint(
        "PLUMB_PERMISSION_UNIX",
        `cannot listen on unix://${path}`,
        `--allow-net=unix:${path}`,
      );
    }
    await removeStale(path);
    const listener = Deno.listen({ transport: "unix", path });
    const inode = Deno.lstatSync(path).ino;
    const session = sessionSettings(options);
    return new AcceptingListener(
      `unix://${path}`,
      denoAcceptor(listener, connChannel),
      context,
      session,
      options.ttl,
      () => {
        // Remove the socket file only if it is still ours, not one another server made since.
        try {
          if (Deno.lstatSync(path).ino === inode) Deno.removeSync(path);
        } catch {
          // Already gone.
        }
      },
      options,
    );
  },
};
