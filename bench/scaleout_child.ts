/**
 * One client of the scale-out load benchmark in a fresh process:
 * `deno run -A --v8-flags=--expose-gc bench/scaleout_child.ts <ours|official> <hub url> <connections> <ticks>`.
 *
 * Opens the connections with the client's default options (as its users run it), each with a
 * `Tick(seq, sentAtMs)` handler, then prints `READY {json}` (memory per connection). The parent
 * then has the hub broadcast `ticks` Ticks; the child waits until every connection has the last
 * one, or until its stdin closes, and prints `RESULT {json}`: what was lost, duplicated or out of
 * order, and the delivery latency.
 *
 * @module
 */
import { OFFICIAL_SPECIFIER } from "./_official.ts";

interface LoadConnection {
  on(method: string, handler: (...args: unknown[]) => void): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

type Client = "ours" | "official";

/** Ticks left out of the latency figures (2 s at the default interval); all count for loss. */
const WARMUP_TICKS = 20;

async function builderFor(client: Client): Promise<(url: string) => LoadConnection> {
  if (client === "ours") {
    const { HubConnectionBuilder, LogLevel } = await import("../mod.ts");
    return (url) =>
      new HubConnectionBuilder().withUrl(url).configureLogging(LogLevel.Warning)
        .build() as unknown as LoadConnection;
  }
  // The specifier comes from a variable: `deno check` of the bench needs no npm package.
  const specifier = OFFICIAL_SPECIFIER;
  const signalr = await import(specifier);
  return (url) =>
    new signalr.HubConnectionBuilder().withUrl(url).configureLogging(signalr.LogLevel.Warning)
      .build();
}

/** What one connection saw. */
class Received {
  count = 0;
  last = 0;
  duplicates = 0;
  outOfOrder = 0;
  readonly seen: Uint8Array;
  constructor(ticks: number) {
    this.seen = new Uint8Array(ticks + 1);
  }
}

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 5; i++) collect?.();
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

async function main(): Promise<void> {
  const [client, url, connectionsArg, ticksArg] = Deno.args as [Client, string, string, string];
  const connections = Number(connectionsArg);
  const ticks = Number(ticksArg);
  const build = await builderFor(client);

  // Latencies of every delivery, in ms (the hub stamps each Tick with its clock, same machine).
  const latencies = new Float64Array(connections * ticks);
  let deliveries = 0;
  const received: Received[] = [];
  let complete = 0;
  const allComplete = Promise.withResolvers<void>();

  gc();
  const before = Deno.memoryUsage();
  const opened: LoadConnection[] = [];
  // A few at a time, as a server farm's clients arrive; all must start.
  const BATCH = 50;
  for (let i = 0; i < connections; i += BATCH) {
    const batch: Promise<void>[] = [];
    for (let j = i; j < Math.min(connections, i + BATCH); j++) {
      const state = new Received(ticks);
      received.push(state);
      const connection = build(url);
      connection.on("Tick", (seq, sentAt) => {
        const now = Date.now();
        const n = seq as number;
        // The first seconds warm up both ends (the server's JIT, ours): not in the latency.
        if (n >= WARMUP_TICKS && deliveries < latencies.length) {
          latencies[deliveries++] = now - (sentAt as number);
        }
        if (state.seen[n]) {
          state.duplicates++;
          return;
        }
        state.seen[n] = 1;
        if (n < state.last) state.outOfOrder++;
        state.last = Math.max(state.last, n);
        if (++state.count === ticks && ++complete === connections) allComplete.resolve();
      });
      opened.push(connection);
      batch.push(connection.start());
    }
    await Promise.all(batch);
  }
  gc();
  const after = Deno.memoryUsage();
  console.log(
    "READY " + JSON.stringify({
      heapPerConnectionKB: (after.heapUsed - before.heapUsed) / connections / 1024,
      rssPerConnectionKB: (after.rss - before.rss) / connections / 1024,
    }),
  );

  // The parent closes stdin when the broadcast is over and a grace period has passed.
  const stdinClosed = (async () => {
    for await (const _ of Deno.stdin.readable) { /* nothing is sent */ }
  })();
  await Promise.race([allComplete.promise, stdinClosed]);

  let lost = 0, duplicates = 0, outOfOrder = 0;
  for (const state of received) {
    lost += ticks - state.count;
    duplicates += state.duplicates;
    outOfOrder += state.outOfOrder;
  }
  const sorted = latencies.slice(0, deliveries).sort();
  const result = {
    client,
    connections,
    ticks,
    timed: deliveries,
    lost,
    duplicates,
    outOfOrder,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    max: sorted.length ? sorted[sorted.length - 1] : NaN,
    heapPerConnectionKB: (after.heapUsed - before.heapUsed) / connections / 1024,
    rssPerConnectionKB: (after.rss - before.rss) / connections / 1024,
  };
  await Promise.all(opened.map((c) => c.stop().catch(() => {})));
  console.log("RESULT " + JSON.stringify(result));
  Deno.exit(0);
}

await main();
