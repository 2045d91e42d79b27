/**
 * Writes its standard input (text or bytes) to the file named by its one argument, creating
 * the file's directory. `run.ts` starts it with `--allow-write` for
 * `bench/results/` only, because the bench task itself grants no write access.
 *
 * ```sh
 * echo table | deno run --allow-write=bench/results bench/save_results.ts bench/results/latest.md
 * ```
 * @module
 */

/** Saves standard input to `path`, byte for byte. */
async function save(path: string): Promise<void> {
  const bytes = await new Response(Deno.stdin.readable).bytes();
  const slash = path.lastIndexOf("/");
  if (slash > 0) await Deno.mkdir(path.slice(0, slash), { recursive: true });
  await Deno.writeFile(path, bytes);
}

if (import.meta.main) {
  if (Deno.args.length !== 1) {
    console.error("usage: save_results.ts FILE < text");
    Deno.exit(2);
  }
  await save(Deno.args[0]);
}
