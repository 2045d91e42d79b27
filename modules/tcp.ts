/**
 * The `tcp` module: `Deno.listen` connections as requests (see `session.ts`
 * for the request semantics), or, with the `fd` option, a listening socket
 * inherited from a socket activator.
 * @module
 */
import { PermissionHint, PlumbError } from "../kernel/errors.ts";
import { AcceptingListener, type Acceptor, denoAcceptor } from "./accept_loop.ts";
import { connChannel } from "./channel.ts";
import { CONNECTION_LOG_OPTIONS } from "./connection_log.ts";
import { adoptListener } from "./inherited.ts";
import { CONNECTION_LIMIT_OPTIONS, SOURCE_RULE_OPTIONS } from "./listener_limits.ts";
import type { DeclaredModule, ListenContext, Listener } from "./module.ts";
import { type OptionsOf, type OptionSpecs, parseOptions } from "./options.ts";
import { PROXY_PROTOCOL_OPTIONS } from "./proxy_protocol.ts";
import { SESSION_OPTIONS, sessionSettings } from "./session_options.ts";

/** The options of a `tcp` listener, declared. */
export const TCP_OPTIONS = {
  host: {
    type: "string",
    default: "127.0.0.1",
    what: "address to listen on, for example 127.0.0.1",
    doc: "Address to listen on; 0.0.0.0 for every interface.",
  },
  port: {
    type: "number",
    integer: true,
    min: 0,
    max: 65535,
    default: 0,
    what: "TCP port, 0 = any free port",
    doc: "TCP port; 0 picks a free one, printed on start.",
  },
  ...SESSION_OPTIONS,
  fd: {
    type: "number",
    integer: true,
    min: 0,
    what: "inherited listening socket to adopt",
    doc: "Adopt this inherited listening socket instead of listening " +
      "(socket activation: 3 under systemd, 0 under inetd wait).",
  },
  reusePort: {
    type: "boolean",
    default: false,
    what: "share the port with other listeners (SO_REUSEPORT)",
    doc: "Listen with SO_REUSEPORT so that several processes or workers share the port " +
      "(needs deno run --unstable-net).",
  },
  ...CONNECTION_LIMIT_OPTIONS,
  ...SOURCE_RULE_OPTIONS,
  ...PROXY_PROTOCOL_OPTIONS,
  ...CONNECTION_LOG_OPTIONS,
} as const satisfies OptionSpecs;

/** Options of a `tcp` listener, parsed (see {@linkcode TCP_OPTIONS}). */
export type TcpOptions = OptionsOf<typeof TCP_OPTIONS>;

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
export const tcp: DeclaredModule<typeof TCP_OPTIONS> = {
  name: "tcp",
  options: TCP_OPTIONS,
  parseOptions: (options, where) => parseOptions(TCP_OPTIONS, options, where),
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
