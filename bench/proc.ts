/**
 * Facts about the Linux machine: the CPU time of a process (and of the
 * processes it forked) and of all processors, its resident memory and open-files limit, kernel
 * settings under `/proc/sys`, TCP sockets in TIME_WAIT, the CPU model and
 * the processor count.
 *
 * Deno asks for `--allow-all` to read anything under `/proc`, which the bench
 * task does not grant, so the files are read by a `cat` child process
 * (`--allow-run`).
 * @module
 */

/** Clock ticks per second of `utime` and `stime` in `/proc/<pid>/stat` (USER_HZ on Linux). */
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * What `command` printed; `null` when it failed, unless `partial`, which keeps
 * what it printed before failing (`cat` of files of which some are gone).
 */
async function commandOutput(
  command: string,
  args: string[],
  partial = false,
): Promise<string | null> {
  try {
    const { success, stdout } = await new Deno.Command(command, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    return success || partial ? new TextDecoder().decode(stdout) : null;
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
  const ticks = statTicks(stat, false);
  return Number.isFinite(ticks) ? (ticks * 1000) / CLOCK_TICKS_PER_SECOND : null;
}

/**
 * Clock ticks of user plus system time in one line of `/proc/<pid>/stat`, and
 * with `reaped` those of the children it waited for (cutime and cstime).
 */
function statTicks(stat: string, reaped: boolean): number {
  // Fields after the command name, which is in parentheses and may hold spaces:
  // state is field 3, utime 14, stime 15, cutime 16 and cstime 17.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const own = Number(fields[14 - 3]) + Number(fields[15 - 3]);
  return reaped ? own + Number(fields[16 - 3]) + Number(fields[17 - 3]) : own;
}

/**
 * User plus system CPU time so far of process `pid` and of the processes it
 * forked, in milliseconds (10 ms steps): its own, that of its children still
 * running (those of its main thread, from `/proc/<pid>/task/<pid>/children`)
 * and that of the children it has reaped. `null` when it cannot be read. A
 * child that ends while this reads may be counted twice or not at all, and
 * grandchildren count only once reaped by a child that is itself reaped.
 */
export async function treeCpuTimeMs(pid: number): Promise<number | null> {
  const children = await readProcFile(`/proc/${pid}/task/${pid}/children`);
  if (children === null) return null;
  const paths = children.split(" ").filter((child) => /^\d+$/.test(child))
    .map((child) => `/proc/${child}/stat`);
  // The server's own line comes first; a child gone by now has no line.
  const stats = await commandOutput("cat", [`/proc/${pid}/stat`, ...paths], true);
  const lines = stats?.split("\n").filter((line) => line !== "") ?? [];
  if (lines.length === 0 || !lines[0].startsWith(`${pid} `)) return null;
  const ticks = lines.reduce((sum, line, i) => sum + statTicks(line, i === 0), 0);
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

/** The resident memory (`VmRSS` of `/proc/<pid>/status`) of process `pid` in KiB, or `null`. */
export async function residentKiB(pid: number): Promise<number | null> {
  const status = await readProcFile(`/proc/${pid}/status`);
  const kib = Number(/^VmRSS:\s*(\d+) kB$/m.exec(status ?? "")?.[1] ?? NaN);
  return Number.isFinite(kib) ? kib : null;
}

/** The soft limit of open files (`Max open files` of `/proc/<pid>/limits`) of `pid`, or `null`. */
export async function openFilesLimit(pid: number): Promise<number | null> {
  const limits = await readProcFile(`/proc/${pid}/limits`);
  const soft = /^Max open files\s+(\S+)/m.exec(limits ?? "")?.[1];
  return soft === undefined ? null : soft === "unlimited" ? Infinity : Number(soft);
}

/** A kernel setting such as `net.ipv4.tcp_tw_reuse` (from `/proc/sys`), trimmed, or `null`. */
export async function sysctl(name: string): Promise<string | null> {
  if (!/^[a-z0-9_.]+$/.test(name)) throw new Error(`not a sysctl name: ${name}`);
  const value = await readProcFile(`/proc/sys/${name.replaceAll(".", "/")}`);
  return value === null ? null : value.trim().replace(/\s+/g, " ");
}

/** TCP sockets in TIME_WAIT in this network namespace (`tw` of `/proc/net/sockstat`), or `null`. */
export async function timeWaitCount(): Promise<number | null> {
  const sockstat = await readProcFile("/proc/net/sockstat");
  const count = Number(/^TCP:.* tw (\d+)/m.exec(sockstat ?? "")?.[1] ?? NaN);
  return Number.isFinite(count) ? count : null;
}

/**
 * Busy CPU time of all processors so far in ms (10 ms steps): user, nice,
 * system, irq, softirq and steal of the first line of `/proc/stat`; `null` when
 * it cannot be read.
 */
export async function machineCpuMs(): Promise<number | null> {
  const stat = await readProcFile("/proc/stat");
  const fields = /^cpu +(.*)$/m.exec(stat ?? "")?.[1].split(/ +/).map(Number) ?? [];
  const [user, nice, system, _idle, _iowait, irq, softirq, steal] = fields;
  const ticks = user + nice + system + irq + softirq + steal;
  return Number.isFinite(ticks) ? (ticks * 1000) / CLOCK_TICKS_PER_SECOND : null;
}
