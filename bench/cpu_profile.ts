/**
 * Reading the `.cpuprofile` files that `deno run --cpu-prof` writes: which
 * files are new in a directory, waiting for a profiled server to exit, the
 * functions with the most self time, the time by part of the program, and
 * their Markdown tables. Shared by `run.ts` and `http.ts` (`--profile`).
 * @module
 */

/** A node of a V8 `.cpuprofile`. */
export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
}

/** The parts of a V8 `.cpuprofile` read here. */
export interface CpuProfile {
  nodes: ProfileNode[];
  samples?: number[];
  /** Microseconds since the previous sample. */
  timeDeltas?: number[];
}

/** A function's (or a part of the program's) self time in a profile. */
export interface FunctionTime {
  name: string;
  /** `file:line`, the file relative to the repository root when it is under it. */
  location: string;
  samples: number;
  selfMs: number;
}

/** A profile's self times: by function, most first, and the sample counts. */
export interface SelfTimes {
  top: FunctionTime[];
  /** Every sample, idle ones included. */
  samples: number;
  /** Samples of `(idle)`: the process waiting for something to do. */
  idle: number;
}

/** The `.cpuprofile` files in `dir` (absolute), with their modification times. */
export async function profileFiles(dir: string): Promise<Map<string, number>> {
  const files = new Map<string, number>();
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isFile || !entry.name.endsWith(".cpuprofile")) continue;
      const info = await Deno.stat(`${dir}/${entry.name}`);
      files.set(entry.name, info.mtime?.getTime() ?? 0);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return files;
}

/** The newest file of `after` that is not in `before`, or `null`. */
export function newestNew(before: Map<string, number>, after: Map<string, number>): string | null {
  const fresh = [...after].filter(([name]) => !before.has(name)).sort((a, b) => b[1] - a[1]);
  return fresh.length === 0 ? null : fresh[0][0];
}

/** The state letter of process `pid` (`R`, `S`, `Z`, ...), or `null` when it is gone. */
async function processState(pid: number): Promise<string | null> {
  const { success, stdout } = await new Deno.Command("cat", {
    args: [`/proc/${pid}/stat`],
    stdin: "null",
    stderr: "null",
  }).output();
  if (!success) return null;
  const stat = new TextDecoder().decode(stdout);
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) || null;
}

/** Waits until process `pid` has exited (gone or a zombie); false after `ms`. */
export async function waitExit(pid: number, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    const state = await processState(pid);
    if (state === null || state === "Z") return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

/** Where a call frame is: `file:line`, relative to `root` (a path ending in `/`) when under it. */
function locationOf(frame: ProfileNode["callFrame"], root: string): string {
  if (frame.url === "") return "";
  const rootUrl = `file://${root}`;
  const file = frame.url.startsWith(rootUrl) ? frame.url.slice(rootUrl.length) : frame.url;
  return frame.lineNumber >= 0 ? `${file}:${frame.lineNumber + 1}` : file;
}

/** Self time by function (name and place), most first; `(idle)` counted apart. */
export function selfTimes(profile: CpuProfile, root: string): SelfTimes {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const counts = new Map<number, { samples: number; us: number }>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  if (samples.length > 0) {
    // A sample lasts until the next one (as Chrome's DevTools counts it); the last, 0.
    samples.forEach((id, i) => {
      const count = counts.get(id) ?? { samples: 0, us: 0 };
      count.samples++;
      count.us += Math.max(0, deltas[i + 1] ?? 0);
      counts.set(id, count);
    });
  } else {
    for (const node of profile.nodes) {
      if (node.hitCount) counts.set(node.id, { samples: node.hitCount, us: 0 });
    }
  }
  const byFunction = new Map<string, FunctionTime>();
  let idle = 0;
  let total = 0;
  for (const [id, count] of counts) {
    const frame = nodes.get(id)?.callFrame;
    if (frame === undefined) continue;
    total += count.samples;
    if (frame.functionName === "(idle)") {
      idle += count.samples;
      continue;
    }
    const name = frame.functionName === "" ? "(anonymous)" : frame.functionName;
    const location = locationOf(frame, root);
    const key = `${name}\0${frame.url}\0${frame.lineNumber}\0${frame.columnNumber}`;
    const entry = byFunction.get(key) ?? { name, location, samples: 0, selfMs: 0 };
    entry.samples += count.samples;
    entry.selfMs += count.us / 1000;
    byFunction.set(key, entry);
  }
  const top = [...byFunction.values()].sort((a, b) => b.samples - a.samples || b.selfMs - a.selfMs);
  return { top, samples: total, idle };
}

/**
 * The part of the program a function belongs to: Deno's ops (`op_*`, mostly
 * system calls), `(garbage collector)`, `(program)` (V8 and Deno outside
 * JavaScript), Deno's own JavaScript (`ext:`), or the top folder of a file
 * of the repository (`kernel/`, `modules/`, `servlets/`, `bench/`...).
 */
function partOf(f: FunctionTime): string {
  if (f.name.startsWith("op_")) return "Deno ops (system calls, encoding)";
  if (f.name === "(garbage collector)" || f.name === "(program)") return f.name;
  if (f.location.startsWith("ext:") || f.location.startsWith("node:")) return "Deno's JavaScript";
  const slash = f.location.indexOf("/");
  if (slash > 0 && !f.location.includes("://")) return `${f.location.slice(0, slash)}/`;
  return f.location === "" ? "(other)" : f.location.split(":")[0];
}

/** Self time summed by part of the program ({@linkcode partOf}), most first. */
export function byPart(times: SelfTimes): FunctionTime[] {
  const parts = new Map<string, FunctionTime>();
  for (const f of times.top) {
    const name = partOf(f);
    const part = parts.get(name) ?? { name, location: "", samples: 0, selfMs: 0 };
    part.samples += f.samples;
    part.selfMs += f.selfMs;
    parts.set(name, part);
  }
  return [...parts.values()].sort((a, b) => b.samples - a.samples);
}

/** A Markdown table of `rows` (functions or parts) with their share of the busy samples. */
export function profileTable(rows: FunctionTime[], busy: number, what: string): string[] {
  const cell = (text: string): string => text.replaceAll("|", "\\|");
  return [
    `| # | ${what} | self % | self ms | file:line |`,
    "| ---: | --- | ---: | ---: | --- |",
    ...rows.map((f, i) =>
      `| ${i + 1} | \`${cell(f.name)}\` | ${(100 * f.samples / Math.max(1, busy)).toFixed(1)} | ` +
      `${f.selfMs.toFixed(0)} | ${f.location === "" ? "" : `\`${cell(f.location)}\``} |`
    ),
  ];
}
