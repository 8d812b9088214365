/**
 * `deno task bench`: this client ("ours") against `@microsoft/signalr` with default options, as
 * its users run it ("official"; in Deno it loads the `ws` package), the same client forced onto
 * Deno's native WebSocket ("official (native WebSocket)", an extra column), and a hand-made bare
 * WebSocket reader ("bare", the floor); same server, same run, each measurement in a fresh child
 * process, clients alternating. Then ours and official on Server-Sent Events and Long Polling
 * (`…-sse`, `…-lp` scenarios; the official client given only `{ transport }`). Prints medians,
 * ratios, and the targets.
 *
 * Options:
 * - `--rounds N`   rounds per scenario (default 5); `--quick` = 1 round (smoke run)
 * - `--only a,b`   only these scenarios (stream, subscribe, replay, replay-subscribe,
 *                  replay-small, upload, invokes, latency, connect, stop, memory, and on the
 *                  HTTP transports stream-sse, replay-sse, upload-sse, invokes-sse, stream-lp,
 *                  replay-lp, upload-lp, invokes-lp; in MessagePack stream-mp, subscribe-mp,
 *                  replay-mp, replay-mp-subscribe, replay-mp-small, upload-mp, invokes-mp,
 *                  stream-mp-lp, replay-mp-lp, upload-mp-lp, invokes-mp-lp: a table of their
 *                  own, beside the same scenarios in JSON when those ran too; with stateful
 *                  reconnect stream-stateful, replay-stateful, upload-stateful: a table of
 *                  their own, beside stream, replay and upload)
 * - `--url URL`    use a running hub instead of starting one
 * - `--server aspnet|testhub`  which server to start (default: aspnet when `dotnet` is on PATH)
 * - `--json FILE`  also write every sample to FILE
 * - `--no-node`    skip the Node table: by default, when the pinned Node (tools/runtimes) is
 *                  installed, ours and `@microsoft/signalr` also run on Node for every live
 *                  scenario (all but the replays; `NODE_SCENARIOS`), each in a fresh `node`
 *                  child (bench/node_child.ts), in the same rounds
 *
 * @module
 */
import { parseArgs } from "node:util";
import { median } from "./_measure.ts";
import {
  jsonOf,
  type Measurements,
  plainOf,
  protocolOf,
  type Scenario,
  SCENARIOS,
  sizeOf,
  SIZES,
  STATEFUL_HUB_PATH,
  statefulOf,
  transportOf,
} from "./_scenarios.ts";
import type { ClientName } from "./child.ts";
import { REPLAY_BATCH } from "./_replay.ts";
import { childArgs, interopHub } from "./_launch.ts";
import { NODE_BENCH_DIR, NODE_CLIENTS } from "./node_child.ts";

const CHILD_TIMEOUT_MS = 5 * 60_000;

/**
 * The scenarios that also run on Node, for the Node table: every live one (the replays stand in
 * for the global WebSocket, which the official client does not use on Node).
 */
const NODE_SCENARIOS: readonly Scenario[] = SCENARIOS.filter((s) => !s.startsWith("replay"));
/** The pinned newest Node (tools/runtimes/package.json), which runs the TypeScript sources. */
const NODE = new URL("../tools/runtimes/node_modules/node-latest/bin/node", import.meta.url)
  .pathname;
const NODE_CHILD = new URL("./node_child.ts", import.meta.url).pathname;
/** The official client and its MessagePack protocol on Node: the same as in the Deno children. */
const NODE_OFFICIAL = ["@microsoft/signalr@10.0.11", "@microsoft/signalr-protocol-msgpack@10.0.11"];

/**
 * Which clients run each scenario ("bare" has no upload). The replayed streams have no server and
 * one stand-in WebSocket for every client, so "official-native" would repeat "official" there.
 */
const CLIENTS_OF: Record<Scenario, readonly ClientName[]> = {
  stream: ["ours", "official", "official-native", "bare"],
  subscribe: ["ours", "official", "official-native"],
  replay: ["ours", "official", "bare"],
  "replay-subscribe": ["ours", "official"],
  "replay-small": ["ours", "official", "bare"],
  upload: ["ours", "official", "official-native"],
  invokes: ["ours", "official", "official-native", "bare"],
  latency: ["ours", "official", "official-native", "bare"],
  connect: ["ours", "official", "official-native", "bare"],
  stop: ["ours", "official", "official-native", "bare"],
  memory: ["ours", "official", "official-native", "bare"],
  // Server-Sent Events and Long Polling: the official client as its users pick the transport
  // (`withUrl(url, { transport })`); bare and the native-WebSocket run do not apply.
  "stream-sse": ["ours", "official"],
  // The official client reads Server-Sent Events with the `eventsource` package over `node:http`,
  // which the replay's stand-in `fetch` cannot serve.
  "replay-sse": ["ours"],
  "upload-sse": ["ours", "official"],
  "invokes-sse": ["ours", "official"],
  "stream-lp": ["ours", "official"],
  "replay-lp": ["ours", "official"],
  "upload-lp": ["ours", "official"],
  "invokes-lp": ["ours", "official"],
  // MessagePack: the official client with `.withHubProtocol(new MessagePackHubProtocol())` of
  // @microsoft/signalr-protocol-msgpack and otherwise its default options; bare decodes each
  // message with @msgpack/msgpack's generic decoder (WebSockets only).
  "stream-mp": ["ours", "official", "bare"],
  "subscribe-mp": ["ours", "official"],
  "replay-mp": ["ours", "official", "bare"],
  "replay-mp-subscribe": ["ours", "official"],
  "replay-mp-small": ["ours", "official", "bare"],
  "upload-mp": ["ours", "official"],
  "invokes-mp": ["ours", "official", "bare"],
  "stream-mp-lp": ["ours", "official"],
  "replay-mp-lp": ["ours", "official"],
  "upload-mp-lp": ["ours", "official"],
  "invokes-mp-lp": ["ours", "official"],
  // Stateful reconnect: both clients with `.withStatefulReconnect({ bufferSize })` (a buffer that
  // holds a whole upload), beside the same scenario without it (`stream`, `replay`, `upload`).
  "stream-stateful": ["ours", "official"],
  "replay-stateful": ["ours", "official"],
  "upload-stateful": ["ours", "official"],
};

interface Row {
  scenario: Scenario;
  metric: string;
  label: string;
  /** Whether a larger number is better; absent for a row that only explains others. */
  higher?: boolean;
  digits: number;
}

const ROWS: Row[] = [
  {
    scenario: "stream",
    metric: "itemsPerSec",
    label: `server stream ${k(SIZES.streamItems)} items: items/s`,
    higher: true,
    digits: 0,
  },
  {
    scenario: "stream",
    metric: "cpuUsPerItem",
    label: "server stream: CPU µs/item",
    higher: false,
    digits: 2,
  },
  {
    scenario: "stream",
    metric: "itemsPerFrame",
    label: "server stream: items per WebSocket message (the server's batching)",
    digits: 1,
  },
  {
    scenario: "subscribe",
    metric: "cpuUsPerItem",
    label: "server stream, both via subscribe(): CPU µs/item",
    higher: false,
    digits: 2,
  },
  {
    scenario: "subscribe",
    metric: "itemsPerFrame",
    label: "server stream via subscribe(): items per WebSocket message",
    digits: 1,
  },
  {
    scenario: "replay",
    metric: "cpuUsPerItem",
    label: `replayed stream, ${REPLAY_BATCH.large} items per message: CPU µs/item`,
    higher: false,
    digits: 3,
  },
  {
    scenario: "replay-subscribe",
    metric: "cpuUsPerItem",
    label: "replayed stream, both via subscribe(): CPU µs/item",
    higher: false,
    digits: 3,
  },
  {
    scenario: "replay-small",
    metric: "cpuUsPerItem",
    label: `replayed stream, ${REPLAY_BATCH.small} items per message: CPU µs/item`,
    higher: false,
    digits: 3,
  },
  {
    scenario: "upload",
    metric: "itemsPerSec",
    label: `upload ${k(SIZES.uploadItems)} items: items/s`,
    higher: true,
    digits: 0,
  },
  {
    scenario: "upload",
    metric: "cpuUsPerItem",
    label: "upload: CPU µs/item",
    higher: false,
    digits: 2,
  },
  {
    scenario: "invokes",
    metric: "callsPerSec",
    label: `pipelined invokes (${k(SIZES.invokes)}, ${SIZES.inFlight} in flight): calls/s`,
    higher: true,
    digits: 0,
  },
  {
    scenario: "invokes",
    metric: "cpuUsPerCall",
    label: "pipelined invokes: CPU µs/call",
    higher: false,
    digits: 1,
  },
  {
    scenario: "latency",
    metric: "p50Us",
    label: `sequential invoke (${k(SIZES.latencyCalls)}): p50 µs`,
    higher: false,
    digits: 0,
  },
  {
    scenario: "latency",
    metric: "p99Us",
    label: "sequential invoke: p99 µs",
    higher: false,
    digits: 0,
  },
  {
    scenario: "latency",
    metric: "cpuUsPerCall",
    label: "sequential invoke: CPU µs/call",
    higher: false,
    digits: 1,
  },
  {
    scenario: "connect",
    metric: "p50Ms",
    label: `connect (${SIZES.connects}×): p50 ms`,
    higher: false,
    digits: 2,
  },
  {
    scenario: "connect",
    metric: "p99Ms",
    label: "connect: p99 ms",
    higher: false,
    digits: 2,
  },
  {
    scenario: "connect",
    metric: "cpuMsPerConnect",
    label: "connect: CPU ms/connect",
    higher: false,
    digits: 2,
  },
  {
    scenario: "stop",
    metric: "p50Ms",
    label: `stop() of an idle connection (${SIZES.stops}×): p50 ms`,
    higher: false,
    digits: 2,
  },
  {
    scenario: "stop",
    metric: "p99Ms",
    label: "stop(): p99 ms",
    higher: false,
    digits: 2,
  },
  {
    scenario: "stop",
    metric: "cpuMsPerStop",
    label: "stop(): CPU ms/stop",
    higher: false,
    digits: 2,
  },
  {
    scenario: "memory",
    metric: "heapKbPerConn",
    label: `idle connections (${SIZES.idleConnections}): heap KB/conn`,
    higher: false,
    digits: 1,
  },
  {
    scenario: "memory",
    metric: "rssKbPerConn",
    label: "idle connections: RSS KB/conn",
    higher: false,
    digits: 1,
  },
  ...httpRows("sse", "Server-Sent Events"),
  ...httpRows("lp", "Long Polling"),
];

/** The rows of the three scenarios on one HTTP transport. */
function httpRows(suffix: "sse" | "lp", name: string): Row[] {
  const stream = `stream-${suffix}` as Scenario;
  const replay = `replay-${suffix}` as Scenario;
  const upload = `upload-${suffix}` as Scenario;
  const invokes = `invokes-${suffix}` as Scenario;
  const rows: Row[] = [
    {
      scenario: stream,
      metric: "itemsPerSec",
      label: `${name}: server stream ${k(sizeOf(stream))} items: items/s`,
      higher: true,
      digits: 0,
    },
    {
      scenario: stream,
      metric: "cpuUsPerItem",
      label: `${name}: server stream: CPU µs/item`,
      higher: false,
      digits: 2,
    },
  ];
  if (suffix === "lp") {
    rows.push({
      scenario: stream,
      metric: "itemsPerPoll",
      label: `${name}: server stream: items per poll`,
      digits: 1,
    });
  }
  rows.push(
    {
      scenario: replay,
      metric: "cpuUsPerItem",
      label: `${name}: replayed stream, ${REPLAY_BATCH.large} items per ${
        suffix === "lp" ? "poll" : "event"
      }: CPU µs/item`,
      higher: false,
      digits: 3,
    },
    {
      scenario: upload,
      metric: "itemsPerSec",
      label: `${name}: upload ${k(sizeOf(upload))} items: items/s`,
      higher: true,
      digits: 0,
    },
    {
      scenario: upload,
      metric: "cpuUsPerItem",
      label: `${name}: upload: CPU µs/item`,
      higher: false,
      digits: 2,
    },
    {
      scenario: upload,
      metric: "itemsPerPost",
      label: `${name}: upload: items per POST`,
      digits: 0,
    },
    {
      scenario: invokes,
      metric: "callsPerSec",
      label: `${name}: pipelined invokes (${
        k(sizeOf(invokes))
      }, ${SIZES.inFlight} in flight): calls/s`,
      higher: true,
      digits: 0,
    },
    {
      scenario: invokes,
      metric: "cpuUsPerCall",
      label: `${name}: pipelined invokes: CPU µs/call`,
      higher: false,
      digits: 1,
    },
    {
      scenario: invokes,
      metric: "itemsPerPost",
      label: `${name}: pipelined invokes: calls per POST`,
      digits: 1,
    },
  );
  if (suffix === "lp") {
    rows.push({
      scenario: invokes,
      metric: "itemsPerPoll",
      label: `${name}: pipelined invokes: calls per poll`,
      digits: 1,
    });
  }
  return rows;
}

interface Target {
  text: string;
  scenario: Scenario;
  metric: string;
  /** ours / other must be ≤ limit (lower-is-better metric) or ≥ limit (higher-is-better). */
  other: ClientName;
  /** The other's scenario, when not `scenario` (ours in JSON against ours in MessagePack). */
  otherScenario?: Scenario;
  limit: number;
}

const TARGETS: Target[] = [
  {
    text: "stream CPU/item ≤ 0.5× official",
    scenario: "stream",
    metric: "cpuUsPerItem",
    other: "official",
    limit: 0.5,
  },
  {
    text: "stream CPU/item ≤ 1.5× bare",
    scenario: "stream",
    metric: "cpuUsPerItem",
    other: "bare",
    limit: 1.5,
  },
  {
    text: `replayed stream (${REPLAY_BATCH.large}/message) CPU/item ≤ 0.5× official`,
    scenario: "replay",
    metric: "cpuUsPerItem",
    other: "official",
    limit: 0.5,
  },
  {
    text: `replayed stream (${REPLAY_BATCH.large}/message) CPU/item ≤ 1.5× bare`,
    scenario: "replay",
    metric: "cpuUsPerItem",
    other: "bare",
    limit: 1.5,
  },
  {
    text: "upload items/s ≥ 2× official",
    scenario: "upload",
    metric: "itemsPerSec",
    other: "official",
    limit: 2,
  },
  {
    text: "pipelined invokes/s ≥ 1.5× official",
    scenario: "invokes",
    metric: "callsPerSec",
    other: "official",
    limit: 1.5,
  },
  {
    text: "sequential p50 ≤ official",
    scenario: "latency",
    metric: "p50Us",
    other: "official",
    limit: 1,
  },
  {
    text: "connect p50 ≤ official",
    scenario: "connect",
    metric: "p50Ms",
    other: "official",
    limit: 1,
  },
  {
    text: "heap per idle connection ≤ 0.5× official",
    scenario: "memory",
    metric: "heapKbPerConn",
    other: "official",
    limit: 0.5,
  },
  {
    text: "Long Polling upload items/s ≥ 2× official",
    scenario: "upload-lp",
    metric: "itemsPerSec",
    other: "official",
    limit: 2,
  },
  // MessagePack (issue 12): stream CPU per item at most half the official client's (with its
  // MessagePack protocol), and below our own JSON path's on the same stream.
  ...([
    "stream-mp",
    "subscribe-mp",
    "replay-mp",
    "replay-mp-subscribe",
    "replay-mp-small",
    "replay-mp-lp",
  ] as const).flatMap(
    (scenario): Target[] => [
      {
        text: `MessagePack ${scenario} CPU/item ≤ 0.5× official MessagePack`,
        scenario,
        metric: "cpuUsPerItem",
        other: "official",
        limit: 0.5,
      },
      {
        text: `MessagePack ${scenario} CPU/item < ours in JSON (${jsonOf(scenario)})`,
        scenario,
        metric: "cpuUsPerItem",
        other: "ours",
        otherScenario: jsonOf(scenario),
        limit: 1,
      },
    ],
  ),
  // Stateful reconnect (issue 13): at most 15% over our own figures without it.
  ...(["stream-stateful", "replay-stateful", "upload-stateful"] as const).flatMap((scenario) =>
    ROWS.filter((row) => row.scenario === plainOf(scenario) && row.higher !== undefined)
      .filter((row) => row.metric !== "itemsPerSec" || scenario === "upload-stateful")
      .map((row): Target => ({
        text: `stateful ${row.label} ${row.higher ? "≥ 1/1.15" : "≤ 1.15"}× ours without it`,
        scenario,
        metric: row.metric,
        other: "ours",
        otherScenario: plainOf(scenario),
        limit: row.higher ? 1 / 1.15 : 1.15,
      }))
  ),
  // Server-Sent Events and Long Polling: ahead of the official client on every row.
  ...ROWS.filter((row) =>
    /-(sse|lp)$/.test(row.scenario) && protocolOf(row.scenario) === "json" &&
    row.higher !== undefined &&
    CLIENTS_OF[row.scenario].includes("official")
  ).map(
    (row): Target => ({
      text: `${row.label} ${row.higher ? "≥" : "≤"} official`,
      scenario: row.scenario,
      metric: row.metric,
      other: "official",
      limit: 1,
    }),
  ),
];

/** samples[scenario][client] = one Measurements per round. */
type Samples = Record<string, Record<string, Measurements[]>>;

interface Server {
  hubUrl: string;
  kind: string;
  close(): Promise<void>;
}

function k(n: number): string {
  return n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n);
}

function onPath(name: string): boolean {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir) continue;
    try {
      if (Deno.statSync(`${dir}/${name}`).isFile) return true;
    } catch {
      // not there
    }
  }
  return false;
}

async function startAspNet(): Promise<Server> {
  console.error("Starting the ASP.NET Core hub (tests/interop/server; built when stale)...");
  const hub = await interopHub(undefined);
  if (!hub) throw new Error("dotnet disappeared");
  return { ...hub, kind: "ASP.NET Core (tests/interop/server)" };
}

interface TestHubLike {
  readonly url: string;
  [Symbol.asyncDispose](): Promise<void>;
}

/** The `@signalrcore/client/testing` TestHub, when testing.ts exists and exports it. */
async function startTestHub(): Promise<Server | null> {
  const path = new URL("../testing.ts", import.meta.url);
  try {
    Deno.statSync(path);
  } catch {
    return null;
  }
  const specifier = path.href;
  const testing = await import(specifier) as {
    TestHub?: {
      serve(options: { methods: Record<string, unknown>; protocols?: unknown[] }): Promise<
        TestHubLike
      >;
    };
  };
  if (!testing.TestHub) return null;
  // JSON always; MessagePack too, for the `…-mp…` scenarios.
  const { MessagePackHubProtocol } = await import("../msgpack.ts");
  const hub = await testing.TestHub.serve({
    protocols: [new MessagePackHubProtocol()],
    methods: {
      Add: (a: number, b: number) => a + b,
      Echo: (x: unknown) => x,
      Counter: async function* (count: number, _delay: number) {
        for (let i = 0; i < count; i++) yield i;
      },
      UploadCount: async (items: AsyncIterable<string>) => {
        let n = 0;
        for await (const _ of items) n++;
        return n;
      },
    },
  });
  return {
    hubUrl: hub.url,
    kind: "TestHub (@signalrcore/client/testing, in the bench process)",
    close: () => hub[Symbol.asyncDispose](),
  };
}

async function runChild(
  client: ClientName,
  scenario: Scenario,
  hubUrl: string,
  runtime: "deno" | "node" = "deno",
): Promise<Measurements | null> {
  const child = new Deno.Command(runtime === "node" ? NODE : Deno.execPath(), {
    args: runtime === "node"
      ? ["--expose-gc", NODE_CHILD, client, scenario, hubUrl]
      : childArgs(client, scenario, hubUrl),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }, CHILD_TIMEOUT_MS);
  const output = await child.output();
  clearTimeout(timer);
  const stdout = new TextDecoder().decode(output.stdout);
  const stderr = new TextDecoder().decode(output.stderr);
  const line = stdout.split("\n").findLast((l) => l.startsWith("RESULT "));
  if (!output.success || !line) {
    console.error(
      `  ${runtime === "node" ? "node " : ""}${client} ${scenario} FAILED (exit ${output.code}${
        output.signal ? `, ${output.signal}` : ""
      }):\n${stderr.trim()}\n${stdout.trim()}`,
    );
    return null;
  }
  if (stderr.trim()) {
    console.error(
      `  ${runtime === "node" ? "node " : ""}${client} ${scenario} stderr: ${stderr.trim()}`,
    );
  }
  return JSON.parse(line.slice("RESULT ".length)) as Measurements;
}

function format(value: number, digits: number): string {
  if (!Number.isFinite(value)) return "—";
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

function ratio(a: number, b: number): string {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? `${(a / b).toFixed(2)}×` : "—";
}

function medianOf(samples: Samples, scenario: Scenario, client: string, metric: string): number {
  return median((samples[scenario]?.[client] ?? []).map((m) => m[metric]));
}

function table(samples: Samples, scenarios: readonly Scenario[]): string {
  const lines = [
    "| scenario | ours | official | official/ours | bare | ours/bare | official (native WebSocket) |",
    "|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const row of ROWS) {
    if (!scenarios.includes(row.scenario)) continue;
    const ours = medianOf(samples, row.scenario, "ours", row.metric);
    const official = medianOf(samples, row.scenario, "official", row.metric);
    const bare = medianOf(samples, row.scenario, "bare", row.metric);
    const native = medianOf(samples, row.scenario, "official-native", row.metric);
    const arrow = row.higher === undefined ? "" : row.higher ? "↑" : "↓";
    // A row that only explains others (items per message) has no ratios.
    const rated = row.higher !== undefined;
    lines.push(
      `| ${row.label} ${arrow} | ${format(ours, row.digits)} | ${format(official, row.digits)} | ${
        rated ? ratio(official, ours) : ""
      } | ${format(bare, row.digits)} | ${rated ? ratio(ours, bare) : ""} | ${
        format(native, row.digits)
      } |`,
    );
  }
  return lines.join("\n");
}

/**
 * The MessagePack scenarios, each beside the same scenario in JSON (when it ran too): ours and
 * official in both protocols, bare in MessagePack. Rows are the JSON scenario's rows.
 */
function messagePackTable(samples: Samples, scenarios: readonly Scenario[]): string {
  const lines = [
    "| scenario | ours JSON | ours MessagePack | official MessagePack | official JSON | " +
    "official MP / ours MP | ours JSON / ours MP | bare MessagePack |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const scenario of scenarios) {
    if (protocolOf(scenario) !== "messagepack") continue;
    const json = jsonOf(scenario);
    for (const row of ROWS) {
      if (row.scenario !== json) continue;
      const value = (s: Scenario, client: string) => medianOf(samples, s, client, row.metric);
      const oursMp = value(scenario, "ours");
      const oursJson = value(json, "ours");
      const officialMp = value(scenario, "official");
      const arrow = row.higher === undefined ? "" : row.higher ? "↑" : "↓";
      const rated = row.higher !== undefined;
      lines.push(
        `| ${scenario}: ${row.label} ${arrow} | ${format(oursJson, row.digits)} | ${
          format(oursMp, row.digits)
        } | ${format(officialMp, row.digits)} | ${format(value(json, "official"), row.digits)} | ${
          rated ? ratio(officialMp, oursMp) : ""
        } | ${rated ? ratio(oursJson, oursMp) : ""} | ${
          format(value(scenario, "bare"), row.digits)
        } |`,
      );
    }
  }
  return lines.join("\n");
}

/**
 * The stateful scenarios, each beside the same scenario without stateful reconnect (when it ran
 * too): ours and official both ways. "cost" is how much worse ours is with it than without (CPU
 * with / without; items/s without / with): > 1 is slower.
 */
function statefulTable(samples: Samples, scenarios: readonly Scenario[]): string {
  const lines = [
    "| scenario | ours | ours stateful | cost (ours stateful vs ours) | official stateful | " +
    "official | official stateful / ours stateful |",
    "|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const scenario of scenarios) {
    if (!statefulOf(scenario)) continue;
    const plain = plainOf(scenario);
    for (const row of ROWS) {
      if (row.scenario !== plain) continue;
      const value = (s: Scenario, client: string) => medianOf(samples, s, client, row.metric);
      const oursStateful = value(scenario, "ours");
      const oursPlain = value(plain, "ours");
      const officialStateful = value(scenario, "official");
      const arrow = row.higher === undefined ? "" : row.higher ? "↑" : "↓";
      const rated = row.higher !== undefined;
      const cost = row.higher ? ratio(oursPlain, oursStateful) : ratio(oursStateful, oursPlain);
      // The live stateful stream is shorter (SIZES.statefulStreamItems).
      const label = row.label.replace(k(sizeOf(plain)), k(sizeOf(scenario)));
      lines.push(
        `| ${scenario}: ${label} ${arrow} | ${format(oursPlain, row.digits)} | ${
          format(oursStateful, row.digits)
        } | ${rated ? cost : ""} | ${format(officialStateful, row.digits)} | ${
          format(value(plain, "official"), row.digits)
        } | ${rated ? ratio(officialStateful, oursStateful) : ""} |`,
      );
    }
  }
  return lines.join("\n");
}

/**
 * Ours and the official client on Node (samples under "node:ours" and "node:official"), the
 * rows of the Node scenarios, beside ours on Deno from this run.
 */
function nodeTable(samples: Samples, scenarios: readonly Scenario[]): string {
  const lines = [
    "| scenario | ours on Node | official on Node | official/ours on Node | ours on Deno |",
    "|---|---:|---:|---:|---:|",
  ];
  for (const scenario of scenarios) {
    if (!NODE_SCENARIOS.includes(scenario)) continue;
    // MessagePack and stateful scenarios take the rows of their plain JSON scenario, named.
    const plain = plainOf(scenario);
    const prefix = scenario === plain ? "" : `${scenario}: `;
    for (const row of ROWS) {
      if (row.scenario !== plain) continue;
      const value = (client: string) => medianOf(samples, scenario, client, row.metric);
      const ours = value("node:ours");
      const official = value("node:official");
      const arrow = row.higher === undefined ? "" : row.higher ? "↑" : "↓";
      const rated = row.higher !== undefined;
      const label = row.label.replace(k(sizeOf(plain)), k(sizeOf(scenario)));
      lines.push(
        `| ${prefix}${label} ${arrow} | ${format(ours, row.digits)} | ${
          format(official, row.digits)
        } | ${rated ? ratio(official, ours) : ""} | ${format(value("ours"), row.digits)} |`,
      );
    }
  }
  return lines.join("\n");
}

/**
 * Whether the Node run can go: the pinned Node is installed (`npm install --prefix
 * tools/runtimes`), and the official client is in `.artifacts/bench-node` (installed here from
 * npm when missing). Says why not on stderr.
 */
async function nodeReady(): Promise<string | undefined> {
  try {
    Deno.statSync(NODE);
  } catch {
    console.error(
      "Node run skipped: the pinned Node is not installed " +
        "(npm install --prefix tools/runtimes --no-package-lock)",
    );
    return undefined;
  }
  const dir = NODE_BENCH_DIR.pathname;
  try {
    for (const name of ["signalr", "signalr-protocol-msgpack"]) {
      Deno.statSync(`${dir}node_modules/@microsoft/${name}/package.json`);
    }
  } catch {
    console.error(`Installing ${NODE_OFFICIAL.join(", ")} for the Node run into ${dir}...`);
    const install = await new Deno.Command("npm", {
      args: ["install", "--prefix", dir, ...NODE_OFFICIAL, "--no-package-lock", "--no-audit"],
      stdout: "null",
      stderr: "inherit",
    }).output().catch(() => undefined);
    if (!install?.success) {
      console.error("Node run skipped: npm could not install the official client");
      return undefined;
    }
  }
  const version = await new Deno.Command(NODE, { args: ["--version"] }).output();
  return new TextDecoder().decode(version.stdout).trim();
}

function targets(samples: Samples, scenarios: readonly Scenario[]): string {
  const lines: string[] = [];
  for (const target of TARGETS) {
    const otherScenario = target.otherScenario ?? target.scenario;
    if (!scenarios.includes(target.scenario) || !scenarios.includes(otherScenario)) continue;
    const ours = medianOf(samples, target.scenario, "ours", target.metric);
    const other = medianOf(samples, otherScenario, target.other, target.metric);
    const row = ROWS.find((r) =>
      r.scenario === plainOf(target.scenario) && r.metric === target.metric
    )!;
    const r = ours / other;
    const met = row.higher ? r >= target.limit : r <= target.limit;
    const name = target.otherScenario ? `${target.other} in ${otherScenario}` : target.other;
    lines.push(
      `- ${target.text}: ours/${name} = ${Number.isFinite(r) ? r.toFixed(2) : "—"} → ${
        Number.isFinite(r) ? (met ? "met" : "NOT met") : "no data"
      }`,
    );
  }
  return lines.join("\n");
}

async function main(): Promise<void> {
  const args = parseArgs({
    args: Deno.args,
    options: {
      rounds: { type: "string", default: "5" },
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      url: { type: "string" },
      server: { type: "string" },
      json: { type: "string" },
      "no-node": { type: "boolean", default: false },
    },
  });
  const rounds = args.values.quick ? 1 : Number(args.values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) {
    throw new Error("--rounds must be a positive integer");
  }
  const only = args.values.only?.split(",").map((s) => s.trim()).filter(Boolean);
  for (const name of only ?? []) {
    if (!SCENARIOS.includes(name as Scenario)) {
      throw new Error(`unknown scenario '${name}'; known: ${SCENARIOS.join(", ")}`);
    }
  }
  const scenarios = SCENARIOS.filter((s) => !only || only.includes(s));

  let server: Server | null;
  if (args.values.url) {
    server = {
      hubUrl: args.values.url,
      kind: `given hub ${args.values.url}`,
      close: async () => {},
    };
  } else {
    const wanted = args.values.server ?? (onPath("dotnet") ? "aspnet" : "testhub");
    if (wanted === "aspnet") server = await startAspNet();
    else if (wanted === "testhub") {
      server = await startTestHub();
      if (!server) {
        console.log(
          "bench: `dotnet` is not on PATH, and the TestHub fallback is not available yet " +
            "(testing.ts with TestHub does not exist): nothing measured.",
        );
        return;
      }
    } else throw new Error("--server must be aspnet or testhub");
  }

  const nodeScenarios = args.values["no-node"]
    ? []
    : NODE_SCENARIOS.filter((s) => scenarios.includes(s));
  const nodeVersion = nodeScenarios.length ? await nodeReady() : undefined;
  const onNode = (scenario: Scenario) =>
    nodeVersion !== undefined && nodeScenarios.includes(scenario);

  const samples: Samples = {};
  const started = performance.now();
  try {
    console.error(
      `Server: ${server.kind}; hub ${server.hubUrl}\nDeno ${Deno.version.deno}, ` +
        `${navigator.hardwareConcurrency} cores; ${rounds} round(s)`,
    );
    // A scenario and its MessagePack and stateful counterparts (replay, replay-mp; stream,
    // stream-stateful) run as one group, their rounds alternating, so that the machine's drift
    // over a run does not favour one protocol or option.
    const groups = new Map<Scenario, Scenario[]>();
    for (const scenario of scenarios) {
      const group = groups.get(plainOf(scenario)) ?? [];
      group.push(scenario);
      groups.set(plainOf(scenario), group);
    }
    for (const group of groups.values()) {
      for (const scenario of group) {
        const clients = CLIENTS_OF[scenario];
        samples[scenario] = Object.fromEntries(clients.map((c) => [c, []]));
        if (onNode(scenario)) { for (const c of NODE_CLIENTS) samples[scenario][`node:${c}`] = []; }
        if (
          (transportOf(scenario) !== "WebSockets" || protocolOf(scenario) !== "json" ||
            statefulOf(scenario)) &&
          !scenario.startsWith("replay")
        ) {
          // The server's code for this transport (protocol, option) runs here for the first time: one
          // child, not recorded, lets its JIT compile it, so that the first measured child does
          // not meet a slow server (seen: 3.2 against 0.7 µs per item on the first Server-Sent
          // Events stream).
          const warm = await runChild("ours", scenario, server.hubUrl);
          console.error(
            `${scenario} server warm-up (ours, not recorded): ${warm ? "done" : "failed"}`,
          );
        }
      }
      for (let round = 0; round < rounds; round++) {
        for (const scenario of group) {
          const clients = CLIENTS_OF[scenario];
          // Alternate who goes first: round r starts with client r mod n.
          const order = clients.map((_, i) => clients[(i + round) % clients.length]);
          for (const client of order) {
            const result = await runChild(client, scenario, server.hubUrl);
            if (result) samples[scenario][client].push(result);
            console.error(
              `${scenario} round ${round + 1}/${rounds} ${client.padEnd(8)} ${
                result
                  ? Object.entries(result).map(([m, v]) => `${m}=${format(v, v < 100 ? 2 : 0)}`)
                    .join(" ")
                  : "failed"
              }`,
            );
          }
          if (onNode(scenario)) {
            // Then on Node: ours and official, alternating the same way.
            const order = NODE_CLIENTS.map((_, i) =>
              NODE_CLIENTS[(i + round) % NODE_CLIENTS.length]
            );
            for (const client of order) {
              const result = await runChild(client, scenario, server.hubUrl, "node");
              if (result) samples[scenario][`node:${client}`].push(result);
              console.error(
                `${scenario} round ${round + 1}/${rounds} node:${client.padEnd(8)} ${
                  result
                    ? Object.entries(result).map(([m, v]) => `${m}=${format(v, v < 100 ? 2 : 0)}`)
                      .join(" ")
                    : "failed"
                }`,
              );
            }
          }
        }
      }
    }
  } finally {
    await server.close();
  }

  const minutes = ((performance.now() - started) / 60_000).toFixed(1);
  console.log(
    `\n@signalrcore/client benchmark: ${server.kind}, JSON over WebSockets (over ` +
      `Server-Sent Events and Long Polling where the row says so; MessagePack in its own ` +
      `table), Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores, ` +
      `medians of ${rounds} round(s), ${minutes} min\n` +
      `(↑ higher is better, ↓ lower is better; CPU = user + system time of the client ` +
      `process during the measured window; official = @microsoft/signalr with default options, ` +
      `in Deno on the \`ws\` package's WebSocket; native WebSocket = the same client given ` +
      `Deno's WebSocket; on Server-Sent Events and Long Polling, \`withUrl(url, { transport })\`: ` +
      `its \`eventsource\` package and \`fetch-cookie\` over the native fetch)\n`,
  );
  if (scenarios.some((s) => protocolOf(s) === "json" && !statefulOf(s))) {
    console.log(table(samples, scenarios));
  }
  if (scenarios.some((s) => protocolOf(s) === "messagepack")) {
    console.log(
      `\nMessagePack (official: @microsoft/signalr with .withHubProtocol(new ` +
        `MessagePackHubProtocol()) of @microsoft/signalr-protocol-msgpack 10.0.11; bare: ` +
        `@msgpack/msgpack's Decoder per message; the JSON columns are the same scenario in ` +
        `JSON, from this run):\n`,
    );
    console.log(messagePackTable(samples, scenarios));
  }
  if (scenarios.some(statefulOf)) {
    console.log(
      `\nStateful reconnect (WebSockets, JSON; both clients with .withStatefulReconnect({ ` +
        `bufferSize: ${SIZES.statefulBuffer} }), against ${STATEFUL_HUB_PATH} (server buffer: ` +
        `its default, 100 000 bytes); stream-stateful: ${k(SIZES.statefulStreamItems)} items ` +
        `(the server's buffer and its Acks once a second bound it), the plain columns are the ` +
        `same scenario without it, from this run):\n`,
    );
    console.log(statefulTable(samples, scenarios));
  }
  if (nodeVersion !== undefined) {
    console.log(
      `\nNode ${nodeVersion} (tools/runtimes; the TypeScript sources, types stripped): ours ` +
        `against ${NODE_OFFICIAL[0]} with default options (on Node, its home runtime: the ` +
        `\`ws\` package's WebSocket; for Server-Sent Events the \`eventsource\` package; for ` +
        `MessagePack ${NODE_OFFICIAL[1]}), each in a fresh \`node --expose-gc\` child ` +
        `(bench/node_child.ts), in the same rounds as the Deno children; CPU = ` +
        `process.cpuUsage() of the child over the window; ours on Deno from this run beside:\n`,
    );
    console.log(nodeTable(samples, scenarios));
  }
  console.log(`\nTargets:\n${targets(samples, scenarios)}`);
  if (args.values.json) {
    await Deno.writeTextFile(
      args.values.json,
      JSON.stringify(
        { date: new Date().toISOString(), rounds, server: server.kind, samples },
        null,
        2,
      ),
    );
  }
}

if (import.meta.main) await main();
