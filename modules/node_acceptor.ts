/**
 * A `node:net` server as an {@linkcode Acceptor}: how a listening socket that
 * `Deno.listen` cannot make is served (an inherited descriptor, a `tls`
 * listener, whose TLS runs over `node:tls`).
 * @module
 */
import type { Server, Socket } from "node:net";
import type { Acceptor } from "./accept_loop.ts";
import { SocketChannel } from "./channel.ts";

/**
 * Accepts the connections of `server`, which must be made with
 * `pauseOnConnect: true` (so that no byte is read before a session asks).
 * Each is handed over as a {@linkcode SocketChannel}; closing the acceptor
 * closes the server and the connections not yet handed over.
 */
export function nodeAcceptor(server: Server): Acceptor {
  const ready: Socket[] = [];
  let waiting: { resolve: (s: Socket) => void; reject: (e: Error) => void } | undefined;
  let closed = false;
  server.on("connection", (socket: Socket) => {
    try {
      socket.setNoDelay(true);
    } catch {
      // The peer may already be gone; the read will say so.
    }
    const w = waiting;
    waiting = undefined;
    if (w) w.resolve(socket);
    else ready.push(socket);
  });
  server.on("error", () => {});
  const channel = (socket: Socket): SocketChannel => new SocketChannel(socket);
  return {
    accept(): Promise<SocketChannel> {
      if (closed) return Promise.reject(new Error("listener closed"));
      const socket = ready.shift();
      if (socket) return Promise.resolve(channel(socket));
      return new Promise<Socket>((resolve, reject) => waiting = { resolve, reject }).then(channel);
    },
    close(): void {
      closed = true;
      server.close();
      waiting?.reject(new Error("listener closed"));
      waiting = undefined;
      for (const socket of ready.splice(0)) socket.destroy();
    },
  };
}
