// Negotiate: parsing the answer, the HTTP request (fake fetch), and openConnection with a fake
// fetch and a fake WebSocket (no network).
import "../_guard.ts";
import assert from "node:assert/strict";
import { test } from "./_sanitized.ts";
import { fakeFetch, hangingFetch } from "./_fake_fetch.ts";
import {
  HttpError,
  HttpTransportType,
  type Logger,
  type LogLevel,
  NegotiateError,
} from "../../mod.ts";
import {
  negotiate,
  type NegotiateResult,
  parseNegotiateResponse,
} from "../../src/connection/_negotiate.ts";
import {
  createHttpClient,
  openConnection,
  resolveConnectionOptions,
} from "../../src/connection/_connect.ts";
import { HttpClient } from "../../src/http/_http_client.ts";
import type { HttpConnectionOptions } from "../../src/connection/http_connection_options.ts";
import type { Connection, ConnectionSettings } from "../../src/connection/_connection.ts";
import { JsonHubProtocol } from "../../src/protocol/json.ts";

class CollectingLogger implements Logger {
  readonly entries: { level: LogLevel; message: string }[] = [];
  log(level: LogLevel, message: string): void {
    this.entries.push({ level, message });
  }
}

const WS_TEXT = { transport: "WebSockets", transferFormats: ["Text", "Binary"] };

function v1(token = "secret-token", transports: unknown[] = [WS_TEXT]) {
  return {
    negotiateVersion: 1,
    connectionId: "public-id",
    connectionToken: token,
    availableTransports: transports,
  };
}

// ---------------------------------------------------------------------------------------------
// parseNegotiateResponse

test("parseNegotiateResponse: v1 answer uses connectionToken as the id", () => {
  const result = parseNegotiateResponse({
    ...v1("tok", [
      WS_TEXT,
      { transport: "ServerSentEvents", transferFormats: ["Text"] },
      { transport: "LongPolling", transferFormats: ["Text", "Binary"] },
    ]),
    useStatefulReconnect: true,
    somethingNew: 1,
  });
  assert.deepEqual(
    result,
    {
      kind: "connection",
      connectionId: "public-id",
      connectionToken: "tok",
      negotiateVersion: 1,
      availableTransports: [
        { transport: "WebSockets", transferFormats: ["Text", "Binary"] },
        { transport: "ServerSentEvents", transferFormats: ["Text"] },
        { transport: "LongPolling", transferFormats: ["Text", "Binary"] },
      ],
      useStatefulReconnect: true,
    } satisfies NegotiateResult,
  );
});

test("parseNegotiateResponse: v0 answer (no version, no token) uses connectionId as the id", () => {
  const result = parseNegotiateResponse({ connectionId: "abc", availableTransports: [WS_TEXT] });
  assert.equal(result.kind, "connection");
  if (result.kind !== "connection") return;
  assert.equal(result.connectionId, "abc");
  assert.equal(result.connectionToken, "abc");
  assert.equal(result.negotiateVersion, 0);
  assert.equal(result.useStatefulReconnect, false);
  // An explicit version 0 ignores a token too.
  const explicit = parseNegotiateResponse({
    negotiateVersion: 0,
    connectionId: "abc",
    connectionToken: "ignored",
  });
  assert.equal(explicit.kind === "connection" && explicit.connectionToken, "abc");
});

test("parseNegotiateResponse: redirect with and without accessToken", () => {
  assert.deepEqual(
    parseNegotiateResponse({ url: "https://azure/client/?hub=h", accessToken: "t" }),
    {
      kind: "redirect",
      url: "https://azure/client/?hub=h",
      accessToken: "t",
    },
  );
  assert.deepEqual(parseNegotiateResponse({ url: "https://azure/client/" }), {
    kind: "redirect",
    url: "https://azure/client/",
    accessToken: undefined,
  });
  assert.throws(
    () => parseNegotiateResponse({ url: "https://azure/", accessToken: 5 }),
    /'accessToken' is not a string/,
  );
});

test("parseNegotiateResponse: {error} fails with the server's text", () => {
  assert.throws(
    () => parseNegotiateResponse({ error: "Negotiate is disabled for tenant 7." }),
    (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.equal(error.message, "Negotiate failed: Negotiate is disabled for tenant 7.");
      return true;
    },
  );
});

test("parseNegotiateResponse: classic ASP.NET SignalR answer is named as such", () => {
  assert.throws(
    () =>
      parseNegotiateResponse({
        Url: "/signalr",
        ConnectionToken: "x",
        ConnectionId: "y",
        ProtocolVersion: "1.5",
        TryWebSockets: true,
      }),
    /classic ASP\.NET SignalR/,
  );
});

test("parseNegotiateResponse: malformed answers fail with clear messages", () => {
  const cases: [unknown, RegExp][] = [
    [null, /not a JSON object/],
    ["text", /not a JSON object/],
    [42, /not a JSON object/],
    [[v1()], /not a JSON object/],
    [{ negotiateVersion: 1, connectionToken: "t" }, /no 'connectionId'/],
    [{ negotiateVersion: 1, connectionId: "", connectionToken: "t" }, /no 'connectionId'/],
    [{ negotiateVersion: 1, connectionId: 5, connectionToken: "t" }, /no 'connectionId'/],
    [{ negotiateVersion: 1, connectionId: "c" }, /version 1 response has no 'connectionToken'/],
    [{ negotiateVersion: 1, connectionId: "c", connectionToken: "" }, /no 'connectionToken'/],
    [{ negotiateVersion: "1", connectionId: "c" }, /'negotiateVersion' is not a number/],
    [{ ...v1(), availableTransports: "WebSockets" }, /'availableTransports' is not an array/],
    [{ ...v1(), availableTransports: {} }, /'availableTransports' is not an array/],
    [{ ...v1(), availableTransports: ["WebSockets"] }, /'availableTransports' is malformed/],
    [{ ...v1(), availableTransports: [null] }, /'availableTransports' is malformed/],
    [{ ...v1(), availableTransports: [{ transport: 1, transferFormats: [] }] }, /malformed/],
    [{ ...v1(), availableTransports: [{ transport: "WebSockets" }] }, /malformed/],
    [
      { ...v1(), availableTransports: [{ transport: "WebSockets", transferFormats: "Text" }] },
      /malformed/,
    ],
  ];
  for (const [body, pattern] of cases) {
    assert.throws(() => parseNegotiateResponse(body), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.match(error.message, /^Negotiate failed: /);
      assert.match(error.message, pattern, JSON.stringify(body));
      return true;
    });
  }
});

test("parseNegotiateResponse: a missing availableTransports means none", () => {
  const result = parseNegotiateResponse({
    negotiateVersion: 1,
    connectionId: "c",
    connectionToken: "t",
  });
  assert.deepEqual(result.kind === "connection" && result.availableTransports, []);
});

// ---------------------------------------------------------------------------------------------
// negotiate with a fake fetch

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

function client(fetch: typeof globalThis.fetch, timeout = 100_000): HttpClient {
  // A leaked timer would trip the test sanitizer: the long default must be cleared too.
  return new HttpClient({ fetch, headers: { "X-A": "1" }, timeout });
}

test("negotiate: POSTs to {url}/negotiate with the headers and parses the answer", async () => {
  const { fetch, calls } = fakeFetch(() => json(v1()));
  const result = await negotiate(client(fetch), "http://h/hub");
  assert.equal(result.kind, "connection");
  assert.equal(calls.length, 1);
  assert.equal(calls[0].url, "http://h/hub/negotiate?negotiateVersion=1");
  assert.equal(calls[0].init.method, "POST");
  assert.equal(headersOf(calls[0].init)["X-A"], "1");
  assert.ok(calls[0].init.signal instanceof AbortSignal);
});

test("negotiate: non-2xx → HttpError with the status and the body text", async () => {
  for (const status of [400, 401, 404, 500, 503]) {
    const { fetch } = fakeFetch(() =>
      new Response("Server says no", { status, statusText: "Status Text" })
    );
    await assert.rejects(negotiate(client(fetch), "http://h/n"), (error: unknown) => {
      assert.ok(error instanceof HttpError);
      assert.equal(error.status, status);
      assert.match(
        error.message,
        new RegExp(`Status Text: Status code '${status}': Server says no`),
      );
      return true;
    });
  }
});

test("negotiate: a non-JSON body → NegotiateError", async () => {
  const { fetch } = fakeFetch(() => new Response("<html>proxy</html>", { status: 200 }));
  await assert.rejects(negotiate(client(fetch), "http://h/n"), (error: unknown) => {
    assert.ok(error instanceof NegotiateError);
    assert.match(error.message, /not JSON: <html>proxy<\/html>/);
    return true;
  });
});

test("negotiate: timeout → rejects with a TimeoutError and leaves no timer", async () => {
  const { fetch, seen } = hangingFetch();
  await assert.rejects(negotiate(client(fetch, 5), "http://h/n"), (error: unknown) => {
    assert.ok(error instanceof DOMException);
    assert.equal(error.name, "TimeoutError");
    assert.match(error.message, /timed out/);
    return true;
  });
  assert.equal(seen[0].aborted, true);
});

test("negotiate: the caller's signal aborts the request with its reason", async () => {
  const { fetch } = hangingFetch();
  const controller = new AbortController();
  const reason = new Error("user gave up");
  const pending = negotiate(client(fetch), "http://h/n", controller.signal);
  controller.abort(reason);
  await assert.rejects(pending, (error: unknown) => error === reason);
});

// ---------------------------------------------------------------------------------------------
// openConnection with a fake fetch and a fake WebSocket

interface FakeSocketOptions {
  /** Fail before opening, like a refused upgrade. */
  fail?: boolean;
}

function fakeWebSocketClass(behaviour: FakeSocketOptions = {}) {
  const sockets: FakeSocket[] = [];
  class FakeSocket extends EventTarget {
    static readonly CONNECTING = 0;
    static readonly OPEN = 1;
    static readonly CLOSING = 2;
    static readonly CLOSED = 3;
    readonly url: string;
    readonly options: unknown;
    binaryType = "blob";
    readyState = 0;
    bufferedAmount = 0;
    readonly sent: unknown[] = [];
    constructor(url: string, options?: unknown) {
      super();
      this.url = url;
      this.options = options;
      sockets.push(this);
      queueMicrotask(() => {
        if (behaviour.fail) {
          this.readyState = 3;
          this.dispatchEvent(new ErrorEvent("error", { message: "refused" }));
          this.dispatchEvent(new CloseEvent("close", { code: 1006, wasClean: false }));
        } else {
          this.readyState = 1;
          this.dispatchEvent(new Event("open"));
        }
      });
    }
    send(data: unknown) {
      this.sent.push(data);
      // Answers the handshake request, like a hub.
      if (typeof data === "string" && data.includes('"protocol"')) {
        queueMicrotask(() => this.dispatchEvent(new MessageEvent("message", { data: "{}\x1e" })));
      }
    }
    close(code = 1000) {
      if (this.readyState === 3) return;
      this.readyState = 3;
      queueMicrotask(() => this.dispatchEvent(new CloseEvent("close", { code, wasClean: true })));
    }
  }
  return { WebSocket: FakeSocket as unknown as typeof WebSocket, sockets };
}

function headersOf(init: RequestInit): Record<string, string> {
  return init.headers as Record<string, string>;
}

function socketHeaders(socket: { options: unknown }): Record<string, string> {
  return (socket.options as { headers: Record<string, string> }).headers;
}

function settings(logger: Logger): ConnectionSettings {
  return {
    protocol: new JsonHubProtocol(),
    logger,
    logMessageContent: false,
    maxMessageSize: 1 << 20,
    keepAliveInterval: 15_000,
    serverTimeout: 30_000,
    closeTimeout: 1_000,
  };
}

async function open(
  baseUrl: string,
  options: HttpConnectionOptions,
  logger: Logger = new CollectingLogger(),
): Promise<Connection> {
  const resolved = resolveConnectionOptions(options);
  const result = await openConnection(resolved, {
    baseUrl,
    http: createHttpClient(resolved, logger),
    settings: settings(logger),
    handshakeTimeout: 1_000,
    signal: new AbortController().signal,
  });
  await result.stop();
  return result;
}

test("openConnection: negotiate URL keeps the user's query and adds negotiateVersion=1", async () => {
  const { fetch, calls } = fakeFetch(() => json(v1("tok/+=")));
  const { WebSocket, sockets } = fakeWebSocketClass();
  const result = await open("http://host:5000/hubs/chat?tenant=a&x=1", {
    fetch,
    WebSocket,
    headers: { "X-Tenant": "a" },
    accessTokenFactory: () => "factory-token",
  });
  assert.equal(calls.length, 1);
  assert.equal(
    calls[0].url,
    "http://host:5000/hubs/chat/negotiate?tenant=a&x=1&negotiateVersion=1",
  );
  assert.equal(calls[0].init.method, "POST");
  const headers = headersOf(calls[0].init);
  assert.equal(headers["X-Tenant"], "a");
  assert.equal(headers["X-Requested-With"], "XMLHttpRequest");
  assert.match(headers["X-SignalR-User-Agent"], /^@signalrcore\/client\/\d+\.\d+\.\d+ \(Deno; /);
  assert.equal(headers.Authorization, "Bearer factory-token");

  assert.equal(result.connectionId, "public-id");
  assert.equal(sockets.length, 1);
  const ws = new URL(sockets[0].url);
  assert.equal(ws.protocol, "ws:");
  assert.equal(ws.host, "host:5000");
  assert.equal(ws.pathname, "/hubs/chat");
  assert.equal(ws.searchParams.get("tenant"), "a");
  assert.equal(ws.searchParams.get("x"), "1");
  assert.equal(ws.searchParams.get("id"), "tok/+=", "the connection token, not the public id");
  assert.equal(socketHeaders(sockets[0]).Authorization, "Bearer factory-token");
  assert.equal(socketHeaders(sockets[0])["X-Tenant"], "a");
});

test("openConnection: a trailing slash in the hub URL does not double the slash", async () => {
  const { fetch, calls } = fakeFetch(() => json(v1()));
  const { WebSocket } = fakeWebSocketClass();
  await open("http://h/hub/", { fetch, WebSocket });
  assert.equal(calls[0].url, "http://h/hub/negotiate?negotiateVersion=1");
});

test("openConnection: https becomes wss and v0 answers use the connection id", async () => {
  const { fetch } = fakeFetch(() =>
    json({ connectionId: "v0-id", availableTransports: [WS_TEXT] })
  );
  const { WebSocket, sockets } = fakeWebSocketClass();
  const result = await open("https://secure.example/hub", { fetch, WebSocket });
  const ws = new URL(sockets[0].url);
  assert.equal(ws.protocol, "wss:");
  assert.equal(ws.searchParams.get("id"), "v0-id");
  assert.equal(result.connectionId, "v0-id");
});

test("openConnection: redirects are followed; the redirect's token replaces the factory's", async () => {
  const { fetch, calls } = fakeFetch((_call, i) =>
    i === 0
      ? json({ url: "https://azure.example/client/?hub=chat", accessToken: "azure-token" })
      : json(v1("azure-conn"))
  );
  const { WebSocket, sockets } = fakeWebSocketClass();
  let factoryCalls = 0;
  await open("http://app/hub", {
    fetch,
    WebSocket,
    accessTokenFactory: () => `app-token-${++factoryCalls}`,
  });
  assert.equal(factoryCalls, 1);
  assert.equal(calls.length, 2);
  assert.equal(headersOf(calls[0].init).Authorization, "Bearer app-token-1");
  assert.equal(calls[1].url, "https://azure.example/client/negotiate?hub=chat&negotiateVersion=1");
  assert.equal(headersOf(calls[1].init).Authorization, "Bearer azure-token");
  const ws = new URL(sockets[0].url);
  assert.equal(ws.protocol, "wss:");
  assert.equal(ws.host, "azure.example");
  assert.equal(ws.searchParams.get("hub"), "chat");
  assert.equal(ws.searchParams.get("id"), "azure-conn");
  assert.equal(socketHeaders(sockets[0]).Authorization, "Bearer azure-token");
});

test("openConnection: a redirect without accessToken keeps the app's token for the hub's origin only", async () => {
  // Another origin gets no token: the app's is the hub's alone (issue 16).
  const { fetch, calls } = fakeFetch((_call, i) =>
    i === 0 ? json({ url: "http://other/hub" }) : json(v1())
  );
  const { WebSocket, sockets } = fakeWebSocketClass();
  await open("http://app/hub", { fetch, WebSocket, accessTokenFactory: () => "app" });
  assert.equal(headersOf(calls[0].init).Authorization, "Bearer app");
  assert.equal(calls[1].url, "http://other/hub/negotiate?negotiateVersion=1");
  assert.equal(headersOf(calls[1].init).Authorization, undefined);
  assert.equal(new URL(sockets[0].url).host, "other");
  assert.equal(
    (sockets[0].options as { headers: Record<string, string> }).headers.Authorization,
    undefined,
  );

  // The same origin (another path) keeps it.
  const same = fakeFetch((_call, i) => i === 0 ? json({ url: "http://app/v2/hub" }) : json(v1()));
  const ws = fakeWebSocketClass();
  await open("http://app/hub", {
    fetch: same.fetch,
    WebSocket: ws.WebSocket,
    accessTokenFactory: () => "app",
  });
  assert.equal(headersOf(same.calls[1].init).Authorization, "Bearer app");
  assert.equal(
    (ws.sockets[0].options as { headers: Record<string, string> }).headers.Authorization,
    "Bearer app",
  );
});

test("openConnection: 100 redirects are followed, the 101st fails", async () => {
  const ok = fakeFetch((_call, i) => i < 100 ? json({ url: `http://hop${i}/hub` }) : json(v1()));
  const { WebSocket } = fakeWebSocketClass();
  await open("http://app/hub", { fetch: ok.fetch, WebSocket });
  assert.equal(ok.calls.length, 101);

  const endless = fakeFetch((_call, i) => json({ url: `http://hop${i}/hub` }));
  const sockets = fakeWebSocketClass();
  await assert.rejects(
    open("http://app/hub", { fetch: endless.fetch, WebSocket: sockets.WebSocket }),
    /more than 100 redirects/,
  );
  assert.equal(endless.calls.length, 101);
  assert.equal(sockets.sockets.length, 0);
});

test("openConnection: {error} fails start with that text", async () => {
  const { fetch } = fakeFetch(() => json({ error: "The hub 'chat' is not enabled." }));
  const { WebSocket, sockets } = fakeWebSocketClass();
  await assert.rejects(
    open("http://app/hub", { fetch, WebSocket }),
    (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.match(error.message, /The hub 'chat' is not enabled\./);
      return true;
    },
  );
  assert.equal(sockets.length, 0);
});

test("openConnection: a 401 calls accessTokenFactory once more and retries with the new token", async () => {
  const { fetch, calls } = fakeFetch((_call, i) =>
    i === 0 ? new Response("expired", { status: 401 }) : json(v1())
  );
  const { WebSocket, sockets } = fakeWebSocketClass();
  let factoryCalls = 0;
  await open("http://app/hub", {
    fetch,
    WebSocket,
    accessTokenFactory: () => Promise.resolve(`token-${++factoryCalls}`),
  });
  // The factory is asked for every request: negotiate, its retry, the WebSocket upgrade.
  assert.equal(factoryCalls, 3);
  assert.equal(calls.length, 2);
  assert.equal(headersOf(calls[0].init).Authorization, "Bearer token-1");
  assert.equal(headersOf(calls[1].init).Authorization, "Bearer token-2");
  assert.equal(socketHeaders(sockets[0]).Authorization, "Bearer token-3");
});

test("openConnection: a second 401 fails with HttpError 401 (no endless retry)", async () => {
  const { fetch, calls } = fakeFetch(() => new Response("nope", { status: 401 }));
  const { WebSocket } = fakeWebSocketClass();
  let factoryCalls = 0;
  await assert.rejects(
    open("http://app/hub", { fetch, WebSocket, accessTokenFactory: () => `t${++factoryCalls}` }),
    (error: unknown) => error instanceof HttpError && error.status === 401,
  );
  assert.equal(factoryCalls, 2);
  assert.equal(calls.length, 2);
});

test("openConnection: a 401 without accessTokenFactory fails at once", async () => {
  const { fetch, calls } = fakeFetch(() => new Response("", { status: 401 }));
  const { WebSocket } = fakeWebSocketClass();
  await assert.rejects(
    open("http://app/hub", { fetch, WebSocket }),
    (error: unknown) => error instanceof HttpError && error.status === 401,
  );
  assert.equal(calls.length, 1);
});

test("openConnection: skipNegotiation connects the WebSocket directly, without fetch", async () => {
  const { fetch, calls } = fakeFetch(() => json(v1()));
  const { WebSocket, sockets } = fakeWebSocketClass();
  const result = await open("https://h/hub?tenant=b", {
    fetch,
    WebSocket,
    transport: HttpTransportType.WebSockets,
    skipNegotiation: true,
    accessTokenFactory: () => "direct",
  });
  assert.equal(calls.length, 0);
  assert.equal(sockets.length, 1);
  assert.equal(sockets[0].url, "wss://h/hub?tenant=b");
  assert.equal(socketHeaders(sockets[0]).Authorization, "Bearer direct");
  assert.equal(result.connectionId, null);
});

test("resolveConnectionOptions: skipNegotiation requires WebSockets alone", () => {
  for (
    const transport of [
      undefined,
      HttpTransportType.WebSockets | HttpTransportType.LongPolling,
      HttpTransportType.ServerSentEvents,
      HttpTransportType.LongPolling,
    ]
  ) {
    assert.throws(
      () => resolveConnectionOptions({ skipNegotiation: true, transport }),
      (error: unknown) =>
        error instanceof TypeError && /WebSockets transport alone/.test(error.message),
      `transport ${transport}`,
    );
  }
  const ok = resolveConnectionOptions({
    skipNegotiation: true,
    transport: HttpTransportType.WebSockets,
  });
  assert.equal(ok.skipNegotiation, true);
});

test("resolveConnectionOptions: defaults", () => {
  const o = resolveConnectionOptions();
  assert.equal(o.transport, 7);
  assert.equal(o.skipNegotiation, false);
  assert.equal(o.timeout, 100_000);
  assert.equal(o.logMessageContent, false);
  assert.equal(o.WebSocket, globalThis.WebSocket);
  assert.equal(typeof o.fetch, "function");
});

test("openConnection: no transport in common → a clear error naming both sides", async () => {
  const cases: [HttpConnectionOptions, unknown[], RegExp][] = [
    [
      { transport: HttpTransportType.WebSockets },
      [{ transport: "ServerSentEvents", transferFormats: ["Text"] }],
      /server offers ServerSentEvents for Text frames; the client allows WebSockets\./,
    ],
    [
      {},
      [{ transport: "WebSockets", transferFormats: ["Binary"] }],
      /No transport both sides support: the server offers none for Text frames, WebSockets only for Binary;/,
    ],
    [{}, [], /server offers none/],
  ];
  for (const [options, transports, pattern] of cases) {
    const { fetch } = fakeFetch(() => json(v1("t", transports)));
    const { WebSocket, sockets } = fakeWebSocketClass();
    await assert.rejects(open("http://h/hub", { ...options, fetch, WebSocket }), pattern);
    assert.equal(sockets.length, 0);
  }
});

test("openConnection: a WebSocket that fails to open rejects with its error", async () => {
  const { fetch } = fakeFetch(() => json(v1()));
  const { WebSocket, sockets } = fakeWebSocketClass({ fail: true });
  const logger = new CollectingLogger();
  await assert.rejects(
    open("http://h/hub", { fetch, WebSocket }, logger),
    /WebSocket failed to connect to ws:\/\/h\/hub\?id=\*\*\*: refused \(close code 1006\)/,
  );
  assert.equal(sockets.length, 1);
  // The token never reaches the log.
  assert.ok(logger.entries.every((e) => !e.message.includes("secret-token")));
});

test("openConnection: an aborted signal stops before any request", async () => {
  const { fetch, calls } = fakeFetch(() => json(v1()));
  const { WebSocket } = fakeWebSocketClass();
  const reason = new Error("stop");
  await assert.rejects(
    openConnection(resolveConnectionOptions({ fetch, WebSocket }), {
      baseUrl: "http://h/hub",
      http: createHttpClient(resolveConnectionOptions({ fetch }), new CollectingLogger()),
      settings: settings(new CollectingLogger()),
      handshakeTimeout: 1_000,
      signal: AbortSignal.abort(reason),
    }),
    (error: unknown) => error === reason,
  );
  assert.equal(calls.length, 0);
});

// ---------------------------------------------------------------------------------------------
// Bugs found (kept as ignored tests until src is fixed)

test({
  // Regression (fixed): src/connection/_url.ts:11 withQuery() re-serializes the whole query through
  // URLSearchParams, so the user's query string is not kept as written: "/" → "%2F", "~" →
  // "%7E", "%20" → "+", a bare "flag" → "flag=". The official client appends
  // "&negotiateVersion=1" to the raw string. Breaks servers that sign or compare the raw query.
  name: "openConnection: the user's query string is kept byte for byte",
  async fn() {
    const { fetch, calls } = fakeFetch(() => json(v1()));
    const { WebSocket, sockets } = fakeWebSocketClass();
    await open("http://h/hub?path=/a/b&sig=x~y&flag&sp=a%20b", { fetch, WebSocket });
    assert.equal(
      calls[0].url,
      "http://h/hub/negotiate?path=/a/b&sig=x~y&flag&sp=a%20b&negotiateVersion=1",
    );
    assert.ok(sockets[0].url.startsWith("ws://h/hub?path=/a/b&sig=x~y&flag&sp=a%20b&id="));
  },
});

test({
  // Regression (fixed): src/connection/_connect.ts:108-115 — after a redirect that carries an
  // accessToken, a 401 from the redirect target calls accessTokenFactory and sends the app's
  // token to the redirect target, although PROTOCOL.md says the redirect's token replaces the
  // factory's for that target. @microsoft/signalr clears the factory after such a redirect, so
  // the 401 fails at once.
  name: "openConnection: a 401 after a token redirect does not send the factory's token there",
  async fn() {
    const { fetch, calls } = fakeFetch((_call, i) =>
      i === 0
        ? json({ url: "https://azure/client/", accessToken: "azure-token" })
        : i === 1
        ? new Response("", { status: 401 })
        : json(v1())
    );
    const { WebSocket } = fakeWebSocketClass();
    await open("http://app/hub", { fetch, WebSocket, accessTokenFactory: () => "app-token" })
      .catch(() => {});
    for (const call of calls.slice(1)) {
      assert.equal(headersOf(call.init).Authorization, "Bearer azure-token", call.url);
    }
  },
});

test("openConnection: stateful reconnect asked → negotiate query, handshake version 2", async () => {
  const { fetch, calls } = fakeFetch(() => json({ ...v1(), useStatefulReconnect: true }));
  const { WebSocket, sockets } = fakeWebSocketClass();
  const logger = new CollectingLogger();
  const resolved = resolveConnectionOptions({ fetch, WebSocket });
  const connection = await openConnection(resolved, {
    baseUrl: "http://h/hub",
    http: createHttpClient(resolved, logger),
    settings: settings(logger),
    handshakeTimeout: 1_000,
    signal: new AbortController().signal,
    statefulReconnect: { bufferSize: 1_000 },
  });
  assert.equal(calls[0].url, "http://h/hub/negotiate?negotiateVersion=1&useStatefulReconnect=true");
  assert.deepEqual(sockets[0].sent, ['{"protocol":"json","version":2}\x1e']);
  assert.equal(connection.stateful, true);
  await connection.stop();
});

test("openConnection: stateful reconnect the server did not agree to → version 1, a log line", async () => {
  const { fetch } = fakeFetch(() => json(v1()));
  const { WebSocket, sockets } = fakeWebSocketClass();
  const logger = new CollectingLogger();
  const resolved = resolveConnectionOptions({ fetch, WebSocket });
  const connection = await openConnection(resolved, {
    baseUrl: "http://h/hub",
    http: createHttpClient(resolved, logger),
    settings: settings(logger),
    handshakeTimeout: 1_000,
    signal: new AbortController().signal,
    statefulReconnect: { bufferSize: 1_000 },
  });
  assert.deepEqual(sockets[0].sent, ['{"protocol":"json","version":1}\x1e']);
  assert.equal(connection.stateful, false);
  assert.ok(logger.entries.some((e) => /did not agree to stateful reconnect/.test(e.message)));
  await connection.stop();
});

test("openConnection: a server that turns stateful reconnect on unasked fails start clearly", async () => {
  const { fetch } = fakeFetch(() => json({ ...v1(), useStatefulReconnect: true }));
  const { WebSocket, sockets } = fakeWebSocketClass();
  await assert.rejects(open("http://h/hub", { fetch, WebSocket }), (error: unknown) => {
    assert.ok(error instanceof NegotiateError, String(error));
    assert.match(error.message, /stateful reconnect on, which this client did not ask for/);
    return true;
  });
  assert.equal(sockets.length, 0);
});
