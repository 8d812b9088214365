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
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--platform",
      "browser",
      "--code-splitting",
      ...(minify ? ["--minify"] : []),
      "--outdir",
      outDir,
      "mod.ts",
      "msgpack.ts",
    ],
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
  return outDir;
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

/**
 * Launches headless Chromium, or returns null with a loud warning when Chromium or
 * playwright-core is missing, unless `CI=true`, where that is an error.
 */
export async function launchChromium(): Promise<Chromium | null> {
  const executablePath = Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";
  const missing: string[] = [];
  try {
    Deno.statSync(executablePath);
  } catch {
    missing.push(
      `${executablePath} (Debian: apt-get install chromium; or set CHROMIUM)`,
    );
  }
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
  if (missing.length > 0) {
    if (Deno.env.get("CI") === "true") {
      throw new Error(
        `browser tests: missing with CI=true: ${missing.join("; ")}`,
      );
    }
    const bar = "!".repeat(72);
    console.warn(
      `\n${bar}\n!!! BROWSER TESTS SKIPPED: missing ${missing.join("; ")}\n` +
        `!!! (on CI this is an error)\n${bar}\n`,
    );
    return null;
  }
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
