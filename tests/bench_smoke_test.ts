// The benchmark's machinery still works for every client: each child runs the replayed stream
// (no server needed) at a small scale and reports a result; ours also over Server-Sent Events
// and Long Polling (the replay's stand-in fetch). Nothing here is timed; a wrong item
// count fails inside the child, which then exits non-zero.
import assert from "node:assert/strict";

import { childArgs } from "../bench/_launch.ts";

async function runChild(client: string, scenario: string): Promise<Record<string, number>> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: childArgs(client, scenario, "http://replay.invalid/hub"),
    stdin: "null",
    env: { BENCH_SCALE: "0.05" },
  }).output();
  const text = new TextDecoder();
  assert.ok(output.success, `${client} ${scenario} failed:\n${text.decode(output.stderr)}`);
  const line = text.decode(output.stdout).trim().split("\n").at(-1) ?? "";
  assert.match(line, /^RESULT /);
  return JSON.parse(line.slice("RESULT ".length));
}

for (
  const [client, scenario] of [
    ["ours", "replay"],
    ["ours", "replay-subscribe"],
    ["official", "replay"],
    ["bare", "replay-small"],
    ["ours", "replay-sse"],
    ["ours", "replay-lp"],
  ] as const
) {
  Deno.test(`bench: ${client} reads the replayed stream (${scenario})`, async () => {
    const result = await runChild(client, scenario);
    assert.ok(result.itemsPerSec > 0, JSON.stringify(result));
    assert.ok(Number.isFinite(result.cpuUsPerItem), JSON.stringify(result));
  });
}
