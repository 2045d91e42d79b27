/**
 * `chat`: a chat room for telnet users and browsers alike. The first line a
 * client sends is its nickname (refused while someone has it); then each
 * line goes to everyone in the room, and `/who`, `/nick NAME`, `/me ACTION`
 * and `/quit` do what they say. Everyone sees who joins and who leaves, and
 * a client silent for longer than `--idle` seconds is disconnected.
 *
 * The lines of others arrive unasked: the servlet keeps a handle on each
 * client's connection (`task.connection.handle()`) and writes to it outside
 * of that client's requests.
 *
 * A client whose first line is an HTTP request line is a browser: `GET /`
 * (any path but an upgrade) gets the chat's page, and an HTTP Upgrade to
 * WebSocket joins the room, a text message a line. Serve it on a listener
 * without `open`; a telnet listener with `open` greets before the client
 * types.
 *
 * Arguments: `--idle SECONDS` (default 600; 0 for never), `--max-message
 * BYTES` (the largest WebSocket message, default 65536), and to share the
 * room with other hosts `--nats URL` (a NATS server with JetStream) and
 * `--room NAME` (default `lobby`): users on every host that names the same
 * room and server see each other, and nicknames are unique across them
 * (NATS KV; see `chat/nats_share.ts`).
 *
 * Ports: `in` (input, `PERSIST`), `out` (output).
 *
 * @example
 * ```json
 * { "servlet": "chat", "args": ["--idle", "300"] }
 * ```
 * @module
 */
import { type ConnectionHandle, defineServlet, PlumbError } from "../mod.ts";
import { CHAT_PAGE } from "./chat/page.ts";
import { type Member, type MemberLink, Room } from "./chat/room.ts";
import { type NatsRoomShare, natsShare, ROOM_NAME } from "./chat/nats_share.ts";
import {
  CLOSE,
  closeFrame,
  encodeFrame,
  FrameParser,
  OPCODE,
  type WsClose,
} from "./websocket/frame.ts";
import { badRequest, parseHead, upgradeReply, wantsWebSocket } from "./websocket/handshake.ts";

/** What the servlet keeps with each connection. */
interface Visitor {
  /** `new` until the first line says; `http` while a request head is read; then `line` or `ws`. */
  mode: "new" | "http" | "line" | "ws";
  readonly handle: ConnectionHandle;
  member?: Member;
  head: string[];
  parser?: FrameParser;
}

const HTTP_LINE = /^[A-Z]+ \S+ HTTP\/1\.[01]$/;

/** The chat's arguments, checked. */
interface ChatArgs {
  idle: number;
  maxMessage: number;
  /** The NATS servers to share the room over, if any. */
  nats?: string;
  room: string;
}

/** The arguments, checked. */
function parseArgs(args: readonly string[]): ChatArgs {
  const out: ChatArgs = { idle: 600, maxMessage: 65536, room: "lobby" };
  for (let i = 0; i < args.length; i += 2) {
    const name = args[i];
    const text = args[i + 1];
    const value = Number(text);
    const key = name === "--idle" ? "idle" : name === "--max-message" ? "maxMessage" : undefined;
    if (name === "--nats" && text !== undefined) out.nats = text;
    else if (name === "--room" && text !== undefined && ROOM_NAME.test(text)) out.room = text;
    else if (key === undefined || text === undefined || !Number.isFinite(value) || value < 0) {
      throw new PlumbError(
        "PLUMB_CHAT_ARGS",
        `chat: arguments are --idle SECONDS and --max-message BYTES (numbers >= 0), --nats URL ` +
          `and --room NAME (1-32 letters, digits, "-" or "_"), got ${JSON.stringify(args)}`,
      );
    } else out[key] = value;
  }
  return out;
}

/** The room's link to a telnet (line) client. */
function lineLink(handle: ConnectionHandle): MemberLink {
  return {
    send: (line) => void handle.write(`${line}\n`),
    close: () => void handle.close(),
  };
}

/** The room's link to a WebSocket client: a text message a line. */
function wsLink(handle: ConnectionHandle): MemberLink {
  return {
    send: (line) => void handle.write(encodeFrame(OPCODE.text, line)),
    close: () => {
      void handle.write(closeFrame(CLOSE.normal, "bye"));
      void handle.close();
    },
  };
}

/**
 * Why a WebSocket member left, for the others: a protocol error, a page closed
 * (1001, going away: what a browser sends when its page closes), or quit.
 */
function leaveReason(close: WsClose): string {
  if (close.error) return `protocol error: ${close.reason}`;
  return close.code === CLOSE.goingAway ? "page closed" : "quit";
}

export default defineServlet({
  description: "a chat room: telnet lines and WebSocket messages to everyone, nicknames, /who",
  async init(args, env) {
    const { idle, maxMessage, nats, room: roomName } = parseArgs(args);
    // The share hears the other hosts from the moment it connects, before the room is made.
    let made: Room | undefined;
    const share: NatsRoomShare | undefined = nats === undefined
      ? undefined
      : await natsShare(nats, roomName, env, (line) => made?.deliver(line), () => {
        return made?.localNicks ?? [];
      });
    const room = made = new Room({ idleSeconds: idle, share });
    const timer = idle > 0
      ? setInterval(() => room.kickIdle(), Math.min(1000, (idle * 1000) / 4))
      : undefined;
    return {
      room,
      share,
      timer,
      maxMessage,
      input: env.input("in", { persist: true }),
      output: env.output("out"),
    };
  },
  async exec(ctx, task) {
    const connection = task.connection;
    if (connection === null) {
      throw new PlumbError(
        "PLUMB_CHAT_NO_CONNECTION",
        "chat: a request with no connection; serve the chat on a tcp, unix or tls listener",
      );
    }
    let visitor = connection.state<Visitor>();
    if (visitor === undefined) {
      const v: Visitor = { mode: "new", handle: connection.handle(), head: [] };
      visitor = v;
      connection.setState(v);
      v.handle.closed.then(() => {
        if (v.member) ctx.room.leave(v.member, "connection closed");
      });
    }
    const join = (v: Visitor, mode: "line" | "ws") => {
      v.mode = mode;
      v.member = ctx.room.join(mode === "ws" ? wsLink(v.handle) : lineLink(v.handle));
    };
    if (task.event === "open") {
      if (visitor.mode === "new") join(visitor, "line");
      return;
    }
    if (visitor.mode !== "ws") {
      let upgraded = false;
      for await (const line of task.lines(ctx.input)) {
        if (visitor.mode === "new") {
          if (HTTP_LINE.test(line)) {
            visitor.mode = "http";
            visitor.head = [line];
            continue;
          }
          join(visitor, "line");
        }
        if (visitor.mode === "line") {
          const claiming = ctx.room.line(visitor.member!, line);
          if (claiming) await claiming;
          continue;
        }
        if (line !== "") {
          if (visitor.head.length > 100) {
            await task.write(ctx.output, badRequest("request head over 100 lines"));
            connection.keepAlive(false);
            return;
          }
          visitor.head.push(line);
          continue;
        }
        // The end of the request head.
        const head = parseHead(visitor.head)!;
        visitor.head = [];
        if (!wantsWebSocket(head)) {
          const body = new TextEncoder().encode(CHAT_PAGE);
          await task.write(
            ctx.output,
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n" +
              `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
          );
          if (head.method !== "HEAD") await task.write(ctx.output, body);
          connection.keepAlive(false);
          return;
        }
        const answer = await upgradeReply(head);
        if ("refused" in answer) {
          await task.write(ctx.output, badRequest(answer.refused));
          connection.keepAlive(false);
          return;
        }
        await task.write(ctx.output, answer.reply);
        visitor.parser = new FrameParser({ maxMessageBytes: ctx.maxMessage });
        join(visitor, "ws");
        upgraded = true;
        break; // what follows the head is frames
      }
      if (!upgraded) return;
    }
    const member = visitor.member!;
    const handle = visitor.handle;
    for await (const chunk of task.chunks(ctx.input)) {
      for (const event of visitor.parser!.push(chunk)) {
        if (event.kind === "text") {
          for (const line of (event.data as string).split("\n")) {
            const claiming = ctx.room.line(member, line);
            if (claiming) await claiming;
          }
        } else if (event.kind === "binary") {
          ctx.room.leave(member, "sent binary");
          void handle.write(closeFrame(CLOSE.unsupported, "text messages only"));
          void handle.close();
        } else if (event.kind === "ping") {
          void handle.write(encodeFrame(OPCODE.pong, event.data));
        } else if (event.kind === "close") {
          ctx.room.leave(member, leaveReason(event));
          const code = event.error ? event.code : event.code === 1005 ? CLOSE.normal : event.code;
          void handle.write(closeFrame(code, event.error ? event.reason : ""));
          void handle.close();
        }
      }
    }
  },
  async unload(ctx) {
    clearInterval(ctx.timer);
    await ctx.share?.close();
  },
});
