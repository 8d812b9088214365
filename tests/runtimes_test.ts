// The client on Node and Bun: runs tests/runtimes/suite.ts with each pinned runtime
// (tools/runtimes/package.json: Node 22, the newest Node, Bun) against the ASP.NET Core interop
// hub. The runtimes and the root node_modules (@msgpack/msgpack for ./msgpack) are installed by
// .ci/run; without them this test is skipped loudly, and with CI=true it fails.
import "./_guard.ts";
import assert from "node:assert/strict";
import { startInteropServer } from "./interop/_server.ts";

const REPO = new URL("..", import.meta.url);
const RUNTIMES = new URL("tools/runtimes/", REPO);
const SUITE = new URL("tests/runtimes/suite.ts", REPO).pathname;
/** A child that has not finished by then is killed (the suite takes a few seconds). */
const CHILD_TIMEOUT_MS = 120_000;

interface Runtime {
  /** Test step name. */
  readonly name: string;
  /** The executable. */
  readonly path: string;
  /** What the user agent must name in parentheses. */
  readonly agent: string;
}

/** The pinned version of an npm alias (`npm:node@22.23.3`) or package (`1.4.5`). */
function pinned(spec: string): string {
  return spec.slice(spec.lastIndexOf("@") + 1);
}

function runtimes(): Runtime[] {
  const pins = JSON.parse(Deno.readTextFileSync(new URL("package.json", RUNTIMES)))
    .devDependencies as Record<string, string>;
  const modules = new URL("node_modules/", RUNTIMES);
  return [
    {
      name: `Node ${pinned(pins.node22)}`,
      path: new URL("node22/bin/node", modules).pathname,
      agent: `NodeJS; ${pinned(pins.node22)}`,
    },
    {
      name: `Node ${pinned(pins["node-latest"])}`,
      path: new URL("node-latest/bin/node", modules).pathname,
      agent: `NodeJS; ${pinned(pins["node-latest"])}`,
    },
    {
      name: `Bun ${pins.bun}`,
      path: new URL("bun/bin/bun.exe", modules).pathname,
      agent: `Bun; ${pins.bun}`,
    },
  ];
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** What is missing to run the suite, or "" when nothing is. */
function missing(list: Runtime[]): string {
  const absent = list.filter((runtime) => !exists(runtime.path)).map((runtime) => runtime.name);
  if (!exists(new URL("node_modules/@msgpack/msgpack/package.json", REPO).pathname)) {
    absent.push("node_modules/@msgpack/msgpack (npm install in the repository root)");
  }
  return absent.join(", ");
}

async function runSuite(runtime: Runtime, hubUrl: string): Promise<void> {
  const child = new Deno.Command(runtime.path, {
    args: [SUITE, hubUrl, runtime.agent],
    cwd: REPO.pathname,
    env: { NO_COLOR: "1", FORCE_COLOR: "0" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), CHILD_TIMEOUT_MS);
  const { code, signal, stdout, stderr } = await child.output().finally(() => clearTimeout(timer));
  const text = new TextDecoder();
  const out = text.decode(stdout) + text.decode(stderr);
  assert.ok(
    code === 0 && out.includes("all passed"),
    `${runtime.name} exited with ${signal ?? code}:\n${out}`,
  );
  console.log(`${runtime.name}:\n${out.trimEnd()}`);
}

Deno.test("Node and Bun run the sources against the interop hub", async (t) => {
  const list = runtimes();
  const absent = missing(list);
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
