/**
 * The layer check of `deno task check`, run with the tests so that CI runs it:
 * no import points up or sideways between plumb's folders, and no module
 * imports itself round a cycle.
 */
import { assertEquals, assertMatch } from "./assert.ts";

Deno.test("layers: kernel < modules < servlets < host < main.ts, no cycle (tools/check_layers.ts)", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-run", "tools/check_layers.ts"],
    cwd: new URL("../", import.meta.url),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  assertEquals(output.code, 0, text);
  assertMatch(text, /no import up or sideways, no cycle/);
});

Deno.test("docs/architecture.md: its layer table is tools/layers.ts's", async () => {
  const { MAY_IMPORT } = await import("../tools/layers.ts");
  const page = await Deno.readTextFile(new URL("../docs/architecture.md", import.meta.url));
  const rows = page.split("\n").filter((line) => /^\| `[\w.]+\/?` +\|/.test(line));
  /** `kernel/` -> kernel, `mod.ts` -> mod.ts: the layer names of the code. */
  const names = (cell: string): string[] => [...cell.matchAll(/`([\w.]+?)\/?`/g)].map((m) => m[1]);
  const documented = Object.fromEntries(rows.map((line) => {
    const [folder, may] = line.split("|").slice(1, 3);
    return [names(folder)[0], names(may)];
  }));
  assertEquals(documented, MAY_IMPORT);
});
