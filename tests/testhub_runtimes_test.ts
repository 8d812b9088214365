// TestHub on Node and Bun: tests/testhub_runtimes/check.ts starts a TestHub and connects the
// client to it (both from the TypeScript sources) on every transport, with each pinned runtime
// (tools/runtimes/package.json); then the examples run on the runtimes that have `await using`
// (Node 24+ and Bun), as `node examples/streaming.ts` does for a user. Needs the runtimes and the
// root node_modules (`ws` for TestHub on Node, @msgpack/msgpack); without them this test is
// skipped loudly, and with CI=true it fails.
import "./_guard.ts";
import assert from "node:assert/strict";
import { missingRuntimes, type PinnedRuntime, pinnedRuntimes, runOn } from "./_runtimes.ts";

const CHECK = "tests/testhub_runtimes/check.ts";
/** A child that has not finished by then is killed (each takes about a second). */
const CHILD_TIMEOUT_MS = 60_000;
const EMBEDDED = /^No --url: using an embedded TestHub at http:\/\/127\.0\.0\.1:\d+\/hub$/m;

/** Runs `runtime script args` in the repository; returns what it printed (exit code 0). */
async function run(runtime: PinnedRuntime, script: string, ...args: string[]): Promise<string> {
  const { code, signal, stdout, stderr } = await runOn(
    runtime,
    [script, ...args],
    CHILD_TIMEOUT_MS,
  );
  assert.equal(
    code,
    0,
    `${runtime.name} ${script} exited with ${signal ?? code}:\n${stdout}${stderr}`,
  );
  const out = stdout;
  return out;
}

/** The examples and a line each prints last when it worked. */
const EXAMPLES: [string, string[], string][] = [
  ["streaming.ts", ["--delay", "5"], "pipeTo: the hub has read a, b, c"],
  ["chat.ts", [], "bob left devs"],
  ["client_results.ts", [], "the hub said: Error: no message today"],
  ["typed.ts", [], "ReceiveMessage: ADA says typed hubs"],
];

Deno.test("TestHub runs on Node and Bun, and so do the examples", async (t) => {
  const list = pinnedRuntimes();
  const absent = missingRuntimes(list, ["ws", "@msgpack/msgpack"]);
  if (absent) {
    const message = `TestHub runtimes test: not installed: ${absent}. ` +
      "Run .ci/run, or `npm install --prefix tools/runtimes --no-package-lock` and " +
      "`npm install --no-package-lock` in the repository root.";
    if (Deno.env.get("CI") === "true") throw new Error(`${message} (CI=true: mandatory)`);
    const bar = "!".repeat(72);
    console.warn(`\n${bar}\n!!! TESTHUB RUNTIMES TEST SKIPPED\n!!! ${message}\n${bar}\n`);
    return;
  }
  for (const runtime of list) {
    await t.step(`${runtime.name}: TestHub and the client on every transport`, async () => {
      const out = await run(runtime, CHECK);
      assert.match(out, /^ok WebSockets MessagePack cut$/m);
      assert.match(out, /^ok ServerSentEvents JSON upload$/m);
      assert.match(out, /^ok LongPolling MessagePack client result$/m);
      assert.match(out, /^done$/m);
    });
    // The examples use `await using`: Node 24+ and Bun.
    if (runtime.id === "node22") continue;
    for (const [example, args, last] of EXAMPLES) {
      await t.step(`${runtime.name}: examples/${example}`, async () => {
        const out = await run(runtime, `examples/${example}`, ...args);
        assert.match(out, EMBEDDED);
        assert.ok(out.trimEnd().split("\n").includes(last), `${example} printed:\n${out}`);
      });
    }
  }
});
