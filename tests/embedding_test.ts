/**
 * The recipe of `docs/embedding.md` for using plumb from another project,
 * proved: the page's `project FILE` blocks are written as they are into a
 * temporary directory outside the repository (the only change: `../plumb` in
 * `links` becomes this checkout's path), and there the page's command serves
 * the project's graph through `jsr:@plumb/plumb/cli` and the project's own
 * test imports `@plumb/plumb`, `@plumb/plumb/host` and `@plumb/plumb/testing`.
 * Nothing is fetched: `links` resolves the package to the checkout.
 */
import { assert, assertEquals } from "./assert.ts";
import { codeBlocks, where } from "./docs/markdown.ts";
import { Client, path } from "./helpers.ts";

const PAGE = "docs/embedding.md";
/** Where the projects are made: outside the repository (the test task may write here). */
const PROJECTS = "/tmp/plumb-projects";

/** Makes the page's project in a new temporary directory; returns the directory. */
async function makeProject(): Promise<string> {
  const files = codeBlocks(PAGE).filter((b) => b.kind === "project");
  const names = files.map((b) => b.args);
  for (const name of ["deno.json", "shout.ts", "graph.json", "shout_test.ts"]) {
    assert(names.includes(name), `${PAGE}: no "project ${name}" block`);
  }
  await Deno.mkdir(PROJECTS, { recursive: true });
  const dir = await Deno.makeTempDir({ dir: PROJECTS, prefix: "project-" });
  assert(!dir.startsWith(path(".")), "the project is outside the repository");
  for (const block of files) {
    let text = block.body;
    if (block.args === "deno.json") {
      const checkout = path(".").replace(/\/$/, "");
      assert(text.includes(`"../plumb"`), `${where(block)}: links no "../plumb"`);
      text = text.replace(`"../plumb"`, JSON.stringify(checkout));
    }
    await Deno.writeTextFile(`${dir}/${block.args}`, text);
  }
  return dir;
}

/** The page's command, its `deno` this Deno, run in `dir` on a free port. */
function projectCommand(dir: string): Deno.ChildProcess {
  const shell = codeBlocks(PAGE).filter((b) => b.kind === "project-shell");
  assertEquals(shell.length, 1, `${PAGE}: one project-shell block`);
  const line = shell[0].body.trim();
  const argv = line.split(/\s+/);
  assertEquals(argv.slice(0, 2), ["deno", "run"], line);
  assert(argv.includes("jsr:@plumb/plumb/cli"), `${where(shell[0])}: serves through the cli entry`);
  return new Deno.Command(Deno.execPath(), {
    args: [...argv.slice(1), "--port", "0"],
    cwd: dir,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
}

Deno.test("docs/embedding.md: another project uses plumb through links, as the page says", async () => {
  const dir = await makeProject();
  try {
    // The command line, through the package's cli entry point.
    const cli = projectCommand(dir);
    const out = cli.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let first = "";
    while (!first.includes("\n")) {
      const { value, done } = await out.read();
      if (done) break;
      first += value;
    }
    const port = /^listening on tcp:\/\/127\.0\.0\.1:(\d+)\n/.exec(first)?.[1];
    if (port === undefined) {
      try {
        cli.kill("SIGKILL");
      } catch {
        // It has exited already, which is what went wrong.
      }
      await out.cancel();
      const stderr = await new Response(cli.stderr).text();
      await cli.status;
      throw new Error(`the project's host did not start: ${first}${stderr}`);
    }
    try {
      await using client = await Client.connect(Number(port));
      await client.send("world\n");
      assertEquals(await client.readLine(), "Hello, WORLD\n");
    } finally {
      cli.kill("SIGTERM");
      await out.cancel();
      const stderr = await new Response(cli.stderr).text();
      assertEquals((await cli.status).code, 0, stderr);
    }

    // The project's own test: serve and the testing kit, imported by the package's names.
    const test = await new Deno.Command(Deno.execPath(), {
      args: ["test", "--allow-net=127.0.0.1", "--allow-read"],
      cwd: dir,
      stdin: "null",
      env: { NO_COLOR: "1" },
    }).output();
    const output = new TextDecoder().decode(test.stdout) + new TextDecoder().decode(test.stderr);
    assertEquals(test.code, 0, output);
    assert(/shout, then greet: over TCP and in memory \.\.\. ok/.test(output), output);
    assert(/ok \| 1 passed \| 0 failed/.test(output), output);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
