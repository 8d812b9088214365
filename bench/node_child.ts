/**
 * One benchmark run on Node, in a fresh process: `node --expose-gc bench/node_child.ts
 * <ours|official> <scenario> <hub url>`, with the pinned newest Node (tools/runtimes), which runs
 * the TypeScript sources directly (type stripping). The same scenarios, measuring code and
 * `RESULT {json}` line as bench/child.ts: CPU is `process.cpuUsage()` over the window, here
 * Node's own. bench/main.ts starts it for its Node table.
 *
 * "ours" is this repository's sources (`@signalrcore/client` resolves to them through the root
 * package.json); "official" is `@microsoft/signalr` 10.0.11 with default options (and its
 * MessagePack protocol for the `-mp` scenarios), installed from npm in a bench-only folder
 * (`.artifacts/bench-node`, see {@linkcode NODE_BENCH_DIR}); on Node, its home runtime, it loads
 * the `ws` package for its WebSocket and wraps the native `fetch`.
 *
 * @module
 */
import process from "node:process";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

/** Where bench/main.ts installs the official client for the Node children. */
export const NODE_BENCH_DIR = new URL("../.artifacts/bench-node/", import.meta.url);

/** The clients a Node child can load. */
export const NODE_CLIENTS = ["ours", "official"] as const;

async function main(): Promise<void> {
  const [name, scenario, hubUrl] = process.argv.slice(2);
  if (!NODE_CLIENTS.includes(name as typeof NODE_CLIENTS[number]) || !scenario || !hubUrl) {
    console.error(`usage: node_child.ts <${NODE_CLIENTS.join("|")}> <scenario> <hub url>`);
    process.exit(2);
  }
  if (name === "official") {
    // The package's own entry point (its CommonJS build, what `require` and `import` give a Node
    // user), from the bench-only folder: _official.ts imports what this names.
    const require = createRequire(NODE_BENCH_DIR);
    process.env.BENCH_OFFICIAL_MODULE = pathToFileURL(require.resolve("@microsoft/signalr")).href;
    process.env.BENCH_OFFICIAL_MSGPACK_MODULE = pathToFileURL(
      require.resolve("@microsoft/signalr-protocol-msgpack"),
    ).href;
  }
  // First: the clients must see the counting WebSocket and fetch.
  await import("./_frames.ts");
  const { runScenario, SCENARIOS } = await import("./_scenarios.ts");
  type Scenario = typeof SCENARIOS[number];
  if (!SCENARIOS.includes(scenario as Scenario) || scenario.startsWith("replay")) {
    console.error(`node_child.ts: no scenario '${scenario}' on Node (live scenarios only)`);
    process.exit(2);
  }
  const client = name === "ours"
    ? (await import("./_ours.ts")).ours
    : (await import("./_official.ts")).official;
  const result = await runScenario(
    client as Parameters<typeof runScenario>[0],
    scenario as Scenario,
    hubUrl,
  );
  console.log(`RESULT ${JSON.stringify(result)}`);
  // Nothing may keep the process alive (a client's timers): the result is out.
  process.exit(0);
}

if (import.meta.main) await main();
