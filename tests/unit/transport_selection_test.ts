// Transport selection over a fake server (fetch and WebSocket): the server's order, a new
// negotiate after each failure, every failure reported, and the error when nothing fits.
import "../_guard.ts";
import assert from "node:assert/strict";
import { test } from "./_sanitized.ts";
import {
  HttpError,
  HttpTransportType,
  type HubConnection,
  HubConnectionBuilder,
  type HubProtocol,
  LogLevel,
} from "../../mod.ts";

const RS = "\x1e";
const ALL = [
  { transport: "WebSockets", transferFormats: ["Text", "Binary"] },
  { transport: "ServerSentEvents", transferFormats: ["Text"] },
  { transport: "LongPolling", transferFormats: ["Text", "Binary"] },
];

/** A WebSocket that is always refused. */
class RefusedSocket extends EventTarget {
  static urls: string[] = [];
  binaryType = "blob";
  readyState = 0;
  constructor(url: string) {
    super();
    RefusedSocket.urls.push(url);
    queueMicrotask(() => {
      this.readyState = 3;
      this.dispatchEvent(new CloseEvent("close", { code: 1006 }));
    });
  }
  send() {}
  close() {}
}

/**
 * A hub on fetch: negotiate hands out token-1, token-2...; Server-Sent Events answer `sse`;
 * Long Polling works (the handshake answer comes on the poll after the handshake's POST).
 */
function fakeHub(sse: number, transports = ALL) {
  let negotiations = 0;
  const seen: string[] = [];
  let handshaken = false;
  let polls = 0;
  let release: (() => void) | undefined;
  const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input));
    const method = init?.method ?? "GET";
    seen.push(
      `${method} ${url.pathname}${
        url.searchParams.get("id") ? ` ${url.searchParams.get("id")}` : ""
      }`,
    );
    if (url.pathname.endsWith("/negotiate")) {
      negotiations++;
      return Response.json({
        negotiateVersion: 1,
        connectionId: `c-${negotiations}`,
        connectionToken: `token-${negotiations}`,
        availableTransports: transports,
      });
    }
    const accept = new Headers(init?.headers).get("Accept");
    if (method === "GET" && accept === "text/event-stream") {
      return new Response("no", { status: sse });
    }
    if (method === "POST") {
      if (String(init?.body).includes('"protocol"')) handshaken = true;
      release?.();
      return new Response("", { status: 200 });
    }
    if (method === "DELETE") {
      release?.();
      return new Response("", { status: 202 });
    }
    // A poll: the first returns at once; then the handshake answer; then wait until released.
    if (!url.searchParams.has("_")) return new Response("", { status: 400 });
    if (++polls === 1) return new Response("", { status: 200 });
    for (;;) {
      if (handshaken) {
        handshaken = false;
        return new Response("{}" + RS, { status: 200 });
      }
      await new Promise<void>((resolve) => {
        release = resolve;
        init?.signal?.addEventListener("abort", () => resolve(), { once: true });
      });
      if (init?.signal?.aborted) throw init.signal.reason;
      if (!handshaken) return new Response(null, { status: 204 });
    }
  }) as typeof globalThis.fetch;
  return { fetch, seen, negotiations: () => negotiations };
}

function build(
  fetch: typeof globalThis.fetch,
  transport?: number,
  protocol?: HubProtocol,
): HubConnection {
  let builder = new HubConnectionBuilder()
    .withUrl("http://h/hub", {
      fetch,
      WebSocket: RefusedSocket as unknown as typeof WebSocket,
      ...(transport === undefined ? {} : { transport }),
    })
    .configureLogging(LogLevel.None);
  if (protocol) builder = builder.withHubProtocol(protocol);
  return builder.build();
}

test("selection: WebSockets refused, SSE refused, Long Polling works; a new token for each", async () => {
  RefusedSocket.urls = [];
  const hub = fakeHub(503);
  const connection = build(hub.fetch);
  await connection.start();
  assert.equal(connection.transport, "LongPolling");
  assert.equal(connection.connectionId, "c-3");
  assert.equal(hub.negotiations(), 3, "connection tokens are single-use: negotiate before each");
  assert.deepEqual(RefusedSocket.urls, ["ws://h/hub?id=token-1"]);
  assert.ok(hub.seen.includes("GET /hub token-2"), "SSE tried with the second token");
  assert.ok(hub.seen.includes("GET /hub token-3"), "Long Polling with the third");
  await connection.stop();
  assert.equal(connection.transport, null);
});

test("selection: every transport failing rejects with an AggregateError, one error each", async () => {
  const hub = fakeHub(503, ALL.slice(0, 2));
  const connection = build(hub.fetch);
  await assert.rejects(connection.start(), (error: unknown) => {
    assert.ok(error instanceof AggregateError);
    assert.equal(error.errors.length, 2);
    assert.match(error.errors[0].message, /WebSocket failed to connect/);
    assert.ok(error.errors[1] instanceof HttpError && error.errors[1].status === 503);
    assert.match(error.message, /WebSocket.*\|.*503/);
    return true;
  });
  assert.equal(connection.state, "Disconnected");
});

test("selection: the transport option and the server's offer; the error names both sides", async () => {
  const hub = fakeHub(200, [ALL[0]]);
  const connection = build(hub.fetch, HttpTransportType.ServerSentEvents);
  await assert.rejects(
    connection.start(),
    /the server offers WebSockets for Text frames; the client allows ServerSentEvents/,
  );
  assert.equal(hub.negotiations(), 1);
});

test("selection: a binary protocol never picks SSE, and SSE alone with one fails at build", () => {
  const binary: HubProtocol = {
    name: "messagepack",
    version: 1,
    transferFormat: "Binary",
    createDecoder: () => ({ decode: () => [] }),
    encode: () => new Uint8Array(),
  };
  const hub = fakeHub(200);
  assert.throws(
    () => build(hub.fetch, HttpTransportType.ServerSentEvents, binary),
    (e: unknown) => e instanceof TypeError && /text only/.test(e.message),
  );
  assert.equal(hub.seen.length, 0, "no request was made");
});
