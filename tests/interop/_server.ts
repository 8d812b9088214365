/**
 * Harness for the interop tests: builds the ASP.NET Core SignalR server in `./server` (once per
 * source change) and starts it on a free loopback port.
 *
 * One server per test file. Either everything in one test:
 *
 * ```ts ignore
 * Deno.test("interop", async (t) => {
 *   await using server = await startInteropServer();
 *   if (!server) return; // dotnet missing outside CI: a loud warning was printed
 *   await t.step("echo", async () => { ... });
 * });
 * ```
 *
 * or started in the first test and closed in the last. With the op/resource sanitizers on, those
 * two tests must opt out of them (`sanitizeOps: false, sanitizeResources: false`): the server's
 * process, pipes and pending reads outlive the first test and end in the last one, which Deno
 * reports as leaks whatever the harness does. The tests in between keep their sanitizers: once
 * the server is up its stdout and stderr stay silent (logs go to `logFile`), so no harness op
 * starts or completes while they run.
 *
 * Environment:
 * - `CI=true`: a missing `dotnet` is an error instead of a skip.
 * - `INTEROP_LOG=debug`: the server logs SignalR debug output straight to this process's stderr
 *   (no log file).
 *
 * @module
 */

/**
 * Joins and normalizes path segments with "/" (accepted on Windows too). Not node:path: type
 * checking a node: import needs @types/node in node_modules.
 */
function join(...parts: string[]): string {
  const out: string[] = [];
  for (const segment of parts.join("/").split(/[\\/]+/)) {
    if (segment === "." || (segment === "" && out.length > 0)) continue;
    if (segment === ".." && out.length > 0 && out.at(-1) !== "..") out.pop();
    else out.push(segment);
  }
  return out.join("/");
}

/** A running interop server. */
export interface InteropServer {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:45123`. */
  readonly url: string;
  /** The server's log file (Warning and above), or null with `INTEROP_LOG=debug`. */
  readonly logFile: string | null;
  /** The server's log so far ("" when there is none). */
  readLog(): string;
  /** Closes the server's stdin (it then stops), kills it after 5 s, awaits its exit. Idempotent. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Token accepted by /authhub (as `Authorization: Bearer` or `?access_token=`). */
export const AUTH_TOKEN = "secret-token";
/** User name /authhub's `WhoAmI` returns for {@link AUTH_TOKEN}. */
export const AUTH_USER = "interop-user";

/** The pattern the hub's `GetLargeString(n)` repeats: 7 UTF-16 code units, one surrogate pair. */
export const LARGE_STRING_PATTERN = "abcé漢😀";

/**
 * What the hub's `GetLargeString(n)` returns: exactly n UTF-16 code units, the pattern repeated
 * and cut; when the cut would leave a lone high surrogate (n % 7 === 6) it becomes "_".
 */
export function largeString(n: number): string {
  if (n <= 0) return "";
  let s = LARGE_STRING_PATTERN.repeat(Math.ceil(n / LARGE_STRING_PATTERN.length)).slice(0, n);
  const last = s.charCodeAt(n - 1);
  if (last >= 0xd800 && last <= 0xdbff) s = s.slice(0, -1) + "_";
  return s;
}

const HERE = import.meta.dirname!;
/** The C# project. */
export const SERVER_DIR: string = join(HERE, "server");
const REPO_DIR = join(HERE, "..", "..");
const ARTIFACTS_DIR = join(REPO_DIR, ".artifacts");
/** Where `dotnet build` puts the server. */
export const OUTPUT_DIR: string = join(ARTIFACTS_DIR, "interop-server");
const DLL = join(OUTPUT_DIR, "InteropServer.dll");
const LOG_DIR = join(ARTIFACTS_DIR, "interop-logs");

const STARTUP_TIMEOUT_MS = 60_000;
const EXIT_TIMEOUT_MS = 5_000;
/** How much of the server's stdout/stderr to keep for error messages. */
const OUTPUT_TAIL_CHARS = 64 * 1024;

const DOTNET_ENV: Record<string, string> = {
  DOTNET_NOLOGO: "1",
  DOTNET_CLI_TELEMETRY_OPTOUT: "1",
  DOTNET_SKIP_FIRST_TIME_EXPERIENCE: "1",
  DOTNET_CLI_WORKLOAD_UPDATE_NOTIFY_DISABLE: "1",
};

/** Options of {@link startInteropServer}. */
export interface InteropServerOptions {
  /**
   * `ConnectionOptions.DisconnectTimeout` of every endpoint, in milliseconds (ASP.NET Core's
   * default: 15 s): how long the server keeps a connection whose transport is gone (a Long
   * Polling connection between polls, a stateful reconnect one after a drop) before it forgets
   * it.
   */
  readonly disconnectTimeoutMs?: number;
  /**
   * Origins allowed by the server's CORS policy, with credentials and the headers SignalR clients
   * send (the browser tests' page origin). None by default.
   */
  readonly corsOrigins?: readonly string[];
  /**
   * More environment variables for the server process (the scale-out roles: `INTEROP_REDIS`,
   * `INTEROP_INSTANCE`, …; see Program.cs).
   */
  readonly env?: Readonly<Record<string, string>>;
  /** The address to listen on. Default `http://127.0.0.1:0` (a free port). */
  readonly urls?: string;
}

/**
 * Builds the server if needed and starts it. Returns null (after a loud warning) when `dotnet`
 * is not on PATH, unless `CI=true`, where that is an error.
 */
export async function startInteropServer(
  options: InteropServerOptions = {},
): Promise<InteropServer | null> {
  const dotnet = findDotnet();
  if (dotnet === null) {
    if (Deno.env.get("CI") === "true") {
      throw new Error(
        "interop tests: `dotnet` was not found on PATH, and CI=true. " +
          "Install the .NET SDK 10 (with the ASP.NET Core runtime) to run them.",
      );
    }
    const bar = "!".repeat(72);
    console.warn(
      `\n${bar}\n!!! INTEROP TESTS SKIPPED: dotnet not found on PATH\n` +
        `!!! (install the .NET SDK 10 to run them; on CI this is an error)\n${bar}\n`,
    );
    return null;
  }
  await ensureBuilt(dotnet);
  return await launch(dotnet, options);
}

// ---- dotnet ---------------------------------------------------------------------------------

function findDotnet(): string | null {
  const windows = Deno.build.os === "windows";
  const name = windows ? "dotnet.exe" : "dotnet";
  for (const dir of (Deno.env.get("PATH") ?? "").split(windows ? ";" : ":")) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      if (Deno.statSync(candidate).isFile) return candidate;
    } catch {
      // not in this directory
    }
  }
  return null;
}

// ---- build ----------------------------------------------------------------------------------

let building: Promise<void> | undefined;

/** Builds at most once at a time per process (and, through a lock file, across processes). */
function ensureBuilt(dotnet: string): Promise<void> {
  if (!building) {
    const attempt = buildIfStale(dotnet);
    building = attempt;
    // A failed build is retried by the next caller.
    attempt.catch(() => {
      if (building === attempt) building = undefined;
    });
  }
  return building;
}

function isStale(): boolean {
  let built: number;
  try {
    built = Deno.statSync(DLL).mtime?.getTime() ?? 0;
  } catch {
    return true;
  }
  return newestSourceTime(SERVER_DIR) > built;
}

/** Newest modification time of the project's sources (.cs, .csproj, MSBuild and NuGet files). */
function newestSourceTime(dir: string): number {
  let newest = 0;
  for (const entry of Deno.readDirSync(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) {
      if (entry.name === "bin" || entry.name === "obj") continue;
      newest = Math.max(newest, newestSourceTime(path));
    } else if (/\.(cs|csproj|props|targets|config)$/i.test(entry.name)) {
      newest = Math.max(newest, Deno.statSync(path).mtime?.getTime() ?? 0);
    }
  }
  return newest;
}

async function buildIfStale(dotnet: string): Promise<void> {
  if (!isStale()) return;
  await Deno.mkdir(ARTIFACTS_DIR, { recursive: true });
  // Test files running in parallel (deno test --parallel) are separate isolates: a lock file
  // keeps them from building into the same directory at once.
  const lock = await Deno.open(join(ARTIFACTS_DIR, "interop-server.lock"), {
    create: true,
    write: true,
  });
  try {
    await lock.lock(true);
    if (!isStale()) return; // another process built it while we waited
    const started = performance.now();
    const output = await new Deno.Command(dotnet, {
      args: [
        "build",
        SERVER_DIR,
        "-c",
        "Release",
        "-o",
        OUTPUT_DIR,
        "--nologo",
        // No lingering MSBuild / compiler server processes holding on to our pipes.
        "--disable-build-servers",
      ],
      cwd: SERVER_DIR,
      env: { ...DOTNET_ENV, MSBUILDDISABLENODEREUSE: "1", DOTNET_CLI_USE_MSBUILD_SERVER: "0" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(output.stdout) +
      new TextDecoder().decode(output.stderr);
    if (!output.success) {
      throw new Error(
        `interop tests: \`dotnet build ${SERVER_DIR}\` failed (exit code ${output.code}):\n${text}`,
      );
    }
    // MSBuild may leave an up-to-date dll untouched: mark it as built now.
    if (isStale()) {
      const now = new Date();
      await Deno.utime(DLL, now, now);
    }
    console.error(
      `interop tests: built the server in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
  } finally {
    lock.close(); // releases the lock
  }
}

// ---- process --------------------------------------------------------------------------------

let started = 0;

function logFileName(): string {
  let base = "server";
  try {
    base = new URL(Deno.mainModule).pathname.split("/").pop()!.replace(/\.[^.]*$/, "") || base;
  } catch {
    // keep the default
  }
  const n = started++;
  return join(LOG_DIR, `${base}${n === 0 ? "" : `-${n}`}.log`);
}

/** Collects a stream's text, calling onLine for each complete line, until EOF. */
async function drain(
  stream: ReadableStream<Uint8Array>,
  onText: (text: string) => void,
  onLine?: (line: string) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  let pending = "";
  try {
    for await (const chunk of stream) {
      const text = decoder.decode(chunk, { stream: true });
      onText(text);
      if (!onLine) continue;
      pending += text;
      let newline;
      while ((newline = pending.indexOf("\n")) >= 0) {
        onLine(pending.slice(0, newline).replace(/\r$/, ""));
        pending = pending.slice(newline + 1);
      }
    }
  } catch {
    // The pipe broke: the process is gone.
  }
  const rest = decoder.decode();
  if (rest) onText(rest);
  if (onLine && (pending + rest)) onLine(pending + rest);
}

/**
 * Waits up to {@link EXIT_TIMEOUT_MS} for `child` to exit after it was asked to (stdin closed,
 * SIGTERM), then kills it with SIGKILL; resolves once it has exited.
 */
export async function exitOrKill(child: Deno.ChildProcess): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const exited = await Promise.race([
    child.status.then(() => true),
    new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), EXIT_TIMEOUT_MS)),
  ]);
  clearTimeout(timer);
  if (!exited) {
    try {
      child.kill("SIGKILL");
    } catch {
      // exited meanwhile
    }
  }
  await child.status;
}

async function launch(dotnet: string, options: InteropServerOptions): Promise<InteropServer> {
  const debugLogs = !!Deno.env.get("INTEROP_LOG");
  const logFile = debugLogs ? null : logFileName();
  if (logFile) await Deno.mkdir(LOG_DIR, { recursive: true });

  const child = new Deno.Command(dotnet, {
    args: [DLL, "--urls", options.urls ?? "http://127.0.0.1:0"],
    cwd: OUTPUT_DIR,
    env: {
      ...DOTNET_ENV,
      ASPNETCORE_ENVIRONMENT: "Production",
      DOTNET_ENVIRONMENT: "Production",
      ...(logFile ? { INTEROP_LOG_FILE: logFile } : {}),
      ...(options.disconnectTimeoutMs === undefined
        ? {}
        : { INTEROP_DISCONNECT_TIMEOUT_MS: String(options.disconnectTimeoutMs) }),
      ...(options.corsOrigins ? { INTEROP_CORS_ORIGINS: options.corsOrigins.join(",") } : {}),
      ...options.env,
    },
    // stdin stays open for the server's lifetime: the server stops when it closes, so a server
    // whose test process died goes away too.
    stdin: "piped",
    stdout: "piped",
    stderr: debugLogs ? "inherit" : "piped",
  }).spawn();

  let stdoutTail = "";
  let stderrTail = "";
  const tail = (s: string) => s.length > OUTPUT_TAIL_CHARS ? s.slice(-OUTPUT_TAIL_CHARS) : s;
  const listening = Promise.withResolvers<string>();
  const readers = [
    drain(child.stdout, (t) => stdoutTail = tail(stdoutTail + t), (line) => {
      const match = /^LISTENING (\S+)$/.exec(line);
      if (match) listening.resolve(match[1].replace(/\/$/, ""));
    }),
  ];
  if (!debugLogs) readers.push(drain(child.stderr, (t) => stderrTail = tail(stderrTail + t)));

  const readLog = (): string => {
    if (!logFile) return "";
    try {
      return Deno.readTextFileSync(logFile);
    } catch {
      return "";
    }
  };

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      try {
        await child.stdin.close();
      } catch {
        // already closed, or the process is gone
      }
      await exitOrKill(child);
      await Promise.all(readers);
    })();
    return closing;
  };

  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    listening.promise.then((url) => ({ url })),
    child.status.then((status) => ({ status })),
    new Promise<{ timeout: true }>((resolve) =>
      timer = setTimeout(() => resolve({ timeout: true }), STARTUP_TIMEOUT_MS)
    ),
  ]);
  clearTimeout(timer);

  if (!("url" in outcome)) {
    await close();
    const why = "status" in outcome
      ? `exited with code ${outcome.status.code}${
        outcome.status.signal ? ` (signal ${outcome.status.signal})` : ""
      } before listening`
      : `printed no LISTENING line within ${STARTUP_TIMEOUT_MS / 1000} s`;
    throw new Error(
      `interop tests: the server (${DLL}) ${why}.\n` +
        `--- stdout ---\n${stdoutTail}\n--- stderr ---\n${stderrTail}\n` +
        (logFile ? `--- log (${logFile}) ---\n${readLog()}\n` : ""),
    );
  }

  return {
    url: outcome.url,
    logFile,
    readLog,
    close,
    [Symbol.asyncDispose]: close,
  };
}
