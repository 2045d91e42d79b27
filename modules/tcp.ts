/**
 * The `tcp` module: `Deno.listen` connections as requests (see `session.ts`
 * for the request semantics), or, with the `fd` option, a listening socket
 * inherited from a socket activator.
 * @module
 */
import { PermissionHint, PlumbError } from "../kernel/errors.ts";
import { AcceptingListener, type Acceptor, denoAcceptor } from "./accept_loop.ts";
import { connChannel } from "./channel.ts";
import {
  CONNECTION_LOG_RULES,
  type ConnectionLogOptions,
  connectionLogOptions,
} from "./connection_log.ts";
import { adoptListener } from "./inherited.ts";
import {
  CONNECTION_LIMIT_RULES,
  type ConnectionLimitOptions,
  connectionLimitOptions,
  SOURCE_RULES,
  type SourceRuleOptions,
  sourceRuleOptions,
} from "./listener_limits.ts";
import type { IoModule, ListenContext, Listener } from "./module.ts";
import { checkOptions, type OptionRule } from "./options.ts";
import {
  SESSION_RULES,
  type SessionListenerOptions,
  sessionOptions,
  sessionSettings,
} from "./session_options.ts";

/** Options of a `tcp` listener. */
export interface TcpOptions
  extends SessionListenerOptions, ConnectionLimitOptions, SourceRuleOptions, ConnectionLogOptions {
  /** Address to listen on. Default `127.0.0.1`; `0.0.0.0` for every interface. */
  host: string;
  /** Port to listen on; 0 picks a free one (printed on start). Default 0. */
  port: number;
  /**
   * Adopt the inherited listening socket on this file descriptor instead of
   * listening (socket activation: 3 under systemd, 0 under inetd "wait").
   */
  fd?: number;
  /**
   * Listen with `SO_REUSEPORT`, so that several processes or workers share the
   * port and the kernel spreads new connections over them (`--workers`).
   * Needs `deno run --unstable-net`. Default false.
   */
  reusePort: boolean;
}

const RULES: Record<keyof TcpOptions, OptionRule> = {
  host: { type: "string", description: "address to listen on, for example 127.0.0.1" },
  port: {
    type: "number",
    integer: true,
    min: 0,
    max: 65535,
    description: "TCP port, 0 = any free port",
  },
  ...SESSION_RULES,
  fd: { type: "number", integer: true, min: 0, description: "inherited listening socket to adopt" },
  reusePort: { type: "boolean", description: "share the port with other listeners (SO_REUSEPORT)" },
  ...CONNECTION_LIMIT_RULES,
  ...SOURCE_RULES,
  ...CONNECTION_LOG_RULES,
};

/** True when Deno runs with `--unstable-net`, which `reusePort` needs (it exits the process without it). */
export function unstableNetEnabled(): boolean {
  return typeof (Deno as { listenDatagram?: unknown }).listenDatagram === "function";
}

/** Listens on `options.host` and `options.port` (checking the permission first). */
function listenTcp(options: TcpOptions): { acceptor: Acceptor; url: string } {
  const port = options.port === 0 ? "" : `:${options.port}`;
  const status = Deno.permissions.querySync({ name: "net", host: `${options.host}${port}` });
  if (status.state !== "granted") {
    throw new PermissionHint(
      "PLUMB_PERMISSION_NET",
      `cannot listen on tcp://${options.host}${port}`,
      `--allow-net=${options.host}${port}`,
    );
  }
  if (options.reusePort && !unstableNetEnabled()) {
    throw new PlumbError(
      "PLUMB_LISTEN_REUSE_PORT",
      `cannot listen on tcp://${options.host}${port} with reusePort: ` +
        `it needs deno run --unstable-net`,
    );
  }
  const listenOptions = { hostname: options.host, port: options.port, transport: "tcp" as const };
  const listener = Deno.listen(
    options.reusePort ? { ...listenOptions, reusePort: true } : listenOptions,
  );
  const addr = listener.addr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  const acceptor = denoAcceptor(listener, (conn) => {
    try {
      (conn as Deno.TcpConn).setNoDelay(true);
    } catch {
      // The peer may already be gone; the read will say so.
    }
    return connChannel(conn);
  });
  return { acceptor, url: `tcp://${host}:${addr.port}` };
}

/** The `tcp` module. */
export const tcp: IoModule<TcpOptions> = {
  name: "tcp",
  parseOptions(options: Record<string, unknown>, where: string): TcpOptions {
    checkOptions(options, RULES, where);
    return {
      host: (options.host as string | undefined) ?? "127.0.0.1",
      port: (options.port as number | undefined) ?? 0,
      ...sessionOptions(options),
      fd: options.fd as number | undefined,
      reusePort: (options.reusePort as boolean | undefined) ?? false,
      ...connectionLimitOptions(options),
      ...sourceRuleOptions(options, where),
      ...connectionLogOptions(options),
    };
  },
  async listen(options: TcpOptions, context: ListenContext): Promise<Listener> {
    const { acceptor, url } = options.fd !== undefined
      ? await adoptListener(options.fd)
      : listenTcp(options);
    return new AcceptingListener(
      url,
      acceptor,
      context,
      sessionSettings(options),
      options.ttl,
      undefined,
      options,
    );
  },
};
