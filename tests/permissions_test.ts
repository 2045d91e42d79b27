/**
 * Every row of the README's permissions table, run as written: the example
 * must serve under exactly the flags the README gives it, no more. The
 * ports are the examples' own, so these tests run one at a time.
 */
import { assertEquals } from "./assert.ts";
import { Client, path } from "./helpers.ts";

/** One row: the command after `deno`, what to send, the first reply. */
interface Row {
  name: string;
  args: string[];
  send: string;
  reply: string;
}

function readmeRows(): Row[] {
  const readme = Deno.readTextFileSync(path("README.md"));
  const table = readme.split("<!-- permissions:start -->")[1].split("<!-- permissions:end -->")[0];
  return table.split("\n").filter((line) => /^\| *\w+ *\| *`deno /.test(line)).map((line) => {
    const cells = line.split("|").slice(1, -1).map((c) => c.trim().replace(/^`|`$/g, ""));
    return { name: cells[0], args: cells[1].split(" ").slice(1), send: cells[2], reply: cells[3] };
  });
}

const rows = readmeRows();

Deno.test("the README's permissions table has a row for every example", () => {
  const examples = [...Deno.readDirSync(path("examples"))]
    .map((e) => e.name.replace(/\.json$/, "")).sort();
  assertEquals(rows.map((r) => r.name).sort(), examples);
});

for (const row of rows) {
  Deno.test(`README permissions: ${row.name} serves under exactly its flags`, async () => {
    const child = new Deno.Command(Deno.execPath(), {
      args: row.args,
      cwd: path("."),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const stderr = new Response(child.stderr).text();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    while (!out.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    try {
      const port = Number(out.match(/^listening on tcp:\/\/127\.0\.0\.1:(\d+)\n/)?.[1]);
      assertEquals(port > 0, true, `no listening line: ${out}`);
      await using c = await Client.connect(port);
      await c.send(`${row.send}\n`);
      assertEquals(await c.readLine(), `${row.reply}\n`);
    } finally {
      child.kill("SIGTERM");
      while (!(await reader.read()).done) { /* drain */ }
      const status = await child.status;
      assertEquals(status.code, 0, await stderr);
    }
  });
}

Deno.test("servlets/all.ts imports every built-in, so none needs read permission", async () => {
  const { BUILTIN_SERVLETS } = await import("../kernel/builtins.ts");
  const all = Deno.readTextFileSync(path("servlets/all.ts"));
  for (const file of Object.values(BUILTIN_SERVLETS)) {
    assertEquals(all.includes(`import "${file.replace("../servlets/", "./")}";`), true, file);
  }
});
