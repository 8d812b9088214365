// The benchmark's machinery still works for every client: each child runs the replayed stream
// (no server needed) at a small scale and reports a result; ours also over Server-Sent Events
// and Long Polling (the replay's stand-in fetch), every client in MessagePack, and ours and
// official with stateful reconnect turned on by the stand-in negotiate. Nothing here
// is timed; a wrong item count fails inside the child, which then exits non-zero.
import "./_guard.ts";
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
    ["ours", "replay-mp"],
    ["official", "replay-mp"],
    ["bare", "replay-mp-small"],
    ["ours", "replay-mp-lp"],
    ["official", "replay-mp-lp"],
    ["ours", "replay-stateful"],
    ["official", "replay-stateful"],
  ] as const
) {
  Deno.test(`bench: ${client} reads the replayed stream (${scenario})`, async () => {
    const result = await runChild(client, scenario);
    assert.ok(result.itemsPerSec > 0, JSON.stringify(result));
    assert.ok(Number.isFinite(result.cpuUsPerItem), JSON.stringify(result));
  });
}

Deno.test("bench: the replayed MessagePack stream is what our encoder writes", async () => {
  const { messagePackMessages } = await import("../bench/_replay.ts");
  const { MessagePackHubProtocol } = await import("../msgpack.ts");
  const protocol = new MessagePackHubProtocol();
  const items = [0, 1, 127, 128, 255, 256, 65_535, 65_536, 199_999];
  // One recorded message per item, then the Completion in a message of its own.
  const played = messagePackMessages("7", 200_000, 1);
  assert.deepEqual(
    [...items.map((item) => played[item]), played.at(-1)],
    [
      ...items.map((item) => protocol.encode({ type: 2, invocationId: "7", item })),
      protocol.encode({ type: 3, invocationId: "7" }),
    ],
  );
});
