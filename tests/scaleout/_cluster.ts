/**
 * A scale-out cluster of real parts on loopback ports, for the scale-out tests and the load
 * benchmark: `redis-server`, two instances of the interop server (tests/interop/server) sharing
 * it as their SignalR backplane (`AddStackExchangeRedis`, ScaleOut.cs), and `haproxy` in front
 * with cookie affinity (`cookie SRV insert indirect nocache`), as SignalR is run when one server
 * is not enough.
 *
 * ```ts ignore
 * Deno.test("scale-out", async (t) => {
 *   await using cluster = await startCluster();
 *   if (!cluster) return; // a part is missing outside CI: a loud warning was printed
 *   await t.step("…", async () => { ... `${cluster.url}/hub` ... });
 * });
 * ```
 *
 * Everything the cluster starts is stopped and awaited by `close()`, so one test holding it with
 * `await using` passes Deno's op and resource sanitizers. The hub's `GetInstance()` names the
 * instance a connection landed on ("a" or "b").
 *
 * Environment:
 * - `CI=true`: a missing `redis-server`, `haproxy` or `dotnet` is an error instead of a skip.
 * - `REDIS_SERVER`, `HAPROXY`: the executables, when not on PATH (nor in /usr/bin, /usr/sbin).
 *
 * @module
 */
import { exitOrKill, type InteropServer, startInteropServer } from "../interop/_server.ts";
import { within } from "../_util.ts";

/** Bound of each startup wait (the server's own startup has its own, 60 s). */
const STARTUP_TIMEOUT_MS = 15_000;
/** How much of a process's output to keep for error messages. */
const OUTPUT_TAIL_CHARS = 16 * 1024;

/** Options of {@link startCluster}. */
export interface ClusterOptions {
  /** The instances' names (`INTEROP_INSTANCE`, haproxy's server names). Default `["a", "b"]`. */
  readonly instances?: readonly string[];
  /** The instances' `ConnectionOptions.DisconnectTimeout`, in ms (ASP.NET Core's default 15 s). */
  readonly disconnectTimeoutMs?: number;
}

/** One interop server instance of a {@link Cluster}. */
export interface ClusterInstance {
  /** `INTEROP_INSTANCE`: what the hubs' `GetInstance()` returns, haproxy's server name. */
  readonly name: string;
  /** The instance's own base URL (not through haproxy), e.g. `http://127.0.0.1:45123`. */
  readonly url: string;
  /** Whether the instance's process runs (not stopped or killed since it last started). */
  readonly running: boolean;
  /** The running server (its log), or null while stopped. */
  readonly server: InteropServer | null;
  /**
   * Stops the instance gracefully (the harness's close(): stdin closes, ASP.NET Core shuts
   * down, closing its connections), awaits its exit. Nothing when it is not running.
   */
  stop(): Promise<void>;
  /**
   * Kills the instance with SIGKILL (a crash: no shutdown, the kernel resets its TCP
   * connections), awaits its exit. Nothing when it is not running.
   */
  kill(): Promise<void>;
  /** Starts the instance again on the same port (after stop or kill). */
  start(): Promise<void>;
  /**
   * Resolves once haproxy's health checks see the instance in `state` (at once when they last
   * did); rejects after `timeoutMs` (default 15 s).
   */
  seen(state: "UP" | "DOWN", timeoutMs?: number): Promise<void>;
}

/** A running cluster. */
export interface Cluster {
  /** haproxy's base URL, e.g. `http://127.0.0.1:45125`: hubs are at `${url}/hub`, etc. */
  readonly url: string;
  readonly instances: readonly ClusterInstance[];
  /** The Redis server, `host:port` (`INTEROP_REDIS`). */
  readonly redis: string;
  /** The instance named `name`. */
  instance(name: string): ClusterInstance;
  /** Stops haproxy, the instances and Redis, awaiting every process. Idempotent. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts Redis, the instances and haproxy. Returns null (after a loud warning) when a part is
 * missing, unless `CI=true`, where that is an error.
 */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster | null> {
  const redisServer = findExecutable("REDIS_SERVER", "redis-server");
  const haproxy = findExecutable("HAPROXY", "haproxy");
  const dotnet = findExecutable("", "dotnet");
  const missing = [
    redisServer ? undefined : "redis-server",
    haproxy ? undefined : "haproxy",
    dotnet ? undefined : "dotnet",
  ].filter((name) => name !== undefined);
  if (missing.length > 0) {
    if (Deno.env.get("CI") === "true") {
      throw new Error(
        `scale-out tests: ${missing.join(", ")} not found, and CI=true. ` +
          "Install them (apt-get install redis-server haproxy; the .NET SDK 10) to run them.",
      );
    }
    const bar = "!".repeat(72);
    console.warn(
      `\n${bar}\n!!! SCALE-OUT TESTS SKIPPED: ${missing.join(", ")} not found\n` +
        `!!! (apt-get install redis-server haproxy; the .NET SDK 10; on CI this is an error)\n` +
        `${bar}\n`,
    );
    return null;
  }

  const names = options.instances ?? ["a", "b"];
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    const errors: unknown[] = [];
    // haproxy first (no new requests), then the instances, then their backplane.
    for (const close of closers.splice(0).reverse()) {
      await close().catch((error) => errors.push(error));
    }
    if (errors.length > 0) throw new AggregateError(errors, "scale-out cluster: close failed");
  };
  try {
    const redis = await startRedis(redisServer!);
    closers.push(redis.close);
    const env = {
      INTEROP_REDIS: redis.address,
      // Clusters sharing nothing but could share a Redis: their own channels.
      INTEROP_REDIS_PREFIX: `scaleout-${crypto.randomUUID()}`,
    };
    const instances = await Promise.all(
      names.map((name) => startInstance(name, env, options.disconnectTimeoutMs)),
    );
    for (const instance of instances) closers.push(instance.close);
    const proxy = await startHaproxy(haproxy!, instances);
    closers.push(proxy.close);

    let closing: Promise<void> | undefined;
    const close = () => closing ??= closeAll();
    const views: ClusterInstance[] = instances.map((instance) => ({
      name: instance.name,
      url: instance.url,
      get running() {
        return instance.server !== null;
      },
      get server() {
        return instance.server;
      },
      stop: instance.stop,
      kill: instance.kill,
      start: instance.start,
      seen: (state, timeoutMs) => proxy.seen(instance.name, state, timeoutMs),
    }));
    return {
      url: proxy.url,
      instances: views,
      redis: redis.address,
      instance(name) {
        const found = views.find((i) => i.name === name);
        if (!found) throw new Error(`scale-out cluster: no instance ${name}`);
        return found;
      },
      close,
      [Symbol.asyncDispose]: close,
    };
  } catch (error) {
    await closeAll().catch(() => {});
    throw error;
  }
}

// ---- executables ------------------------------------------------------------------------------

/** `$variable`, else `name` on PATH, in /usr/bin or /usr/sbin (haproxy's place on Debian). */
function findExecutable(variable: string, name: string): string | null {
  const given = variable ? Deno.env.get(variable) : undefined;
  const dirs = [...(Deno.env.get("PATH") ?? "").split(":"), "/usr/bin", "/usr/sbin"];
  for (const candidate of given ? [given] : dirs.filter(Boolean).map((dir) => `${dir}/${name}`)) {
    try {
      if (Deno.statSync(candidate).isFile) return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

// ---- processes ------------------------------------------------------------------------------

/** A child process whose output is collected (a tail of it) and read line by line. */
interface Process {
  readonly child: Deno.ChildProcess;
  /** The output so far (a tail), stdout and stderr mixed. */
  output(): string;
  /** Resolves with the first line that `match` accepts; rejects when the process ends first. */
  line(match: (line: string) => boolean): Promise<string>;
  /** SIGTERM, SIGKILL after 5 s ({@link exitOrKill}), awaits the exit and the pipes. Idempotent. */
  close(): Promise<void>;
}

function spawn(command: string, args: string[], onLine?: (line: string) => void): Process {
  const child = new Deno.Command(command, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let tail = "";
  const waiters = new Set<{ match: (line: string) => boolean; resolve: (line: string) => void }>();
  const lineOf = (line: string) => {
    onLine?.(line);
    for (const waiter of waiters) {
      if (waiter.match(line)) {
        waiters.delete(waiter);
        waiter.resolve(line);
      }
    }
  };
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    let pending = "";
    try {
      for await (const text of stream.pipeThrough(new TextDecoderStream())) {
        tail = (tail + text).slice(-OUTPUT_TAIL_CHARS);
        pending += text;
        let newline;
        while ((newline = pending.indexOf("\n")) >= 0) {
          lineOf(pending.slice(0, newline).replace(/\r$/, ""));
          pending = pending.slice(newline + 1);
        }
      }
    } catch {
      // The pipe broke: the process is gone.
    }
    if (pending) lineOf(pending);
  };
  const readers = Promise.all([drain(child.stdout), drain(child.stderr)]);
  // Once the process is gone and its output read, no line will come.
  const ended = Promise.all([child.status, readers]);
  let closing: Promise<void> | undefined;
  return {
    child,
    output: () => tail,
    line(match) {
      const { promise, resolve, reject } = Promise.withResolvers<string>();
      waiters.add({ match, resolve });
      ended.then(() => reject(new Error(`${command} exited`)));
      promise.catch(() => {});
      return promise;
    },
    close() {
      return closing ??= (async () => {
        try {
          child.kill("SIGTERM");
        } catch {
          // already gone
        }
        await exitOrKill(child);
        await ended;
      })();
    },
  };
}

/**
 * A free loopback port: bound, then released for the process to take. Another process could take
 * it in between; the callers start again on a new one when theirs fails to listen.
 */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/** Tries `start` with up to three free ports (one taken meanwhile fails to listen). */
async function onFreePort<T>(start: (port: number) => Promise<T>): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await start(freePort());
    } catch (error) {
      if (attempt === 3) throw error;
    }
  }
}

// ---- Redis ----------------------------------------------------------------------------------

async function startRedis(
  executable: string,
): Promise<{ address: string; close: () => Promise<void> }> {
  return await onFreePort(async (port) => {
    // No persistence: nothing written, a fresh Redis each run.
    const proc = spawn(executable, [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--loglevel",
      "notice",
    ]);
    try {
      await within(
        proc.line((line) => /Ready to accept connections/.test(line)),
        STARTUP_TIMEOUT_MS,
        "redis-server to be ready",
      );
      await within(ping(port), STARTUP_TIMEOUT_MS, "redis-server to answer PING");
    } catch (error) {
      await proc.close();
      throw new Error(
        `scale-out cluster: redis-server did not start on port ${port}:\n${proc.output()}`,
        { cause: error },
      );
    }
    return { address: `127.0.0.1:${port}`, close: proc.close };
  });
}

/** Sends PING on a new connection; resolves on `+PONG`. */
async function ping(port: number): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode("PING\r\n"));
    const buffer = new Uint8Array(64);
    let text = "";
    while (!text.includes("\r\n")) {
      const n = await conn.read(buffer);
      if (n === null) break;
      text += new TextDecoder().decode(buffer.subarray(0, n));
    }
    if (!text.startsWith("+PONG")) throw new Error(`redis-server answered PING with ${text}`);
  } finally {
    conn.close();
  }
}

// ---- instances ------------------------------------------------------------------------------

interface Instance {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  readonly server: InteropServer | null;
  stop(): Promise<void>;
  kill(): Promise<void>;
  start(): Promise<void>;
  /** Stops it for good (the cluster's close). */
  close(): Promise<void>;
}

async function startInstance(
  name: string,
  backplane: Record<string, string>,
  disconnectTimeoutMs: number | undefined,
): Promise<Instance> {
  const launch = async (urls: string) => {
    const server = await startInteropServer({
      env: { ...backplane, INTEROP_INSTANCE: name },
      urls,
      disconnectTimeoutMs,
    });
    // startCluster checked for dotnet.
    if (!server) throw new Error("scale-out cluster: dotnet is missing");
    return server;
  };
  // On a port of our own (not 0): a restarted instance must come back where haproxy looks.
  let server: InteropServer | null = await onFreePort((port) => launch(`http://127.0.0.1:${port}`));
  const url = server.url;
  const port = Number(new URL(url).port);
  let changing = Promise.resolve();
  // One change at a time (a stop during a start waits for it).
  const serialized = (change: () => Promise<void>) => {
    const next = changing.then(change);
    changing = next.catch(() => {});
    return next;
  };
  const stop = () =>
    serialized(async () => {
      const current = server;
      server = null;
      await current?.close();
    });
  const kill = () =>
    serialized(async () => {
      const current = server;
      if (!current) return;
      server = null;
      try {
        // The harness keeps the process to itself: the server tells its pid.
        const response = await fetch(`${url}/scaleout/pid`, {
          signal: AbortSignal.timeout(STARTUP_TIMEOUT_MS),
        });
        const pid = Number(await response.text());
        if (!response.ok || !Number.isInteger(pid)) {
          throw new Error(`scale-out cluster: ${url}/scaleout/pid answered ${response.status}`);
        }
        Deno.kill(pid, "SIGKILL");
      } finally {
        // Awaits the exit (the harness's close: its stdin is gone already, so it waits for the
        // process's status, which comes at once after SIGKILL).
        await current.close();
      }
    });
  const start = () =>
    serialized(async () => {
      if (server) return;
      server = await launch(url);
    });
  return {
    name,
    url,
    port,
    get server() {
      return server;
    },
    stop,
    kill,
    start,
    close: stop,
  };
}

// ---- haproxy --------------------------------------------------------------------------------

function haproxyConfig(port: number, instances: readonly Instance[]): string {
  const servers = instances.map((i) =>
    // Health checks every 200 ms, one failure marks a server down and one success up: a killed
    // instance is taken out (and a restarted one back) within a few hundred ms.
    `  server ${i.name} 127.0.0.1:${i.port} cookie ${i.name} check inter 200ms fall 1 rise 1`
  );
  return [
    "global",
    // One thread: roundrobin then alternates strictly between the servers, which the test of a
    // client without cookies relies on.
    "  nbthread 1",
    "",
    "defaults",
    "  mode http",
    // Without it haproxy waits for more data before sending a small packet (Nagle-like): each
    // Server-Sent Events message would wait about 200 ms.
    "  option http-no-delay",
    "  timeout connect 2s",
    // Long Polling: the server answers an idle poll after about 90 s.
    "  timeout client 120s",
    "  timeout server 120s",
    // WebSockets and Server-Sent Events: an idle connection lives on.
    "  timeout tunnel 1h",
    "  timeout http-keep-alive 10s",
    // The load benchmark opens a thousand connections and more.
    "  maxconn 20000",
    // A request for a dead server (its cookie) goes to another one.
    "  retries 2",
    "  option redispatch",
    "",
    "frontend hub",
    `  bind 127.0.0.1:${port}`,
    "  default_backend instances",
    "",
    "backend instances",
    "  balance roundrobin",
    // The affinity cookie, set on the first response (negotiate's), removed from the requests
    // haproxy passes on (indirect), never cached (nocache).
    "  cookie SRV insert indirect nocache",
    ...servers,
    "",
  ].join("\n");
}

interface Haproxy {
  readonly url: string;
  seen(server: string, state: "UP" | "DOWN", timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

async function startHaproxy(executable: string, instances: readonly Instance[]): Promise<Haproxy> {
  const dir = await Deno.makeTempDir({ prefix: "scaleout-haproxy-" });
  try {
    return await onFreePort(async (port) => {
      const config = `${dir}/haproxy.cfg`;
      await Deno.writeTextFile(config, haproxyConfig(port, instances));
      // What the health checks last said of each server (all start UP), and who waits for what.
      const states = new Map<string, "UP" | "DOWN">(instances.map((i) => [i.name, "UP"]));
      const waiters = new Set<{ server: string; state: string; fire: () => void }>();
      // -db: foreground, output to stderr, where it reports "Server instances/a is DOWN, …".
      const proc = spawn(executable, ["-db", "-f", config], (line) => {
        const match = /Server instances\/(\S+) is (UP|DOWN)\b/.exec(line);
        if (!match) return;
        const [, server, state] = match;
        states.set(server, state as "UP" | "DOWN");
        for (const waiter of waiters) {
          if (waiter.server === server && waiter.state === state) {
            waiters.delete(waiter);
            waiter.fire();
          }
        }
      });
      const url = `http://127.0.0.1:${port}`;
      try {
        await within(answers(url, proc), STARTUP_TIMEOUT_MS, "haproxy to answer");
      } catch (error) {
        await proc.close();
        throw new Error(`scale-out cluster: haproxy did not start:\n${proc.output()}`, {
          cause: error,
        });
      }
      return {
        url,
        seen(server, state, timeoutMs = STARTUP_TIMEOUT_MS) {
          if (states.get(server) === state) return Promise.resolve();
          const { promise, resolve } = Promise.withResolvers<void>();
          waiters.add({ server, state, fire: resolve });
          return within(promise, timeoutMs, `haproxy to see ${server} ${state}`).finally(() =>
            waiters.forEach((w) => w.fire === resolve && waiters.delete(w))
          );
        },
        close: async () => {
          await proc.close();
          await Deno.remove(dir, { recursive: true }).catch(() => {});
        },
      };
    });
  } catch (error) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw error;
  }
}

/**
 * Resolves once a request through haproxy reaches an instance. haproxy prints nothing when it is
 * ready: its port is tried every 50 ms (startup only) until it answers, or the process ends.
 */
async function answers(url: string, proc: Process): Promise<void> {
  let exited = false;
  proc.child.status.then(() => exited = true);
  while (!exited) {
    try {
      const response = await fetch(`${url}/scaleout/pid`, { signal: AbortSignal.timeout(5_000) });
      await response.body?.cancel();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error("haproxy exited");
}
