/**
 * `examples/chat.json` for the chat tests: served on free ports, and a telnet
 * user joined over real TCP.
 * @module
 */
import { assertEquals } from "./assert.ts";
import { Client, startHost, type TestHost } from "./helpers.ts";
import { GREETING } from "../servlets/chat/room.ts";

/** The chat example served, with the port of its WebSocket (browser) listener. */
export interface ChatHost extends TestHost {
  /** The second listener's port: the page and the WebSocket. */
  webPort: number;
}

/** The client's next line without its `\n`, or `null` when the host closed. */
export async function nextLine(client: Client): Promise<string | null> {
  const line = await client.readLine();
  return line === null ? null : line.slice(0, -1);
}

/** The client's next `count` lines, each without its `\n`. */
export async function nextLines(client: Client, count: number): Promise<string[]> {
  return (await client.readLines(count)).map((line) => line.slice(0, -1));
}

/**
 * The chat example on free ports; `args` replaces the room's arguments,
 * `telnetOptions` are added to the telnet listener's.
 */
export async function chatHost(
  args?: string[],
  telnetOptions: Record<string, unknown> = {},
): Promise<ChatHost> {
  const graph = JSON.parse(
    Deno.readTextFileSync(new URL("../examples/chat.json", import.meta.url)),
  );
  if (args) graph.nodes.room.args = args;
  Object.assign(graph.listeners[0].options, telnetOptions);
  graph.listeners[0].options.port = 0;
  graph.listeners[1].options.port = 0;
  const h = await startHost(graph, { port: undefined });
  const webPort = Number(new URL(h.host.urls[1].replace(/^tcp:/, "http:")).port);
  return Object.assign(h, { webPort });
}

/** Connects, reads the greeting, gives `nick`, reads the welcome; other lines stay unread. */
export async function joinAs(port: number, nick: string): Promise<Client> {
  const client = await Client.connect(port);
  assertEquals(await nextLine(client), GREETING);
  await client.send(`${nick}\r\n`);
  const welcome = await nextLine(client);
  assertEquals(welcome?.startsWith(`* you are ${nick}; in the room: `), true, welcome ?? "closed");
  return client;
}
