/**
 * The `unix` module: Unix domain socket connections as requests, with the same
 * semantics as `tcp` (the article's `IO::Socket::UNIX`). A stale socket file
 * left by a process that is gone is replaced; one that still answers is not.
 * @module
 */
import { GraphError, PermissionHint, PlumbError } from "../kernel/errors.ts";
import { AcceptingListener, denoAcceptor } from "./accept_loop.ts";
import { filePath } from "../kernel/file_path.ts";
import { connChannel } from "./channel.ts";
import {
  CONNECTION_LOG_RULES,
  type ConnectionLogOptions,
  connectionLogOptions,
} from "./connection_log.ts";
import {
  CONNECTION_LIMIT_RULES,
  type ConnectionLimitOptions,
  connectionLimitOptions,
} from "./listener_limits.ts";
import type { IoModule, ListenContext, Listener } from "./module.ts";
import { checkOptions, type OptionRule } from "./options.ts";
import {
  SESSION_RULES,
  type SessionListenerOptions,
  sessionOptions,
  sessionSettings,
} from "./session_options.ts";

/** Options of a `unix` listener. */
export interface UnixOptions
  extends SessionListenerOptions, ConnectionLimitOptions, ConnectionLogOptions {
  /** Path of the socket file, relative to the graph file. */
  path: string;
}

const RULES: Record<keyof UnixOptions, OptionRule> = {
  path: { type: "string", description: "path of the socket file" },
  ...SESSION_RULES,
  ...CONNECTION_LIMIT_RULES,
  ...CONNECTION_LOG_RULES,
};

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
export const unix: IoModule<UnixOptions> = {
  name: "unix",
  parseOptions(options: Record<string, unknown>, where: string): UnixOptions {
    checkOptions(options, RULES, where);
    if (typeof options.path !== "string" || options.path === "") {
      throw new GraphError(
        "PLUMB_OPTION_REQUIRED",
        `${where}: option "path" is required: the socket file, for example "eliza.sock"`,
      );
    }
    return {
      path: options.path as string,
      ...sessionOptions(options),
      ...connectionLimitOptions(options),
      ...connectionLogOptions(options),
    };
  },
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
