// TestHub's Server-Sent Events and Long Polling transports: the wire with raw HTTP requests
// (what ASP.NET Core answers, request by request), then this package's client over every
// transport for behaviour that must not depend on it. Sanitizers stay on: every poll is
// answered and every event stream closed by the end of each test.
import "./_guard.ts";
import assert from "node:assert/strict";
import { HttpTransportType, type HubConnection, HubConnectionBuilder, LogLevel } from "../mod.ts";
import {
  type HubCallContext,
  MessageType,
  TestHub,
  TestHubError,
  type TestHubTransport,
} from "../testing.ts";
import { formatEvent } from "../src/testing/_sse_transport.ts";

const RS = "\x1e";
const TRANSPORTS: readonly TestHubTransport[] = ["WebSockets", "ServerSentEvents", "LongPolling"];
const HANDSHAKE = JSON.stringify({ protocol: "json", version: 1 }) + RS;

function record(message: unknown): string {
  return JSON.stringify(message) + RS;
}

/** Negotiates (v1) and returns the connection token. */
async function negotiate(hub: TestHub, headers?: HeadersInit): Promise<string> {
  const response = await fetch(`${hub.url}/negotiate?negotiateVersion=1`, {
    method: "POST",
    headers,
  });
  return (await response.json()).connectionToken;
}

/** A POST to the connection; returns the status, the body read. */
async function post(
  hub: TestHub,
  token: string,
  body: string | Uint8Array,
  init: RequestInit = {},
): Promise<number> {
  const response = await fetch(`${hub.url}?id=${token}`, {
    method: "POST",
    body: body as BodyInit,
    ...init,
  });
  await response.body?.cancel();
  return response.status;
}

/** A Long Polling poll; the body is read. */
async function poll(
  hub: TestHub,
  token: string,
  init: RequestInit = {},
): Promise<{ status: number; body: string; type: string | null }> {
  const response = await fetch(`${hub.url}?id=${token}&_=${Date.now()}`, init);
  return {
    status: response.status,
    body: await response.text(),
    type: response.headers.get("content-type"),
  };
}

/** The records of a body, parsed. */
function records(body: string): unknown[] {
  return body.split(RS).filter((r) => r.length > 0).map((r) => JSON.parse(r));
}

/** A raw Server-Sent Events client: the GET's event stream, read event by event. */
class RawSse implements AsyncDisposable {
  readonly response: Response;
  readonly #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";

  private constructor(response: Response) {
    this.response = response;
    this.#reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  }

  static async open(hub: TestHub, token: string, headers?: HeadersInit): Promise<RawSse> {
    const response = await fetch(`${hub.url}?id=${token}`, {
      headers: { accept: "text/event-stream", ...headers },
    });
    assert.equal(response.status, 200);
    return new RawSse(response);
  }

  /** The next event's data (its `data:` lines joined by `\n`); `undefined` at the end. */
  async next(): Promise<string | undefined> {
    for (;;) {
      const end = this.#buffer.indexOf("\r\n\r\n");
      if (end !== -1) {
        const block = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 4);
        const data = block.split("\r\n").filter((line) => line.startsWith("data: "))
          .map((line) => line.slice(6));
        if (data.length > 0) return data.join("\n");
        continue;
      }
      const { value, done } = await this.#reader.read();
      if (done) return undefined;
      this.#buffer += value;
    }
  }

  /** The next event as one JSON record. */
  async nextRecord(): Promise<unknown> {
    const data = await this.next();
    assert.ok(data?.endsWith(RS), `not one record: ${data}`);
    return JSON.parse(data!.slice(0, -1));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}

/** Negotiates, opens the event stream and completes the handshake. */
async function sseConnection(hub: TestHub): Promise<{ token: string; sse: RawSse }> {
  const token = await negotiate(hub);
  const sse = await RawSse.open(hub, token);
  assert.equal(await post(hub, token, HANDSHAKE), 200);
  assert.equal(await sse.next(), "{}" + RS);
  return { token, sse };
}

/** Negotiates, makes the first poll and completes the handshake. */
async function lpConnection(hub: TestHub): Promise<string> {
  const token = await negotiate(hub);
  const first = await poll(hub, token);
  assert.deepEqual([first.status, first.body], [200, ""]);
  assert.equal(await post(hub, token, HANDSHAKE), 200);
  assert.equal((await poll(hub, token)).body, "{}" + RS);
  return token;
}

// ---- negotiate --------------------------------------------------------------------------

Deno.test("negotiate: the transports offered, in ASP.NET Core's order", async () => {
  await using hub = await TestHub.serve({ transports: ["LongPolling", "ServerSentEvents"] });
  const answer = await (await fetch(`${hub.url}/negotiate?negotiateVersion=1`, {
    method: "POST",
  })).json();
  assert.deepEqual(answer.availableTransports, [
    { transport: "ServerSentEvents", transferFormats: ["Text"] },
    { transport: "LongPolling", transferFormats: ["Text", "Binary"] },
  ]);
  // A transport not offered is refused as ASP.NET Core refuses it.
  const response = await fetch(`${hub.url}?id=${answer.connectionToken}`, {
    headers: { upgrade: "websocket", connection: "upgrade" },
  });
  assert.equal(response.status, 404);
  assert.equal(await response.text(), "WebSockets transport not supported by this end point type");
  await assert.rejects(
    () => TestHub.serve({ transports: ["Foo" as TestHubTransport] }),
    /Unknown transport 'Foo'/,
  );
});

// ---- Server-Sent Events -------------------------------------------------------------------

Deno.test("sse: the event stream, sends as POSTs, ASP.NET Core's event format", async () => {
  await using hub = await TestHub.serve({ methods: { Echo: (x: unknown) => x } });
  const token = await negotiate(hub);
  await using sse = await RawSse.open(hub, token);
  assert.equal(sse.response.headers.get("content-type"), "text/event-stream");
  assert.equal(sse.response.headers.get("cache-control"), "no-cache,no-store");
  assert.equal(await post(hub, token, HANDSHAKE), 200);
  assert.equal(await sse.next(), "{}" + RS);
  const server = await hub.nextConnection();
  assert.equal(server.transport, "ServerSentEvents");

  // Several records in one POST.
  const invoke = (id: string) =>
    record({ type: 1, invocationId: id, target: "Echo", arguments: [id] });
  assert.equal(await post(hub, token, invoke("a") + invoke("b")), 200);
  assert.deepEqual(await sse.nextRecord(), { type: 3, invocationId: "a", result: "a" });
  assert.deepEqual(await sse.nextRecord(), { type: 3, invocationId: "b", result: "b" });

  // A payload with line breaks: one `data:` line each.
  await server.writeRaw("one\ntwo\r\nthree");
  assert.equal(await sse.next(), "one\ntwo\nthree");
  assert.equal(formatEvent("a\r\nb\n"), "data: a\r\ndata: b\r\ndata: \r\n\r\n");
  assert.equal(formatEvent("x"), "data: x\r\n\r\n");

  // The client closing its stream ends the connection.
  await sse[Symbol.asyncDispose]();
  assert.deepEqual(await server.closed, { reason: "transport-closed" });
  assert.equal(await post(hub, token, invoke("c")), 404);
});

Deno.test("sse: close() ends the stream after the Close", async () => {
  await using hub = await TestHub.serve();
  await using sse = (await sseConnection(hub)).sse;
  const server = await hub.nextConnection();
  await server.close({ error: "bye" });
  assert.deepEqual(await sse.nextRecord(), { type: MessageType.Close, error: "bye" });
  assert.equal(await sse.next(), undefined, "the stream ended");
  assert.deepEqual(await server.closed, { reason: "server-close", error: "bye" });
});

Deno.test("sse: endTransport() ends the stream without a Close", async () => {
  await using hub = await TestHub.serve();
  await using sse = (await sseConnection(hub)).sse;
  const server = await hub.nextConnection();
  await server.endTransport();
  assert.equal(await sse.next(), undefined);
  assert.deepEqual(await server.closed, { reason: "server-close" });
});

Deno.test("sse: pings on the event stream, and the client timeout", async () => {
  await using hub = await TestHub.serve({ keepAliveInterval: 10, clientTimeout: 50 });
  const { token, sse } = await sseConnection(hub);
  await using _ = sse;
  const server = await hub.nextConnection();
  assert.deepEqual(await sse.nextRecord(), { type: MessageType.Ping });
  assert.equal(await post(hub, token, record({ type: MessageType.Ping })), 200);
  let last: unknown;
  while ((last = await sse.nextRecord()) && (last as { type: number }).type === MessageType.Ping);
  assert.deepEqual(last, { type: MessageType.Close });
  assert.deepEqual(await server.closed, { reason: "client-timeout" });
});

// ---- Long Polling -------------------------------------------------------------------------

Deno.test("lp: first poll at once, then data, the poll timeout, Close, 204, 404", async () => {
  await using hub = await TestHub.serve({
    longPollTimeout: 30,
    keepAliveInterval: 10,
    methods: { Echo: (x: unknown) => x },
  });
  const token = await negotiate(hub);
  const first = await poll(hub, token);
  assert.deepEqual([first.status, first.body], [200, ""]);
  assert.equal(await post(hub, token, HANDSHAKE), 200);
  const handshake = await poll(hub, token);
  assert.deepEqual([handshake.status, handshake.body], [200, "{}" + RS]);
  assert.equal(handshake.type, "application/octet-stream");
  const server = await hub.nextConnection();
  assert.equal(server.transport, "LongPolling");

  // No data for longer than the poll timeout: 200 empty (and no pings on Long Polling).
  const idle = await poll(hub, token);
  assert.deepEqual([idle.status, idle.body], [200, ""]);

  // Messages written together come in one poll.
  const waiting = poll(hub, token);
  await server.send("A", 1);
  await server.send("B", 2);
  assert.deepEqual(records((await waiting).body), [
    { type: 1, target: "A", arguments: [1] },
    { type: 1, target: "B", arguments: [2] },
  ]);

  const closing = server.close();
  assert.deepEqual(records((await poll(hub, token)).body), [{ type: MessageType.Close }]);
  assert.equal((await poll(hub, token)).status, 204);
  await closing;
  assert.deepEqual(await server.closed, { reason: "server-close" });
  assert.equal((await poll(hub, token)).status, 404);
  assert.ok(!server.received.some((m) => m.type === MessageType.Ping));
});

Deno.test("lp: a new poll ends the waiting one with 204; DELETE ends the connection", async () => {
  await using hub = await TestHub.serve();
  const token = await lpConnection(hub);
  const server = await hub.nextConnection();
  const older = poll(hub, token);
  await new Promise((resolve) => setTimeout(resolve, 20));
  const newer = poll(hub, token);
  assert.equal((await older).status, 204);
  const deleted = await fetch(`${hub.url}?id=${token}`, { method: "DELETE" });
  await deleted.body?.cancel();
  assert.equal(deleted.status, 202);
  assert.equal((await newer).status, 204);
  assert.deepEqual(await server.closed, { reason: "transport-closed" });
});

Deno.test("lp: endTransport() answers the waiting poll with 204", async () => {
  await using hub = await TestHub.serve();
  const token = await lpConnection(hub);
  const server = await hub.nextConnection();
  const waiting = poll(hub, token);
  await new Promise((resolve) => setTimeout(resolve, 10));
  await server.endTransport();
  assert.deepEqual(await waiting, { status: 204, body: "", type: "text/plain" });
  assert.deepEqual(await server.closed, { reason: "server-close" });
});

Deno.test("lp: a client that stops polling, or abandons its poll, is timed out", async () => {
  await using hub = await TestHub.serve({ disconnectTimeout: 50, clientTimeout: 5 });
  {
    await lpConnection(hub);
    const server = await hub.nextConnection();
    // The hub's client timeout does not apply to Long Polling; the disconnect timeout does.
    assert.deepEqual(await server.closed, { reason: "client-timeout" });
  }
  {
    const token = await lpConnection(hub);
    const server = await hub.nextConnection();
    const abort = new AbortController();
    const abandoned = poll(hub, token, { signal: abort.signal });
    await new Promise((resolve) => setTimeout(resolve, 20));
    abort.abort();
    await assert.rejects(abandoned);
    const started = performance.now();
    assert.deepEqual(await server.closed, { reason: "client-timeout" });
    assert.ok(performance.now() - started < 1_000);
  }
  // A negotiated token left unused for the disconnect timeout is forgotten.
  const token = await negotiate(hub);
  await new Promise((resolve) => setTimeout(resolve, 80));
  assert.equal((await poll(hub, token)).status, 404);
});

Deno.test("lp: binary data both ways as application/octet-stream", async () => {
  await using hub = await TestHub.serve({ methods: { Echo: (x: unknown) => x } });
  const token = await negotiate(hub);
  await poll(hub, token);
  const bytes = new TextEncoder().encode(
    HANDSHAKE + record({ type: 1, invocationId: "1", target: "Echo", arguments: ["é"] }),
  );
  assert.equal(
    await post(hub, token, bytes, { headers: { "content-type": "application/octet-stream" } }),
    200,
  );
  assert.deepEqual(records((await poll(hub, token)).body), [
    {},
    { type: 3, invocationId: "1", result: "é" },
  ]);
  const server = await hub.nextConnection();
  await server.writeRaw(new Uint8Array([1, 2, 3]));
  const response = await fetch(`${hub.url}?id=${token}`);
  assert.equal(response.headers.get("content-type"), "application/octet-stream");
  assert.deepEqual(new Uint8Array(await response.arrayBuffer()), new Uint8Array([1, 2, 3]));
  const deleted = await fetch(`${hub.url}?id=${token}`, { method: "DELETE" });
  await deleted.body?.cancel();
  await server.closed;
});

Deno.test("lp: the handshake timeout, answered in a poll", async () => {
  await using hub = await TestHub.serve({ handshakeTimeout: 20 });
  const token = await negotiate(hub);
  await poll(hub, token);
  assert.deepEqual(records((await poll(hub, token)).body), [{
    error: "Handshake was canceled.",
  }]);
  assert.equal((await poll(hub, token)).status, 204);
});

// ---- what both HTTP transports share ------------------------------------------------------

Deno.test("http: sends wait for one another; a POST before the transport is kept", async () => {
  await using hub = await TestHub.serve({ methods: { Echo: (x: unknown) => x } });
  const token = await negotiate(hub);
  // ASP.NET Core keeps data sent before the transport connects for the hub.
  assert.equal(await post(hub, token, HANDSHAKE), 200);
  await using sse = await RawSse.open(hub, token);
  assert.equal(await sse.next(), "{}" + RS);
  const server = await hub.nextConnection();
  const calls = Array.from(
    { length: 10 },
    (_, i) => record({ type: 1, invocationId: `${i}`, target: "Echo", arguments: [i] }),
  );
  // Concurrent POSTs are all taken, in order (ASP.NET Core serializes them; no 409).
  assert.deepEqual(
    await Promise.all(calls.map((call) => post(hub, token, call))),
    calls.map(() => 200),
  );
  for (let i = 0; i < 10; i++) {
    assert.deepEqual(await sse.nextRecord(), { type: 3, invocationId: `${i}`, result: i });
  }
  assert.deepEqual(
    server.received.map((m) => (m as { invocationId?: string }).invocationId),
    calls.map((_, i) => `${i}`),
  );
});

Deno.test("http: error answers as on ASP.NET Core, and single-use tokens", async () => {
  await using hub = await TestHub.serve();
  const get = async (query: string, headers?: HeadersInit) => {
    const response = await fetch(`${hub.url}${query}`, { headers });
    return [response.status, await response.text()];
  };
  const method = async (name: string, query: string) => {
    const response = await fetch(`${hub.url}${query}`, { method: name });
    return [response.status, await response.text()];
  };
  const sse = { accept: "text/event-stream" };
  assert.deepEqual(await get("", sse), [400, "Connection ID required"]);
  assert.deepEqual(await get("?id=nope", sse), [404, "No Connection with that ID"]);
  assert.deepEqual(await method("POST", ""), [400, "Connection ID required"]);
  assert.deepEqual(await method("POST", "?id=nope"), [404, "No Connection with that ID"]);
  assert.deepEqual(await method("DELETE", "?id=nope"), [404, "No Connection with that ID"]);
  assert.deepEqual(await method("PUT", "?id=nope"), [405, ""]);

  const { token, sse: stream } = await sseConnection(hub);
  await using _ = stream;
  // The token belongs to the event stream now: a second one is a conflict, another transport
  // may not take it over, and DELETE is for Long Polling only.
  assert.deepEqual(await get(`?id=${token}`, sse), [409, ""]);
  assert.deepEqual(await get(`?id=${token}`), [400, "Cannot change transports mid-connection"]);
  assert.deepEqual(await method("DELETE", `?id=${token}`), [
    400,
    "Cannot terminate this connection using the DELETE endpoint.",
  ]);

  const lp = await lpConnection(hub);
  assert.deepEqual(await get(`?id=${lp}`, sse), [400, "Cannot change transports mid-connection"]);
  const ws = new WebSocket(`${hub.url.replace("http", "ws")}?id=${lp}`);
  const wsError = new Promise((resolve) => ws.onerror = resolve);
  await new Promise((resolve) => ws.onclose = resolve);
  await wsError;

  // No POSTs on a WebSocket connection.
  const wsToken = await negotiate(hub);
  const socket = new WebSocket(`${hub.url.replace("http", "ws")}?id=${wsToken}`);
  await new Promise((resolve) => socket.onopen = resolve);
  assert.deepEqual(await method("POST", `?id=${wsToken}`), [
    405,
    "POST requests are not allowed for WebSocket connections.",
  ]);
  socket.close();
  await new Promise((resolve) => socket.onclose = resolve);
  await hub.close();
});

Deno.test("http: refuseTransports, failPosts, and a failed poll", async () => {
  await using hub = await TestHub.serve({
    faults: { refuseTransports: { ServerSentEvents: 503 } },
  });
  const token = await negotiate(hub);
  const refused = await fetch(`${hub.url}?id=${token}`, {
    headers: { accept: "text/event-stream" },
  });
  await refused.body?.cancel();
  assert.equal(refused.status, 503);
  // A refused request does not use the token up.
  assert.equal((await poll(hub, token)).status, 200);
  assert.equal(await post(hub, token, HANDSHAKE), 200);
  assert.equal((await poll(hub, token)).body, "{}" + RS);
  const server = await hub.nextConnection();

  hub.faults.failPosts = 409;
  assert.equal(await post(hub, token, record({ type: MessageType.Ping })), 409);
  assert.equal(server.received.length, 0, "not taken");
  hub.faults.failPosts = undefined;
  assert.equal(await post(hub, token, record({ type: MessageType.Ping })), 200);
  assert.equal(server.received.length, 1);

  let polls = 0;
  hub.faults.refuseTransports = { LongPolling: () => ++polls === 1 ? 500 : undefined };
  assert.equal((await poll(hub, token)).status, 500);
  await server.send("Still", "here");
  assert.deepEqual(records((await poll(hub, token)).body), [
    { type: 1, target: "Still", arguments: ["here"] },
  ]);
  const deleted = await fetch(`${hub.url}?id=${token}`, { method: "DELETE" });
  await deleted.body?.cancel();
  await server.closed;
});

Deno.test("http: headers, query and every request of a connection are recorded", async () => {
  await using hub = await TestHub.serve({
    accessToken: "secret",
    methods: { Token: (c: HubCallContext) => c.accessToken },
  });
  const auth = { authorization: "Bearer secret" };
  const token = await negotiate(hub, auth);
  assert.equal((await poll(hub, token)).status, 401, "no token");
  assert.equal(
    await fetch(`${hub.url}?id=${token}&extra=1&_=1`, { headers: auth }).then((r) => r.text()),
    "",
  );
  assert.equal(await post(hub, token, HANDSHAKE, { headers: auth }), 200);
  assert.equal(await post(hub, token, HANDSHAKE), 401);
  assert.equal((await poll(hub, token, { headers: auth })).body, "{}" + RS);
  const server = await hub.nextConnection();
  assert.equal(server.accessToken, "secret");
  assert.equal(server.headers.get("authorization"), "Bearer secret");
  assert.deepEqual([...server.query], [["extra", "1"]]);
  assert.deepEqual(server.requests.map((r) => r.method), ["POST", "GET", "POST", "GET"]);
  assert.ok(server.requests.every((r) => r.headers.get("authorization") === "Bearer secret"));
  assert.match(server.requests[0].url, /\/negotiate\?negotiateVersion=1$/);
  const deleted = await fetch(`${hub.url}?id=${token}`, { method: "DELETE", headers: auth });
  await deleted.body?.cancel();
  assert.equal(server.requests.at(-1)?.method, "DELETE");
});

Deno.test("http: freeze() hangs the stream, polls and POSTs until drop()", async (t) => {
  await using hub = await TestHub.serve({ clientTimeout: 20, disconnectTimeout: 20 });

  await t.step("sse", async () => {
    const { token, sse } = await sseConnection(hub);
    await using _ = sse;
    const server = await hub.nextConnection();
    await server.freeze();
    await server.send("Lost", 1);
    await assert.rejects(
      fetch(`${hub.url}?id=${token}`, {
        method: "POST",
        body: record({ type: MessageType.Ping }),
        signal: AbortSignal.timeout(60),
      }),
      { name: "TimeoutError" },
    );
    assert.equal(server.received.length, 0);
    assert.ok(hub.connections.includes(server.id), "not timed out");
    const next = sse.next().catch((error) => error);
    await server.drop();
    assert.deepEqual(await server.closed, { reason: "dropped" });
    const end = await next;
    assert.ok(end === undefined || end instanceof Error, "no event after the freeze");
  });

  await t.step("lp", async () => {
    const token = await lpConnection(hub);
    const server = await hub.nextConnection();
    const waiting = poll(hub, token).catch((error) => error);
    await new Promise((resolve) => setTimeout(resolve, 10));
    await server.freeze();
    await server.send("Lost", 1);
    await assert.rejects(poll(hub, token, { signal: AbortSignal.timeout(60) }), {
      name: "TimeoutError",
    });
    await new Promise((resolve) => setTimeout(resolve, 40)); // past the disconnect timeout
    assert.ok(hub.connections.includes(server.id), "not timed out");
    await server.drop();
    assert.deepEqual(await server.closed, { reason: "dropped" });
    assertCut(await waiting);
    assert.equal((await poll(hub, token)).status, 404);
  });
});

/**
 * A poll whose TCP connection was cut: a network error, or, when fetch retried it on a fresh
 * connection (it may, for a GET on a reused one), the 404 of a connection that is gone.
 */
function assertCut(result: Error | { status: number }): void {
  assert.ok(
    result instanceof TypeError || (!(result instanceof Error) && result.status === 404),
    `not cut: ${JSON.stringify(result)}`,
  );
}

Deno.test("http: drop() cuts the stream or the waiting poll", async () => {
  await using hub = await TestHub.serve();
  {
    const { sse } = await sseConnection(hub);
    await using _ = sse;
    const server = await hub.nextConnection();
    const next = sse.next().catch((error) => error);
    await server.drop();
    assert.ok((await next) instanceof Error, "the stream failed: no clean end");
  }
  {
    const token = await lpConnection(hub);
    const server = await hub.nextConnection();
    const waiting = poll(hub, token).catch((error) => error);
    await new Promise((resolve) => setTimeout(resolve, 10));
    await server.drop();
    assertCut(await waiting);
    assert.equal((await poll(hub, token)).status, 404);
  }
});

Deno.test("http: TestHub.close() answers the waiting poll and ends the stream", async () => {
  const hub = await TestHub.serve();
  const { sse } = await sseConnection(hub);
  const token = await lpConnection(hub);
  const waiting = poll(hub, token);
  await new Promise((resolve) => setTimeout(resolve, 10));
  const closing = hub.close();
  assert.deepEqual(await sse.nextRecord(), { type: MessageType.Close });
  assert.equal(await sse.next(), undefined);
  assert.deepEqual(records((await waiting).body), [{ type: MessageType.Close }]);
  // As when ASP.NET Core stops, the connection is gone at once, not after one more poll.
  const started = performance.now();
  await closing;
  assert.ok(performance.now() - started < 1_000, "no grace period waited out");
  await sse[Symbol.asyncDispose]();
});

// ---- this package's client, the same on every transport ----------------------------------

function connectOver(
  hub: TestHub,
  transport: TestHubTransport,
  configure: (builder: HubConnectionBuilder) => HubConnectionBuilder = (b) => b,
): HubConnection {
  return configure(
    new HubConnectionBuilder()
      .withUrl(hub.url, { transport: HttpTransportType[transport] })
      .configureLogging(LogLevel.None),
  ).build();
}

for (const transport of TRANSPORTS) {
  Deno.test(`client over ${transport}: calls, streams both ways, client results, groups`, async () => {
    await using hub = await TestHub.serve({
      methods: {
        Add: (a: number, b: number) => a + b,
        Refuse: () => {
          throw new TestHubError("No.");
        },
        Counter: async function* (count: number) {
          for (let i = 0; i < count; i++) yield i;
        },
        Sum: async (items: AsyncIterable<number>) => {
          let sum = 0;
          for await (const item of items) sum += item;
          return sum;
        },
        Ask: (context: HubCallContext) => context.client.invoke("Answer", 20),
        Join: (group: string, context: HubCallContext) => context.join(group),
      },
    });
    await using connection = connectOver(hub, transport);
    const notified = Promise.withResolvers<unknown>();
    connection.on("Answer", (x: number) => x + 1);
    connection.on("Notify", (x) => notified.resolve(x));
    await connection.start();
    const server = await hub.nextConnection();
    assert.equal(server.transport, transport);
    assert.equal(await connection.invoke("Add", 1, 2), 3);
    await assert.rejects(() => connection.invoke("Refuse"), { message: "No." });
    const items: number[] = [];
    for await (const item of connection.stream<number>("Counter", 5)) items.push(item);
    assert.deepEqual(items, [0, 1, 2, 3, 4]);
    assert.equal(await connection.invoke("Sum", ReadableStream.from([1, 2, 3])), 6);
    assert.equal(await connection.invoke("Ask"), 21);
    assert.equal(await hub.invokeClient(server.id, "Answer", 1), 2);
    await connection.invoke("Join", "g");
    await hub.group("g").send("Notify", "to the group");
    assert.equal(await notified.promise, "to the group");
  });

  Deno.test(`client over ${transport}: Close with allowReconnect, drop(), TestHub.close()`, async () => {
    const hub = await TestHub.serve({ methods: { Echo: (x: unknown) => x } });
    const connection = connectOver(hub, transport, (b) => b.withAutomaticReconnect([0, 0]));
    await connection.start();
    const first = await hub.nextConnection();
    let reconnected = new Promise((resolve) => connection.onreconnected(resolve));
    await first.close({ error: "Restarting", allowReconnect: true });
    const second = await hub.nextConnection();
    assert.equal(await reconnected, second.id);
    assert.equal(second.transport, transport);
    reconnected = new Promise((resolve) => connection.onreconnected(resolve));
    await second.drop();
    const third = await hub.nextConnection();
    assert.equal(await reconnected, third.id);
    assert.equal(await connection.invoke("Echo", 1), 1);
    const closed = new Promise((resolve) => connection.onclose(resolve));
    await hub.close();
    assert.equal(await closed, undefined, "a Close without error: the client stops");
  });
}

Deno.test("client over ServerSentEvents: pings, and the server timeout when they stop", async () => {
  await using hub = await TestHub.serve({ keepAliveInterval: 10 });
  await using connection = connectOver(
    hub,
    "ServerSentEvents",
    (b) => b.withServerTimeout(150).withKeepAliveInterval(5_000),
  );
  await connection.start();
  const server = await hub.nextConnection();
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(connection.state, "Connected", "kept alive by the hub's pings");
  const closed = new Promise((resolve) => connection.onclose(resolve));
  server.pings = false;
  assert.match(String(await closed), /Server timeout/);
});

Deno.test("client: falls back when the hub offers no WebSockets, or refuses them", async () => {
  await using hub = await TestHub.serve({ transports: ["ServerSentEvents", "LongPolling"] });
  {
    await using connection = connectOver(hub, "WebSockets", (b) => b.withUrl(hub.url));
    await connection.start();
    assert.equal((await hub.nextConnection()).transport, "ServerSentEvents");
  }
  await using both = await TestHub.serve({ faults: { refuseWebSockets: 503 } });
  await using connection = connectOver(both, "WebSockets", (b) => b.withUrl(both.url));
  await connection.start();
  assert.equal((await both.nextConnection()).transport, "ServerSentEvents");
});
