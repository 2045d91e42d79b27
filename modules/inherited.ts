/**
 * Socket activation: adopt a listening socket that the process inherited (fd 3
 * from systemd with `LISTEN_FDS`, fd 0 from inetd in "wait" mode). `Deno.listen`
 * cannot adopt a descriptor, so this goes through `node:net`.
 * @module
 */
import { createServer, type ListenOptions, type Server } from "node:net";
import type { Acceptor } from "./accept_loop.ts";
import { PlumbError } from "../kernel/errors.ts";
import { nodeAcceptor } from "./node_acceptor.ts";

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
  const acceptor = nodeAcceptor(server);
  try {
    await listenNode(server, { fd });
  } catch (error) {
    acceptor.close();
    throw new PlumbError(
      "PLUMB_LISTEN_FD_BAD",
      `cannot adopt a listening socket on file descriptor ${fd}: ${(error as Error).message}; ` +
        `start plumb from a socket activator (systemd, inetd "wait") or drop --listen-fd`,
    );
  }
  return { url: nodeServerUrl(server, "tcp", fd), acceptor };
}

/** Starts `server` listening; rejects with its error (`EADDRINUSE`, a bad descriptor). */
export function listenNode(
  server: Server,
  options: ListenOptions & { reusePort?: boolean } | { fd: number },
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

/**
 * Where a listening `node:net` server listens: `SCHEME://HOST:PORT` (an IPv6
 * host in brackets), `unix://PATH`, or `fd://FD` when it cannot tell.
 */
export function nodeServerUrl(server: Server, scheme: string, fd?: number): string {
  const address = server.address();
  return typeof address === "string"
    ? `unix://${address}`
    : address === null
    ? `fd://${fd}`
    : `${scheme}://${
      address.family === "IPv6" ? `[${address.address}]` : address.address
    }:${address.port}`;
}
