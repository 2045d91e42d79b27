/**
 * Every row of the permissions table of `docs/command-line.md`, run as
 * written: the example must serve under exactly the flags the page gives it,
 * no more. The
 * ports are the examples' own, so these tests run one at a time.
 */
import { assertEquals } from "./assert.ts";
import { Client, path, spawnCli } from "./helpers.ts";
import { TlsClient } from "./tls_fixture.ts";

/** One row: the command after `deno`, what to send, the first reply. */
interface Row {
  name: string;
  args: string[];
  send: string;
  reply: string;
}

/** The page that holds the table, between its `permissions:start` and `permissions:end` markers. */
const PAGE = "docs/command-line.md";

function tableRows(): Row[] {
  const page = Deno.readTextFileSync(path(PAGE));
  const table = page.split("<!-- permissions:start -->")[1].split("<!-- permissions:end -->")[0];
  return table.split("\n").filter((line) => /^\| *\w+ *\| *`deno /.test(line)).map((line) => {
    const cells = line.split("|").slice(1, -1).map((c) => c.trim().replace(/^`|`$/g, ""));
    return {
      name: cells[0],
      args: cells[1].split(" ").slice(1),
      send: cells[2].replaceAll("\\n", "\n"),
      reply: cells[3],
    };
  });
}

const rows = tableRows();

Deno.test(`${PAGE}: the permissions table has a row for every example`, () => {
  const examples = [...Deno.readDirSync(path("examples"))]
    .filter((e) => e.name.endsWith(".json"))
    .map((e) => e.name.replace(/\.json$/, "")).sort();
  assertEquals(rows.map((r) => r.name).sort(), examples);
});

for (const row of rows) {
  Deno.test(`${PAGE} permissions: ${row.name} serves under exactly its flags`, async () => {
    // `run FLAGS... main.ts GRAPH`: the flags are the permissions, the rest the CLI's arguments.
    const main = row.args.indexOf("main.ts");
    assertEquals(row.args[0] === "run" && main > 0, true, row.args.join(" "));
    const cli = await spawnCli(row.args.slice(main + 1), row.args.slice(1, main));
    try {
      // A TLS example is talked to over TLS, trusting the examples' demo authority.
      await using c = cli.url.startsWith("tls:")
        ? await TlsClient.connect(cli.port, path("examples/tls/ca.crt"))
        : await Client.connect(cli.port);
      await c.send(`${row.send}\n`);
      // An HTTP reply line ends in \r\n.
      assertEquals((await c.readLine())?.replace(/\r\n$/, "\n"), `${row.reply}\n`);
    } finally {
      const { code, stderr } = await cli.stop();
      assertEquals(code, 0, stderr);
    }
  });
}

Deno.test("every built-in resolves to a servlet in hand: serving it imports no file", async () => {
  const { BUILTIN_SERVLETS, resolveServlet } = await import("../host/servlet_registry.ts");
  const base = new URL("file:///nowhere/graph.json");
  for (const [name, servlet] of Object.entries(BUILTIN_SERVLETS)) {
    assertEquals(resolveServlet(name, base, "graph.json"), servlet, name);
  }
});
