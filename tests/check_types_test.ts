/**
 * `--check` type-checks the graph's servlet files (`deno run` imports them
 * without a type check): a type error is one line naming the graph, the node
 * and the first error with its place, exit 2; a servlet that type-checks
 * passes; without the permission to run deno, `--check` says what it skipped.
 */
import { assertEquals, assertMatch } from "./assert.ts";
import { path, runCli } from "./helpers.ts";
import { assertDocumented, readEntries } from "./docs/troubleshooting.ts";

const decoder = new TextDecoder();

Deno.test("--check: a type error in a servlet file fails with its first error and place", async () => {
  // The fixture is excluded by this repository's deno.json (so that its own
  // check passes): run from a directory without a deno.json, as a project of
  // one servlet file might be.
  const graph = path("tests/fixtures/graphs/type_error.json");
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-run", path("main.ts"), graph, "--check"],
    cwd: "/",
    env: { NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const stderr = decoder.decode(out.stderr);
  assertEquals([out.code, decoder.decode(out.stdout)], [2, ""], stderr);
  const fixture = path("tests/fixtures/type_error.ts");
  assertEquals(stderr.split("\n").length, 2, "one line");
  assertMatch(
    stderr,
    new RegExp(
      `^plumb: PLUMB_SERVLET_TYPE_ERROR ${graph}: node "bad": servlet "\\.\\./type_error\\.ts" does not type-check: ` +
        `TS2551 \\[ERROR\\]: Property 'inptu' does not exist on type .*Did you mean 'input'\\? ` +
        `\\(at file://${fixture}:12:42\\); 3 error\\(s\\) in all, listed by: deno check ${fixture}\\n$`,
    ),
  );
  assertDocumented(readEntries(), stderr, "PLUMB_SERVLET_TYPE_ERROR");
});

Deno.test("--check: a servlet file that type-checks passes, as before", async () => {
  const result = await runCli(["examples/upper.json", "--check"], ["--allow-read", "--allow-run"]);
  assertEquals(result, {
    code: 0,
    stdout: "examples/upper.json: ok: 1 node(s), 0 edge(s), 1 listener(s)\n",
    stderr: "",
  });
});

Deno.test("--check: without the permission to run deno, it says the files were not type-checked", async () => {
  const result = await runCli(["examples/upper.json", "--check"], ["--allow-read"]);
  assertEquals(result.code, 0);
  assertEquals(result.stdout, "examples/upper.json: ok: 1 node(s), 0 edge(s), 1 listener(s)\n");
  assertEquals(
    result.stderr,
    `plumb warn: PLUMB_SERVLET_NOT_TYPE_CHECKED examples/upper.json: its servlet files were not type-checked: --check runs ` +
      `deno check on them when it may run deno (--allow-run=${Deno.execPath()})\n`,
  );
  assertDocumented(readEntries(), result.stderr, "PLUMB_SERVLET_NOT_TYPE_CHECKED");
});

Deno.test("--check: a servlet file the configuration excludes is named as not type-checked", async () => {
  const result = await runCli(
    ["tests/fixtures/graphs/type_error.json", "--check"],
    ["--allow-read", "--allow-run"],
  );
  assertEquals(result, {
    code: 0,
    stdout: "tests/fixtures/graphs/type_error.json: ok: 1 node(s), 0 edge(s), 1 listener(s)\n",
    stderr:
      `plumb warn: PLUMB_SERVLET_CHECK_EXCLUDED tests/fixtures/graphs/type_error.json: servlet "../type_error.ts" not ` +
      `type-checked: the deno configuration of the working directory excludes it\n`,
  });
  assertDocumented(readEntries(), result.stderr, "PLUMB_SERVLET_CHECK_EXCLUDED");
});
