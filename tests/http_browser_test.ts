/**
 * A real browser through plumb: headless Chromium (Debian package `chromium`)
 * loads `examples/www/index.html` from `examples/http.json` served on
 * 127.0.0.1, with its style sheet, its three images and the JSON endpoint its
 * script fetches. The page writes how many images really loaded; the test
 * reads it from the DOM Chromium dumps, and checks on the host side which
 * requests arrived.
 *
 * Chromium is a requirement, not an option: when it is not installed the test
 * fails and says to install it (`.ci/run` does).
 * @module
 */
import { assert, assertEquals } from "./assert.ts";
import { path } from "./helpers.ts";
import { simulate } from "../testing/mod.ts";
import { CHROMIUM, noProcessLeft, spawnChromium } from "./chromium.ts";
import { tappedHttpGraph } from "./tapped_http.ts";

const TMP = path("tests/.tmp");
/** How long Chromium may run at all before it is killed: a guard against a hang, not a measure. */
const HANG_GUARD_MS = 120_000;
/** The requests the page needs, as `METHOD path?query`. */
const EXPECTED = [
  "GET /",
  "GET /style.css",
  "GET /images/red.png",
  "GET /images/blue.png",
  "GET /images/pipe.svg",
  "GET /api/hello?name=browser",
];

/** What a finished Chromium run printed. */
interface BrowserRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs headless Chromium on `url` with its profile, cache and crash reports
 * under `dir`, and returns the DOM it dumped after the page loaded. Chromium
 * is killed if it is still running when this returns or throws.
 */
async function dumpDom(url: string, dir: string): Promise<BrowserRun> {
  const child = spawnChromium(dir, ["--virtual-time-budget=5000", "--dump-dom", url], "piped");
  const output = child.output();
  let exited = false;
  const done = output.finally(() => exited = true);
  let guard: ReturnType<typeof setTimeout> | undefined;
  try {
    const hung = new Promise<never>((_, reject) => {
      guard = setTimeout(
        () => reject(new Error(`${CHROMIUM} still running after ${HANG_GUARD_MS} ms; killed`)),
        HANG_GUARD_MS,
      );
    });
    const out = await Promise.race([done, hung]);
    const decoder = new TextDecoder();
    return {
      code: out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
    };
  } finally {
    clearTimeout(guard);
    if (!exited) {
      try {
        child.kill("SIGKILL");
      } catch {
        // It ended meanwhile.
      }
      await output.catch(() => undefined);
    }
  }
}

/** The text of the element with `id` in a dumped DOM (no nested elements). */
function textOf(dom: string, id: string): string | undefined {
  return dom.match(new RegExp(`<[a-z]+ id="${id}"[^>]*>([^<]*)<`))?.[1];
}

/** The sum of the requests in the host's connection lines. */
function requestsLogged(logs: readonly string[]): number {
  let sum = 0;
  for (const line of logs) {
    const match = line.match(
      /^plumb debug: PLUMB_CONN_ENDED connection from .* ended: .*, (\d+) requests?, /,
    );
    if (match) sum += Number(match[1]);
  }
  return sum;
}

Deno.test("http: headless Chromium loads examples/www with its images through plumb", async () => {
  const seen: string[] = [];
  const { spec, base } = await tappedHttpGraph((request) => {
    seen.push(`${request.method} ${request.path}${request.query ? `?${request.query}` : ""}`);
  });
  const sim = await simulate(spec, { transport: "tcp", base });
  await Deno.mkdir(TMP, { recursive: true });
  const dir = await Deno.makeTempDir({ dir: TMP, prefix: "chromium-" });
  let run: BrowserRun;
  let left: number[] = [];
  try {
    try {
      run = await dumpDom(`http://127.0.0.1:${sim.port}/`, dir);
    } finally {
      try {
        left = await noProcessLeft(dir);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    }
  } finally {
    // Every connection's line is written by now, at the latest as the host stops.
    await sim.close();
  }
  assertEquals(left, [], `${CHROMIUM} left processes behind (killed them)`);
  const stderrTail = run.stderr.split("\n").slice(-20).join("\n");
  assertEquals(run.code, 0, `${CHROMIUM} failed:\n${stderrTail}`);
  const dom = run.stdout;
  assert(dom.includes("<h1>Served by plumb</h1>"), `not the page:\n${dom}\n${stderrTail}`);
  assertEquals(textOf(dom, "loaded"), "3/3 loaded", `images:\n${dom}`);
  assertEquals(textOf(dom, "message"), "Hello, browser!", `the API's message:\n${dom}`);

  // The host side: each request the page needs was parsed from a real
  // connection (Chromium may also ask for /favicon.ico), and the connection
  // lines count as many requests as the host handled.
  for (const request of EXPECTED) {
    assert(seen.includes(request), `the host saw no ${request}; it saw ${seen.join(", ")}`);
  }
  assertEquals(
    requestsLogged(sim.logs),
    seen.length,
    `connection lines against ${seen.join(", ")}:\n${sim.logs.join("\n")}`,
  );
});
