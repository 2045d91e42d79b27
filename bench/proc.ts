/**
 * Facts about the Linux machine: a process's CPU time, the CPU model and the
 * processor count.
 *
 * Deno asks for `--allow-all` to read anything under `/proc`, which the bench
 * task does not grant, so the files are read by a `cat` child process
 * (`--allow-run`).
 * @module
 */

/** Clock ticks per second of `utime` and `stime` in `/proc/<pid>/stat` (USER_HZ on Linux). */
const CLOCK_TICKS_PER_SECOND = 100;

async function commandOutput(command: string, args: string[]): Promise<string | null> {
  try {
    const { success, stdout } = await new Deno.Command(command, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    return success ? new TextDecoder().decode(stdout) : null;
  } catch {
    return null;
  }
}

function readProcFile(path: string): Promise<string | null> {
  return commandOutput("cat", [path]);
}

/**
 * User plus system CPU time of process `pid` so far, in milliseconds (10 ms
 * steps); `null` when it cannot be read (not Linux, or the process is gone).
 */
export async function cpuTimeMs(pid: number): Promise<number | null> {
  const stat = await readProcFile(`/proc/${pid}/stat`);
  if (stat === null) return null;
  // Fields after the command name, which is in parentheses and may hold spaces:
  // state is field 3, utime field 14 and stime field 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[14 - 3]) + Number(fields[15 - 3]);
  return Number.isFinite(ticks) ? (ticks * 1000) / CLOCK_TICKS_PER_SECOND : null;
}

/** The first `model name` of `/proc/cpuinfo`, or `unknown CPU`. */
export async function cpuModel(): Promise<string> {
  const info = await readProcFile("/proc/cpuinfo") ?? "";
  return /^model name\s*:\s*(.+)$/m.exec(info)?.[1].trim() ?? "unknown CPU";
}

/** What `nproc` prints (processors this process may use), else `navigator.hardwareConcurrency`. */
export async function processorCount(): Promise<number> {
  const count = Number(await commandOutput("nproc", []));
  return Number.isInteger(count) && count > 0 ? count : navigator.hardwareConcurrency;
}
