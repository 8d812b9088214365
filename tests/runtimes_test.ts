// The client on Node and Bun: runs tests/runtimes/suite.ts with each pinned runtime
// (tools/runtimes/package.json: Node 22, the newest Node, Bun) against the ASP.NET Core interop
// hub. The runtimes and the root node_modules (@msgpack/msgpack for ./msgpack, ws for an injected
// WebSocket) are installed by .ci/run; without them this test is skipped loudly, and with CI=true
// it fails.
import "./_guard.ts";
import assert from "node:assert/strict";
import { startInteropServer } from "./interop/_server.ts";
import { missingRuntimes, type PinnedRuntime, pinnedRuntimes, runOn } from "./_runtimes.ts";

const REPO = new URL("..", import.meta.url);
const SUITE = new URL("tests/runtimes/suite.ts", REPO).pathname;
/** A child that has not finished by then is killed (the suite takes a few seconds). */
const CHILD_TIMEOUT_MS = 120_000;

async function runSuite(runtime: PinnedRuntime, hubUrl: string): Promise<void> {
  // What the user agent must name in parentheses.
  const { code, signal, stdout, stderr } = await runOn(
    runtime,
    [SUITE, hubUrl, `${runtime.kind}; ${runtime.version}`],
    CHILD_TIMEOUT_MS,
  );
  const out = stdout + stderr;
  assert.ok(
    code === 0 && out.includes("all passed"),
    `${runtime.name} exited with ${signal ?? code}:\n${out}`,
  );
  console.log(`${runtime.name}:\n${out.trimEnd()}`);
}

Deno.test("Node and Bun run the sources against the interop hub", async (t) => {
  const list = pinnedRuntimes();
  const absent = missingRuntimes(list, ["@msgpack/msgpack", "ws"]);
  if (absent) {
    const message = `runtimes suite: not installed: ${absent}. ` +
      "Run .ci/run, or `npm install --prefix tools/runtimes --no-package-lock` and " +
      "`npm install --no-package-lock` in the repository root.";
    if (Deno.env.get("CI") === "true") throw new Error(`${message} (CI=true: mandatory)`);
    const bar = "!".repeat(72);
    console.warn(`\n${bar}\n!!! RUNTIMES SUITE SKIPPED\n!!! ${message}\n${bar}\n`);
    return;
  }
  await using server = await startInteropServer();
  if (!server) return;
  // The runtimes run at once: each child is mostly waiting on the hub.
  const results = await Promise.allSettled(list.map((runtime) => runSuite(runtime, server.url)));
  for (const [i, result] of results.entries()) {
    await t.step(list[i].name, () => {
      if (result.status === "rejected") throw result.reason;
    });
  }
});
