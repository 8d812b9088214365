// Runs an example as `deno run` does and checks what it prints: shared by the TestHub and the
// ASP.NET Core example tests.
import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url);
const TIMEOUT_MS = 60_000;

/** Runs `examples/<name>` with only --allow-net; returns its stdout lines. */
export async function runExample(name: string, ...args: string[]): Promise<string[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  try {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net", `examples/${name}`, ...args],
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
export function assertInOrder(lines: string[], expected: (string | RegExp)[]): void {
  let at = 0;
  for (const want of expected) {
    const found = lines.findIndex((line, i) =>
      i >= at && (typeof want === "string" ? line === want : want.test(line))
    );
    assert.ok(found >= 0, `missing ${want} (after line ${at}) in:\n${lines.join("\n")}`);
    at = found + 1;
  }
}
