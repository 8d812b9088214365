// Runs every example as `deno run` does, on its embedded TestHub, and checks its exit code and
// the lines it prints: the examples are documentation, and this keeps them working.
// (tests/interop/examples_test.ts runs them against the ASP.NET Core hub.)
import "./_guard.ts";
import assert from "node:assert/strict";

import { assertInOrder, runExample } from "./_examples.ts";

const EMBEDDED = /^No --url: using an embedded TestHub at http:\/\/127\.0\.0\.1:\d+\/hub$/;

Deno.test("examples/streaming.ts", async () => {
  const lines = await runExample("streaming.ts", "--delay", "5");
  const numbers = Array.from({ length: 10 }, (_, i) => i);
  assertInOrder(lines, [
    EMBEDDED,
    'stream("Counter", 10, 5).subscribe(...)',
    ...numbers.map((n) => `next: ${n}`),
    "complete",
    'send("UploadStream", subject)',
    "upload complete",
    "for await: 0 1 2 3 4 5 6 7 8 9",
    "pipeTo: the hub has read a, b, c",
  ]);
  // What the embedded hub's UploadStream printed, in the order it read the items.
  assertInOrder(lines, [...numbers.map(String), "a", "b", "c"].map((x) => `  hub received: ${x}`));
});

Deno.test("examples/chat.ts", async () => {
  const lines = await runExample("chat.ts");
  assertInOrder(lines, [EMBEDDED, "bob joined devs", "bob got [devs] the build is green"]);
  assertInOrder(lines, ["alice got alice: hello everyone", "bob joined devs"]);
  assertInOrder(lines, ["bob got alice: hello everyone", "bob joined devs", "bob left devs"]);
  assert.ok(!lines.some((line) => line.startsWith("alice got [devs]")), "alice is not in devs");
});

Deno.test("examples/client_results.ts", async () => {
  const lines = await runExample("client_results.ts");
  assertInOrder(lines, [
    EMBEDDED,
    "answer: hello from a plain handler",
    "answer: hello from an async handler",
    /^the hub said: .*no message today/,
  ]);
});

Deno.test("examples/typed.ts", async () => {
  const lines = await runExample("typed.ts");
  assertInOrder(lines, [
    EMBEDDED,
    "Add(1, 2) = 3",
    "Counter: 0 1 2",
    "UploadCollect: x,y",
    "WaitForMessage: typed hello",
    "ReceiveMessage: ADA says typed hubs",
  ]);
});
