// The scenarios, written once against a small client interface so that every client is timed
// by the same code. Each child process runs one scenario with one client.
import { collectGarbage, measure, percentile } from "./_measure.ts";
import { framesReceived, requestsSent } from "./_frames.ts";
import process from "node:process";

/** The transports a scenario can run on (the names negotiate uses). */
export type TransportName = "WebSockets" | "ServerSentEvents" | "LongPolling";

/** The hub protocols a scenario can speak: `…-mp…` scenarios speak MessagePack. */
export type ProtocolName = "json" | "messagepack";

/** How a scenario wants its connection beyond transport and protocol. */
export interface ConnectOptions {
  /**
   * Stateful reconnect on (`withStatefulReconnect({ bufferSize: SIZES.statefulBuffer })`); the
   * connection fails when the server did not agree to it.
   */
  readonly stateful?: boolean;
}

/** A started connection of some client. */
export interface BenchConnection {
  stop(): Promise<void>;
}

/** What a client has to provide; each method is the idiomatic use of that client. */
export interface BenchClient<C extends BenchConnection = BenchConnection> {
  /**
   * Negotiate, transport, handshake in `protocol`: resolves when the connection can be used,
   * and fails when the transport in use is not `transport`.
   */
  connect(
    hubUrl: string,
    transport: TransportName,
    protocol: ProtocolName,
    options?: ConnectOptions,
  ): Promise<C>;
  /** Reads the server stream `Counter(count, 0)` to its end; returns how many items came. */
  stream(connection: C, count: number): Promise<number>;
  /** The same through the client's observer API (`subscribe`), where it differs. */
  streamSubscribe?(connection: C, count: number): Promise<number>;
  /**
   * Uploads `count` small strings to `UploadCount`, completes the upload and returns the
   * server's answer (the number of items it read). Absent: the client has no upload row.
   */
  upload?(connection: C, count: number): Promise<number>;
  /** One invocation: resolves with the server's result. */
  invoke(connection: C, method: string, ...args: unknown[]): Promise<unknown>;
}

// bench/profile.ts sets BENCH_SCALE to run longer scenarios (more samples); main.ts never does.
// (`process.env`: the Node children, bench/node_child.ts, load this module too.)
const SCALE = Number(process.env.BENCH_SCALE ?? "1") || 1;

/** Sizes of the scenarios. */
export const SIZES = {
  streamItems: 200_000 * SCALE,
  uploadItems: 100_000 * SCALE,
  invokes: 20_000 * SCALE,
  inFlight: 64,
  latencyCalls: 2_000,
  latencyWarmup: 200,
  connects: 50,
  connectWarmup: 3,
  stops: 50,
  stopWarmup: 3,
  /** How long a connection stays idle between its connect and the timed stop(), ms. */
  stopIdleMs: 20,
  idleConnections: 300,
  // Enough for V8 to optimize a client's JS parsing before the window opens (2 000 was not:
  // the first part of the window then ran unoptimized, while JSON.parse is native from the start).
  warmupItems: 20_000,
  // The official client stalls ~40 ms per batch of pipelined calls (see bench/README.md): a
  // longer warm-up would cost it minutes.
  invokeWarmup: 2_000,
  /**
   * Uploads on Server-Sent Events and Long Polling. The official client sends each uploaded item
   * in a POST of its own, one at a time (about 260 µs each here): 100 000 items and 20 000 for
   * warm-up took it 31 s per run. Smaller, so that `deno task bench` stays within minutes.
   */
  httpUploadItems: 20_000 * SCALE,
  httpUploadWarmup: 5_000,
  /**
   * Stateful reconnect: bytes sent and not acknowledged before sends wait, in both clients.
   * ASP.NET Core acknowledges about once a second, so with the default (100 000) an upload runs
   * at ~100 KB/s, ~2 200 items/s, whichever client (bench/README.md); this holds a whole upload.
   */
  statefulBuffer: 32_000_000,
  /**
   * The live stream with stateful reconnect: the server keeps at most its buffer (100 000 bytes
   * by default) unacknowledged, and both clients acknowledge about once a second, so it runs at
   * ~2 300 items/s whichever client: 200 000 items would take 87 s per child.
   */
  statefulStreamItems: 20_000 * SCALE,
  statefulStreamWarmup: 10_000,
} as const;

/** Scenario names, in table order. */
export const SCENARIOS = [
  "stream",
  "subscribe",
  "replay",
  "replay-subscribe",
  "replay-small",
  "upload",
  "invokes",
  "latency",
  "connect",
  "stop",
  "memory",
  "stream-sse",
  "replay-sse",
  "upload-sse",
  "invokes-sse",
  "stream-lp",
  "replay-lp",
  "upload-lp",
  "invokes-lp",
  // MessagePack: the same scenarios in the MessagePack hub protocol (bench/README.md).
  "stream-mp",
  "subscribe-mp",
  "replay-mp",
  "replay-mp-subscribe",
  "replay-mp-small",
  "upload-mp",
  "invokes-mp",
  "stream-mp-lp",
  "replay-mp-lp",
  "upload-mp-lp",
  "invokes-mp-lp",
  // Stateful reconnect on (WebSockets, JSON), beside the same scenarios without it.
  "stream-stateful",
  "replay-stateful",
  "upload-stateful",
] as const;
/** A scenario name. */
export type Scenario = typeof SCENARIOS[number];
/** A scenario in JSON. */
export type JsonScenario = Exclude<Scenario, `${string}-mp` | `${string}-mp-${string}`>;
/** A scenario in JSON without stateful reconnect. */
export type PlainScenario = Exclude<JsonScenario, `${string}-stateful`>;

/** The transport of a scenario: `…-sse` and `…-lp` run on the HTTP transports. */
export function transportOf(scenario: string): TransportName {
  if (scenario.endsWith("-sse")) return "ServerSentEvents";
  if (scenario.endsWith("-lp")) return "LongPolling";
  return "WebSockets";
}

/** Whether a scenario runs with stateful reconnect on (`…-stateful`). */
export function statefulOf(scenario: string): boolean {
  return scenario.endsWith("-stateful");
}

/**
 * The interop server's path that allows stateful reconnect on the bench's hub (TestHub), with
 * the default disconnect timeout (tests/interop/server/Program.cs).
 */
export const STATEFUL_HUB_PATH = "/hub-stateful-bench";

/**
 * The hub a scenario connects to, given the bench's hub URL: the stateful scenarios take the
 * interop server's stateful path beside it (`…/hub` → `…/hub-stateful-bench`).
 */
export function hubUrlOf(scenario: string, hubUrl: string): string {
  if (!statefulOf(scenario)) return hubUrl;
  const url = new URL(hubUrl);
  url.pathname = url.pathname.replace(/\/[^/]*$/, STATEFUL_HUB_PATH);
  return url.href;
}

/**
 * The scenario measured the same way without stateful reconnect, in JSON: `stream-stateful` →
 * `stream`, `upload-mp` → `upload`. Scenarios with the same plain scenario run as one group.
 */
export function plainOf(scenario: Scenario): PlainScenario {
  return jsonOf(scenario).replace(/-stateful$/, "") as PlainScenario;
}

/** The hub protocol of a scenario: `…-mp…` scenarios speak MessagePack. */
export function protocolOf(scenario: string): ProtocolName {
  return /-mp(-|$)/.test(scenario) ? "messagepack" : "json";
}

/**
 * The scenario that measures the same thing in JSON: `replay-mp-small` → `replay-small`,
 * `stream-mp-lp` → `stream-lp`; a JSON scenario is its own.
 */
export function jsonOf(scenario: Scenario): JsonScenario {
  return scenario.replace(/-mp(?=-|$)/, "") as JsonScenario;
}

/** The sizes of a scenario's run: uploads are smaller on the HTTP transports. */
function sizesOf(scenario: Scenario) {
  const http = transportOf(scenario) !== "WebSockets";
  const throttled = scenario === "stream-stateful";
  return {
    streamItems: throttled ? SIZES.statefulStreamItems : SIZES.streamItems,
    streamWarmup: throttled ? SIZES.statefulStreamWarmup : SIZES.warmupItems,
    uploadItems: http ? SIZES.httpUploadItems : SIZES.uploadItems,
    uploadWarmup: http ? SIZES.httpUploadWarmup : SIZES.warmupItems,
    invokes: SIZES.invokes,
  };
}

/** The size of the measured run of a scenario, for labels. */
export function sizeOf(scenario: Scenario): number {
  const sizes = sizesOf(scenario);
  if (scenario.startsWith("upload")) return sizes.uploadItems;
  if (scenario.startsWith("invokes")) return sizes.invokes;
  return sizes.streamItems;
}

/** One child's measurements: metric name → value. */
export type Measurements = Record<string, number>;

/** A client whose `connect` has its scenario's transport bound. */
type Bound<C extends BenchConnection> = Omit<BenchClient<C>, "connect"> & {
  connect(hubUrl: string): Promise<C>;
};

/** Runs one scenario with one client. */
export function runScenario<C extends BenchConnection>(
  client: BenchClient<C>,
  scenario: Scenario,
  hubUrl: string,
): Promise<Measurements> {
  const transport = transportOf(scenario);
  const protocol = protocolOf(scenario);
  const options: ConnectOptions = { stateful: statefulOf(scenario) };
  const on: Bound<C> = {
    ...client,
    connect: (url) => client.connect(hubUrlOf(scenario, url), transport, protocol, options),
  };
  const sizes = sizesOf(scenario);
  switch (plainOf(scenario)) {
    case "stream":
    case "replay":
    case "replay-small":
    case "stream-sse":
    case "stream-lp":
    case "replay-sse":
    case "replay-lp":
      return stream(on, hubUrl, sizes.streamItems, (c, n) => on.stream(c, n), sizes.streamWarmup);
    case "subscribe":
    case "replay-subscribe":
      return stream(
        on,
        hubUrl,
        sizes.streamItems,
        (c, n) => on.streamSubscribe ? on.streamSubscribe(c, n) : on.stream(c, n),
      );
    case "upload":
    case "upload-sse":
    case "upload-lp":
      return upload(on, hubUrl, sizes.uploadItems, sizes.uploadWarmup);
    case "invokes":
    case "invokes-sse":
    case "invokes-lp":
      return invokes(on, hubUrl, sizes.invokes);
    case "latency":
      return latency(on, hubUrl);
    case "connect":
      return connect(on, hubUrl);
    case "stop":
      return stop(on, hubUrl);
    case "memory":
      return memory(on, hubUrl);
  }
}

function stream<C extends BenchConnection>(
  client: Bound<C>,
  hubUrl: string,
  n: number,
  read: (connection: C, count: number) => Promise<number>,
  warmup: number = SIZES.warmupItems,
): Promise<Measurements> {
  return throughput(client, hubUrl, n, warmup, read, "stream items");
}

/** Items per POST and per poll, where there were any (the HTTP transports). */
function perRequest(n: number, posts: number, polls: number): Measurements {
  const out: Measurements = {};
  if (posts > 0) out.itemsPerPost = n / posts;
  if (polls > 0) out.itemsPerPoll = n / polls;
  return out;
}

/**
 * What a window cost in messages: WebSocket messages received (for the WebSocket scenarios), or
 * HTTP requests made through `fetch`: POSTs (sends) and GETs (Long Polling's polls).
 */
function traffic(): () => Measurements {
  const frames0 = framesReceived();
  const requests0 = requestsSent();
  return () => {
    const requests = requestsSent();
    return {
      frames: framesReceived() - frames0,
      posts: requests.posts - requests0.posts,
      polls: requests.gets - requests0.gets,
    };
  };
}

/** Connects, warms up, then times `run` over `n` items: items/s and CPU µs per item. */
async function throughput<C extends BenchConnection>(
  client: Bound<C>,
  hubUrl: string,
  n: number,
  warmup: number,
  run: (connection: C, count: number) => Promise<number>,
  what: string,
): Promise<Measurements> {
  const connection = await client.connect(hubUrl);
  try {
    expect(await run(connection, warmup), warmup, "warm-up");
    // Garbage of connecting and warming up (and the replay's recorded messages, old and
    // large) is collected before the window, not by GC threads inside it.
    await collectGarbage();
    const counted = traffic();
    const timed = await measure(() => run(connection, n));
    const { frames, posts, polls } = counted();
    expect(timed.value, n, what);
    return {
      itemsPerSec: n / (timed.wallMs / 1000),
      cpuUsPerItem: timed.cpuUs / n,
      wallMs: timed.wallMs,
      itemsPerFrame: n / Math.max(1, frames),
      ...perRequest(n, posts, polls),
    };
  } finally {
    await connection.stop();
  }
}

function upload<C extends BenchConnection>(
  client: Bound<C>,
  hubUrl: string,
  n: number,
  warmup: number,
): Promise<Measurements> {
  const send = client.upload?.bind(client);
  if (!send) return Promise.reject(new Error("this client has no upload scenario"));
  return throughput(client, hubUrl, n, warmup, send, "items the server read");
}

/** `total` invocations of Add, `inFlight` at a time; returns how many answered right. */
async function pipelined<C extends BenchConnection>(
  client: Bound<C>,
  connection: C,
  total: number,
  inFlight: number,
): Promise<number> {
  let next = 0;
  let ok = 0;
  const worker = async () => {
    while (next < total) {
      const i = next++;
      if (await client.invoke(connection, "Add", i, 1) === i + 1) ok++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return ok;
}

async function invokes<C extends BenchConnection>(
  client: Bound<C>,
  hubUrl: string,
  n: number,
): Promise<Measurements> {
  const connection = await client.connect(hubUrl);
  try {
    await pipelined(client, connection, SIZES.invokeWarmup, SIZES.inFlight);
    const counted = traffic();
    const run = await measure(() => pipelined(client, connection, n, SIZES.inFlight));
    const { posts, polls } = counted();
    expect(run.value, n, "correct results");
    return {
      callsPerSec: n / (run.wallMs / 1000),
      cpuUsPerCall: run.cpuUs / n,
      wallMs: run.wallMs,
      ...perRequest(n, posts, polls),
    };
  } finally {
    await connection.stop();
  }
}

async function latency<C extends BenchConnection>(
  client: Bound<C>,
  hubUrl: string,
): Promise<Measurements> {
  const n = SIZES.latencyCalls;
  const connection = await client.connect(hubUrl);
  try {
    for (let i = 0; i < SIZES.latencyWarmup; i++) await client.invoke(connection, "Add", i, 1);
    const times: number[] = [];
    const run = await measure(async () => {
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        const result = await client.invoke(connection, "Add", i, 1);
        times.push(performance.now() - t0);
        if (result !== i + 1) throw new Error(`Add(${i}, 1) gave ${result}`);
      }
    });
    times.sort((a, b) => a - b);
    return {
      p50Us: percentile(times, 50) * 1000,
      p99Us: percentile(times, 99) * 1000,
      cpuUsPerCall: run.cpuUs / n,
    };
  } finally {
    await connection.stop();
  }
}

async function connect<C extends BenchConnection>(
  client: Bound<C>,
  hubUrl: string,
): Promise<Measurements> {
  for (let i = 0; i < SIZES.connectWarmup; i++) await (await client.connect(hubUrl)).stop();
  const times: number[] = [];
  let cpuUs = 0;
  for (let i = 0; i < SIZES.connects; i++) {
    const run = await measure(() => client.connect(hubUrl));
    times.push(run.wallMs);
    cpuUs += run.cpuUs;
    await run.value.stop();
  }
  times.sort((a, b) => a - b);
  return {
    p50Ms: percentile(times, 50),
    p99Ms: percentile(times, 99),
    cpuMsPerConnect: cpuUs / 1000 / SIZES.connects,
  };
}

/**
 * `stop()` of an idle connected connection, timed alone: connect (not timed), stay idle for
 * `stopIdleMs`, then time `await connection.stop()`.
 */
async function stop<C extends BenchConnection>(
  client: Bound<C>,
  hubUrl: string,
): Promise<Measurements> {
  const idle = () => new Promise((resolve) => setTimeout(resolve, SIZES.stopIdleMs));
  for (let i = 0; i < SIZES.stopWarmup; i++) {
    const connection = await client.connect(hubUrl);
    await idle();
    await connection.stop();
  }
  const times: number[] = [];
  let cpuUs = 0;
  for (let i = 0; i < SIZES.stops; i++) {
    const connection = await client.connect(hubUrl);
    await idle();
    const run = await measure(() => connection.stop());
    times.push(run.wallMs);
    cpuUs += run.cpuUs;
  }
  times.sort((a, b) => a - b);
  return {
    p50Ms: percentile(times, 50),
    p99Ms: percentile(times, 99),
    cpuMsPerStop: cpuUs / 1000 / SIZES.stops,
  };
}

async function memory<C extends BenchConnection>(
  client: Bound<C>,
  hubUrl: string,
): Promise<Measurements> {
  const n = SIZES.idleConnections;
  // One connection first, so that lazily loaded code and caches are not counted per connection.
  const connections: C[] = [await client.connect(hubUrl)];
  try {
    await collectGarbage();
    const before = process.memoryUsage();
    for (let i = 0; i < n; i++) connections.push(await client.connect(hubUrl));
    await collectGarbage();
    const after = process.memoryUsage();
    return {
      heapKbPerConn: (after.heapUsed - before.heapUsed) / 1024 / n,
      rssKbPerConn: (after.rss - before.rss) / 1024 / n,
    };
  } finally {
    await Promise.all(connections.map((c) => c.stop()));
  }
}

function expect(actual: number, wanted: number, what: string): void {
  if (actual !== wanted) throw new Error(`${what}: got ${actual}, expected ${wanted}`);
}
