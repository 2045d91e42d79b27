/**
 * The NATS connection of a servlet (`nats/publish`, `chat --nats`): opened
 * in `init`, its outages logged on the host's log through `env.log`, the
 * server retried every quarter second for ever. The `nats` listener keeps
 * its own in `modules/` (servlets and modules do not import each other);
 * both follow the same rules, told in docs/modules.md.
 * @module
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { type InitEnv, PermissionHint, PlumbError } from "../../mod.ts";

/**
 * The npm package, imported when first needed. Named in a variable, not
 * written in the `import()`, so that Deno does not fetch it as every host
 * starts: a host whose graph uses no NATS never loads it.
 */
const NATS_CLIENT = "@nats-io/transport-node";

/** A servlet's connection to NATS, watched until it is closed. */
export interface ServletNatsLink {
  /** The client's connection. */
  readonly nc: NatsConnection;
  /** True while the server is reachable. */
  readonly connected: boolean;
  /** Called after each reconnection (to say hello again, to claim again what was held). */
  onReconnect(callback: () => void): void;
  /** Called after each loss of the server. */
  onDisconnect(callback: () => void): void;
  /** Sends what is buffered, then closes. */
  close(): Promise<void>;
}

/** One NATS server: `nats://HOST:PORT`, the scheme and the port (4222) optional. */
const NATS_SERVER = "\\s*(nats://)?[A-Za-z0-9._-]+(:[0-9]{1,5})?\\s*";

/** One NATS server URL, or several separated by commas (as the `nats` listener's `servers`). */
const NATS_SERVERS = new RegExp(`^${NATS_SERVER}(,${NATS_SERVER})*$`);

/** `host:port` of each of the comma-separated NATS URLs; throws `PLUMB_NATS_URL` for a bad list. */
export function natsAddresses(servers: string, where: string): string[] {
  if (!NATS_SERVERS.test(servers)) {
    throw new PlumbError(
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
 * Connects to `servers` for the node `env` is of, `what` naming the use in
 * messages (`"nats/publish"`, `"chat"`).
 */
export async function servletNatsConnect(
  servers: string,
  what: string,
  env: InitEnv,
): Promise<ServletNatsLink> {
  const addresses = natsAddresses(servers, what);
  for (const address of addresses) {
    if (Deno.permissions.querySync({ name: "net", host: address }).state !== "granted") {
      throw new PermissionHint(
        "PLUMB_PERMISSION_NET",
        `${what}: cannot connect to nats://${address}`,
        `--allow-net=${address}`,
      );
    }
  }
  const { connect } = await import(NATS_CLIENT) as typeof import("@nats-io/transport-node");
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: addresses,
      name: `plumb node ${env.node} (${what})`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      reconnectJitter: 50,
      timeout: 5000,
    });
  } catch (error) {
    throw new PlumbError(
      "PLUMB_NATS_CONNECT",
      `${what}: cannot connect to NATS at ${servers}: ${(error as Error).message}`,
    );
  }
  let connected = true;
  let closing = false;
  const reconnected: (() => void)[] = [];
  const disconnected: (() => void)[] = [];
  const watch = (async () => {
    for await (const status of nc.status()) {
      if (closing) continue;
      if (status.type === "disconnect" && connected) {
        connected = false;
        env.log(
          "warn",
          "PLUMB_NATS_DISCONNECTED",
          `${what}: lost the NATS server ${status.server}; serving local clients and reconnecting`,
        );
        for (const callback of disconnected) callback();
      } else if (status.type === "reconnect") {
        connected = true;
        env.log(
          "info",
          "PLUMB_NATS_RECONNECTED",
          `${what}: reconnected to the NATS server ${status.server}`,
        );
        for (const callback of reconnected) callback();
      }
    }
  })();
  return {
    nc,
    get connected(): boolean {
      return connected && !nc.isClosed();
    },
    onReconnect: (callback) => void reconnected.push(callback),
    onDisconnect: (callback) => void disconnected.push(callback),
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
