// Runs every example with `--url` against the ASP.NET Core hub (tests/interop/server), so the
// examples' method names and expectations cannot drift away from a real server.
// (tests/examples_test.ts runs them on their embedded TestHub.)
import assert from "node:assert/strict";
import { startInteropServer } from "./_server.ts";

const ROOT = new URL("../..", import.meta.url);
const TIMEOUT_MS = 60_000;

/** Runs `examples/<name> --url <hub>` with only --allow-net; returns its stdout lines. */
async function runExample(name: string, hubUrl: string, ...args: string[]): Promise<string[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  try {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net", `examples/${name}`, "--url", hubUrl, ...args],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
      signal: controller.signal,
    }).output();
    const out = new TextDecoder().decode(stdout);
    const err = new TextDecoder().decode(stderr);
    assert.equal(
      code,
      0,
      `${name} exited with ${code}\n--- stdout ---\n${out}\n--- stderr ---\n${err}`,
    );
    return out.trimEnd().split("\n");
  } finally {
    clearTimeout(timer);
  }
}

/** Asserts that `expected` appear in `lines`, in this order (other lines may come between). */
function assertInOrder(lines: string[], expected: (string | RegExp)[]): void {
  let at = 0;
  for (const want of expected) {
    const found = lines.findIndex((line, i) =>
      i >= at && (typeof want === "string" ? line === want : want.test(line))
    );
    assert.ok(found >= 0, `missing ${want} (after line ${at}) in:\n${lines.join("\n")}`);
    at = found + 1;
  }
}

Deno.test("interop: examples", async (t) => {
  await using server = await startInteropServer();
  if (!server) return;
  const hub = `${server.url}/hub`;
  const using = `Using the hub at ${hub}`;

  await t.step("streaming.ts", async () => {
    const lines = await runExample("streaming.ts", hub, "--delay", "5");
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
    const lines = await runExample("chat.ts", hub);
    assertInOrder(lines, [using, "bob joined devs", "bob got [devs] the build is green"]);
    assertInOrder(lines, ["alice got alice: hello everyone", "bob joined devs"]);
    assertInOrder(lines, ["bob got alice: hello everyone", "bob joined devs", "bob left devs"]);
    assert.ok(!lines.some((line) => line.startsWith("alice got [devs]")), "alice is not in devs");
  });

  await t.step("client_results.ts", async () => {
    const lines = await runExample("client_results.ts", hub);
    assertInOrder(lines, [
      using,
      "answer: hello from a plain handler",
      "answer: hello from an async handler",
      // ASP.NET Core prefixes the HubException that InvokeAsync threw with the client's text.
      "the hub said: An unexpected error occurred invoking 'WaitForMessage' on the server. " +
      "HubException: no message today",
    ]);
  });

  await t.step("typed.ts", async () => {
    const lines = await runExample("typed.ts", hub);
    assertInOrder(lines, [
      using,
      "Add(1, 2) = 3",
      "Counter: 0 1 2",
      "UploadCollect: x,y",
      "WaitForMessage: typed hello",
      "ReceiveMessage: ADA says typed hubs",
    ]);
  });
});
