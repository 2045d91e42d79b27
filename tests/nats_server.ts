/**
 * A real `nats-server` for the NATS tests, started on a free port of
 * 127.0.0.1 with JetStream on (NATS KV) and its store in `tests/.tmp`;
 * `stop` and `start` again keep the port and the store, as an outage does.
 * @module
 */
import { connect, type NatsConnection } from "@nats-io/transport-node";

/** True when `nats-server` is on the PATH (the NATS tests are ignored without it). */
export const HAVE_NATS_SERVER: boolean = (() => {
  try {
    new Deno.Command("nats-server", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync();
    return true;
  } catch {
    return false;
  }
})();

/** A running (or stopped) `nats-server`. */
export interface NatsServer extends AsyncDisposable {
  /** `nats://127.0.0.1:PORT`. */
  readonly url: string;
  readonly port: number;
  /** Kills the server (as a crash would) and waits for its end. */
  stop(): Promise<void>;
  /** Starts it again on the same port and store; resolves once it accepts connections. */
  start(): Promise<void>;
  /** A client connection of the test's own. */
  client(): Promise<NatsConnection>;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function accepts(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/** Starts a `nats-server` with JetStream on a free port; resolves once it accepts connections. */
export async function startNatsServer(): Promise<NatsServer> {
  const port = freePort();
  await Deno.mkdir("tests/.tmp", { recursive: true });
  const store = await Deno.makeTempDir({ dir: "tests/.tmp", prefix: "nats-" });
  let process: Deno.ChildProcess | undefined;
  const clients: NatsConnection[] = [];
  const start = async (): Promise<void> => {
    process = new Deno.Command("nats-server", {
      args: ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", store],
      stdout: "null",
      stderr: "null",
    }).spawn();
    for (let i = 0; i < 500 && !await accepts(port); i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  const stop = async (): Promise<void> => {
    if (process === undefined) return;
    const running = process;
    process = undefined;
    running.kill("SIGKILL");
    await running.status;
  };
  await start();
  const url = `nats://127.0.0.1:${port}`;
  return {
    url,
    port,
    start,
    stop,
    async client(): Promise<NatsConnection> {
      const nc = await connect({ servers: url });
      clients.push(nc);
      return nc;
    },
    async [Symbol.asyncDispose](): Promise<void> {
      for (const nc of clients) await nc.close();
      await stop();
      await Deno.remove(store, { recursive: true });
    },
  };
}
