/**
 * The `tls` module: TCP connections over TLS as requests, with every option
 * and the semantics of `tcp` (see `session.ts`), a certificate and key read
 * from PEM files (relative to the graph file), and optional ALPN. A reload
 * of the host (`SIGHUP`) reads the certificate and key again: new
 * connections get the new pair, and a bad one is logged and the old kept.
 *
 * TLS runs over `node:tls` on a `node:net` listener rather than on
 * `Deno.listenTls`, for two things `Deno.listenTls` cannot do: change its
 * certificate while it listens (a renewed certificate needs no restart),
 * and read a PROXY protocol header before the TLS handshake starts.
 *
 * @example
 * ```ts
 * import { tls } from "@plumb/plumb/modules";
 * import { assertEquals, assertThrows } from "@std/assert";
 * const options = tls.parseOptions(
 *   { port: 8443, cert: "tls/cert.pem", key: "tls/key.pem", alpn: ["http/1.1"] },
 *   "g.json: listener 1 (tls)",
 * );
 * assertEquals([options.host, options.port, options.alpn, options.ttl], ["127.0.0.1", 8443, ["http/1.1"], 240]);
 * assertThrows(
 *   () => tls.parseOptions({ port: 8443, cert: "tls/cert.pem" }, "g.json: listener 1 (tls)"),
 *   Error,
 *   'g.json: listener 1 (tls): option "key" is required: the private key file (PEM), for example "tls/key.pem"',
 * );
 * ```
 * @module
 */
import { createServer } from "node:net";
import { TLSSocket } from "node:tls";
import { GraphError, lineOf, PermissionHint, PlumbError } from "../kernel/errors.ts";
import { filePath } from "../kernel/file_path.ts";
import type { Logger } from "../kernel/log.ts";
import { AcceptingListener, type ListenerPolicy } from "./accept_loop.ts";
import { CertificateError, type CertifiedKey, readCertifiedKey } from "./certificate.ts";
import { type ByteChannel, SocketChannel } from "./channel.ts";
import { listenNode, nodeServerUrl } from "./inherited.ts";
import type { DeclaredModule, ListenContext, Listener } from "./module.ts";
import { nodeAcceptor } from "./node_acceptor.ts";
import { type OptionsOf, type OptionSpecs, parseOptions } from "./options.ts";
import { ProxiedChannel, PROXY_PROTOCOL_OPTIONS } from "./proxy_protocol.ts";
import type { SessionOptions } from "./session.ts";
import { SESSION_OPTIONS, sessionSettings } from "./session_options.ts";
import { CONNECTION_LIMIT_OPTIONS, SOURCE_RULE_OPTIONS } from "./listener_limits.ts";
import { CONNECTION_LOG_OPTIONS } from "./connection_log.ts";
import { TCP_OPTIONS } from "./tcp.ts";

/** Checks each ALPN protocol name: 1 to 255 bytes of printable ASCII. */
function checkAlpn(names: readonly string[], where: string, name: string): void {
  for (const protocol of names) {
    if (!/^[\x21-\x7e]{1,255}$/.test(protocol)) {
      throw new GraphError(
        "PLUMB_OPTION_BAD_ALPN",
        `${where}: option "${name}": entry ${
          JSON.stringify(protocol)
        } is not a protocol name (1 to 255 printable ASCII characters, for example "http/1.1")`,
      );
    }
  }
}

/** The options of a `tls` listener, declared: every option of `tcp`, and the certificate, key and ALPN. */
export const TLS_OPTIONS = {
  host: TCP_OPTIONS.host,
  port: TCP_OPTIONS.port,
  cert: {
    type: "string",
    required: 'the certificate chain file (PEM), for example "tls/cert.pem"',
    what: "certificate chain file (PEM), relative to the graph file",
    doc: "The server's certificate chain, a PEM file relative to the graph file: the server's " +
      "certificate first, then any intermediate ones. Read again on reload (SIGHUP).",
  },
  key: {
    type: "string",
    required: 'the private key file (PEM), for example "tls/key.pem"',
    what: "private key file (PEM), relative to the graph file",
    doc: "The certificate's private key, an unencrypted PEM file relative to the graph file. " +
      "Read again on reload (SIGHUP).",
  },
  alpn: {
    type: "string[]",
    what: 'ALPN protocols offered, most preferred first, for example ["http/1.1"]',
    doc: "Application protocols offered by ALPN, most preferred first " +
      '(for example ["http/1.1"]); absent: no ALPN.',
    schema: { items: { type: "string", minLength: 1, maxLength: 255 } },
    check: checkAlpn,
  },
  ...SESSION_OPTIONS,
  fd: TCP_OPTIONS.fd,
  reusePort: {
    ...TCP_OPTIONS.reusePort,
    doc: "Listen with SO_REUSEPORT so that several processes or workers share the port.",
  },
  ...CONNECTION_LIMIT_OPTIONS,
  ...SOURCE_RULE_OPTIONS,
  ...PROXY_PROTOCOL_OPTIONS,
  ...CONNECTION_LOG_OPTIONS,
} as const satisfies OptionSpecs;

/** Options of a `tls` listener, parsed (see {@linkcode TLS_OPTIONS}). */
export type TlsOptions = OptionsOf<typeof TLS_OPTIONS>;

/**
 * Starts TLS, as a server, over a connection the listener accepted (after its
 * PROXY header, if it had one): the channel the session reads and writes.
 * The handshake runs as the session first reads or writes; a client that
 * does not speak TLS is logged at `debug` and closed.
 */
function startTls(
  accepted: ByteChannel,
  pair: CertifiedKey,
  alpn: readonly string[] | undefined,
  log: Logger,
): ByteChannel {
  const proxied = accepted instanceof ProxiedChannel ? accepted : undefined;
  const raw = proxied?.inner ?? accepted;
  if (!(raw instanceof SocketChannel)) {
    throw new TypeError("tls: an accepted connection that is not a socket");
  }
  const socket = raw.detach(proxied?.takeRest());
  const secure = new TLSSocket(socket, {
    isServer: true,
    secureContext: pair.context,
    ...(alpn === undefined ? {} : { ALPNProtocols: [...alpn] }),
  });
  let established = false;
  secure.once("secure", () => established = true);
  secure.on("error", (error: Error) => {
    if (!established) {
      log.log(
        "debug",
        "PLUMB_TLS_HANDSHAKE_FAILED",
        `${accepted.peer}: TLS handshake failed: ${error.message}`,
      );
    }
  });
  return new SocketChannel(secure, {
    peer: accepted.peer,
    address: accepted.address,
    via: accepted.via,
    proxyLocal: accepted.proxyLocal,
    graceful: true,
    module: () => ({
      ...accepted.module,
      "tls/alpn": secure.alpnProtocol || "",
      "tls/version": secure.getProtocol() ?? "",
      "tls/servername": (secure as TLSSocket & { servername?: string | false }).servername || "",
    }),
  });
}

/** A `tls` listener: a TCP listener that can read its certificate and key again. */
class TlsListener extends AcceptingListener {
  readonly #reload: () => Promise<void>;

  constructor(
    url: string,
    acceptor: ConstructorParameters<typeof AcceptingListener>[1],
    context: ListenContext,
    session: SessionOptions,
    ttl: number,
    policy: ListenerPolicy,
    reload: () => Promise<void>,
  ) {
    super(url, acceptor, context, session, ttl, undefined, policy);
    this.#reload = reload;
  }

  reload(): Promise<void> {
    return this.#reload();
  }
}

/** The `tls` module. */
export const tls: DeclaredModule<typeof TLS_OPTIONS> = {
  name: "tls",
  options: TLS_OPTIONS,
  parseOptions: (options, where) => parseOptions(TLS_OPTIONS, options, where),
  async listen(options: TlsOptions, context: ListenContext): Promise<Listener> {
    const port = options.port === 0 ? "" : `:${options.port}`;
    const where = options.fd === undefined
      ? `tls://${options.host}${port}`
      : `tls on file descriptor ${options.fd}`;
    if (options.fd === undefined) {
      const status = Deno.permissions.querySync({ name: "net", host: `${options.host}${port}` });
      if (status.state !== "granted") {
        throw new PermissionHint(
          "PLUMB_PERMISSION_NET",
          `cannot listen on ${where}`,
          `--allow-net=${options.host}${port}`,
        );
      }
    }
    const certPath = filePath(new URL(options.cert, context.base));
    const keyPath = filePath(new URL(options.key, context.base));
    let pair: CertifiedKey;
    try {
      pair = await readCertifiedKey(certPath, keyPath);
    } catch (error) {
      if (error instanceof CertificateError) {
        throw new GraphError(error.code, `cannot listen on ${where}: ${error.message}`);
      }
      throw error;
    }
    const log = context.log;
    const server = createServer({ pauseOnConnect: true, allowHalfOpen: true });
    const acceptor = nodeAcceptor(server);
    try {
      await listenNode(
        server,
        options.fd !== undefined
          ? { fd: options.fd }
          : { host: options.host, port: options.port, reusePort: options.reusePort },
      );
    } catch (error) {
      acceptor.close();
      const message = (error as Error).message;
      if ((error as { code?: string }).code === "EADDRINUSE") {
        throw new Deno.errors.AddrInUse(message);
      }
      throw new PlumbError(
        options.fd === undefined ? "PLUMB_LISTEN_FAILED" : "PLUMB_LISTEN_FD_BAD",
        `cannot listen on ${where}: ${message}`,
      );
    }
    const url = nodeServerUrl(server, "tls", options.fd);
    const warnExpired = (): void =>
      log.log(
        "warn",
        "PLUMB_TLS_EXPIRED",
        `${url}: certificate ${certPath} expired on ${pair.validTo}`,
      );
    if (pair.expired) warnExpired();
    const alpn = options.alpn;
    acceptor.secure = (channel) => startTls(channel, pair, alpn, log);
    const reload = async (): Promise<void> => {
      try {
        const next = await readCertifiedKey(certPath, keyPath);
        pair = next;
        log.log(
          "info",
          "PLUMB_TLS_RELOADED",
          `${url}: read the certificate ${certPath} (${next.subject}, valid until ` +
            `${next.validTo}) and its key again; new connections get them`,
        );
        if (next.expired) warnExpired();
      } catch (error) {
        log.log(
          "error",
          "PLUMB_TLS_RELOAD_KEPT",
          `${url}: kept the certificate it had: reading it again failed: ${lineOf(error)}`,
        );
      }
    };
    return new TlsListener(
      url,
      acceptor,
      context,
      sessionSettings(options),
      options.ttl,
      options,
      reload,
    );
  },
};
