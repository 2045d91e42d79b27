/**
 * What counting costs a request, without sockets: `examples/hello.json` and
 * `examples/pipeline.json` run in memory (`Host.load`, one connection kept
 * open, one line and its reply at a time), as compiled and with
 * `metrics: true` (what `--admin` turns on). The two hosts of a graph take
 * turns, block by block, so that the noise of a shared machine hits both
 * alike; each ratio is the median over the blocks of the time with counting
 * over the time without. `deno task bench`'s `keepalive` section gives the
 * same over TCP.
 *
 * ```sh
 * deno run --allow-read bench/admin_bench.ts [--blocks 40] [--requests 5000]
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { Host } from "../host/mod.ts";
import { median } from "./common.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { blocks: { type: "string" }, requests: { type: "string" } },
});
const BLOCKS = Number(values.blocks ?? 40);
const REQUESTS = Number(values.requests ?? 5000);

/** Microseconds per request of `requests` requests on `host`'s connection. */
async function block(conn: ReturnType<Host["connect"]>, requests: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < requests; i++) {
    await conn.write("Plumber\n");
    await conn.readText();
  }
  return (performance.now() - started) * 1000 / requests;
}

for (const graph of ["hello", "pipeline"]) {
  const plain = await Host.load(`examples/${graph}.json`, { logLevel: "error" });
  const counted = await Host.load(`examples/${graph}.json`, { logLevel: "error", metrics: true });
  const a = plain.connect();
  const b = counted.connect();
  // Warm up both for 2 s: past the first second, in which every exec is timed.
  for (const warmup = performance.now(); performance.now() - warmup < 2000;) {
    await block(a, REQUESTS);
    await block(b, REQUESTS);
  }
  const off: number[] = [];
  const on: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < BLOCKS; i++) {
    // Alternate which goes first, so that neither always follows the other.
    let tOff: number;
    let tOn: number;
    if (i % 2 === 0) {
      tOff = await block(a, REQUESTS);
      tOn = await block(b, REQUESTS);
    } else {
      tOn = await block(b, REQUESTS);
      tOff = await block(a, REQUESTS);
    }
    off.push(tOff);
    on.push(tOn);
    ratios.push(tOn / tOff);
  }
  console.log(
    `${graph}: ${median(off).toFixed(2)} µs/request as compiled, ${
      median(on).toFixed(2)
    } µs with metrics; median ratio ${median(ratios).toFixed(3)} ` +
      `(${BLOCKS} blocks of ${REQUESTS} requests each)`,
  );
  a.close();
  b.close();
  await plain.close();
  await counted.close();
}
