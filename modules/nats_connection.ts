/**
 * A connection to NATS that outlives the server's outages: the `nats`
 * listener and the NATS KV store back end each hold one. It must reach a
 * server when it opens (a wrong address fails the host's start at once);
 * after that, a lost server is logged once (`PLUMB_NATS_DISCONNECTED`),
 * retried every quarter second for ever, and its return logged
 * (`PLUMB_NATS_RECONNECTED`), while the host serves everyone else.
 *
 * The client is the npm package `@nats-io/transport-node`, imported when the
 * first connection opens: a host whose graph uses no NATS never loads it.
 * @module
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { GraphError, PermissionHint, PlumbError } from "../kernel/errors.ts";
import type { Logger } from "../kernel/log.ts";

/**
 * The npm package, imported when first needed. Named in a variable, not
 * written in the `import()`, so that Deno does not fetch it as every host
 * starts: a host whose graph uses no NATS never loads it.
 */
const NATS_CLIENT = "@nats-io/transport-node";

/** Milliseconds between two attempts to reach a lost server. */
export const NATS_RECONNECT_MS = 250;

/** One NATS server: `nats://HOST:PORT`, the scheme and the port (4222) optional. */
const NATS_SERVER = "\\s*(nats://)?[A-Za-z0-9._-]+(:[0-9]{1,5})?\\s*";

/** What a `servers` option may be: one NATS server URL, or several separated by commas. */
export const NATS_SERVERS: RegExp = new RegExp(`^${NATS_SERVER}(,${NATS_SERVER})*$`);

/** A connection to NATS, watched: its outages are logged until it is closed. */
export interface NatsLink {
  /** The client's connection. */
  readonly nc: NatsConnection;
  /** True while the server is reachable. */
  readonly connected: boolean;
  /** Sends what is buffered, then closes; the watch of its outages ends. */
  close(): Promise<void>;
}

/**
 * The `host:port` pairs of a comma-separated list of NATS URLs
 * (`nats://127.0.0.1:4222`, `127.0.0.1:4222`, `nats://example.net`), for the
 * `--allow-net` check; throws a one-line `GraphError` naming `where` for one
 * that is not a NATS URL.
 *
 * @example
 * ```ts
 * import { natsAddresses } from "./nats_connection.ts";
 * import { assertEquals, assertThrows } from "@std/assert";
 * assertEquals(natsAddresses("nats://127.0.0.1:4222,10.0.0.2", "x"), [
 *   "127.0.0.1:4222",
 *   "10.0.0.2:4222",
 * ]);
 * assertThrows(() => natsAddresses("http://127.0.0.1", "x"));
 * ```
 */
export function natsAddresses(servers: string, where: string): string[] {
  if (!NATS_SERVERS.test(servers)) {
    throw new GraphError(
      "PLUMB_NATS_URL",
      `${where}: ${JSON.stringify(servers)} is not a NATS server URL (nats://HOST:PORT, ` +
        `several separated by commas)`,
    );
  }
  return servers.split(",").map((server) => {
    const [host, port] = server.trim().replace(/^nats:\/\//, "").split(":");
    return `${host}:${port ?? "4222"}`;
  });
}

/**
 * Connects to the NATS servers `servers` (comma-separated URLs) as `who`
 * (for the log and the server's connection list), and logs the outages of
 * the connection on `log` until it is closed.
 *
 * @param servers `nats://HOST:PORT`, or several separated by commas
 * @param who what the messages name: `graph.json: listener 2 (nats)`
 * @param log where outages are logged
 */
export async function natsConnect(servers: string, who: string, log: Logger): Promise<NatsLink> {
  const addresses = natsAddresses(servers, who);
  for (const address of addresses) {
    if (Deno.permissions.querySync({ name: "net", host: address }).state !== "granted") {
      throw new PermissionHint(
        "PLUMB_PERMISSION_NET",
        `${who}: cannot connect to nats://${address}`,
        `--allow-net=${address}`,
      );
    }
  }
  const { connect } = await import(NATS_CLIENT) as typeof import("@nats-io/transport-node");
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: addresses,
      name: `plumb ${who}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: NATS_RECONNECT_MS,
      reconnectJitter: 50,
      timeout: 5000,
    });
  } catch (error) {
    throw new PlumbError(
      "PLUMB_NATS_CONNECT",
      `${who}: cannot connect to NATS at ${servers}: ${(error as Error).message}`,
    );
  }
  let connected = true;
  let closing = false;
  const watch = (async () => {
    for await (const status of nc.status()) {
      if (closing) continue;
      if (status.type === "disconnect" && connected) {
        connected = false;
        log.log(
          "warn",
          "PLUMB_NATS_DISCONNECTED",
          `${who}: lost the NATS server ${status.server}; serving local clients and reconnecting`,
        );
      } else if (status.type === "reconnect") {
        connected = true;
        log.log(
          "info",
          "PLUMB_NATS_RECONNECTED",
          `${who}: reconnected to the NATS server ${status.server}`,
        );
      }
    }
  })();
  return {
    nc,
    get connected(): boolean {
      return connected && !nc.isClosed();
    },
    async close(): Promise<void> {
      if (closing) return;
      closing = true;
      try {
        await (connected ? nc.drain() : nc.close());
      } catch {
        await nc.close();
      }
      await watch;
    },
  };
}
