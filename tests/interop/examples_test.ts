// Runs every example with `--url` against the ASP.NET Core hub (tests/interop/server), so the
// examples' method names and expectations cannot drift away from a real server; on each
// transport, with JSON (the examples use the default protocol).
// (tests/examples_test.ts runs them on their embedded TestHub.)
import "../_guard.ts";
import assert from "node:assert/strict";
import { startInteropServer } from "./_server.ts";
import { forEachVariant } from "./_transports.ts";

import { assertInOrder, runExample } from "../_examples.ts";

Deno.test("interop: examples", async (t) => {
  await using server = await startInteropServer();
  if (!server) return;
  // The examples take a URL, not a transport: the hubs mapped without WebSockets make them
  // fall back to Server-Sent Events (/hub-sse-lp) and to Long Polling (/hub-lp).
  const paths = { WebSockets: "/hub", ServerSentEvents: "/hub-sse-lp", LongPolling: "/hub-lp" };
  await forEachVariant(
    t,
    (t, { transport }) => examples(t, `${server.url}${paths[transport]}`),
    { protocols: ["json"] },
  );
});

async function examples(t: Deno.TestContext, hub: string) {
  const using = `Using the hub at ${hub}`;

  await t.step("streaming.ts", async () => {
    const lines = await runExample("streaming.ts", "--url", hub, "--delay", "5");
    assertInOrder(lines, [
      using,
      'stream("Counter", 10, 5).subscribe(...)',
      ...Array.from({ length: 10 }, (_, n) => `next: ${n}`),
      "complete",
      'send("UploadStream", subject)',
      "upload complete",
      "for await: 0 1 2 3 4 5 6 7 8 9",
      "pipeTo: the hub has read a, b, c",
    ]);
  });

  await t.step("chat.ts", async () => {
    const lines = await runExample("chat.ts", "--url", hub);
    assertInOrder(lines, [using, "bob joined devs", "bob got [devs] the build is green"]);
    assertInOrder(lines, ["alice got alice: hello everyone", "bob joined devs"]);
    assertInOrder(lines, ["bob got alice: hello everyone", "bob joined devs", "bob left devs"]);
    assert.ok(!lines.some((line) => line.startsWith("alice got [devs]")), "alice is not in devs");
  });

  await t.step("client_results.ts", async () => {
    const lines = await runExample("client_results.ts", "--url", hub);
    assertInOrder(lines, [
      using,
      "answer: hello from a plain handler",
      "answer: hello from an async handler",
      // ASP.NET Core prefixes the HubException that InvokeAsync threw with the client's text.
      "the hub said: An unexpected error occurred invoking 'WaitForMessage' on the server. " +
      "HubException: Error: no message today",
    ]);
  });

  await t.step("typed.ts", async () => {
    const lines = await runExample("typed.ts", "--url", hub);
    assertInOrder(lines, [
      using,
      "Add(1, 2) = 3",
      "Counter: 0 1 2",
      "UploadCollect: x,y",
      "WaitForMessage: typed hello",
      "ReceiveMessage: ADA says typed hubs",
    ]);
  });
}
