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
