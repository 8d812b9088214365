// The guard of tests/_guard.ts, shown on a child `deno test` of tests/_guard_fixture.ts: each
// test that leaves an unhandled rejection or an uncaught exception fails with its own name,
// the others (and one that handles its own rejection) pass.
import "./_guard.ts";
import assert from "node:assert/strict";

Deno.test("guard: an unhandled rejection or uncaught exception fails the test that ran, by name", async () => {
  const fixture = new URL("./_guard_fixture.ts", import.meta.url).pathname;
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["test", "--no-check", fixture],
    cwd: new URL("..", import.meta.url).pathname,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const output = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  assert.notEqual(code, 0, output);
  for (const name of ["a clean test", "handles its own rejection", "a clean test after them"]) {
    assert.match(output, new RegExp(`fixture: ${name} \\.\\.\\. ok`), output);
  }
  const failures: [string, string][] = [
    ["rejects in the background", "Unhandled rejection: Error: left behind"],
    ["throws in a timer", "Uncaught exception: Error: thrown in a timer"],
    ["rejects as it returns", "Unhandled rejection: Error: at the very end"],
  ];
  for (const [name, what] of failures) {
    assert.match(output, new RegExp(`fixture: ${name} \\.\\.\\. FAILED`), output);
    assert.ok(
      output.includes(`The test "fixture: ${name}" left an error that nothing caught: ${what}`),
      output,
    );
  }
  // Every failure was a test's: none of the runtime's file-wide "not caught from a test".
  assert.ok(!output.includes("This error was not caught from a test"), output);
  assert.match(output, /3 passed \| 3 failed/);
});
