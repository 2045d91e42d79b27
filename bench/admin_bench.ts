/**
 * What counting costs a request, without sockets: `examples/hello.json` and
 * `examples/pipeline.json` run in memory (`Host.load`, one connection kept
 * open, one line and its reply per iteration), as compiled and with
 * `metrics: true` (what `--admin` turns on). The ratio of each pair is the
 * cost of the counters on the request path alone; `deno task bench`'s
 * `keepalive` section gives it over TCP.
 *
 * ```sh
 * deno bench --allow-read bench/admin_bench.ts
 * ```
 * @module
 */
import { Host } from "../host/mod.ts";

for (const graph of ["hello", "pipeline"]) {
  for (const metrics of [false, true]) {
    const host = await Host.load(`examples/${graph}.json`, { logLevel: "error", metrics });
    const conn = host.connect();
    Deno.bench({
      name: `${graph}${metrics ? " --admin" : ""}`,
      group: graph,
      baseline: !metrics,
      async fn(): Promise<void> {
        await conn.write("Plumber\n");
        await conn.readText();
      },
    });
  }
}
