/**
 * The package as JSR would receive it: `deno publish --dry-run` passes with
 * no slow types and ships the library without its tests and benchmarks, and
 * `deno doc --lint` finds every export of both entry points documented.
 */
import { assert, assertEquals } from "./assert.ts";
import { path } from "./helpers.ts";

const decoder = new TextDecoder();

async function deno(args: string[]): Promise<{ code: number; output: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: path("."),
    env: { NO_COLOR: "1" },
  }).output();
  return { code: out.code, output: decoder.decode(out.stdout) + decoder.decode(out.stderr) };
}

Deno.test("deno publish --dry-run passes, with no slow types, without tests and benchmarks", async () => {
  const { code, output } = await deno(["publish", "--dry-run", "--allow-dirty"]);
  assertEquals(code, 0, output);
  // The one warning allowed: the loader's import() of a servlet by URL, which
  // is resolved to an absolute URL first and needs no rewriting.
  const warnings = [...output.matchAll(/^(warning|error)\[([\w-]+)\]/gm)].map((m) => m[2]);
  assertEquals(warnings.filter((w) => w !== "unanalyzable-dynamic-import"), [], output);
  const root = new URL("../", import.meta.url).href;
  const shipped = output.split("\n").map((l) => l.trim())
    .filter((l) => l.startsWith(root))
    .map((l) => l.split(" ")[0].slice(root.length));
  assert(shipped.length > 0, output);
  for (
    const needed of [
      "mod.ts",
      "host/mod.ts",
      "modules/mod.ts",
      "testing/mod.ts",
      "main.ts",
      "graph.schema.json",
      "README.md",
      "docs/architecture.md",
      "bench/README.md",
    ]
  ) {
    assert(shipped.includes(needed), `${needed} is not in the package:\n${shipped.join("\n")}`);
  }
  // The benchmarks' figures are documentation (bench/README.md); their code is not shipped.
  const unwanted = shipped.filter((f) =>
    /^(tests|bench|\.ci)\//.test(f) && f !== "bench/README.md"
  );
  assertEquals(unwanted, [], "tests and benchmarks stay out of the package");
});

Deno.test("deno doc --lint: every export of every entry point is documented", async () => {
  const { code, output } = await deno([
    "doc",
    "--lint",
    "mod.ts",
    "host/mod.ts",
    "modules/mod.ts",
    "testing/mod.ts",
    "servlets/http/mod.ts",
  ]);
  assertEquals(code, 0, output);
});
