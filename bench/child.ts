/**
 * One benchmark run in a fresh process: `deno run -A --v8-flags=--expose-gc bench/child.ts
 * <ours|official|official-native|bare> <scenario> <hub url>`. Loads only the client it measures, runs the
 * scenario, and prints `RESULT {json}` as its last stdout line. bench/main.ts starts it.
 *
 * @module
 */
// First: the clients must see the counting WebSocket.
import "./_frames.ts";
import {
  type BenchClient,
  plainOf,
  protocolOf,
  runScenario,
  type Scenario,
  SCENARIOS,
  statefulOf,
  transportOf,
} from "./_scenarios.ts";

/**
 * The clients a child can load: "official" is @microsoft/signalr with default options (in Deno
 * it loads the `ws` package), "official-native" the same client on Deno's native WebSocket.
 */
export const CLIENTS = ["ours", "official", "official-native", "bare"] as const;
/** A client name. */
export type ClientName = typeof CLIENTS[number];

/** Loads one client (and only its code). */
export async function loadClient(name: ClientName): Promise<BenchClient> {
  switch (name) {
    case "ours":
      return (await import("./_ours.ts")).ours as unknown as BenchClient;
    case "official":
      return (await import("./_official.ts")).official as unknown as BenchClient;
    case "official-native":
      return (await import("./_official.ts")).officialNative as unknown as BenchClient;
    case "bare":
      return (await import("./_bare.ts")).bare as unknown as BenchClient;
  }
}

if (import.meta.main) {
  const [name, scenario, hubUrl] = Deno.args;
  if (
    !CLIENTS.includes(name as ClientName) || !SCENARIOS.includes(scenario as Scenario) || !hubUrl
  ) {
    console.error(`usage: child.ts <${CLIENTS.join("|")}> <${SCENARIOS.join("|")}> <hub url>`);
    Deno.exit(2);
  }
  if (scenario.startsWith("replay")) {
    const { installReplay, REPLAY_BATCH } = await import("./_replay.ts");
    await installReplay(
      plainOf(scenario as Scenario) === "replay-small" ? REPLAY_BATCH.small : REPLAY_BATCH.large,
      transportOf(scenario),
      protocolOf(scenario),
      statefulOf(scenario),
    );
  }
  const client = await loadClient(name as ClientName);
  const result = await runScenario(client, scenario as Scenario, hubUrl);
  console.log(`RESULT ${JSON.stringify(result)}`);
  // Nothing may keep the process alive (a client's timers): the result is out.
  Deno.exit(0);
}
