/**
 * The pinned Node and Bun of tools/runtimes/package.json (installed by .ci/run), for the tests
 * that run code on them.
 *
 * @module
 */

const REPO = new URL("..", import.meta.url);
const RUNTIMES = new URL("tools/runtimes/", REPO);

/** One pinned runtime. */
export interface PinnedRuntime {
  /** "node22", "node-latest" or "bun". */
  readonly id: "node22" | "node-latest" | "bun";
  /** E.g. "Node 22.23.3", "Bun 1.4.5". */
  readonly name: string;
  /** "NodeJS" or "Bun": what the client's user agent names. */
  readonly kind: "NodeJS" | "Bun";
  readonly version: string;
  /** The executable. */
  readonly path: string;
}

/** The pinned version of an npm alias (`npm:node@22.23.3`) or package (`1.4.5`). */
function pinned(spec: string | undefined): string {
  return spec === undefined ? "?" : spec.slice(spec.lastIndexOf("@") + 1);
}

/** Node 22, the newest Node and Bun, as pinned (versions "?" when package.json is unreadable). */
export function pinnedRuntimes(): PinnedRuntime[] {
  let pins: Record<string, string> = {};
  try {
    pins = JSON.parse(Deno.readTextFileSync(new URL("package.json", RUNTIMES))).devDependencies;
  } catch {
    // not there: every runtime counts as missing
  }
  const modules = new URL("node_modules/", RUNTIMES);
  const node = (id: "node22" | "node-latest"): PinnedRuntime => ({
    id,
    name: `Node ${pinned(pins[id])}`,
    kind: "NodeJS",
    version: pinned(pins[id]),
    path: new URL(`${id}/bin/node`, modules).pathname,
  });
  return [node("node22"), node("node-latest"), {
    id: "bun",
    name: `Bun ${pinned(pins.bun)}`,
    kind: "Bun",
    version: pinned(pins.bun),
    path: new URL("bun/bin/bun.exe", modules).pathname,
  }];
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * What is missing to run on `runtimes` with the root node_modules `packages`, comma-separated,
 * or "" when nothing is.
 */
export function missingRuntimes(
  runtimes: readonly { readonly name: string; readonly path: string }[],
  packages: readonly string[],
): string {
  const absent = runtimes.filter((runtime) => !exists(runtime.path)).map((runtime) => runtime.name);
  for (const module of packages) {
    if (!exists(new URL(`node_modules/${module}/package.json`, REPO).pathname)) {
      absent.push(`node_modules/${module} (npm install in the repository root)`);
    }
  }
  return absent.join(", ");
}

/** What a child run of a pinned runtime printed, and how it ended. */
export interface RuntimeRun {
  readonly code: number;
  readonly signal: Deno.Signal | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `runtime args` in the repository, without colours; a child still running after
 * `timeoutMs` is killed (its run then ends with that signal).
 */
export async function runOn(
  runtime: PinnedRuntime,
  args: string[],
  timeoutMs: number,
): Promise<RuntimeRun> {
  const child = new Deno.Command(runtime.path, {
    args,
    cwd: new URL("..", import.meta.url).pathname,
    env: { NO_COLOR: "1", FORCE_COLOR: "0" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const { code, signal, stdout, stderr } = await child.output().finally(() => clearTimeout(timer));
  const text = new TextDecoder();
  return { code, signal, stdout: text.decode(stdout), stderr: text.decode(stderr) };
}
