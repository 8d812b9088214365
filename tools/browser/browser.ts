/**
 * What the browser tests and `examples/browser` share: a browser bundle of the package (`deno
 * bundle` of mod.ts and msgpack.ts, split so both entry points share one copy of the core), a
 * small static file server, and headless Chromium driven by playwright-core.
 *
 * - Chromium: `CHROMIUM` or `/usr/bin/chromium` (Debian's `chromium` package).
 * - playwright-core: installed by `tools/browser/install.sh` into `.artifacts/browser`, at the
 *   version tools/browser/package.json pins.
 *
 * @module
 */

const ROOT = new URL("../../", import.meta.url);
/** The repository's root directory. */
export const ROOT_DIR: string = decodeURIComponent(ROOT.pathname).replace(
  /\/$/,
  "",
);
const ARTIFACTS = `${ROOT_DIR}/.artifacts/browser`;

/**
 * Bundles mod.ts and msgpack.ts for browsers into `outDir` (ES modules `mod.js`, `msgpack.js`
 * and their shared chunk), minified unless `minify` is false. Returns `outDir`.
 */
export async function bundleClient(
  outDir = `${ARTIFACTS}/bundle`,
  { minify = true }: { minify?: boolean } = {},
): Promise<string> {
  await Deno.remove(outDir, { recursive: true }).catch(() => {});
  await browserBundle([
    "--code-splitting",
    ...(minify ? ["--minify"] : []),
    "--outdir",
    outDir,
    "mod.ts",
    "msgpack.ts",
  ]);
  return outDir;
}

/**
 * Runs `deno bundle --platform browser` with `args`, from the repository's root (so with its
 * deno.json); throws with the bundler's output when it fails.
 */
export async function browserBundle(args: string[]): Promise<void> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "browser", ...args],
    cwd: ROOT_DIR,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(
      `deno bundle failed:\n${new TextDecoder().decode(output.stderr)}`,
    );
  }
}

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  png: "image/png",
};

/**
 * A handler serving files: `mounts` maps a URL path prefix ("/" or "/bundle/") to a directory.
 * "/" serves `index.html`.
 */
export function staticFiles(
  mounts: Record<string, string>,
): (request: Request) => Promise<Response> {
  const entries = Object.entries(mounts).sort((a, b) => b[0].length - a[0].length);
  return async (request) => {
    const path = decodeURIComponent(new URL(request.url).pathname);
    if (path.includes("..")) {
      return new Response("Bad Request", { status: 400 });
    }
    for (const [prefix, dir] of entries) {
      if (!path.startsWith(prefix)) continue;
      const rest = path.slice(prefix.length) || "index.html";
      try {
        const body = await Deno.readFile(`${dir}/${rest}`);
        const type = TYPES[rest.split(".").pop()!] ??
          "application/octet-stream";
        return new Response(body, {
          headers: { "content-type": type, "cache-control": "no-store" },
        });
      } catch {
        // not in this mount
      }
    }
    return new Response("Not Found", { status: 404 });
  };
}

/** The subset of playwright-core's API used here. */
export interface Page {
  goto(url: string): Promise<unknown>;
  evaluate<T>(fn: string | ((arg: never) => T), arg?: unknown): Promise<T>;
  on(event: "pageerror", listener: (error: Error) => void): void;
  on(
    event: "console",
    listener: (message: { type(): string; text(): string }) => void,
  ): void;
  fill(selector: string, value: string): Promise<void>;
  click(selector: string): Promise<void>;
  textContent(selector: string): Promise<string | null>;
  waitForFunction(
    fn: string,
    arg?: unknown,
    options?: { timeout?: number },
  ): Promise<unknown>;
  screenshot(options: { path: string; fullPage?: boolean }): Promise<unknown>;
  setViewportSize(size: { width: number; height: number }): Promise<void>;
}

/** A running headless Chromium. */
export interface Chromium extends AsyncDisposable {
  readonly version: string;
  /**
   * A new page whose uncaught errors and unhandled rejections (`pageerror`) are collected in
   * `errors`; the console goes to this process's stderr when `BROWSER_LOG` is set.
   */
  newPage(): Promise<{ page: Page; errors: string[] }>;
  close(): Promise<void>;
}

/** `CHROMIUM`, or Debian's `chromium`. */
function chromiumPath(): string {
  return Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";
}

/** What is missing to run Chromium at `path`: nothing, or how to get it. */
function chromiumMissing(path: string): string[] {
  try {
    Deno.statSync(path);
    return [];
  } catch {
    return [`${path} (Debian: apt-get install chromium; or set CHROMIUM)`];
  }
}

/** Skips a browser test loudly for what is `missing`; with `CI=true` that is an error. */
function skip(missing: string[]): null {
  if (Deno.env.get("CI") === "true") {
    throw new Error(`browser tests: missing with CI=true: ${missing.join("; ")}`);
  }
  const bar = "!".repeat(72);
  console.warn(
    `\n${bar}\n!!! BROWSER TESTS SKIPPED: missing ${missing.join("; ")}\n` +
      `!!! (on CI this is an error)\n${bar}\n`,
  );
  return null;
}

/**
 * Launches headless Chromium, or returns null with a loud warning when Chromium or
 * playwright-core is missing, unless `CI=true`, where that is an error.
 */
export async function launchChromium(): Promise<Chromium | null> {
  const executablePath = chromiumPath();
  const missing = chromiumMissing(executablePath);
  // deno-lint-ignore no-explicit-any
  let playwright: any;
  // Through a variable: no type checking of node:module, and playwright-core is CommonJS.
  const nodeModule = "node:module";
  const { createRequire } = await import(nodeModule);
  const require = createRequire(`${ARTIFACTS}/`);
  let resolved = true;
  try {
    require.resolve("playwright-core");
  } catch {
    resolved = false;
    missing.push("playwright-core (run tools/browser/install.sh)");
  }
  if (resolved) {
    // Loading playwright-core asks whether this is WSL by reading /proc/sys/fs/binfmt_misc,
    // which Deno allows only with --allow-all (`deno task test` has not got it); with this
    // variable set the check is left for later, when something asks (nothing here does).
    const wslTest = Deno.env.get("__IS_WSL_TEST__");
    Deno.env.set("__IS_WSL_TEST__", "1");
    try {
      playwright = require("playwright-core");
    } finally {
      if (wslTest === undefined) Deno.env.delete("__IS_WSL_TEST__");
      else Deno.env.set("__IS_WSL_TEST__", wslTest);
    }
  }
  if (missing.length > 0) return skip(missing);
  const browser = await playwright.chromium.launch({
    executablePath,
    args: ["--no-sandbox"],
  });
  const log = !!Deno.env.get("BROWSER_LOG");
  const close = async () => await browser.close();
  return {
    version: browser.version(),
    async newPage() {
      const page: Page = await browser.newPage();
      const errors: string[] = [];
      page.on(
        "pageerror",
        (error) => errors.push(String(error?.stack ?? error)),
      );
      if (log) {
        page.on(
          "console",
          (m) => console.error(`[page ${m.type()}] ${m.text()}`),
        );
      }
      return { page, errors };
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A tab of {@linkcode launchChromiumTabs}. */
export interface Tab {
  /** Evaluates `expression` in the page (awaiting a promise); rejects with what it threw. */
  evaluate<T>(expression: string): Promise<T>;
}

/** Headless Chromium driven over the DevTools protocol itself. */
export interface ChromiumTabs extends AsyncDisposable {
  /** Opens `url` in a new tab, in front. */
  open(url: string): Promise<Tab>;
  /** Opens a blank tab in front: the other tabs become hidden. */
  hideTabs(): Promise<void>;
}

/**
 * Launches headless Chromium with `args` and drives it over the DevTools protocol directly, for
 * what playwright prevents: it keeps every page visible and turns background throttling off.
 * Returns null with a loud warning when Chromium is missing, unless `CI=true`.
 */
export async function launchChromiumTabs(args: string[]): Promise<ChromiumTabs | null> {
  const executablePath = chromiumPath();
  const missing = chromiumMissing(executablePath);
  if (missing.length > 0) return skip(missing);
  const profile = await Deno.makeTempDir({ prefix: "chromium-" });
  const child = new Deno.Command(executablePath, {
    args: [
      "--headless=new",
      "--no-sandbox",
      "--remote-debugging-port=0",
      `--user-data-dir=${profile}`,
      ...args,
      "about:blank",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const close = async () => {
    socket?.close();
    try {
      child.kill();
    } catch {
      // already gone
    }
    await child.status;
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  };
  let socket: WebSocket | undefined;
  try {
    const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    // Cancelling ends a pending read: the wait for the address is bounded.
    const timer = setTimeout(() => reader.cancel(), 30_000);
    let address: string | undefined;
    let text = "";
    while (address === undefined) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
      address = /DevTools listening on (ws:\S+)/.exec(text)?.[1];
    }
    clearTimeout(timer);
    if (address === undefined) throw new Error(`Chromium did not start:\n${text}`);
    // Chromium keeps writing to stderr: read it to the end so that it never blocks.
    (async () => {
      while (!(await reader.read()).done) { /* dropped */ }
    })().catch(() => {});
    socket = new WebSocket(address);
    await new Promise((resolve, reject) => {
      socket!.onopen = resolve;
      socket!.onerror = () => reject(new Error(`Could not reach Chromium at ${address}`));
    });
  } catch (error) {
    await close();
    throw error;
  }
  const ws = socket;
  let nextId = 1;
  const waiting = new Map<number, PromiseWithResolvers<Record<string, unknown>>>();
  ws.onmessage = (event) => {
    const message = JSON.parse(event.data);
    const call = waiting.get(message.id);
    if (call === undefined) return;
    waiting.delete(message.id);
    if (message.error) call.reject(new Error(`DevTools: ${JSON.stringify(message.error)}`));
    else call.resolve(message.result);
  };
  ws.onclose = () => {
    for (const call of waiting.values()) call.reject(new Error("DevTools connection closed"));
    waiting.clear();
  };
  // deno-lint-ignore no-explicit-any
  const send = (method: string, params: unknown, sessionId?: string): Promise<any> => {
    const id = nextId++;
    const call = Promise.withResolvers<Record<string, unknown>>();
    waiting.set(id, call);
    ws.send(JSON.stringify({ id, method, params, sessionId }));
    return call.promise;
  };
  return {
    async open(url) {
      const { targetId } = await send("Target.createTarget", { url });
      const { sessionId } = await send("Target.attachToTarget", { targetId, flatten: true });
      return {
        async evaluate<T>(expression: string): Promise<T> {
          const { result, exceptionDetails } = await send("Runtime.evaluate", {
            expression,
            awaitPromise: true,
            returnByValue: true,
          }, sessionId);
          if (exceptionDetails) {
            throw new Error(exceptionDetails.exception?.description ?? exceptionDetails.text);
          }
          return result.value as T;
        },
      };
    },
    async hideTabs() {
      await send("Target.createTarget", { url: "about:blank" });
    },
    [Symbol.asyncDispose]: close,
  };
}
