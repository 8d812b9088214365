// What the examples share: reading `--url` and `--delay`, and starting an embedded TestHub
// when no `--url` was given, so every example runs with nothing else installed.
import { type HubMethod, TestHub } from "@signalrcore/client/testing";

/** The command line's arguments after the script, on Deno, Node and Bun. */
function commandLine(): readonly string[] {
  const runtime = globalThis as { Deno?: { args: string[] }; process?: { argv: string[] } };
  return runtime.Deno?.args ?? runtime.process?.argv.slice(2) ?? [];
}

/** `--name value` or `--name=value` from the command line, if present. */
export function option(name: string): string | undefined {
  const args = commandLine();
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}`) return args[i + 1];
    if (args[i].startsWith(`--${name}=`)) return args[i].slice(name.length + 3);
  }
  return undefined;
}

/** A numeric option, e.g. `--delay 50`. */
export function numberOption(name: string, fallback: number): number {
  const text = option(name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new TypeError(`--${name}: not a number: ${text}`);
  return value;
}

/** Where the example connects to; disposing it closes the embedded hub, if there is one. */
export interface ExampleHub extends AsyncDisposable {
  readonly url: string;
}

/**
 * The hub given with `--url`, or else a TestHub serving `methods`: the same methods the
 * ASP.NET Core hub has, written in a few lines of TypeScript.
 */
export async function exampleHub(methods: Record<string, HubMethod>): Promise<ExampleHub> {
  const url = option("url");
  if (url) {
    console.log(`Using the hub at ${url}`);
    return { url, [Symbol.asyncDispose]: () => Promise.resolve() };
  }
  const hub = await TestHub.serve({ methods });
  console.log(`No --url: using an embedded TestHub at ${hub.url}`);
  return { url: hub.url, [Symbol.asyncDispose]: () => hub.close() };
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
