/**
 * The deployment configurations of `docs/deploying.md` (and any other
 * `systemd`, `xinetd`, `inetd` or `tcpserver` block of the README and
 * `docs/`), run for real. Only the install paths (`/opt/plumb` becomes the
 * repository, `/usr/local/bin/deno` this Deno) and the port (12000 becomes a
 * free one) are changed; then each configuration holds an ELIZA conversation
 * over TCP.
 *
 * - `systemd`: every directive name is checked against systemd's, the units go
 *   through `systemd-analyze verify` and `security`; a `.service` with a
 *   `.socket` of the same name runs under `tests/tools/activate.py` (systemd's
 *   fd 3, `LISTEN_FDS`, `LISTEN_PID`), one without runs as systemd would start
 *   it; `ExecReload=` is run as written and `KillSignal=` sent; under `strace`
 *   every system call and socket family is checked against the unit's
 *   `SystemCallFilter=` and `RestrictAddressFamilies=`.
 * - `xinetd`: a real `xinetd -dontfork` with the stanza.
 * - `inetd`: a "nowait" line as inetd starts it (socat `EXEC` with the
 *   connection on fds 0, 1 and 2, or tcpserver), a "wait" line under
 *   `activate.py inetd` (the listening socket on fd 0).
 * - `tcpserver`: the line under a real `tcpserver`.
 *
 * There is no systemd in the test machine, so `DynamicUser=` runs as the test's
 * user and `CacheDirectory=` is made under `tests/.tmp/deploying`. A super-server
 * line's `nobody` (and tcpserver's 65534) runs as `nobody` when that user can
 * run this Deno and read the repository, else as the test's user (Deno from
 * `npx` lives under `/root`). A missing tool makes its tests ignored, never
 * passed.
 * @module
 */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { Client, path } from "./helpers.ts";
import { allBlocks, type CodeBlock, codeBlocks, where } from "./docs/markdown.ts";

const DOC = "docs/deploying.md";
const KINDS = ["systemd", "xinetd", "inetd", "tcpserver"];
const ROOT_DIR = path(".").replace(/\/$/, "");
const TMP = path("tests/.tmp/deploying");
const ACTIVATE = path("tests/tools/activate.py");
const GREETING = "How do you do. Please tell me your problem.\n";
const GOODBYE = "Goodbye. It was nice talking to you.\n";
const PORT = 12000;
const HOST = "127.0.0.1";

// ---------------------------------------------------------------------------
// The machine: tools, users, ports.

async function run(cmd: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  try {
    const out = await new Deno.Command(cmd, { args, stdin: "null" }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    return { ok: out.success, out: text };
  } catch {
    return { ok: false, out: "" };
  }
}

async function has(command: string): Promise<boolean> {
  return (await run("sh", ["-c", `command -v ${command}`])).ok;
}

const TOOLS = {
  python3: await has("python3"),
  xinetd: await has("xinetd"),
  socat: await has("socat"),
  tcpserver: await has("tcpserver"),
  systemdAnalyze: await has("systemd-analyze"),
  strace: await has("strace"),
};

/** Who runs a super-server line's `nobody`: nobody if it can run this Deno and read plumb. */
const RUN_AS = await (async (): Promise<{ user: string; uid: string; gid: string }> => {
  const nobody = await run("setpriv", [
    "--reuid=nobody",
    "--regid=nogroup",
    "--clear-groups",
    "sh",
    "-c",
    'test -x "$1" && test -r "$2" && test -r "$3"',
    "sh",
    Deno.execPath(),
    path("main.ts"),
    path("examples/eliza.json"),
  ]);
  if (nobody.ok) return { user: "nobody", uid: "65534", gid: "65534" };
  const [user, uid, gid] = await Promise.all(
    [["-un"], ["-u"], ["-g"]].map(async (a) => (await run("id", a)).out.trim()),
  );
  return { user, uid, gid };
})();

/** A port free on 127.0.0.1 now. */
function freePort(): number {
  const listener = Deno.listen({ hostname: HOST, port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** The install paths of the page made this repository's and this Deno; 12000 made `port`. */
function localize(text: string, port?: number): string {
  const local = text.replaceAll("/usr/local/bin/deno", Deno.execPath())
    .replaceAll("/opt/plumb", ROOT_DIR);
  return port === undefined ? local : local.replace(/\b12000\b/g, String(port));
}

/** Only PATH, as a service manager starts a service, plus `env`. */
function serviceEnv(env: Record<string, string> = {}): Record<string, string> {
  return { PATH: Deno.env.get("PATH") ?? "/usr/local/bin:/usr/bin:/bin", ...env };
}

async function fresh(dir: string): Promise<string> {
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await Deno.mkdir(dir, { recursive: true });
  return dir;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A file of `/proc`, read by `cat` (Deno reads `/proc/PID/` only with `--allow-all`); "" if gone. */
async function readProc(file: string): Promise<string> {
  const { ok, out } = await run("cat", [file]);
  return ok ? out : "";
}

/** The child processes of `pid`. */
async function childrenOf(pid: number): Promise<number[]> {
  const text = (await readProc(`/proc/${pid}/task/${pid}/children`)).trim();
  return text === "" ? [] : text.split(/\s+/).map(Number);
}

/** `pid`'s children, their children, and so on. */
async function descendantsOf(pid: number): Promise<number[]> {
  const children = await childrenOf(pid);
  return [...children, ...(await Promise.all(children.map(descendantsOf))).flat()];
}

/** Waits until `pid` has a child (the process a wrapper started) and returns it. */
async function childOf(pid: number): Promise<number> {
  for (let waited = 0; waited < 5000; waited += 10) {
    const [child] = await childrenOf(pid);
    if (child !== undefined) return child;
    await sleep(10);
  }
  throw new Error(`process ${pid} started no child`);
}

/** True while `pid` runs (a zombie has ended). */
async function alive(pid: number): Promise<boolean> {
  const stat = await readProc(`/proc/${pid}/stat`);
  return stat !== "" && !/^\d+ \(.*\) Z/.test(stat);
}

/** Sends SIGTERM to a process that is not ours (a super-server's child) and waits for its end. */
async function endProcess(pid: number): Promise<void> {
  if (!(await alive(pid))) return;
  try {
    Deno.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  for (let waited = 0; waited < 5000; waited += 10) {
    if (!(await alive(pid))) return;
    await sleep(10);
  }
  Deno.kill(pid, "SIGKILL");
}

// ---------------------------------------------------------------------------
// Processes and clients.

/** A process with its output gathered as it comes. */
class Proc implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  stdout = "";
  stderr = "";
  exited = false;
  readonly #drained: Promise<void>;

  constructor(
    command: string,
    args: string[],
    options: { env?: Record<string, string>; cwd?: string } = {},
  ) {
    this.child = new Deno.Command(command, {
      args,
      cwd: options.cwd ?? "/",
      env: serviceEnv(options.env),
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.child.status.then(() => this.exited = true);
    const pump = async (
      stream: ReadableStream<Uint8Array>,
      add: (t: string) => void,
    ): Promise<void> => {
      for await (const text of stream.pipeThrough(new TextDecoderStream())) add(text);
    };
    this.#drained = Promise.all([
      pump(this.child.stdout, (t) => this.stdout += t),
      pump(this.child.stderr, (t) => this.stderr += t),
    ]).then(() => {});
  }

  get pid(): number {
    return this.child.pid;
  }

  /** Waits until standard output or error matches `pattern`, and returns the match. */
  async waitFor(
    stream: "stdout" | "stderr",
    pattern: RegExp,
    timeoutMs = 5000,
  ): Promise<RegExpMatchArray> {
    for (let waited = 0;; waited += 10) {
      const match = this[stream].match(pattern);
      if (match) return match;
      if (waited > timeoutMs || (this.exited && waited > 100)) {
        throw new Error(
          `no ${pattern} on ${stream} of ${this.describe()}:\n` +
            `stdout: ${this.stdout}\nstderr: ${this.stderr}`,
        );
      }
      await sleep(10);
    }
  }

  describe(): string {
    return `process ${this.pid}${this.exited ? " (exited)" : ""}`;
  }

  /**
   * Sends `signal` (unless it ended), and returns its exit status once it and
   * its output end; with `drain` false, without waiting for the output (which
   * the children it leaves running, as tcpserver does, still hold).
   */
  async stop(signal?: Deno.Signal, drain = true): Promise<number> {
    if (signal !== undefined && !this.exited) this.child.kill(signal);
    const status = await this.child.status;
    if (drain) await this.#drained;
    return status.code;
  }

  /** Kills what still runs, with whatever it started (which would hold its output open). */
  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.exited) {
      for (const pid of await descendantsOf(this.pid)) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch {
          // Gone already.
        }
      }
      if (!this.exited) this.child.kill("SIGKILL");
    }
    await this.stop();
  }
}

/** Connects to `port`, trying again while nothing listens yet. */
async function connect(port: number, timeoutMs = 5000): Promise<Client> {
  for (let waited = 0;; waited += 20) {
    try {
      return await Client.connect(port);
    } catch (error) {
      if (!(error instanceof Deno.errors.ConnectionRefused) || waited > timeoutMs) throw error;
      await sleep(20);
    }
  }
}

/** A whole ELIZA conversation: the greeting, a reply, and the goodbye with the close. */
async function converse(port: number): Promise<void> {
  await using c = await connect(port);
  assertEquals(await c.readLine(), GREETING);
  await c.send("I am sad\r\n");
  assertEquals(await c.readLine(), "I am sorry to hear that you are sad.\n");
  await c.send("bye\r\n");
  assertEquals(await c.readToEnd(), GOODBYE, "the goodbye, then the server closes");
}

/** Two clients at once, each with its own conversation: b never hears a's cat. */
async function twoConversations(port: number, between?: () => Promise<void>): Promise<void> {
  await using a = await connect(port);
  await using b = await connect(port);
  assertEquals(await a.readLine(), GREETING);
  assertEquals(await b.readLine(), GREETING);
  await a.send("My cat is lost\r\n");
  assertEquals(await a.readLine(), "Your cat is lost?\n");
  await b.send("hmm\r\n");
  assertEquals(await b.readLine(), "I'm not sure I understand you fully.\n");
  await between?.();
  await b.send("I am sad\r\n");
  assertEquals(await b.readLine(), "I am sorry to hear that you are sad.\n");
  await a.send("bye\r\n");
  assertEquals(await a.readToEnd(), GOODBYE);
  await b.send("quit\r\n");
  assertEquals(await b.readToEnd(), GOODBYE);
}

// ---------------------------------------------------------------------------
// The blocks.

const BLOCKS = KINDS.flatMap((kind) => allBlocks(kind));
const blocksOf = (kind: string): CodeBlock[] => BLOCKS.filter((b) => b.kind === kind);

/** A block's lines with shell and unit-file continuations (`\` at the end) joined. */
function joinedLines(body: string): { text: string; line: number }[] {
  const lines = body.split("\n");
  const out: { text: string; line: number }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let text = lines[i];
    while (text.endsWith("\\") && i + 1 < lines.length) text = `${text.slice(0, -1)} ${lines[++i]}`;
    out.push({ text, line: start });
  }
  return out;
}

/** The flags given to `deno run` before the script, and the rest. */
function denoRun(argv: string[]): { flags: string[]; script: string; args: string[] } {
  const deno = argv.findIndex((a) => a.endsWith("/deno"));
  assert(deno >= 0 && argv[deno + 1] === "run", `not a deno run command: ${argv.join(" ")}`);
  const script = argv.findIndex((a, i) => i > deno + 1 && !a.startsWith("-"));
  return {
    flags: argv.slice(deno + 2, script),
    script: argv[script],
    args: argv.slice(script + 1),
  };
}

/**
 * Each way's narrowest permissions (`docs/command-line.md`, "Permissions"): the graph file to
 * read, plus the port for a host that listens itself, `LISTEN_FDS` and
 * `LISTEN_PID` for systemd's socket, and plumb's directory and the deno
 * executable to run for `--workers`. Nothing broader.
 */
function checkPermissions(argv: string[], way: "systemd socket" | "listens" | "inherits"): void {
  const { flags, script, args } = denoRun(argv);
  assertEquals(script, "/opt/plumb/main.ts");
  const graph = args[0];
  assertEquals(graph, "/opt/plumb/examples/eliza.json");
  const port = args.includes("--port") ? args[args.indexOf("--port") + 1] : String(PORT);
  const expected = way === "systemd socket"
    ? [`--allow-read=${graph}`, "--allow-env=LISTEN_FDS,LISTEN_PID"]
    : way === "inherits"
    ? [`--allow-read=${graph}`]
    : args.includes("--workers")
    ? [`--allow-net=${HOST}:${port}`, "--allow-read=/opt/plumb", "--allow-run=/usr/local/bin/deno"]
    : [`--allow-net=${HOST}:${port}`, `--allow-read=${graph}`];
  assertEquals(flags, expected, `the narrowest flags for ${argv.join(" ")}`);
}

// --- systemd units ---------------------------------------------------------

interface Directive {
  section: string;
  key: string;
  value: string;
  /** 0-based line in the block. */
  line: number;
}

/** A unit file's directives, in order (comments and blank lines left out). */
function parseUnit(body: string): Directive[] {
  const directives: Directive[] = [];
  let section = "";
  for (const { text, line } of joinedLines(body)) {
    const trimmed = text.trim();
    if (trimmed === "" || /^[#;]/.test(trimmed)) continue;
    const header = /^\[([A-Za-z]+)\]$/.exec(trimmed);
    if (header) {
      section = header[1];
      continue;
    }
    const pair = /^([A-Za-z0-9]+)=(.*)$/.exec(trimmed);
    if (!pair) throw new Error(`line ${line + 1} is no directive: ${text}`);
    if (section === "") throw new Error(`line ${line + 1}: ${pair[1]} before any [Section]`);
    directives.push({ section, key: pair[1], value: pair[2].trim(), line });
  }
  return directives;
}

const EXEC_OPTIONS = [
  "ExecSearchPath WorkingDirectory RootDirectory RootImage RootImageOptions RootEphemeral",
  "RootHash RootHashSignature RootVerity RootImagePolicy MountImagePolicy ExtensionImagePolicy",
  "MountAPIVFS ProtectProc ProcSubset BindPaths BindReadOnlyPaths MountImages ExtensionImages",
  "ExtensionDirectories User Group DynamicUser SupplementaryGroups SetLoginEnvironment PAMName",
  "CapabilityBoundingSet AmbientCapabilities NoNewPrivileges SecureBits SELinuxContext",
  "AppArmorProfile SmackProcessLabel LimitCPU LimitFSIZE LimitDATA LimitSTACK LimitCORE LimitRSS",
  "LimitNOFILE LimitAS LimitNPROC LimitMEMLOCK LimitLOCKS LimitSIGPENDING LimitMSGQUEUE LimitNICE",
  "LimitRTPRIO LimitRTTIME UMask CoredumpFilter KeyringMode OOMScoreAdjust TimerSlackNSec",
  "Personality IgnoreSIGPIPE Nice CPUSchedulingPolicy CPUSchedulingPriority",
  "CPUSchedulingResetOnFork CPUAffinity NUMAPolicy NUMAMask IOSchedulingClass",
  "IOSchedulingPriority ProtectSystem ProtectHome RuntimeDirectory StateDirectory CacheDirectory",
  "LogsDirectory ConfigurationDirectory RuntimeDirectoryMode StateDirectoryMode",
  "CacheDirectoryMode LogsDirectoryMode ConfigurationDirectoryMode RuntimeDirectoryPreserve",
  "TimeoutCleanSec ReadWritePaths ReadOnlyPaths InaccessiblePaths ExecPaths NoExecPaths",
  "TemporaryFileSystem PrivateTmp PrivateDevices PrivateNetwork NetworkNamespacePath PrivateIPC",
  "IPCNamespacePath MemoryKSM PrivateUsers ProtectHostname ProtectClock ProtectKernelTunables",
  "ProtectKernelModules ProtectKernelLogs ProtectControlGroups RestrictAddressFamilies",
  "RestrictFileSystems RestrictNamespaces LockPersonality MemoryDenyWriteExecute RestrictRealtime",
  "RestrictSUIDSGID RemoveIPC PrivateMounts MountFlags SystemCallFilter SystemCallErrorNumber",
  "SystemCallArchitectures SystemCallLog Environment EnvironmentFile PassEnvironment",
  "UnsetEnvironment StandardInput StandardOutput StandardError StandardInputText",
  "StandardInputData LogLevelMax LogExtraFields LogRateLimitIntervalSec LogRateLimitBurst",
  "LogFilterPatterns LogNamespace SyslogIdentifier SyslogFacility SyslogLevel SyslogLevelPrefix",
  "TTYPath TTYReset TTYVHangup TTYRows TTYColumns TTYVTDisallocate LoadCredential",
  "LoadCredentialEncrypted ImportCredential SetCredential SetCredentialEncrypted UtmpIdentifier",
  "UtmpMode",
  // systemd.kill
  "KillMode KillSignal RestartKillSignal SendSIGHUP SendSIGKILL FinalKillSignal WatchdogSignal",
  // systemd.resource-control
  "CPUAccounting CPUWeight StartupCPUWeight CPUQuota CPUQuotaPeriodSec AllowedCPUs",
  "StartupAllowedCPUs AllowedMemoryNodes StartupAllowedMemoryNodes MemoryAccounting MemoryMin",
  "MemoryLow MemoryHigh MemoryMax MemorySwapMax MemoryZSwapMax TasksAccounting TasksMax",
  "IOAccounting IOWeight StartupIOWeight IODeviceWeight IOReadBandwidthMax IOWriteBandwidthMax",
  "IOReadIOPSMax IOWriteIOPSMax IODeviceLatencyTargetSec IPAccounting IPAddressAllow",
  "IPAddressDeny IPIngressFilterPath IPEgressFilterPath BPFProgram SocketBindAllow",
  "SocketBindDeny RestrictNetworkInterfaces DeviceAllow DevicePolicy Slice Delegate",
  "DisableControllers ManagedOOMSwap ManagedOOMMemoryPressure ManagedOOMMemoryPressureLimit",
  "ManagedOOMPreference MemoryPressureWatch MemoryPressureThresholdSec",
].join(" ");

const CONDITIONS = [
  "Architecture Firmware Virtualization Host KernelCommandLine KernelVersion Credential",
  "Environment Security Capability ACPower NeedsUpdate FirstBoot PathExists PathExistsGlob",
  "PathIsDirectory PathIsSymbolicLink PathIsMountPoint PathIsReadWrite PathIsEncrypted",
  "DirectoryNotEmpty FileNotEmpty FileIsExecutable User Group ControlGroupController Memory",
  "CPUs CPUFeature OSRelease MemoryPressure CPUPressure IOPressure",
].join(" ").split(" ");

/** The directives systemd knows, by section (systemd.unit, .service, .socket, .exec, .kill, .resource-control). */
const SYSTEMD_DIRECTIVES: Record<string, Set<string>> = {
  Unit: new Set([
    ..."Description Documentation Wants Requires Requisite BindsTo PartOf Upholds Conflicts Before"
      .split(" "),
    ..."After OnFailure OnSuccess PropagatesReloadTo ReloadPropagatedFrom PropagatesStopTo"
      .split(" "),
    ..."StopPropagatedFrom JoinsNamespaceOf RequiresMountsFor OnFailureJobMode IgnoreOnIsolate"
      .split(" "),
    ..."StopWhenUnneeded RefuseManualStart RefuseManualStop AllowIsolate DefaultDependencies"
      .split(" "),
    ..."CollectMode FailureAction SuccessAction FailureActionExitStatus SuccessActionExitStatus"
      .split(" "),
    ..."JobTimeoutSec JobRunningTimeoutSec JobTimeoutAction JobTimeoutRebootArgument"
      .split(" "),
    ..."StartLimitIntervalSec StartLimitBurst StartLimitAction RebootArgument SourcePath"
      .split(" "),
    ...CONDITIONS.flatMap((c) => [`Condition${c}`, `Assert${c}`]),
  ]),
  Install: new Set("Alias WantedBy RequiredBy UpheldBy Also DefaultInstance".split(" ")),
  Service: new Set([
    ..."Type ExitType RemainAfterExit GuessMainPID PIDFile BusName ExecStart ExecStartPre"
      .split(" "),
    ..."ExecStartPost ExecCondition ExecReload ExecStop ExecStopPost RestartSec RestartSteps"
      .split(" "),
    ..."RestartMaxDelaySec TimeoutStartSec TimeoutStopSec TimeoutAbortSec TimeoutSec"
      .split(" "),
    ..."TimeoutStartFailureMode TimeoutStopFailureMode RuntimeMaxSec RuntimeRandomizedExtraSec"
      .split(" "),
    ..."WatchdogSec Restart RestartMode SuccessExitStatus RestartPreventExitStatus"
      .split(" "),
    ..."RestartForceExitStatus RootDirectoryStartOnly NonBlocking NotifyAccess Sockets"
      .split(" "),
    ..."FileDescriptorStoreMax FileDescriptorStorePreserve USBFunctionDescriptors"
      .split(" "),
    ..."USBFunctionStrings OOMPolicy OpenFile ReloadSignal".split(" "),
    ...EXEC_OPTIONS.split(" "),
  ]),
  Socket: new Set([
    ..."ListenStream ListenDatagram ListenSequentialPacket ListenFIFO ListenSpecial ListenNetlink"
      .split(" "),
    ..."ListenMessageQueue ListenUSBFunction SocketProtocol BindIPv6Only Backlog BindToDevice"
      .split(" "),
    ..."SocketUser SocketGroup SocketMode DirectoryMode Accept Writable FlushPending"
      .split(" "),
    ..."MaxConnections MaxConnectionsPerSource KeepAlive KeepAliveTimeSec KeepAliveIntervalSec"
      .split(" "),
    ..."KeepAliveProbes NoDelay Priority DeferAcceptSec ReceiveBuffer SendBuffer IPTOS IPTTL"
      .split(" "),
    ..."Mark ReusePort SmackLabel SmackLabelIPIn SmackLabelIPOut SELinuxContextFromNet PipeSize"
      .split(" "),
    ..."MessageQueueMaxMessages MessageQueueMessageSize FreeBind Transparent Broadcast"
      .split(" "),
    ..."PassCredentials PassSecurity PassPacketInfo Timestamping TCPCongestion ExecStartPre"
      .split(" "),
    ..."ExecStartPost ExecStopPre ExecStopPost TimeoutSec Service RemoveOnStop Symlinks"
      .split(" "),
    ..."FileDescriptorName TriggerLimitIntervalSec TriggerLimitBurst PollLimitIntervalSec"
      .split(" "),
    "PollLimitBurst",
    ...EXEC_OPTIONS.split(" "),
  ]),
};

interface Unit {
  /** `eliza.service`, or `eliza.service.d/workers.conf` for a drop-in. */
  name: string;
  block: CodeBlock;
  directives: Directive[];
}

const UNITS: Unit[] = blocksOf("systemd").map((block) => ({
  name: block.args,
  block,
  directives: parseUnit(block.body),
}));

/** The unit, with the drop-ins of its file applied (an empty value resets a list, as `ExecStart=`). */
function merged(unit: Unit, dropIns: Unit[]): Directive[] {
  let directives = [...unit.directives];
  for (const dropIn of dropIns) {
    for (const d of dropIn.directives) {
      if (d.value === "") {
        directives = directives.filter((x) => !(x.section === d.section && x.key === d.key));
      } else directives.push(d);
    }
  }
  return directives;
}

function values(directives: Directive[], key: string): string[] {
  return directives.filter((d) => d.key === key).map((d) => d.value);
}

function value(directives: Directive[], key: string): string | undefined {
  return values(directives, key).at(-1);
}

/** systemd's word splitting of a command line or `Environment=`: quotes, then `$VAR` and `${VAR}`. */
function systemdWords(text: string, env: Record<string, string> = {}): string[] {
  const words: string[] = [];
  for (const m of text.matchAll(/"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g)) {
    if (m[2] !== undefined) {
      words.push(m[2]);
      continue;
    }
    const raw = m[1] ?? m[3];
    const whole = /^\$(\w+)$/.exec(raw);
    if (m[3] !== undefined && whole) { // $VAR alone: split into words
      words.push(...(env[whole[1]] ?? "").split(/\s+/).filter((w) => w !== ""));
      continue;
    }
    words.push(
      raw.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a, b) => env[a ?? b] ?? "").replace(/\\(.)/g, "$1"),
    );
  }
  return words;
}

/** A command of `ExecStart=` and the like, with systemd's prefixes (`-`, `+`, `!`, `:`) taken off. */
function commandOf(line: string, env: Record<string, string> = {}): string[] {
  const words = systemdWords(line, env);
  assert(!words[0].startsWith("@"), "an @ prefix (argv[0]) is not run by this test");
  words[0] = words[0].replace(/^[-+!:]+/, "");
  assert(words[0].startsWith("/"), `an absolute program path: ${line}`);
  return words;
}

function environmentOf(directives: Directive[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const v of values(directives, "Environment")) {
    for (const word of systemdWords(v)) {
      const eq = word.indexOf("=");
      assert(eq > 0, `Environment=: ${word} is not NAME=VALUE`);
      env[word.slice(0, eq)] = word.slice(eq + 1);
    }
  }
  return env;
}

/**
 * What systemd would give the service, emulated: its `Environment=` (paths
 * localized), with `CacheDirectory=` (and State, Runtime, Logs) made under
 * `dir` and pointed to instead of `/var/cache/NAME`.
 */
async function serviceSetup(
  directives: Directive[],
  dir: string,
): Promise<{ env: Record<string, string>; caches: string[] }> {
  const roots: Record<string, string> = {
    CacheDirectory: "/var/cache",
    StateDirectory: "/var/lib",
    RuntimeDirectory: "/run",
    LogsDirectory: "/var/log",
  };
  const env = environmentOf(directives);
  const caches: string[] = [];
  for (const [key, root] of Object.entries(roots)) {
    for (const name of values(directives, key).flatMap((v) => v.split(/\s+/))) {
      const real = await fresh(`${dir}${root}/${name}`);
      if (key === "CacheDirectory") caches.push(real);
      for (const k of Object.keys(env)) {
        env[k] = env[k].replace(new RegExp(`^${root}/${name}(?=/|$)`), real);
      }
    }
  }
  for (const k of Object.keys(env)) env[k] = localize(env[k]);
  return { env, caches };
}

/** The services of a file: each `.service` with its drop-ins, and its `.socket` if there is one. */
function services(): { file: string; service: Unit; socket?: Unit; dropIns: Unit[] }[] {
  return UNITS.filter((u) => u.name.endsWith(".service")).map((service) => {
    const sameFile = UNITS.filter((u) => u.block.file === service.block.file);
    const stem = service.name.replace(/\.service$/, "");
    return {
      file: service.block.file,
      service,
      socket: sameFile.find((u) => u.name === `${stem}.socket`),
      dropIns: sameFile.filter((u) => u.name.startsWith(`${service.name}.d/`)),
    };
  });
}

/** Every way the services of the page run: each service alone, and with each drop-in. */
function serviceVariants(): {
  label: string;
  directives: Directive[];
  socket?: Unit;
  service: Unit;
}[] {
  return services().flatMap(({ service, socket, dropIns }) => [
    { label: service.name, directives: service.directives, socket, service },
    ...dropIns.map((d) => ({
      label: `${service.name} with ${d.name}`,
      directives: merged(service, [d]),
      socket,
      service,
    })),
  ]);
}

// --- super-server lines -----------------------------------------------------

interface SuperServerLine {
  block: CodeBlock;
  line: number;
  /** `127.0.0.1:12000`. */
  address: string;
  wait: boolean;
  user: string;
  /** Environment variables set before Deno (by `/usr/bin/env`). */
  env: Record<string, string>;
  /** The program and its arguments as started (argv[0] the program's path). */
  command: string[];
  /** The Deno command, after any `env VAR=...`. */
  deno: string[];
}

/** `/usr/bin/env env A=1 /usr/local/bin/deno ...` as the variables and the Deno command. */
function splitEnv(argv: string[]): { env: Record<string, string>; deno: string[] } {
  const env: Record<string, string> = {};
  let i = 0;
  if (argv[0].endsWith("/env") || argv[0] === "env") i = 1;
  while (i < argv.length && /^\w+=/.test(argv[i])) {
    const [name, ...rest] = argv[i++].split("=");
    env[name] = rest.join("=");
  }
  return { env, deno: argv.slice(i) };
}

/** The lines of an `/etc/inetd.conf` block: service, socket type, protocol, wait, user, program, argv. */
function inetdLines(block: CodeBlock): SuperServerLine[] {
  return joinedLines(block.body).filter(({ text }) => text.trim() !== "" && !/^\s*#/.test(text))
    .map(({ text, line }) => {
      const [service, type, protocol, wait, user, program, ...argv] = text.trim().split(/\s+/);
      assertEquals([type, protocol], ["stream", "tcp"], `${where(block)} +${line}: ${text}`);
      assertMatch(wait, /^(no)?wait(\.\d+)?$/);
      const command = [program, ...argv.slice(1)];
      return {
        block,
        line,
        address: service,
        wait: wait.startsWith("wait"),
        user: user.split(/[.:]/)[0],
        command,
        ...splitEnv(command),
      };
    });
}

const XINETD_ATTRIBUTES = new Set(
  [
    "id type flags socket_type protocol wait user group instances nice server server_args",
    "only_from no_access access_times log_type log_on_success log_on_failure rpc_version",
    "rpc_number env passenv port redirect bind interface banner banner_success banner_fail",
    "per_source cps max_load groups mdns umask enabled disable include includedir rlimit_as",
    "rlimit_cpu rlimit_data rlimit_rss rlimit_stack rlimit_files deny_time v6only libwrap",
  ].join(" ").split(" "),
);

interface Stanza {
  block: CodeBlock;
  name: string;
  attributes: Map<string, string>;
}

/** An xinetd `service NAME { attribute = value }` stanza; each attribute known to xinetd. */
function parseStanza(block: CodeBlock): Stanza {
  const match = /^\s*service\s+(\S+)\s*\n\s*\{\s*\n([\s\S]*?)\n\s*\}\s*$/.exec(block.body);
  assert(match, `${where(block)}: one "service NAME { ... }" stanza`);
  const attributes = new Map<string, string>();
  for (const line of match[2].split("\n")) {
    if (line.trim() === "" || line.trim().startsWith("#")) continue;
    const pair = /^\s*(\w+)\s*=\s*(.*?)\s*$/.exec(line);
    assert(pair, `${where(block)}: not "attribute = value": ${line}`);
    assert(XINETD_ATTRIBUTES.has(pair[1]), `${where(block)}: xinetd has no attribute ${pair[1]}`);
    assert(!attributes.has(pair[1]), `${where(block)}: ${pair[1]} twice`);
    attributes.set(pair[1], pair[2]);
  }
  return { block, name: match[1], attributes };
}

const STANZAS = blocksOf("xinetd").map(parseStanza);
const INETD_LINES = blocksOf("inetd").flatMap(inetdLines);

/** A stanza as a super-server line, to compare with the inetd.conf lines. */
function stanzaLine(s: Stanza): Omit<SuperServerLine, "block" | "line"> {
  const a = (k: string): string => s.attributes.get(k) ?? "";
  const env = Object.fromEntries(
    a("env").split(/\s+/).filter((w) => w !== "").map((w) => [
      w.slice(0, w.indexOf("=")),
      w.slice(w.indexOf("=") + 1),
    ]),
  );
  const deno = [a("server"), ...a("server_args").split(/\s+/)];
  return {
    address: `${a("bind")}:${a("port")}`,
    wait: a("wait") === "yes",
    user: a("user"),
    env,
    command: deno,
    deno,
  };
}

interface TcpserverLine {
  block: CodeBlock;
  env: Record<string, string>;
  options: string[];
  host: string;
  port: string;
  deno: string[];
}

/** `A=1 tcpserver [options] HOST PORT PROGRAM ARGS...`. */
function parseTcpserver(block: CodeBlock): TcpserverLine[] {
  const withArgument = new Set("cCxBgubltT".split(""));
  return joinedLines(block.body).filter(({ text }) => text.trim() !== "" && !/^\s*#/.test(text))
    .map(({ text }) => {
      const words = text.trim().split(/\s+/);
      const { env, deno: rest } = splitEnv(words);
      assertEquals(rest[0], "tcpserver", `${where(block)}: ${text}`);
      let i = 1;
      const options: string[] = [];
      while (rest[i].startsWith("-")) {
        options.push(rest[i]);
        if (withArgument.has(rest[i].slice(-1))) options.push(rest[++i]);
        i++;
      }
      return { block, env, options, host: rest[i], port: rest[i + 1], deno: rest.slice(i + 2) };
    });
}

const TCPSERVER_LINES = blocksOf("tcpserver").flatMap(parseTcpserver);

/** The user a super-server line names, as this machine can run it (see the module doc). */
function localUser(user: string): string {
  return user === "nobody" ? RUN_AS.user : user;
}

/** A command prefixed to run as `user` (nothing when that is the test's own user). */
function asUser(user: string, command: string[]): string[] {
  const local = localUser(user);
  if (local !== "nobody") return command;
  return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", ...command];
}

// ---------------------------------------------------------------------------
// The page itself.

Deno.test(`${DOC}: every block is one of this test's kinds, and each kind is there`, () => {
  const blocks = codeBlocks(DOC);
  for (const kind of KINDS) {
    assert(blocks.some((b) => b.kind === kind), `${DOC} has a ${kind} block`);
  }
  // Besides log lines, the HAProxy section's blocks, which tests/haproxy_test.ts runs.
  const others = ["log", "haproxy"];
  for (const b of blocks) {
    assert(
      b.kind !== undefined && [...KINDS, ...others].includes(b.kind),
      `${where(b)}: a block of kind ${b.kind}; this page has only ${KINDS.join(", ")}, ` +
        `${others.join(" and ")}`,
    );
  }
  assertEquals(
    BLOCKS.filter((b) => b.file === DOC).length,
    blocks.filter((b) => !others.includes(b.kind!)).length,
  );
});

Deno.test(`${DOC}: every way serves 127.0.0.1:12000 with the narrowest permissions`, () => {
  const address = `${HOST}:${PORT}`;
  const onPage = (b: CodeBlock): boolean => b.file === DOC;
  for (const { label, directives, socket, service } of serviceVariants()) {
    if (!onPage(service.block)) continue;
    const argv = commandOf(value(directives, "ExecStart")!);
    if (socket) {
      assertEquals(values(socket.directives, "ListenStream"), [address], label);
      checkPermissions(argv, "systemd socket");
    } else {
      const { args } = denoRun(argv);
      assertEquals(args[args.indexOf("--port") + 1], String(PORT), `${label}: --port`);
      checkPermissions(argv, "listens");
    }
  }
  for (const s of STANZAS.filter((s) => onPage(s.block))) {
    const line = stanzaLine(s);
    assertEquals(line.address, address, where(s.block));
    checkPermissions(line.deno, "inherits");
  }
  for (const l of INETD_LINES.filter((l) => onPage(l.block))) {
    assertEquals(l.address, address, `${where(l.block)} +${l.line}`);
    checkPermissions(l.deno, "inherits");
  }
  for (const t of TCPSERVER_LINES.filter((t) => onPage(t.block))) {
    assertEquals(`${t.host}:${t.port}`, address, where(t.block));
    checkPermissions(t.deno, "inherits");
  }
});

Deno.test(`${DOC}: the permissions table lists the flags of the configurations, no more`, () => {
  const text = Deno.readTextFileSync(path(DOC));
  const section = text.slice(text.indexOf("## Permissions, way by way"));
  const rows = [...section.matchAll(/^\| [^|\n]+\| `([^`]+)`/gm)].map((m) => m[1]);
  assert(rows.length > 0, "the table's rows");
  const used = new Set([
    ...serviceVariants().filter((v) => v.service.block.file === DOC)
      .map((v) => denoRun(commandOf(value(v.directives, "ExecStart")!)).flags.join(" ")),
    ...STANZAS.filter((s) => s.block.file === DOC).map((s) => stanzaLine(s).deno),
    ...INETD_LINES.filter((l) => l.block.file === DOC).map((l) => l.deno),
    ...TCPSERVER_LINES.filter((t) => t.block.file === DOC).map((t) => t.deno),
  ].map((flags) => typeof flags === "string" ? flags : denoRun(flags).flags.join(" ")));
  assertEquals(new Set(rows), used);
});

Deno.test(`${DOC}: the xinetd stanzas and tcpserver start what the inetd.conf lines start`, () => {
  for (const s of STANZAS) {
    const stanza = stanzaLine(s);
    const inetd = INETD_LINES.find((l) => l.wait === stanza.wait && l.block.file === s.block.file);
    assert(inetd, `${where(s.block)}: an inetd.conf line for wait = ${stanza.wait}`);
    assertEquals(
      { address: inetd.address, user: inetd.user, env: inetd.env, deno: inetd.deno },
      { address: stanza.address, user: stanza.user, env: stanza.env, deno: stanza.deno },
      `${where(s.block)} against ${where(inetd.block)}`,
    );
    const { args } = denoRun(stanza.deno);
    assert(args.includes(stanza.wait ? "--listen-fd" : "--stdio"), where(s.block));
  }
  for (const t of TCPSERVER_LINES) {
    const nowait = INETD_LINES.find((l) => !l.wait && l.block.file === t.block.file);
    if (!nowait) continue;
    assertEquals({ env: t.env, deno: t.deno }, { env: nowait.env, deno: nowait.deno });
  }
});

// ---------------------------------------------------------------------------
// systemd.

Deno.test("systemd blocks: every directive is one systemd has, in its section", () => {
  assert(UNITS.length > 0);
  for (const unit of UNITS) {
    const sections = new Set(unit.directives.map((d) => d.section));
    for (const d of unit.directives) {
      const known = SYSTEMD_DIRECTIVES[d.section];
      assert(known, `${where(unit.block)} +${d.line + 1}: no section [${d.section}] in systemd`);
      assert(
        known.has(d.key),
        `${where(unit.block)} +${d.line + 1}: [${d.section}] has no ${d.key}= in systemd`,
      );
    }
    if (unit.name.endsWith(".socket")) assert(sections.has("Socket"), unit.name);
    if (unit.name.endsWith(".service")) assert(sections.has("Service"), unit.name);
    // V8 writes the machine code it compiles: this would kill Deno at its first function.
    assert(value(unit.directives, "MemoryDenyWriteExecute") !== "yes", unit.name);
  }
  for (const { service, socket } of services()) {
    if (!socket) continue;
    // plumb accepts on systemd's socket itself: one service, not one per connection.
    assert(["no", undefined].includes(value(socket.directives, "Accept")), socket.name);
    assertEquals(value(service.directives, "Requires"), socket.name);
  }
});

Deno.test({
  name: "systemd blocks: systemd-analyze verify finds nothing; security rates a socket-activated " +
    "service SAFE, one that listens itself OK, and either UNSAFE without its hardening",
  ignore: !TOOLS.systemdAnalyze,
  fn: async () => {
    const dir = await fresh(`${TMP}/units`);
    const files: string[] = [];
    for (const unit of UNITS) {
      const file = `${dir}/${unit.name}`;
      await Deno.mkdir(file.replace(/\/[^/]*$/, ""), { recursive: true });
      await Deno.writeTextFile(file, localize(unit.block.body));
      if (!unit.name.includes(".d/")) files.push(file);
    }
    const analyze = async (args: string[]): Promise<{ code: number; out: string }> => {
      const out = await new Deno.Command("systemd-analyze", {
        args,
        env: { SYSTEMD_UNIT_PATH: `${dir}:`, SYSTEMD_COLORS: "0", SYSTEMD_PAGER: "" },
        stdin: "null",
      }).output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      return { code: out.code, out: text };
    };
    const verify = await analyze(["verify", ...files]);
    assertEquals(verify.out, "", "systemd-analyze verify has nothing to say");
    assertEquals(verify.code, 0);
    for (const { service, socket } of services()) {
      const file = `${dir}/${service.name}`;
      const security = await analyze(["security", "--offline=true", "--no-pager", file]);
      const rating = security.out.match(/Overall exposure level for \S+: ([\d.]+) (\w+)/);
      assert(rating, security.out);
      assertEquals(rating[2], socket ? "SAFE" : "OK", `${file}: exposure ${rating[1]}`);
      // Without its hardening (the lines after "# Hardening"), the same unit is UNSAFE.
      const bare = `${dir}/bare-${file.split("/").pop()}`;
      const text = await Deno.readTextFile(file);
      await Deno.writeTextFile(
        bare,
        text.replace(/\n# Hardening[^\n]*\n(?:[A-Za-z]+=[^\n]*\n)*/, "\n"),
      );
      const unhardened = await analyze(["security", "--offline=true", "--no-pager", bare]);
      assertMatch(unhardened.out, /Overall exposure level for \S+: [\d.]+ UNSAFE/);
    }
  },
});

for (const { label, directives, socket, service } of serviceVariants()) {
  const execStart = value(directives, "ExecStart")!;
  const reload = value(directives, "ExecReload");
  const killSignal = (value(directives, "KillSignal") ?? "SIGTERM") as Deno.Signal;

  if (socket) {
    Deno.test({
      name: `${where(service.block)}: ${label}, socket-activated by ${socket.name}: ` +
        `an ELIZA conversation, ExecReload=, then ${killSignal} exits 0`,
      ignore: !TOOLS.python3,
      fn: async () => {
        const { env, caches } = await serviceSetup(directives, `${TMP}/activated`);
        const argv = commandOf(localize(execStart), env);
        await using service = new Proc("python3", [ACTIVATE, "systemd", ...argv], { env });
        const port = Number((await service.waitFor("stdout", /^(\d+)\n/))[1]);
        await service.waitFor("stdout", new RegExp(`listening on tcp://${HOST}:${port}\\n`));
        const mainPid = await childOf(service.pid);
        await converse(port);
        if (reload) {
          const command = commandOf(reload, { MAINPID: String(mainPid) });
          assert((await new Deno.Command(command[0], { args: command.slice(1) }).output()).success);
          await service.waitFor(
            "stderr",
            /plumb info: PLUMB_RELOADED reloaded .*: new connections get graph 2/,
          );
        }
        await converse(port);
        assertEquals(await service.stop(killSignal), 0, service.stderr);
        assertMatch(service.stderr, /plumb: PLUMB_STOPPING stopping/);
        for (const cache of caches) {
          assert([...Deno.readDirSync(cache)].length > 0, `Deno cached its modules in ${cache}`);
        }
      },
    });

    const idle = systemdWords(execStart).indexOf("--idle-exit");
    Deno.test({
      name: `${where(service.block)}: ${label}, socket-activated: --idle-exit stops it ` +
        `with status 0 once the last session ends (the time shortened to 300ms)`,
      ignore: !TOOLS.python3 || idle < 0,
      fn: async () => {
        const { env } = await serviceSetup(directives, `${TMP}/activated-idle`);
        const argv = commandOf(localize(execStart), env);
        const i = argv.indexOf("--idle-exit");
        argv[i + 1] = "300ms";
        await using service = new Proc("python3", [ACTIVATE, "systemd", ...argv], { env });
        const port = Number((await service.waitFor("stdout", /^(\d+)\n/))[1]);
        await using c = await connect(port);
        assertEquals(await c.readLine(), GREETING);
        await sleep(600); // an open session is never cut
        await c.send("bye\n");
        assertEquals(await c.readToEnd(), GOODBYE);
        assertEquals(await service.stop(), 0, "stopped by itself");
        assertMatch(
          service.stderr,
          /plumb info: PLUMB_IDLE_EXIT no connection for 300 ms: stopping \(--idle-exit\)/,
        );
      },
    });
  } else {
    Deno.test({
      name: `${where(service.block)}: ${label}, listening itself: two conversations, ` +
        `ExecReload= while one is open, then ${killSignal} exits 0`,
      fn: async () => {
        const port = freePort();
        const { env, caches } = await serviceSetup(directives, `${TMP}/standalone`);
        const argv = commandOf(localize(execStart, port), env);
        await using service = new Proc(argv[0], argv.slice(1), { env });
        await service.waitFor("stdout", new RegExp(`listening on tcp://${HOST}:${port}\\n`));
        const workers = Number(argv[argv.indexOf("--workers") + 1] || 1);
        await twoConversations(port, async () => {
          if (!reload) return;
          const command = commandOf(reload, { MAINPID: String(service.pid) });
          assert((await new Deno.Command(command[0], { args: command.slice(1) }).output()).success);
          const reloaded = workers > 1
            ? new RegExp(`worker ${workers}: reloaded .*: new connections get graph 2`)
            : /plumb info: PLUMB_RELOADED reloaded .*: new connections get graph 2 .*; 2 open connection/;
          await service.waitFor("stderr", reloaded);
        });
        await converse(port); // a new connection, on the reloaded graph
        assertEquals(await service.stop(killSignal), 0, service.stderr);
        assertMatch(
          service.stderr,
          /plumb: PLUMB_STOPPING stopping \(a second signal exits at once\)/,
        );
        for (const cache of caches) {
          assert([...Deno.readDirSync(cache)].length > 0, `Deno cached its modules in ${cache}`);
        }
      },
    });
  }
}

/**
 * The system calls of a strace log made by the process that ran `deno` and by
 * its threads, from that exec on (the activator's and the shell's are not the
 * service's), and the address families of the sockets it opened.
 */
function denoCalls(trace: string, deno: string): { calls: Set<string>; sockets: Set<string> } {
  const tracked = new Set<string>();
  const calls = new Set<string>();
  const sockets = new Set<string>();
  for (const line of trace.split("\n")) {
    const pid = line.split(" ")[0];
    if (!tracked.has(pid)) {
      // strace shortens a long path to its first 32 bytes and "...".
      const exec = /^\d+ +execve\("([^"]*)"(\.\.\.)?.* = 0$/.exec(line);
      if (exec && (exec[2] ? deno.startsWith(exec[1]) : deno === exec[1])) tracked.add(pid);
      continue;
    }
    const spawned = /^\d+ +(?:<\.\.\. )?(?:clone3?|fork|vfork)\b.* = (\d+)$/.exec(line);
    if (spawned) tracked.add(spawned[1]);
    const call = /^\d+ +(\w+)\((\w*)/.exec(line);
    if (!call) continue;
    calls.add(call[1]);
    if (call[1] === "socket") sockets.add(call[2]);
  }
  assert(tracked.size > 0, `no exec of ${deno} in the trace`);
  return { calls, sockets };
}

/** The system calls a group of `SystemCallFilter=` allows, from `systemd-analyze syscall-filter`. */
async function syscallSet(filter: string): Promise<Set<string>> {
  const set = new Set<string>();
  const seen = new Set<string>();
  const expand = async (name: string): Promise<void> => {
    if (!name.startsWith("@")) {
      set.add(name);
      return;
    }
    if (seen.has(name)) return;
    seen.add(name);
    const { out } = await run("systemd-analyze", ["syscall-filter", "--no-pager", name]);
    for (const line of out.split("\n").slice(1)) {
      const item = line.trim();
      if (item !== "" && !item.startsWith("#")) await expand(item);
    }
  };
  for (const name of filter.split(/\s+/)) await expand(name);
  return set;
}

Deno.test({
  name: "systemd blocks: under strace, each service makes only the system calls its " +
    "SystemCallFilter= allows and opens only sockets its RestrictAddressFamilies= allows",
  ignore: !TOOLS.strace || !TOOLS.systemdAnalyze || !TOOLS.python3,
  fn: async () => {
    for (const { label, directives, socket } of serviceVariants()) {
      const filter = value(directives, "SystemCallFilter");
      const families = value(directives, "RestrictAddressFamilies");
      if (filter === undefined && families === undefined) continue;
      const trace = `${TMP}/strace-${label.replace(/\W+/g, "-")}.txt`;
      const port = freePort();
      const { env } = await serviceSetup(directives, `${TMP}/strace`);
      const argv = commandOf(localize(value(directives, "ExecStart")!, port), env);
      const strace = ["strace", "-f", "-qq", "-o", trace];
      const command = socket ? [...strace, "python3", ACTIVATE, "systemd", ...argv] : [
        ...strace,
        ...argv,
      ];
      await using service = new Proc(command[0], command.slice(1), { env });
      const listening = await service.waitFor(
        "stdout",
        /listening on tcp:\/\/[\d.]+:(\d+)\n/,
        15000,
      );
      const servicePid = socket
        ? await childOf(await childOf(service.pid))
        : await childOf(service.pid);
      await converse(Number(listening[1]));
      Deno.kill(servicePid, "SIGHUP");
      await service.waitFor("stderr", /reloaded/);
      Deno.kill(servicePid, "SIGTERM");
      assertEquals(await service.stop(), 0, service.stderr);
      const { calls, sockets } = denoCalls(await Deno.readTextFile(trace), argv[0]);
      if (filter !== undefined) {
        const allowed = await syscallSet(filter);
        const denied = [...calls].filter((c) => !allowed.has(c));
        assertEquals(denied, [], `${label}: SystemCallFilter=${filter} would kill Deno`);
      }
      if (families !== undefined) {
        const allowed = families === "none" ? [] : families.split(/\s+/);
        const denied = [...sockets].filter((f) => !allowed.includes(f));
        assertEquals(denied, [], `${label}: RestrictAddressFamilies=${families}`);
      }
    }
  },
});

// ---------------------------------------------------------------------------
// xinetd.

/** A real xinetd in the foreground with one stanza, its log and its services' log. */
async function startXinetd(
  stanza: Stanza,
  port: number,
  change: (text: string) => string = (t) => t,
): Promise<{ xinetd: Proc; services: () => Promise<string> }> {
  const dir = await fresh(`${TMP}/xinetd`);
  const servicesLog = `${dir}/services.log`;
  const body = change(localize(stanza.block.body, port))
    .replace(/^(\s*user\s*=\s*)(\S+)/m, (_, head, user) => head + localUser(user));
  await Deno.writeTextFile(
    `${dir}/xinetd.conf`,
    `defaults\n{\n    log_type = FILE ${servicesLog}\n}\n\n${body}`,
  );
  const xinetd = new Proc("xinetd", [
    "-dontfork",
    "-f",
    `${dir}/xinetd.conf`,
    "-filelog",
    `${dir}/xinetd.log`,
    "-pidfile",
    `${dir}/xinetd.pid`,
  ]);
  const xlog = (): Promise<string> => Deno.readTextFile(`${dir}/xinetd.log`).catch(() => "");
  for (let waited = 0; !(await xlog()).includes("Started working: 1 available service");) {
    if ((waited += 20) > 5000 || xinetd.exited) {
      await xinetd.stop("SIGTERM");
      throw new Error(`xinetd did not start: ${await xlog()}${xinetd.stderr}`);
    }
    await sleep(20);
  }
  // Nothing but xinetd's notices: every attribute was understood.
  for (const line of (await xlog()).trim().split("\n")) {
    assertMatch(line, /xinetd\[\d+\]: NOTICE: /);
  }
  return { xinetd, services: () => Deno.readTextFile(servicesLog).catch(() => "") };
}

/** Stops xinetd and any server it started that still runs (xinetd leaves them be). */
async function stopXinetd(xinetd: Proc, services: string): Promise<void> {
  const pids = [...services.matchAll(/START: \S+ pid=(\d+)/g)].map((m) => Number(m[1]));
  await xinetd.stop("SIGTERM");
  for (const pid of pids) await endProcess(pid);
}

async function waitForLog(read: () => Promise<string>, pattern: RegExp): Promise<string> {
  for (let waited = 0;; waited += 20) {
    const text = await read();
    if (pattern.test(text)) return text;
    if (waited > 5000) throw new Error(`no ${pattern} in:\n${text}`);
    await sleep(20);
  }
}

for (const stanza of STANZAS) {
  const wait = stanza.attributes.get("wait") === "yes";
  const name = stanza.name;
  Deno.test({
    name: `${where(stanza.block)}: xinetd "${wait ? "wait" : "nowait"}": two clients at once, ` +
      (wait ? "served by one plumb process" : "each served by a plumb process of its own"),
    ignore: !TOOLS.xinetd,
    fn: async () => {
      const port = freePort();
      const { xinetd, services } = await startXinetd(stanza, port);
      try {
        await twoConversations(port);
        const log = await waitForLog(
          services,
          wait ? new RegExp(`START: ${name} pid=`) : new RegExp(`(EXIT: ${name} status=0[^]*){2}`),
        );
        const starts = [...log.matchAll(new RegExp(`START: ${name} pid=(\\d+)`, "g"))];
        assertEquals(new Set(starts.map((m) => m[1])).size, wait ? 1 : 2, log);
      } finally {
        await stopXinetd(xinetd, await services());
      }
    },
  });

  if (wait) {
    Deno.test({
      name: `${where(stanza.block)}: xinetd "wait": after --idle-exit (shortened to 300ms) ` +
        "plumb exits 0 and xinetd starts a new one for the next client",
      ignore: !TOOLS.xinetd,
      fn: async () => {
        const port = freePort();
        const { xinetd, services } = await startXinetd(
          stanza,
          port,
          (text) => text.replace(/--idle-exit \S+/, "--idle-exit 300ms"),
        );
        try {
          await converse(port);
          await waitForLog(services, new RegExp(`EXIT: ${name} status=0`));
          await converse(port);
          const log = await waitForLog(services, new RegExp(`(EXIT: ${name} status=0[^]*){2}`));
          const starts = [...log.matchAll(new RegExp(`START: ${name} pid=(\\d+)`, "g"))];
          assertEquals(new Set(starts.map((m) => m[1])).size, 2, log);
        } finally {
          await stopXinetd(xinetd, await services());
        }
      },
    });
  }
}

// ---------------------------------------------------------------------------
// inetd.conf.

for (const line of INETD_LINES) {
  if (!line.wait) {
    const tool = TOOLS.socat ? "socat" : "tcpserver";
    Deno.test({
      name: `${where(line.block)} +${line.line + 1}: inetd "nowait" (run by ${tool}): ` +
        "two clients at once, a plumb process each",
      ignore: !TOOLS.socat && !TOOLS.tcpserver,
      fn: async () => {
        const port = freePort();
        const command = localize(line.command.join(" "), port).split(" ");
        const user = localUser(line.user);
        // Like inetd: the connection on fds 0, 1 and 2, the program run as the line's user.
        const args = TOOLS.socat
          ? [
            `TCP-LISTEN:${port},bind=${HOST},reuseaddr,fork`,
            `EXEC:${command.join(" ")},nofork,stderr${user === "nobody" ? ",su=nobody" : ""}`,
          ]
          : [HOST, String(port), ...asUser(line.user, command)];
        await using server = new Proc(tool, args);
        try {
          await twoConversations(port);
        } finally {
          await server.stop("SIGTERM");
        }
      },
    });
  } else {
    Deno.test({
      name: `${where(line.block)} +${line.line + 1}: inetd "wait" (run by activate.py, ` +
        "the listening socket on fd 0): two clients, then SIGTERM exits 0",
      ignore: !TOOLS.python3,
      fn: async () => {
        const command = localize(line.command.join(" ")).split(" ");
        await using server = new Proc("python3", [
          ACTIVATE,
          "inetd",
          ...asUser(line.user, command),
        ]);
        const port = Number((await server.waitFor("stdout", /^(\d+)\n/))[1]);
        await server.waitFor("stdout", new RegExp(`listening on tcp://${HOST}:${port}\\n`));
        await twoConversations(port);
        assertEquals(await server.stop("SIGTERM"), 0, server.stderr);
      },
    });
  }
}

// ---------------------------------------------------------------------------
// tcpserver.

for (const line of TCPSERVER_LINES) {
  Deno.test({
    name: `${where(line.block)}: tcpserver: two clients at once with separate conversations; ` +
      "after SIGTERM to tcpserver both go on to their end",
    ignore: !TOOLS.tcpserver,
    fn: async () => {
      const port = freePort();
      const ids: Record<string, string> = { "-u": RUN_AS.uid, "-g": RUN_AS.gid };
      const options = line.options.map((o, i) => ids[line.options[i - 1]] ?? o);
      const deno = localize(line.deno.join(" ")).split(" ");
      await using server = new Proc("tcpserver", [...options, line.host, String(port), ...deno], {
        env: line.env,
      });
      // Stopping tcpserver cuts no conversation: each is a process of its own.
      await twoConversations(port, async () => {
        await server.stop("SIGTERM", false);
      });
    },
  });
}
