/**
 * What the benchmarks share: whether servers can be pinned, the median, and
 * the notes under a table.
 * @module
 */

/** True when `taskset` exists and there are at least 2 processors to pin to. */
export function canPin(): boolean {
  try {
    const out = new Deno.Command("taskset", { args: ["-c", "0,1", "true"] }).outputSync();
    return out.success;
  } catch {
    return false;
  }
}

/** The median of some numbers. */
export function median(values: number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Counts messages, for the notes under the tables. */
export class Notes {
  readonly #counts = new Map<string, number>();

  /** Counts one more `message`. */
  add(message: string): void {
    this.#counts.set(message, (this.#counts.get(message) ?? 0) + 1);
  }

  /** The notes as Markdown list items, each with its count. */
  lines(): string[] {
    return [...this.#counts].map(([message, count]) =>
      `- ${count > 1 ? `${count} x ` : ""}${message}`
    );
  }
}

/** What `node --version` prints (`v20.20.2`), or `null` when there is no `node` to run. */
export async function nodeVersion(): Promise<string | null> {
  try {
    const { success, stdout } = await new Deno.Command("node", {
      args: ["--version"],
      stdin: "null",
      stderr: "null",
    }).output();
    return success ? new TextDecoder().decode(stdout).trim() : null;
  } catch {
    return null;
  }
}

/**
 * Runs a benchmark script's `main` with the command line and exits with its
 * status; an error is one line, `NAME: message`, and status 1.
 */
export async function runMain(
  name: string,
  main: (args: string[]) => Promise<number>,
): Promise<never> {
  let status: number;
  try {
    status = await main(Deno.args);
  } catch (error) {
    console.error(`${name}: ${(error as Error).message}`);
    status = 1;
  }
  Deno.exit(status);
}
