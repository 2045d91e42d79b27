/**
 * The WebSocket opening handshake (RFC 6455 section 4.2): from the head of an
 * HTTP/1.1 request, either the `101 Switching Protocols` reply or the reason
 * it is refused (a `400` the caller sends).
 * @module
 */

/** The GUID of RFC 6455 section 1.3 that the accept key is made with. */
const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** The head of an HTTP request: its request line's parts and its headers (names in lower case). */
export interface RequestHead {
  readonly method: string;
  readonly target: string;
  readonly version: string;
  readonly headers: ReadonlyMap<string, string>;
}

/**
 * Parses the lines of a request head (without the blank line that ends it);
 * `null` when the first line is not an HTTP/1.x request line.
 *
 * @example
 * ```ts
 * import { parseHead } from "./handshake.ts";
 * import { assertEquals } from "@std/assert";
 * const head = parseHead(["GET /chat HTTP/1.1", "Host: example.com", "Upgrade: websocket"]);
 * assertEquals(head?.target, "/chat");
 * assertEquals(head?.headers.get("upgrade"), "websocket");
 * ```
 */
export function parseHead(lines: readonly string[]): RequestHead | null {
  const match = /^([A-Z]+) (\S+) (HTTP\/1\.[01])$/.exec(lines[0] ?? "");
  if (match === null) return null;
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
  }
  return { method: match[1], target: match[2], version: match[3], headers };
}

/** True when the head asks for a WebSocket (`Upgrade: websocket`), well formed or not. */
export function wantsWebSocket(head: RequestHead): boolean {
  return (head.headers.get("upgrade") ?? "").toLowerCase().split(/\s*,\s*/).includes("websocket");
}

/** The `Sec-WebSocket-Accept` value for a client's key. */
export async function acceptKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(key + WS_GUID));
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

/**
 * The server's answer to an upgrade request: `{ reply }` with the 101 reply's
 * bytes, or `{ refused }` naming what is wrong (send a 400 with it).
 *
 * @example
 * ```ts
 * import { parseHead, upgradeReply } from "./handshake.ts";
 * import { assertEquals } from "@std/assert";
 * // The example of RFC 6455 section 1.3.
 * const head = parseHead([
 *   "GET /chat HTTP/1.1", "Host: server.example.com", "Upgrade: websocket",
 *   "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13",
 * ])!;
 * const answer = await upgradeReply(head);
 * assertEquals("reply" in answer && answer.reply.includes("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), true);
 * ```
 */
export async function upgradeReply(
  head: RequestHead,
): Promise<{ reply: string } | { refused: string }> {
  const h = head.headers;
  if (head.method !== "GET") {
    return { refused: `a WebSocket upgrade must be a GET, not ${head.method}` };
  }
  if (head.version !== "HTTP/1.1") return { refused: "a WebSocket upgrade needs HTTP/1.1" };
  if (!wantsWebSocket(head)) return { refused: "no Upgrade: websocket header" };
  const connection = (h.get("connection") ?? "").toLowerCase().split(/\s*,\s*/);
  if (!connection.includes("upgrade")) return { refused: "no Connection: Upgrade header" };
  if (h.get("sec-websocket-version") !== "13") {
    return { refused: "Sec-WebSocket-Version must be 13" };
  }
  const key = h.get("sec-websocket-key") ?? "";
  let raw = "";
  try {
    raw = atob(key);
  } catch {
    // Not base64: refused below.
  }
  if (raw.length !== 16) return { refused: "Sec-WebSocket-Key must be 16 bytes in base64" };
  return {
    reply: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      `Sec-WebSocket-Accept: ${await acceptKey(key)}\r\n\r\n`,
  };
}

/**
 * A `400 Bad Request` reply with a one-line reason, that closes the connection.
 *
 * @example
 * ```ts
 * import { badRequest } from "./handshake.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(badRequest("no").startsWith("HTTP/1.1 400 Bad Request\r\n"), true);
 * ```
 */
export function badRequest(reason: string): string {
  const body = `${reason}\n`;
  return "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n" +
    `Content-Length: ${new TextEncoder().encode(body).length}\r\nConnection: close\r\n\r\n${body}`;
}
