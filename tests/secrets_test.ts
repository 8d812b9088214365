// Secrets and scope (issue 16): tokens never reach a log line or an error message, whatever the
// level and logMessageContent; the app's token goes to the hub's origin only and a negotiate
// redirect's token to the redirect's origin only (every request checked, as the client sent
// it and as each server saw it, the WebSocket upgrade included); cookies go back only where
// their attributes allow; every receive path refuses a message past maxReceiveMessageSize
// before reading past it.
import "./_guard.ts";
import assert from "node:assert/strict";
import {
  HttpTransportType,
  type HubConnection,
  HubConnectionBuilder,
  LogLevel,
  ProtocolError,
} from "../mod.ts";
import type { WebSocketConstructor } from "../src/connection/http_connection_options.ts";
import { MessagePackHubProtocol } from "../msgpack.ts";
import { TestHub, type TestHubClient } from "../testing.ts";
import { RecordingLogger, within } from "./_util.ts";

const FACTORY_TOKEN = "factory-S3CRET-4ac1e2";
const REDIRECT_TOKEN = "redirect-S3CRET-9bd0f7";
const RS = "\x1e";
const WAIT = 10_000;

/** One request as the client sent it (fetch or WebSocket constructor) or a server saw it. */
interface Seen {
  readonly url: string;
  readonly headers: Headers;
}

/** The bearer tokens a request carries: its Authorization header and `access_token=` query. */
function tokensOf(request: Seen): string[] {
  const tokens: string[] = [];
  const bearer = /^Bearer\s+(.+)$/i.exec(request.headers.get("authorization") ?? "");
  if (bearer) tokens.push(bearer[1]);
  for (const value of new URL(request.url).searchParams.getAll("access_token")) tokens.push(value);
  return tokens;
}

function originOf(url: string): string {
  const u = new URL(url.replace(/^ws/i, "http"));
  return u.origin;
}

/** A fetch and a WebSocket constructor that record what the client sends, then send it. */
function recorders(options: { browser?: boolean } = {}) {
  const sent: Seen[] = [];
  const recordingFetch: typeof fetch = (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    sent.push({ url, headers: new Headers(init?.headers) });
    return fetch(input, init);
  };
  const browser = options.browser ?? false;
  const RecordingWebSocket: WebSocketConstructor = class extends WebSocket {
    constructor(url: string, init?: string | string[] | { headers?: Record<string, string> }) {
      const withHeaders = typeof init === "object" && !Array.isArray(init);
      // A browser's WebSocket reads a second argument as sub-protocols and throws.
      if (browser && withHeaders) throw new DOMException("Invalid protocol", "SyntaxError");
      sent.push({ url, headers: new Headers(withHeaders ? init.headers : undefined) });
      super(url, browser ? undefined : init);
    }
  };
  return { sent, fetch: recordingFetch, WebSocket: RecordingWebSocket };
}

/**
 * A server on `hostname` that records every request and answers negotiate with a redirect to
 * `target()` (with `accessToken` when given) and `setCookie` headers; anything else gets 404.
 */
function redirector(
  options: {
    hostname?: string;
    target: () => string;
    accessToken?: string;
    setCookie?: readonly string[];
  },
) {
  const seen: Seen[] = [];
  const server = Deno.serve(
    { hostname: options.hostname ?? "127.0.0.1", port: 0, onListen() {} },
    async (request) => {
      seen.push({ url: request.url, headers: new Headers(request.headers) });
      await request.body?.cancel();
      if (!new URL(request.url).pathname.endsWith("/negotiate")) {
        return new Response("Not Found", { status: 404 });
      }
      const headers = new Headers({ "content-type": "application/json" });
      for (const cookie of options.setCookie ?? []) headers.append("set-cookie", cookie);
      const body = options.accessToken === undefined
        ? { url: options.target() }
        : { url: options.target(), accessToken: options.accessToken };
      return new Response(JSON.stringify(body), { headers });
    },
  );
  return {
    url: `http://${options.hostname ?? "127.0.0.1"}:${server.addr.port}/hub`,
    seen,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** Every message of an error, its causes and an aggregate's errors, and what is not an Error. */
function errorTexts(error: unknown, out: string[] = [], depth = 0): string[] {
  if (depth > 10 || error === undefined || error === null) return out;
  if (error instanceof Error) {
    out.push(error.message, String(error.stack ?? ""));
    if (error instanceof AggregateError) {
      for (const e of error.errors) errorTexts(e, out, depth + 1);
    }
    errorTexts(error.cause, out, depth + 1);
  } else {
    out.push(String(error));
  }
  return out;
}

/** The `id=` values (connection tokens) of the requests a hub saw. */
function connectionTokens(requests: readonly Seen[]): string[] {
  return [...new Set(requests.flatMap((r) => new URL(r.url).searchParams.getAll("id")))];
}

/** No secret in any text; every `id=` and `access_token=` value in them is `***`. */
function assertClean(texts: readonly string[], secrets: readonly string[], where: string): void {
  for (const text of texts) {
    for (const secret of secrets) {
      assert.ok(!text.includes(secret), `${where} shows a secret (${secret}): ${text}`);
    }
    const bare = /[?&](?:access_token|id)=(?!\*\*\*)[^&#\s]/i.exec(text);
    assert.equal(bare, null, `${where} has an unredacted query value: ${text}`);
  }
}

const CASES = [
  { transport: "WebSockets", msgpack: false, browser: false },
  { transport: "WebSockets", msgpack: true, browser: false },
  { transport: "WebSockets", msgpack: false, browser: true },
  { transport: "ServerSentEvents", msgpack: false, browser: false },
  { transport: "LongPolling", msgpack: false, browser: false },
  { transport: "LongPolling", msgpack: true, browser: false },
] as const;

/** A session: calls and a stream both ways, then the server drops the connection. */
async function exercise(
  connection: HubConnection,
  hub: TestHub,
): Promise<{ error: Error | undefined; server: TestHubClient }> {
  const closed = Promise.withResolvers<Error | undefined>();
  connection.onclose((error) => closed.resolve(error));
  await within(connection.start(), WAIT, "start");
  const server = await hub.nextConnection();
  assert.equal(await connection.invoke("Echo", "hello"), "hello");
  const items: number[] = [];
  for await (const n of connection.stream<number>("Counter", 3)) items.push(n);
  assert.deepEqual(items, [0, 1, 2]);
  const got = Promise.withResolvers<unknown>();
  connection.on("Note", (x) => got.resolve(x));
  await server.send("Note", "from the server");
  assert.equal(await within(got.promise, WAIT, "Note"), "from the server");
  await server.drop();
  return { error: await within(closed.promise, WAIT, "close after the drop"), server };
}

function hubMethods() {
  return {
    Echo: (x: unknown) => x,
    Counter: async function* (count: number) {
      for (let i = 0; i < count; i++) yield i;
    },
  };
}

for (const { transport, msgpack, browser } of CASES) {
  const label = `${transport}${msgpack ? " MessagePack" : ""}${
    browser ? " (browser WebSocket)" : ""
  }`;
  for (const logMessageContent of [false, true]) {
    Deno.test(`secrets over ${label}, logMessageContent ${logMessageContent}: a cross-origin redirect with its token; no token in logs or errors`, async () => {
      const hubTokens: string[] = [];
      await using hub = await TestHub.serve({
        protocols: [new MessagePackHubProtocol()],
        methods: hubMethods(),
        accessToken: (token) => (hubTokens.push(token), token === REDIRECT_TOKEN),
      });
      // The hub's origin: another port, so another origin.
      await using origin = redirector({ target: () => hub.url, accessToken: REDIRECT_TOKEN });
      const client = recorders({ browser });
      const logger = new RecordingLogger();
      let builder = new HubConnectionBuilder()
        .withUrl(origin.url, {
          transport: HttpTransportType[transport],
          accessTokenFactory: () => FACTORY_TOKEN,
          logMessageContent,
          fetch: client.fetch,
          WebSocket: client.WebSocket,
        })
        .configureLogging(logger);
      if (msgpack) builder = builder.withHubProtocol(new MessagePackHubProtocol());
      const connection = builder.build();
      const { error, server } = await exercise(connection, hub);
      assert.ok(error instanceof Error, "the drop closes with an error");

      // The hub's origin saw negotiate only, with the app's token only.
      assert.ok(origin.seen.length >= 1);
      for (const request of origin.seen) {
        assert.deepEqual(tokensOf(request), [FACTORY_TOKEN], request.url);
      }
      // The redirect's origin saw its own token on every request, never the app's.
      assert.ok(server.requests.length >= 2, "negotiate and the transport's requests");
      for (const request of server.requests) {
        assert.deepEqual(
          tokensOf(request).filter((t) => t !== REDIRECT_TOKEN),
          [],
          `${request.method} ${request.url}`,
        );
        assert.ok(tokensOf(request).includes(REDIRECT_TOKEN), request.url);
      }
      assert.ok(hubTokens.length > 0 && hubTokens.every((t) => t === REDIRECT_TOKEN));
      // And so the client sent: every request, the WebSocket upgrade included.
      const hubOrigin = originOf(hub.url);
      assert.ok(client.sent.some((r) => originOf(r.url) === hubOrigin));
      for (const request of client.sent) {
        const expected = originOf(request.url) === hubOrigin ? REDIRECT_TOKEN : FACTORY_TOKEN;
        assert.deepEqual(tokensOf(request), [expected], request.url);
      }
      if (transport === "WebSockets") {
        const upgrade = client.sent.find((r) => r.url.startsWith("ws"));
        assert.ok(upgrade, "the upgrade was recorded");
        if (browser) assert.ok(new URL(upgrade.url).searchParams.has("access_token"));
        else assert.equal(upgrade.headers.get("authorization"), `Bearer ${REDIRECT_TOKEN}`);
      }

      const secrets = [FACTORY_TOKEN, REDIRECT_TOKEN, ...connectionTokens(server.requests)];
      assert.ok(secrets.length > 2, "the connection token is known");
      const lines = logger.entries.map((e) => e.message);
      assert.ok(lines.some((l) => /id=\*\*\*/.test(l)), "URLs with a connection token are logged");
      if (logMessageContent) {
        // MessagePack content is logged as bytes, JSON as its text.
        assert.ok(
          lines.some((l) => l.startsWith("Received") && (msgpack || l.includes("from the server"))),
        );
      }
      assertClean(lines, secrets, "a log line");
      assertClean(errorTexts(error), secrets, "the close error");
    });
  }
}

Deno.test("secrets: failures name no token (401, a refused WebSocket with a query token, a dead server, a cut poll)", async () => {
  const logger = new RecordingLogger();
  const errors: unknown[] = [];
  // 401 from a hub that wants another token.
  {
    await using hub = await TestHub.serve({ accessToken: "another" });
    const connection = new HubConnectionBuilder()
      .withUrl(hub.url, { accessTokenFactory: () => FACTORY_TOKEN })
      .configureLogging(logger).build();
    errors.push(await connection.start().then(() => assert.fail("started"), (e) => e));
    assert.match(String((errors.at(-1) as Error).message), /401/);
  }
  // A browser WebSocket (token in the query) refused by the hub.
  {
    await using hub = await TestHub.serve({ faults: { refuseWebSockets: 503 } });
    const client = recorders({ browser: true });
    const connection = new HubConnectionBuilder()
      .withUrl(hub.url, {
        transport: HttpTransportType.WebSockets,
        accessTokenFactory: () => FACTORY_TOKEN,
        WebSocket: client.WebSocket,
      })
      .configureLogging(logger).build();
    const error = await connection.start().then(() => assert.fail("started"), (e) => e);
    errors.push(error);
    assert.match(String(error.message), /access_token=\*\*\*/);
  }
  // A server that is gone, with a token in the user's own URL query.
  {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    const connection = new HubConnectionBuilder()
      .withUrl(`http://127.0.0.1:${port}/hub?access_token=${FACTORY_TOKEN}`)
      .configureLogging(logger).build();
    errors.push(await connection.start().then(() => assert.fail("started"), (e) => e));
  }
  // A Long Polling poll cut by the server (a runtime error naming the URL with id=).
  const connectionSecrets: string[] = [];
  {
    await using hub = await TestHub.serve();
    const connection = new HubConnectionBuilder()
      .withUrl(hub.url, {
        transport: HttpTransportType.LongPolling,
        accessTokenFactory: () => FACTORY_TOKEN,
      })
      .configureLogging(logger).build();
    const closed = Promise.withResolvers<Error | undefined>();
    connection.onclose((e) => closed.resolve(e));
    await connection.start();
    const server = await hub.nextConnection();
    connectionSecrets.push(...connectionTokens(server.requests));
    await server.drop();
    errors.push(await within(closed.promise, WAIT, "close"));
  }
  const secrets = [FACTORY_TOKEN, ...connectionSecrets];
  assertClean(errors.flatMap((e) => errorTexts(e)), secrets, "an error");
  assertClean(logger.entries.map((e) => e.message), secrets, "a log line");
});

for (const withToken of [false, true]) {
  Deno.test(`scope: a cross-origin redirect ${withToken ? "with" : "without"} a token of its own; the app's token stays home`, async () => {
    await using hub = await TestHub.serve({ methods: hubMethods() });
    await using origin = redirector({
      target: () => hub.url,
      ...withToken ? { accessToken: REDIRECT_TOKEN } : {},
    });
    const client = recorders();
    await using connection = new HubConnectionBuilder()
      .withUrl(origin.url, {
        accessTokenFactory: () => FACTORY_TOKEN,
        fetch: client.fetch,
        WebSocket: client.WebSocket,
      })
      .configureLogging(LogLevel.None).build();
    await connection.start();
    const server = await hub.nextConnection();
    assert.equal(await connection.invoke("Echo", 1), 1);
    const expected = withToken ? [REDIRECT_TOKEN] : [];
    for (const request of server.requests) assert.deepEqual(tokensOf(request), expected);
    const upgrade = client.sent.find((r) => r.url.startsWith("ws"));
    assert.ok(upgrade);
    assert.deepEqual(tokensOf(upgrade), expected);
    for (const request of origin.seen) assert.deepEqual(tokensOf(request), [FACTORY_TOKEN]);
  });

  Deno.test(`scope: a same-origin redirect ${withToken ? "with" : "without"} a token; reconnects start from the app's token`, async () => {
    const valid = withToken ? REDIRECT_TOKEN : FACTORY_TOKEN;
    let negotiates = 0;
    await using hub = await TestHub.serve({
      methods: hubMethods(),
      // The redirect's negotiate carries the app's token; what follows it, the valid one.
      accessToken: (token) => token === valid || token === FACTORY_TOKEN,
      faults: {
        negotiate: (request) => {
          if (new URL(request.url).searchParams.has("redirected")) return undefined;
          negotiates++;
          assert.equal(request.headers.get("authorization"), `Bearer ${FACTORY_TOKEN}`);
          return {
            redirect: hub.url + "?redirected=1",
            ...withToken ? { accessToken: REDIRECT_TOKEN } : {},
          };
        },
      },
    });
    await using connection = new HubConnectionBuilder()
      .withUrl(hub.url, { accessTokenFactory: () => FACTORY_TOKEN })
      .withAutomaticReconnect([0])
      .configureLogging(LogLevel.None).build();
    await connection.start();
    for (let round = 0; round < 2; round++) {
      const server = await hub.nextConnection();
      for (const request of server.requests) assert.deepEqual(tokensOf(request), [valid]);
      if (round === 0) {
        const reconnected = Promise.withResolvers<void>();
        connection.onreconnected(() => reconnected.resolve());
        await server.drop();
        await within(reconnected.promise, WAIT, "reconnected");
      }
    }
    assert.equal(negotiates, 2, "the reconnect negotiated from the original URL");
  });
}

Deno.test("cookies: sent back only where Domain, Path, Secure and expiry allow, never to another host after a redirect", async () => {
  await using hub = await TestHub.serve({
    methods: hubMethods(),
    negotiateHeaders: () => {
      const headers = new Headers();
      for (
        const line of [
          "affinity=hub; Path=/hub",
          "elsewhere=no; Path=/other",
          "secure=no; Secure",
          "gone=no; Max-Age=0",
          "expired=no; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
          "wide=yes; Domain=127.0.0.1; Path=/",
          "foreign=no; Domain=example.com",
        ]
      ) headers.append("set-cookie", line);
      return headers;
    },
  });
  // The hub's origin is another host (127.0.0.2): its cookies must not follow the redirect.
  await using origin = redirector({
    hostname: "127.0.0.2",
    target: () => hub.url,
    setCookie: ["origin=no; Path=/", "originwide=no; Domain=127.0.0.2"],
  });
  const client = recorders();
  await using connection = new HubConnectionBuilder()
    .withUrl(origin.url, {
      transport: HttpTransportType.LongPolling,
      fetch: client.fetch,
    })
    .configureLogging(LogLevel.None).build();
  await connection.start();
  const server = await hub.nextConnection();
  assert.equal(await connection.invoke("Echo", "x"), "x");
  const later = server.requests.slice(1);
  assert.ok(later.length >= 2, "polls and sends");
  for (const request of later) {
    assert.equal(request.headers.get("cookie"), "affinity=hub; wide=yes", request.url);
  }
  assert.equal(server.requests[0].headers.get("cookie"), null, "negotiate: no cookie yet");
  for (const request of origin.seen) assert.equal(request.headers.get("cookie"), null);
});

Deno.test("cookies: the WebSocket upgrade carries the hub's cookies, not another host's", async () => {
  await using hub = await TestHub.serve({
    methods: hubMethods(),
    negotiateHeaders: { "set-cookie": "affinity=ws; Path=/hub" },
  });
  await using origin = redirector({
    hostname: "127.0.0.2",
    target: () => hub.url,
    setCookie: ["origin=no"],
  });
  await using connection = new HubConnectionBuilder()
    .withUrl(origin.url, { transport: HttpTransportType.WebSockets })
    .configureLogging(LogLevel.None).build();
  await connection.start();
  const server = await hub.nextConnection();
  assert.equal(server.transport, "WebSockets");
  assert.equal(server.headers.get("cookie"), "affinity=ws");
});

// Size limits. Each raw server below sends one message that never ends: a client that read a
// poll's body or an event whole before checking would wait forever; one that checks as the
// data arrives closes with a ProtocolError.

/** Chunks of `piece` forever, until the client cancels the body. */
function endless(head: Uint8Array, piece: Uint8Array, sent: { bytes: number }) {
  let first = true;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = first ? head : piece;
      first = false;
      sent.bytes += chunk.length;
      controller.enqueue(chunk);
    },
  });
}

/** A raw server of one transport whose first message after the handshake never ends. */
function endlessHub(transport: "LongPolling" | "ServerSentEvents", binary: boolean) {
  const encoder = new TextEncoder();
  const sent = { bytes: 0 };
  let polls = 0;
  const handshake = encoder.encode("{}" + RS);
  // JSON: an Invocation whose argument never ends; MessagePack: a length prefix of 2^30.
  const head = binary
    ? new Uint8Array([...handshake, 0x80, 0x80, 0x80, 0x80, 0x04, 0x96, 0x01, 0x80, 0xc0])
    : encoder.encode('{}\x1e{"type":1,"target":"x","arguments":["');
  const piece = encoder.encode("a".repeat(16 * 1024));
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const url = new URL(request.url);
    if (url.pathname.endsWith("/negotiate")) {
      return Response.json({
        negotiateVersion: 1,
        connectionId: "c",
        connectionToken: "t",
        availableTransports: [{ transport, transferFormats: binary ? ["Binary"] : ["Text"] }],
      });
    }
    if (request.method !== "GET") {
      await request.body?.cancel();
      return new Response(null, { status: request.method === "DELETE" ? 202 : 200 });
    }
    if (transport === "ServerSentEvents") {
      const sse = endless(
        encoder.encode("data: " + "{}\x1e".slice(0, 3) + "\n\ndata: "),
        piece,
        sent,
      );
      return new Response(sse, { headers: { "content-type": "text/event-stream" } });
    }
    // Long Polling: the first poll empty, the next the handshake answer and the endless message.
    if (++polls === 1) return new Response("");
    if (polls === 2) return new Response(endless(head, piece, sent));
    // Later polls wait for the client to stop.
    await new Promise((resolve) => request.signal.addEventListener("abort", resolve));
    return new Response(null, { status: 204 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/hub`,
    sent,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

for (
  const [transport, binary] of [
    ["LongPolling", false],
    ["LongPolling", true],
    ["ServerSentEvents", false],
  ] as const
) {
  Deno.test(`size limit: ${transport}${binary ? " MessagePack" : ""} refuses an endless message with a ProtocolError as it arrives`, async () => {
    await using server = endlessHub(transport, binary);
    const limit = 64 * 1024;
    let builder = new HubConnectionBuilder()
      .withUrl(server.url, {
        transport: HttpTransportType[transport],
        maxReceiveMessageSize: limit,
      })
      .configureLogging(LogLevel.None);
    if (binary) builder = builder.withHubProtocol(new MessagePackHubProtocol());
    const connection = builder.build();
    const closed = Promise.withResolvers<Error | undefined>();
    connection.onclose((e) => closed.resolve(e));
    // The handshake answer may come in the same body as the endless message: start() either
    // resolves and the connection then closes, or fails with the same error.
    const start = await within(connection.start().then(() => undefined, (e) => e), WAIT, "start");
    const error = start ?? await within(closed.promise, WAIT, "the close");
    assert.ok(error instanceof ProtocolError, String(error));
    assert.match(error.message, /receive limit|exceeds|too large|larger/i);
    // The body is endless: the error itself shows it was not read whole. The server's count
    // also holds what the loopback socket buffers took (a few MB), hence the loose bound.
    assert.ok(server.sent.bytes < 16 * 1024 * 1024, `${server.sent.bytes} bytes were sent`);
  });
}

Deno.test("size limit: WebSockets MessagePack refuses a message by its length prefix, before its bytes", async () => {
  await using hub = await TestHub.serve({ protocols: [new MessagePackHubProtocol()] });
  const connection = new HubConnectionBuilder()
    .withUrl(hub.url, { transport: HttpTransportType.WebSockets, maxReceiveMessageSize: 1000 })
    .withHubProtocol(new MessagePackHubProtocol())
    .configureLogging(LogLevel.None).build();
  const closed = Promise.withResolvers<Error | undefined>();
  connection.onclose((e) => closed.resolve(e));
  await connection.start();
  const server = await hub.nextConnection();
  // A prefix announcing 1 001 bytes, and only the start of the message.
  await server.writeRaw(new Uint8Array([0xe9, 0x07, 0x96, 0x01]));
  const error = await within(closed.promise, WAIT, "the close");
  assert.ok(error instanceof ProtocolError, String(error));
  assert.match(error.message, /1001 bytes exceeds the receive limit of 1000/);
});

Deno.test("size limit: WebSockets JSON refuses a record split across frames once it passes the limit", async () => {
  await using hub = await TestHub.serve();
  const connection = new HubConnectionBuilder()
    .withUrl(hub.url, { transport: HttpTransportType.WebSockets, maxReceiveMessageSize: 1000 })
    .configureLogging(LogLevel.None).build();
  const closed = Promise.withResolvers<Error | undefined>();
  connection.onclose((e) => closed.resolve(e));
  await connection.start();
  const server = await hub.nextConnection();
  await server.writeRaw('{"type":1,"target":"x","arguments":["' + "a".repeat(500));
  await server.writeRaw("a".repeat(600));
  const error = await within(closed.promise, WAIT, "the close");
  assert.ok(error instanceof ProtocolError, String(error));
});
