/**
 * The admin page in a real browser: headless Chromium, driven over the
 * DevTools protocol, opens the admin page of `examples/http.json` (with a
 * `tap` node before its router that fails on `/boom`), which draws every node
 * of the graph; while the test sends HTTP requests the page's counters move
 * to the exact counts sent; a click on a node shows its servlet, arguments and
 * recent errors. The test writes `tests/.tmp/admin_page.png` for a person to
 * look at.
 *
 * Chromium is a requirement, not an option: when it is not installed the test
 * fails and says to install it (`.ci/run` does).
 * @module
 */
import { assert, assertEquals } from "./assert.ts";
import { path, startHost } from "./helpers.ts";
import { BrowserPage, CHROMIUM } from "./chromium.ts";
import { tappedHttpGraph } from "./tapped_http.ts";

const TMP = path("tests/.tmp");
/** Where the screenshot goes. */
const SCREENSHOT = `${TMP}/admin_page.png`;

/** The text of the node table's cell `field` for `node`. */
function cell(node: string, field: string): string {
  return `document.querySelector('#nodes tr[data-node="${node}"] .${field}')?.textContent`;
}

Deno.test("admin: headless Chromium draws examples/http.json and its counters move with the requests", async () => {
  const { spec, base, names } = await tappedHttpGraph((request) => {
    if (request.path === "/boom") throw new Error("boom requested by the test");
  });
  await using h = await startHost(spec, { base, admin: { port: 0 } });
  const site = `http://127.0.0.1:${h.port}`;
  let sent = 0;
  const hello = async (): Promise<void> => {
    const response = await fetch(`${site}/api/hello?name=admin`);
    assertEquals(await response.json(), { message: "Hello, admin!" });
    sent++;
  };
  await Deno.mkdir(TMP, { recursive: true });
  const dir = await Deno.makeTempDir({ dir: TMP, prefix: "chromium-admin-" });
  try {
    const page = await BrowserPage.open(h.host.adminUrl!, dir);
    try {
      // Every node of examples/http.json is drawn (and the rewrite's join, and the tap).
      await page.waitFor(
        "document.querySelectorAll('#graph g.node').length > 0 && " +
          "Number(document.getElementById('updates').textContent) > 0",
        "document.body.innerText",
      );
      const drawn = await page.evaluate<string[]>(
        "[...document.querySelectorAll('#graph g.node title')].map((t) => t.textContent)",
      );
      for (const name of [...names, "tap"]) {
        assert(drawn.includes(name), `${name} is not drawn; drawn: ${drawn.join(", ")}`);
      }
      assertEquals(await page.evaluate(cell("hello", "requests")), "0");

      // The counters move to the exact counts while requests are sent.
      for (let i = 0; i < 20; i++) await hello();
      await page.waitFor(`${cell("hello", "requests")} === "20"`, cell("hello", "requests"));
      // Requests go on until the page shows a rate above zero for them.
      let sending = true;
      const load = (async () => {
        while (sending) await hello();
      })();
      try {
        await page.waitFor(`Number(${cell("hello", "rate")}) > 0`, cell("hello", "rate"));
        await page.waitFor(
          "/w\\/s/.test(document.querySelector('#graph g.edge#e0 text.live')?.textContent ?? '')",
          "document.querySelector('#graph g.edge#e0')?.textContent",
        );
        // A failure shows in the node's errors once it is clicked.
        const boom = await fetch(`${site}/boom`);
        await boom.body?.cancel();
        await page.waitFor(`${cell("tap", "failures")} === "1"`, cell("tap", "failures"));
        await page.evaluate(
          "[...document.querySelectorAll('#graph g.node')]" +
            ".find((g) => g.querySelector('title').textContent === 'tap')" +
            ".dispatchEvent(new MouseEvent('click', { bubbles: true }))",
        );
        await page.waitFor(
          "document.getElementById('detail-errors')?.textContent.includes('boom requested by the test')",
          "document.getElementById('detail').innerText",
        );
        await page.screenshot(SCREENSHOT);
      } finally {
        sending = false;
        await load;
      }
      await page.waitFor(`${cell("hello", "requests")} === "${sent}"`, cell("hello", "requests"));
      // Each request passed the tap, and one more failed there.
      assertEquals(await page.evaluate(cell("tap", "requests")), String(sent + 1));
      assertEquals(await page.evaluate(cell("echo", "requests")), "0");

      // And a router's servlet and arguments once it is.
      await page.evaluate(
        "document.querySelector('#nodes tr[data-node=\"route\"]').click()",
      );
      assertEquals(
        await page.evaluate("document.getElementById('detail-name').textContent"),
        "route",
      );
      assertEquals(
        await page.evaluate("document.getElementById('detail-servlet').textContent"),
        "http/router",
      );
      assertEquals(
        await page.evaluate("document.getElementById('detail-args').textContent"),
        'arguments: ["GET /api/hello","POST /api/echo","POST /api/upload","GET /*"]',
      );
    } finally {
      await page.close();
    }
    assertEquals(page.left, [], `${CHROMIUM} left processes behind (killed them)`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
