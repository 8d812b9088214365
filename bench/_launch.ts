// Starting what the benchmark tools share: a benchmark child process, and the ASP.NET Core hub.

const CHILD = new URL("./child.ts", import.meta.url).pathname;
// Named, not discovered: the children load @microsoft/signalr, whose packages the lockfile pins,
// also where the configuration turns lockfile discovery off.
const LOCK = new URL("../deno.lock", import.meta.url).pathname;

/**
 * The `deno` arguments that run one benchmark child (bench/child.ts); `flags` go before the
 * script (profiling flags, say). Every child runs the same way: main.ts, profile.ts and the
 * smoke test.
 */
export function childArgs(
  client: string,
  scenario: string,
  hubUrl: string,
  flags: readonly string[] = [],
): string[] {
  return [
    "run",
    "-A",
    "--node-modules-dir=none",
    `--lock=${LOCK}`,
    "--v8-flags=--expose-gc",
    ...flags,
    CHILD,
    client,
    scenario,
    hubUrl,
  ];
}

/** A hub to measure against, and how to let it go. */
export interface Hub {
  hubUrl: string;
  close(): Promise<void>;
}

/**
 * `url` when given (a hub that is already running), else the interop tests' ASP.NET Core hub,
 * started here; undefined when that needs `dotnet` and it is missing.
 */
export async function interopHub(url: string | undefined): Promise<Hub | undefined> {
  if (url) return { hubUrl: url, close: () => Promise.resolve() };
  const { startInteropServer } = await import("../tests/interop/_server.ts");
  const server = await startInteropServer();
  if (!server) return undefined;
  return { hubUrl: `${server.url}/hub`, close: () => server.close() };
}
