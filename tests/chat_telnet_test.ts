/**
 * The chat room as a person sees it: a real `telnet` in a `tmux` pane, and a
 * TCP client talking to it; the pane's screen shows the greeting, the
 * welcome, the other user's join and line, and the UTF-8 text intact.
 * Skipped (with a message) when telnet or tmux is not installed.
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { Client, startHost } from "./helpers.ts";

/** True when `program` runs here. */
async function has(program: string): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("sh", {
      args: ["-c", `command -v ${program}`],
      stdout: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

const ready = await has("telnet") && await has("tmux");

/** Runs tmux on this test's own server socket; its standard output. */
async function tmux(socket: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("tmux", { args: ["-L", socket, ...args], stderr: "piped" })
    .output();
  if (!out.success) throw new Error(`tmux ${args[0]}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

/** The pane's screen once it shows `text` (at most 10 s), for the assertion. */
async function screenWith(socket: string, text: string): Promise<string> {
  let screen = "";
  for (let waited = 0; waited < 10_000; waited += 50) {
    screen = await tmux(socket, "capture-pane", "-p", "-t", "chat");
    if (screen.includes(text)) return screen;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return screen;
}

Deno.test({
  name: "chat: a telnet user in tmux sees the room as a person would",
  ignore: !ready,
  async fn() {
    const graph = JSON.parse(
      Deno.readTextFileSync(new URL("../examples/chat.json", import.meta.url)),
    );
    graph.listeners[0].options.port = 0;
    graph.listeners[1].options.port = 0;
    await using h = await startHost(graph, { port: undefined });
    const socket = `plumb-chat-${Deno.pid}`;
    await tmux(
      socket,
      "new-session",
      "-d",
      "-s",
      "chat",
      "-x",
      "100",
      "-y",
      "30",
      `telnet 127.0.0.1 ${h.port}`,
    );
    try {
      assert(
        (await screenWith(socket, "What is your nickname?")).includes("What is your nickname?"),
      );
      await tmux(socket, "send-keys", "-t", "chat", "zoë", "Enter");
      const welcomed = await screenWith(socket, "* you are zoë");
      assert(welcomed.includes("* you are zoë; in the room: zoë."), welcomed);
      await using bob = await Client.connect(h.port);
      await bob.readLine(); // the greeting
      await bob.send("bob\r\nhello zoë ✓\r\n");
      const screen = await screenWith(socket, "<bob> hello zoë ✓");
      const lines = screen.split("\n").map((line) => line.trimEnd()).filter((l) => l !== "");
      const from = lines.findIndex((line) => line.startsWith("* you are zoë"));
      assertEquals(lines.slice(from + 1, from + 3), ["* bob has joined", "<bob> hello zoë ✓"]);
    } finally {
      await tmux(socket, "kill-server").catch(() => {});
    }
  },
});
