// Headless Chromium (Debian's `chromium`, driven by playwright-core) loads a bundle of the
// package from a page on another origin than the ASP.NET Core interop hub, which allows that
// origin through CORS with credentials. Every transport with JSON, the binary ones with
// MessagePack, stateful reconnect through a cut of its WebSocket, and the access token on
// /authhub. Any page error or unhandled rejection fails the run. Skips loudly without Chromium, playwright-core (tools/browser/install.sh) or dotnet,
// unless CI=true.
import assert from "node:assert/strict";
import { AUTH_TOKEN, AUTH_USER, startInteropServer } from "./interop/_server.ts";
import { CuttingRelay } from "./interop/_cutter.ts";
import {
  bundleClient,
  launchChromium,
  launchChromiumTabs,
  ROOT_DIR,
  staticFiles,
} from "../tools/browser/browser.ts";

const PAGE_DIR = `${ROOT_DIR}/tests/browser`;

interface LoggedRequest {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
}

Deno.test({
  name: "browser: a cross-origin page on every transport and protocol",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    await using chromium = await launchChromium();
    if (!chromium) return;
    const bundle = await bundleClient();
    // What the page loaded: code only some connections need is a chunk loaded on first use.
    const fetched: string[] = [];
    const serveFile = staticFiles({ "/": PAGE_DIR, "/bundle/": bundle });
    await using files = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (request) => {
        fetched.push(new URL(request.url).pathname);
        return serveFile(request);
      },
    );
    const chunks = (name: string) => fetched.filter((path) => path.includes(`/${name}-`));
    // "localhost" for the page, 127.0.0.1 for the hub: another origin (host and port).
    const origin = `http://localhost:${files.addr.port}`;
    await using server = await startInteropServer({ corsOrigins: [origin] });
    if (!server) return;

    const { page, errors } = await chromium.newPage();
    await page.goto(`${origin}/index.html`);
    await page.waitForFunction(
      "document.getElementById('status').textContent === 'ready'",
    );

    const pageErrors = async () => [
      ...errors,
      ...await page.evaluate<string[]>("globalThis.pageErrors"),
    ];

    const cases = [
      ["WebSockets", "json"],
      ["ServerSentEvents", "json"],
      ["LongPolling", "json"],
      ["WebSockets", "messagepack"],
      ["LongPolling", "messagepack"],
    ] as const;
    for (const [transport, protocol] of cases) {
      await t.step(`${transport}, ${protocol}`, async () => {
        const result = await page.evaluate(
          (arg: never) =>
            (globalThis as unknown as { scenario(a: unknown): unknown })
              .scenario(arg),
          { url: `${server.url}/hub`, transport, protocol },
        );
        assert.deepEqual(result, { transport });
        assert.deepEqual(await pageErrors(), []);
      });
    }

    await t.step(
      "stateful reconnect loads its chunk when used, and survives a cut; the cookie jar is never loaded",
      async () => {
        assert.deepEqual(chunks("_stateful_link"), [], "loaded before any connection asked for it");
        // The page reaches the hub through a relay that can cut its WebSocket connection.
        await using relay = new CuttingRelay(Number(new URL(server.url).port));
        const started = await page.evaluate<{ seen: string; id: string }>(
          (arg: never) =>
            (globalThis as unknown as { statefulStart(a: unknown): { seen: string; id: string } })
              .statefulStart(arg),
          { url: `${relay.url}/hub-stateful` },
        );
        assert.equal(started.seen, started.id);
        assert.equal(chunks("_stateful_link").length, 1);
        assert.equal(await relay.cutWebSockets(), 1);
        const after = await page.evaluate<
          { suspended: number; state: string; seen: string; id: string }
        >("globalThis.statefulAfterCut()");
        assert.deepEqual(after, {
          suspended: 1,
          state: "Connected",
          seen: started.id,
          id: started.id,
        });
        assert.deepEqual(chunks("_cookie_jar"), []);
        assert.deepEqual(await pageErrors(), []);
      },
    );

    for (
      const transport of [
        "WebSockets",
        "ServerSentEvents",
        "LongPolling",
      ] as const
    ) {
      await t.step(
        `the access token on /authhub over ${transport}`,
        async () => {
          const name = `browser-auth-${transport}-${crypto.randomUUID()}`;
          const user = await page.evaluate(
            (arg: never) =>
              (globalThis as unknown as { auth(a: unknown): unknown }).auth(
                arg,
              ),
            {
              url: `${server.url}/authhub?case=${name}`,
              transport,
              token: AUTH_TOKEN,
            },
          );
          assert.deepEqual(user, AUTH_USER);
          const response = await fetch(`${server.url}/requests?case=${name}`);
          const requests: LoggedRequest[] = await response.json();
          const connect = requests.find((r) =>
            r.method === "GET" && r.path === "/authhub" &&
            /(^|&)id=/.test(r.query)
          );
          assert(connect, `no connect request in ${JSON.stringify(requests)}`);
          const inQuery = /(^|&)access_token=secret-token(&|$)/.test(
            connect.query,
          );
          const inHeader = connect.headers["Authorization"] === `Bearer ${AUTH_TOKEN}`;
          // A browser WebSocket cannot send headers: the token is in the query. fetch-based
          // transports send the header.
          if (transport === "WebSockets") {
            assert(inQuery, `token not in the query: ${connect.query}`);
          } else {assert(
              inHeader,
              `no Authorization header: ${JSON.stringify(connect.headers)}`,
            );}
          assert.deepEqual(await pageErrors(), []);
        },
      );
    }
  },
});

Deno.test({
  name: "browser: examples/browser chats and streams the counter",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using chromium = await launchChromium();
    if (!chromium) return;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "examples/browser/serve.ts"],
      cwd: ROOT_DIR,
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    try {
      const address = await firstLineMatching(child.stdout, /Open (http:\S+)/);
      const { page, errors } = await chromium.newPage();
      await page.setViewportSize({ width: 720, height: 640 });
      await page.goto(address);
      await page.waitForFunction("document.getElementById('state').textContent === 'Connected'");

      await page.fill("input[name=user]", "ada");
      await page.fill("input[name=text]", "hello from Chromium");
      await page.click("#send button");
      await page.waitForFunction(
        "document.getElementById('messages').textContent.includes('ada:hello from Chromium')",
      );
      // The counter streams: it shows 0, then at least two more values.
      await page.waitForFunction("Number(document.getElementById('counter').textContent) >= 2");
      await page.screenshot({ path: `${ROOT_DIR}/.artifacts/browser/example.png` });
      assert.deepEqual(errors, []);
    } finally {
      child.kill("SIGINT");
      await child.status;
    }
  },
});

interface HiddenReport {
  visibility: string;
  hiddenFor: number;
  state: string;
  closed: string | null;
  pingsSinceHidden: number[];
  longestControlGap: number;
}

Deno.test({
  name: "browser: a hidden tab keeps its connection while Chrome throttles its timers",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // In a tab hidden for five minutes, Chrome runs a timer set from a timer's callback at most
    // once a minute ("intensive wake-up throttling"); the flag makes the five minutes ten seconds.
    // The keep-alive Pings must still go out: /hub-quick-pings drops a client silent for 15 s.
    // playwright cannot hide a page (it emulates focus and turns background throttling off).
    await using chromium = await launchChromiumTabs([
      "--enable-features=IntensiveWakeUpThrottling:grace_period_seconds/10",
    ]);
    if (!chromium) return;
    const bundle = await bundleClient();
    await using files = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      staticFiles({ "/": PAGE_DIR, "/bundle/": bundle }),
    );
    const origin = `http://localhost:${files.addr.port}`;
    await using server = await startInteropServer({ corsOrigins: [origin] });
    if (!server) return;
    const tab = await chromium.open(`${origin}/index.html`);
    const report = () => tab.evaluate<HiddenReport>("hiddenReport()");
    await until(
      () => tab.evaluate<boolean>("document.getElementById('status')?.textContent === 'ready'"),
      30_000,
      "the page to load",
    );
    await tab.evaluate(`hiddenStart(${JSON.stringify({ url: `${server.url}/hub-quick-pings` })})`);
    await chromium.hideTabs();
    // Chrome starts throttling about a minute after the page was hidden (its wake-ups are
    // aligned to minutes): 100 s shows it on the page's own chained timer, and is long enough for
    // the server to drop a client whose Pings were held back.
    const last = await until(
      async () => {
        const now = await report();
        return now.hiddenFor >= 100_000 || now.closed !== null ? now : undefined;
      },
      130_000,
      "100 s hidden",
      10_000,
    );
    assert.equal(last.visibility, "hidden");
    assert.equal(last.closed, null);
    assert.equal(last.state, "Connected");
    assert.ok(
      last.longestControlGap >= 10_000,
      `Chrome did not throttle the page's chained timer (longest gap ${last.longestControlGap} ms): the test proves nothing`,
    );
    // A Ping every keep-alive interval (4 s), late by at most the liveness step (1 s) and the
    // hidden page's timer alignment (a few seconds), while the page's own chain waited a minute.
    const times = [0, ...last.pingsSinceHidden, last.hiddenFor];
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    assert.ok(
      Math.max(...gaps) < 12_000,
      `Pings while hidden: ${last.pingsSinceHidden.join(", ")} ms`,
    );
    await tab.evaluate("hiddenStop()");
    assert.deepEqual(await tab.evaluate("globalThis.pageErrors"), []);
  },
});

/** Polls `check` every `every` ms until it returns a value, for at most `ms`. */
async function until<T>(
  check: () => Promise<T | undefined | false>,
  ms: number,
  what: string,
  every = 500,
): Promise<T> {
  const deadline = performance.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (performance.now() > deadline) throw new Error(`Gave up waiting for ${what} after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, every));
  }
}

/** Reads `stream` until a line matches `pattern`; returns the first group. Drains the rest. */
async function firstLineMatching(
  stream: ReadableStream<Uint8Array>,
  pattern: RegExp,
): Promise<string> {
  const lines = stream.pipeThrough(new TextDecoderStream()).values();
  let pending = "";
  while (true) {
    const { value, done } = await lines.next();
    if (done) throw new Error(`no line matched ${pattern}; got ${pending}`);
    pending += value;
    const match = pattern.exec(pending);
    if (match) {
      (async () => {
        for await (const _ of lines) { /* drain */ }
      })();
      return match[1];
    }
  }
}
