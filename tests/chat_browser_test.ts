/**
 * The chat room from real browsers: `examples/chat.json` on free ports, two
 * pages of headless Chromium (each its own browser, driven over the DevTools
 * protocol) open the chat's page and join over WebSocket, and one telnet user
 * joins over a real TCP socket. Each gives a nickname; the test types into the
 * pages' form and reads the pages' log from their DOM, and asserts the exact
 * lines everyone sees: join notices, each one's lines (UTF-8 intact both
 * ways), `/who` listing all three, the leave notice when a page is closed,
 * and `/quit` from a page, whose WebSocket then closes with 1000.
 *
 * Chromium is a requirement, not an option: when it is not installed the test
 * fails and says to install it (`.ci/run` does).
 * @module
 */
import { assertEquals } from "./assert.ts";
import { path } from "./helpers.ts";
import { BrowserPage, CHROMIUM } from "./chromium.ts";
import { chatHost, joinAs, nextLine } from "./chat_host.ts";
import { GREETING } from "../servlets/chat/room.ts";

const TMP = path("tests/.tmp");
const HELP = "/who /nick NAME /me ACTION /quit";

/** The lines of the page's log, as its DOM shows them. */
function logOf(page: BrowserPage): Promise<string[]> {
  return page.evaluate<string[]>(
    "document.getElementById('log').textContent.split('\\n').slice(0, -1)",
  );
}

/** Waits until the page's log has `count` lines; returns them all. */
async function logLines(page: BrowserPage, count: number): Promise<string[]> {
  await page.waitFor(
    `(document.getElementById('log')?.textContent.split('\\n').length ?? 1) - 1 >= ${count}`,
    "document.getElementById('log')?.textContent",
  );
  return await logOf(page);
}

/** Types `line` into the page's form and submits it, as a person would. */
async function say(page: BrowserPage, line: string): Promise<void> {
  await page.evaluate(
    `document.getElementById('line').value = ${JSON.stringify(line)};` +
      "document.getElementById('form').requestSubmit();" +
      "document.getElementById('line').value",
  );
}

/** The page's connection state, as it shows it. */
function stateOf(page: BrowserPage): Promise<string> {
  return page.evaluate<string>("document.getElementById('state').textContent");
}

Deno.test("chat: two Chromium pages and a telnet user see each other's lines exactly", async () => {
  await using h = await chatHost();
  const web = `http://127.0.0.1:${h.webPort}/`;
  await Deno.mkdir(TMP, { recursive: true });
  const dirs = [
    await Deno.makeTempDir({ dir: TMP, prefix: "chromium-chat-" }),
    await Deno.makeTempDir({ dir: TMP, prefix: "chromium-chat-" }),
  ];
  const pages: BrowserPage[] = [];
  try {
    // ann's page: greeted once its WebSocket is open, then named.
    pages.push(await BrowserPage.open(web, dirs[0], "800,600"));
    const ann = pages[0];
    await ann.waitFor(
      "document.getElementById('state')?.textContent === 'connected'",
      "document.body.innerText",
    );
    assertEquals(await logLines(ann, 1), [GREETING]);
    await say(ann, "ann");
    const annSaw = [GREETING, `* you are ann; in the room: ann. ${HELP}`];
    assertEquals(await logLines(ann, 2), annSaw);

    // bob's page, in a second browser.
    pages.push(await BrowserPage.open(web, dirs[1], "800,600"));
    const bob = pages[1];
    assertEquals(await logLines(bob, 1), [GREETING]);
    await say(bob, "bob");
    const bobSaw = [GREETING, `* you are bob; in the room: ann, bob. ${HELP}`];
    assertEquals(await logLines(bob, 2), bobSaw);
    annSaw.push("* bob has joined");
    assertEquals(await logLines(ann, 3), annSaw);

    // cat, on telnet.
    await using cat = await joinAs(h.port, "cat");
    annSaw.push("* cat has joined");
    bobSaw.push("* cat has joined");
    assertEquals(await logLines(ann, annSaw.length), annSaw);
    assertEquals(await logLines(bob, bobSaw.length), bobSaw);

    // A browser's line reaches the other browser and telnet.
    await say(ann, "hello from a browser");
    annSaw.push("<ann> hello from a browser");
    bobSaw.push("<ann> hello from a browser");
    assertEquals(await nextLine(cat), "<ann> hello from a browser");
    assertEquals(await logLines(ann, annSaw.length), annSaw);
    assertEquals(await logLines(bob, bobSaw.length), bobSaw);

    // A telnet line reaches both browsers, UTF-8 included.
    await cat.send("hi browsers, from telnet: ça va? ✓\r\n");
    const fromCat = "<cat> hi browsers, from telnet: ça va? ✓";
    assertEquals(await nextLine(cat), fromCat);
    annSaw.push(fromCat);
    bobSaw.push(fromCat);
    assertEquals(await logLines(ann, annSaw.length), annSaw);
    assertEquals(await logLines(bob, bobSaw.length), bobSaw);

    // A browser user's UTF-8 arrives intact on the TCP side: every byte.
    const unicode = "héllo wörld ✓ 😀 日本語 — Ελληνικά";
    await say(bob, unicode);
    const line = await cat.readLine();
    assertEquals(
      line === null ? null : [...new TextEncoder().encode(line)],
      [...new TextEncoder().encode(`<bob> ${unicode}\n`)],
    );
    annSaw.push(`<bob> ${unicode}`);
    bobSaw.push(`<bob> ${unicode}`);
    assertEquals(await logLines(ann, annSaw.length), annSaw);
    assertEquals(await logLines(bob, bobSaw.length), bobSaw);

    // /who lists all three, to telnet and to a browser.
    await cat.send("/who\r\n");
    assertEquals(await nextLine(cat), "* in the room: ann, bob, cat");
    await say(bob, "/who");
    bobSaw.push("* in the room: ann, bob, cat");
    assertEquals(await logLines(bob, bobSaw.length), bobSaw);

    // Closing bob's page: the others are told.
    await bob.closePage();
    assertEquals(await nextLine(cat), "* bob has left (page closed)");
    annSaw.push("* bob has left (page closed)");
    assertEquals(await logLines(ann, annSaw.length), annSaw);

    // /quit from ann's page: "* bye", then the server closes the WebSocket with 1000.
    await say(ann, "/quit");
    annSaw.push("* bye");
    assertEquals(await logLines(ann, annSaw.length), annSaw);
    await ann.waitFor(
      "document.getElementById('state').textContent.startsWith('closed')",
      "document.getElementById('state').textContent",
    );
    assertEquals(await stateOf(ann), "closed (1000)");
    assertEquals(await nextLine(cat), "* ann has left (quit)");
    assertEquals(await logOf(ann), annSaw);
    // The room agrees: only cat is left.
    await cat.send("/who\r\n");
    assertEquals(await nextLine(cat), "* in the room: cat");
  } finally {
    for (const page of pages) await page.close();
    for (const dir of dirs) await Deno.remove(dir, { recursive: true });
  }
  for (const page of pages) {
    assertEquals(page.left, [], `${CHROMIUM} left processes behind (killed them)`);
  }
});
