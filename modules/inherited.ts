/**
 * Socket activation: adopt a listening socket that the process inherited (fd 3
 * from systemd with `LISTEN_FDS`, fd 0 from inetd in "wait" mode). `Deno.listen`
 * cannot adopt a descriptor, so this goes through `node:net`.
 * @module
 */
import { createServer, type Socket } from "node:net";
import type { Acceptor } from "./accept_loop.ts";
import { socketChannel } from "./channel.ts";
import { PlumbError } from "../kernel/errors.ts";

/** An adopted listening socket: its acceptor and the URL it listens on. */
export interface Adopted {
  /** The accepted connections. */
  acceptor: Acceptor;
  /** `tcp://HOST:PORT` or `unix://PATH`. */
  url: string;
}

/** Adopts the listening socket on descriptor `fd`. */
export async function adoptListener(fd: number): Promise<Adopted> {
  // allowHalfOpen: a client that sends its last line and shuts down its side
  // still gets the reply, as with the tcp module.
  const server = createServer({ pauseOnConnect: true, allowHalfOpen: true });
  const ready: Socket[] = [];
  let waiting: { resolve: (s: Socket) => void; reject: (e: Error) => void } | undefined;
  let closed = false;
  server.on("connection", (socket: Socket) => {
    const w = waiting;
    waiting = undefined;
    if (w) w.resolve(socket);
    else ready.push(socket);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ fd }, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    throw new PlumbError(
      "PLUMB_LISTEN_FD_BAD",
      `cannot adopt a listening socket on file descriptor ${fd}: ${(error as Error).message}; ` +
        `start plumb from a socket activator (systemd, inetd "wait") or drop --listen-fd`,
    );
  }
  server.on("error", () => {});
  const address = server.address();
  const url = typeof address === "string"
    ? `unix://${address}`
    : address === null
    ? `fd://${fd}`
    : `tcp://${
      address.family === "IPv6" ? `[${address.address}]` : address.address
    }:${address.port}`;
  return {
    url,
    acceptor: {
      accept(): Promise<ReturnType<typeof socketChannel>> {
        if (closed) return Promise.reject(new Error("listener closed"));
        const socket = ready.shift();
        if (socket) return Promise.resolve(socketChannel(socket));
        return new Promise<Socket>((resolve, reject) => waiting = { resolve, reject }).then(
          socketChannel,
        );
      },
      close(): void {
        closed = true;
        server.close();
        waiting?.reject(new Error("listener closed"));
        waiting = undefined;
        for (const socket of ready.splice(0)) socket.destroy();
      },
    },
  };
}
