/**
 * A real Prometheus server (Debian `prometheus`) scrapes a host's admin
 * listener and answers a query about what the host served. Prometheus is a
 * requirement, not an option: when it is not installed the test fails and
 * says to install it (`.ci/run` does).
 * @module
 */
import { assert, assertEquals } from "./assert.ts";
import { allBlocks } from "./docs/markdown.ts";
import { Client, path, startHost } from "./helpers.ts";

const TMP = path("tests/.tmp");
/** How long Prometheus may take to start and scrape: a guard against a hang, not a measure. */
const HANG_GUARD_MS = 60_000;

/** A port that was free a moment ago. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

/** One instant vector of Prometheus' query API: each series' labels and value. */
interface QueryResult {
  metric: Record<string, string>;
  value: [number, string];
}

/** The target and interval of docs/operating.md's scrape configuration. */
const DOC_TARGET = "127.0.0.1:9180";
const DOC_INTERVAL = "scrape_interval: 15s";

/** The one block of `kind` in the docs. */
function docBlock(kind: string): string {
  const found = allBlocks().filter((b) => b.kind === kind);
  assertEquals(found.length, 1, `blocks of kind ${kind}`);
  return found[0].body;
}

async function query(api: string, expression: string): Promise<QueryResult[] | undefined> {
  try {
    const response = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(expression)}`);
    const body = await response.json();
    return body.status === "success" ? body.data.result : undefined;
  } catch {
    return undefined; // not up yet
  }
}

Deno.test("admin: a Prometheus server scrapes /metrics and answers a query", async () => {
  await using h = await startHost("examples/hello.json", { admin: { port: 0 } });
  const client = await Client.connect(h.port);
  for (const name of ["a", "b", "c"]) {
    await client.send(`${name}\n`);
    assertEquals(await client.readLine(), `Hello, ${name}\n`);
  }
  client.close();
  const admin = new URL(h.host.adminUrl!);
  await Deno.mkdir(TMP, { recursive: true });
  const dir = await Deno.makeTempDir({ dir: TMP, prefix: "prometheus-" });
  const port = freePort();
  // docs/operating.md's configuration and rules, pointed at this host, scraped every second.
  const config = docBlock("prometheus");
  assert(config.includes(DOC_TARGET) && config.includes(DOC_INTERVAL), config);
  await Deno.writeTextFile(
    `${dir}/prometheus.yml`,
    config.replace(DOC_TARGET, admin.host).replace(DOC_INTERVAL, "scrape_interval: 1s"),
  );
  await Deno.writeTextFile(`${dir}/plumb_alerts.yml`, docBlock("prometheus-rules"));
  const rules = await new Deno.Command("promtool", {
    args: ["check", "rules", `${dir}/plumb_alerts.yml`],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output().catch(() => undefined);
  assertEquals(rules?.code, 0, rules && new TextDecoder().decode(rules.stderr));
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("prometheus", {
      args: [
        `--config.file=${dir}/prometheus.yml`,
        `--storage.tsdb.path=${dir}/data`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--log.level=warn",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(
        "prometheus is not installed: this test needs it; " +
          "install it with `apt-get install -y prometheus` (.ci/run does)",
      );
    }
    throw error;
  }
  const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let said = "";
  const reading = (async () => {
    for (;;) {
      const { value, done } = await stderr.read();
      if (done) return;
      said += value;
    }
  })();
  try {
    const api = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + HANG_GUARD_MS;
    let requests: QueryResult[] | undefined;
    let up: QueryResult[] | undefined;
    while (Date.now() < deadline) {
      up = await query(api, 'up{job="plumb"}');
      requests = await query(api, 'plumb_node_requests_total{node="greet"}');
      if (requests?.length === 1 && up?.length === 1) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assertEquals(up?.map((r) => r.value[1]), ["1"], `prometheus said:\n${said}`);
    assertEquals(requests?.map((r) => [r.metric.instance, r.value[1]]), [[admin.host, "3"]]);
    const connections = await query(api, 'plumb_connections_accepted_total{job="plumb"}');
    assertEquals(connections?.map((r) => r.value[1]), ["1"]);
    // The rule file is loaded, every rule of it evaluating without error.
    const loaded = await (await fetch(`${api}/api/v1/rules`)).json();
    const groups: { name: string; rules: { name: string; health: string }[] }[] =
      loaded.data.groups;
    assertEquals(groups.map((g) => g.name), ["plumb"]);
    assertEquals(groups[0].rules.map((r) => r.name), [
      "PlumbDown",
      "PlumbNodeFailing",
      "PlumbNodeSlow",
      "PlumbRefusing",
    ]);
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await reading;
    await Deno.remove(dir, { recursive: true });
  }
});
