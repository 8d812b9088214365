/**
 * The scale-out load benchmark (`deno task bench:scaleout`; not a CI test): many client
 * connections in one process, through haproxy (cookie affinity) to two ASP.NET Core instances
 * with a Redis backplane, each connection receiving a broadcast every 100 ms. For each client
 * (ours, then `@microsoft/signalr` with default options), one child process
 * (bench/scaleout_child.ts) reports lost, duplicated and reordered messages, delivery latency
 * p50/p99 and memory per connection.
 *
 * Options: `--connections N` (1000), `--seconds S` (60), `--interval MS` (100),
 * `--only ours|official`.
 *
 * @module
 */
import { startCluster } from "../tests/scaleout/_cluster.ts";

function option(name: string, fallback: string): string {
  const at = Deno.args.indexOf(`--${name}`);
  return at >= 0 && at + 1 < Deno.args.length ? Deno.args[at + 1] : fallback;
}

const CONNECTIONS = Number(option("connections", "1000"));
const SECONDS = Number(option("seconds", "60"));
const INTERVAL_MS = Number(option("interval", "100"));
const ONLY = option("only", "");
const TICKS = Math.round(SECONDS * 1000 / INTERVAL_MS);
// After the last Tick was sent: how long a child may still wait for it.
const GRACE_MS = 10_000;
const CONNECT_TIMEOUT_MS = 120_000;

interface ChildResult {
  client: string;
  connections: number;
  ticks: number;
  timed: number;
  lost: number;
  duplicates: number;
  outOfOrder: number;
  p50: number;
  p99: number;
  max: number;
  heapPerConnectionKB: number;
  rssPerConnectionKB: number;
}

/** Lines of a child's stdout, as they come. */
async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let pending = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    pending += text;
    let newline;
    while ((newline = pending.indexOf("\n")) >= 0) {
      yield pending.slice(0, newline);
      pending = pending.slice(newline + 1);
    }
  }
  if (pending) yield pending;
}

function timeout(ms: number, what: string): { promise: Promise<never>; clear(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return { promise, clear: () => clearTimeout(timer) };
}

async function runClient(
  client: string,
  hubUrl: string,
  broadcast: () => Promise<void>,
): Promise<ChildResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--v8-flags=--expose-gc,--max-old-space-size=4096",
      new URL("./scaleout_child.ts", import.meta.url).pathname,
      client,
      hubUrl,
      String(CONNECTIONS),
      String(TICKS),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const out = lines(child.stdout);
  const next = async (prefix: string, ms: number): Promise<string> => {
    const bound = timeout(ms, `${client} ${prefix}`);
    try {
      const read = (async () => {
        // Not for-await: leaving that loop would end the generator for the next call.
        for (;;) {
          const { done, value } = await out.next();
          if (done) throw new Error(`${client}: the child ended before ${prefix}`);
          if (value.startsWith(prefix)) return value;
        }
      })();
      // When the bound wins, the read fails later, as the child is killed: not unhandled.
      read.catch(() => {});
      return (await Promise.race([read, bound.promise])).slice(prefix.length);
    } finally {
      bound.clear();
    }
  };
  try {
    await next("READY ", CONNECT_TIMEOUT_MS);
    const began = performance.now();
    await broadcast();
    // The child answers as soon as every connection has every Tick; stdin closes at the end
    // of the broadcast plus the grace period otherwise.
    const result = next("RESULT ", SECONDS * 1000 + GRACE_MS + 30_000);
    const closeAt = SECONDS * 1000 + GRACE_MS - (performance.now() - began);
    const closer = setTimeout(() => child.stdin.close(), Math.max(0, closeAt));
    try {
      return JSON.parse(await result) as ChildResult;
    } finally {
      clearTimeout(closer);
    }
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // ended already
    }
    await child.status;
  }
}

function row(r: ChildResult): string {
  const cells = [
    r.client,
    String(r.connections),
    String(r.connections * r.ticks),
    String(r.lost),
    String(r.duplicates),
    String(r.outOfOrder),
    `${r.p50} ms`,
    `${r.p99} ms`,
    `${r.max} ms`,
    r.heapPerConnectionKB.toFixed(1),
    r.rssPerConnectionKB.toFixed(1),
  ];
  return `| ${cells.join(" | ")} |`;
}

const cluster = await startCluster();
if (!cluster) Deno.exit(1);
try {
  const hubUrl = `${cluster.url}/hub`;
  const [first] = cluster.instances;
  const results: ChildResult[] = [];
  for (const client of ["ours", "official"]) {
    if (ONLY && ONLY !== client) continue;
    console.error(`${client}: ${CONNECTIONS} connections, ${TICKS} Ticks every ${INTERVAL_MS} ms`);
    results.push(
      await runClient(client, hubUrl, async () => {
        // One instance broadcasts; the backplane takes it to the other instance's clients.
        const response = await fetch(
          `${first.url}/scaleout/broadcast?count=${TICKS}&intervalMs=${INTERVAL_MS}`,
          { method: "POST", signal: AbortSignal.timeout(10_000) },
        );
        await response.body?.cancel();
        if (!response.ok) throw new Error(`broadcast: ${response.status}`);
      }),
    );
  }
  console.log(
    "| client | connections | expected | lost | duplicated | reordered | p50 | p99 | max | heap KB/conn | RSS KB/conn |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of results) console.log(row(r));
} finally {
  await cluster.close();
}
